/**
 * The one error a backend throws for a failure that may go away if the same call is made
 * again: a 5xx answer, throttling, a reset or refused connection, a timeout. Only these are
 * retried by `RetryBackend`; everything else (missing object, bad key, corruption, access
 * denied) fails at once. Its code is UNAVAILABLE (HTTP 503).
 */
import { ModelvaultError } from '../../core/errors.js';

export class TransientError extends ModelvaultError {
  constructor(message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super('UNAVAILABLE', message, details, options);
  }
}

export function isTransient(e: unknown): e is TransientError {
  return e instanceof TransientError;
}

/**
 * Translates every error a request can raise into the API's one error shape,
 * `{error: {code, message, details}}`, with the HTTP status of `ERROR_CODES` (core/errors.ts;
 * there is no second table). Our own errors keep their code, message and details; Fastify's
 * (validation, body parsing, body limits, unknown routes) get the nearest code; anything
 * else is INTERNAL with a message that names only the request id, so no stack trace, path
 * or SQL ever reaches a client.
 */
import { ERROR_CODES, type ErrorCode, ModelvaultError } from '../core/errors.js';
import type { ErrorResponse } from '../core/upload-protocol.js';

export interface HttpError {
  readonly status: number;
  readonly body: ErrorResponse;
  /** True when the cause is a server fault worth logging at error level. */
  readonly serverFault: boolean;
  /** Sent as Retry-After: the error's `details.retryAfterSeconds` (a busy server's 503). */
  readonly retryAfterSeconds?: number;
}

/** Codes whose messages may carry server paths or internals: replaced by a generic text. */
const OPAQUE: ReadonlySet<ErrorCode> = new Set(['IO', 'INTERNAL']);

interface FastifyLikeError {
  readonly code?: string;
  readonly statusCode?: number;
  readonly message?: string;
  readonly validation?: readonly {
    readonly instancePath?: string;
    readonly message?: string;
    readonly keyword?: string;
    readonly params?: Record<string, unknown>;
  }[];
  readonly validationContext?: string;
}

function respond(
  code: ErrorCode,
  message: string,
  details: Readonly<Record<string, unknown>> | undefined,
  serverFault = false,
): HttpError {
  return {
    status: ERROR_CODES[code].http,
    body: { error: details === undefined ? { code, message } : { code, message, details } },
    serverFault,
  };
}

export function toHttpError(error: unknown, requestId: string): HttpError {
  if (error instanceof ModelvaultError) {
    if (OPAQUE.has(error.code)) {
      return respond(
        error.code,
        `${error.code === 'IO' ? 'storage error' : 'internal error'} (request ${requestId})`,
        { requestId },
        true,
      );
    }
    // A refusal to retry later (a busy server's 503) is load, not a fault to log as one.
    const retryAfter = error.details?.retryAfterSeconds;
    const busy = typeof retryAfter === 'number';
    const mapped = respond(
      error.code,
      error.message,
      error.details,
      !busy && ERROR_CODES[error.code].http >= 500,
    );
    return busy ? { ...mapped, retryAfterSeconds: retryAfter } : mapped;
  }
  const e = (error ?? {}) as FastifyLikeError;
  if (Array.isArray(e.validation)) {
    const where = e.validationContext ?? 'request';
    const errors = e.validation.slice(0, 10).map((v) => {
      const path = `${where}${v.instancePath ?? ''}`;
      const extra =
        v.keyword === 'additionalProperties' && v.params?.additionalProperty !== undefined
          ? ` '${String(v.params.additionalProperty)}'`
          : '';
      return { path, message: `${v.message ?? 'is invalid'}${extra}` };
    });
    const first = errors[0];
    return respond(
      'INVALID_ARGUMENT',
      first ? `invalid ${where}: ${first.path} ${first.message}` : `invalid ${where}`,
      { errors },
    );
  }
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status === 413) {
    return respond('TOO_LARGE', 'request body is too large', { limit: 'bodyLimit' });
  }
  if (status === 404) return respond('NOT_FOUND', e.message ?? 'not found', undefined);
  if (status >= 400 && status < 500) {
    // Fastify's messages for malformed bodies, media types and headers are safe and useful.
    return respond('INVALID_ARGUMENT', e.message ?? 'bad request', {
      ...(e.code ? { cause: e.code } : {}),
    });
  }
  return respond('INTERNAL', `internal error (request ${requestId})`, { requestId }, true);
}

/**
 * The S3 backend as the store uses it: `S3Backend` inside `LimitedBackend` (bounded
 * concurrent requests) inside `RetryBackend` (transient failures retried with backoff,
 * waiting outside the limit, as restic composes `retry(sema(backend))`).
 */
import { LimitedBackend } from '../limited-backend.js';
import type { ObjectBackend } from '../object-backend.js';
import { RetryBackend, type RetryOptions } from '../retry-backend.js';
import { S3Backend, type S3BackendOptions } from './s3-backend.js';

export interface OpenS3BackendOptions extends S3BackendOptions {
  /** Requests in flight at once. Default 32. */
  readonly concurrency?: number;
  readonly retry?: RetryOptions;
  /** Check the bucket exists before returning (one HEAD). Default true. */
  readonly checkBucket?: boolean;
}

export const DEFAULT_S3_CONCURRENCY = 32;

/**
 * Opens an S3 backend with retries and a concurrency limit.
 * @throws like `S3Backend.checkBucket` (unless `checkBucket: false`), InvalidArgumentError
 *   for invalid options.
 */
export async function openS3Backend(options: OpenS3BackendOptions): Promise<ObjectBackend> {
  const s3 = new S3Backend(options);
  if (options.checkBucket ?? true) {
    try {
      await s3.checkBucket();
    } catch (e) {
      await s3.close();
      throw e;
    }
  }
  return new RetryBackend(
    new LimitedBackend(s3, options.concurrency ?? DEFAULT_S3_CONCURRENCY),
    options.retry,
  );
}

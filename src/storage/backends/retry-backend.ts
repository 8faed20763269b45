/**
 * A decorator that retries the calls of another backend that fail with a `TransientError`
 * (restic's `internal/backend/retry`), with exponential backoff and jitter. Any other error
 * is passed on at once. It relies on the ObjectBackend contract: every write is idempotent
 * (content-addressed keys, the same bytes each time), so repeating a put whose
 * acknowledgement was lost is safe, and a `putFile` that failed transiently has left its
 * source file in place.
 *
 * - getRange, stat, put, putFile, delete: the whole call is repeated.
 * - getStream: opening is repeated; if the stream breaks transiently part-way, the rest is
 *   read with ranged reads from where it broke (each retried), so the consumer sees one
 *   unbroken stream of the object's bytes.
 * - list: restarted after a transient failure, skipping the keys already delivered.
 *
 * After `maxAttempts` failed attempts of one call its last error is thrown.
 */
import { InvalidArgumentError, NotFoundError } from '../../core/errors.js';
import type { BackendCapabilities, ObjectBackend, ObjectInfo } from './object-backend.js';
import { isTransient } from './transient-error.js';

export interface RetryOptions {
  /** Attempts per call, the first included. Default 5. */
  readonly maxAttempts?: number;
  /** Delay before the first retry, doubled for each further one. Default 100 ms. */
  readonly baseDelayMs?: number;
  /** Upper bound of one delay. Default 5 s. */
  readonly maxDelayMs?: number;
  /** Told about each retry before its delay (logging, metrics, tests). */
  readonly onRetry?: (event: RetryEvent) => void;
  /** Waits `ms`; tests pass one that does not sleep. Default setTimeout. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** A number in [0, 1) for the jitter. Default Math.random. */
  readonly random?: () => number;
}

export interface RetryEvent {
  readonly op: string;
  readonly key: string;
  /** The attempt that failed (1 for the first). */
  readonly attempt: number;
  readonly delayMs: number;
  readonly error: Error;
}

/** Size of the ranged reads that finish a broken stream. */
const RESUME_PIECE = 4 * 1024 * 1024;

export class RetryBackend implements ObjectBackend {
  readonly location: string;
  readonly capabilities: BackendCapabilities;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  /** @throws InvalidArgumentError for a non-positive attempt count or negative delays. */
  constructor(
    readonly inner: ObjectBackend,
    private readonly options: RetryOptions = {},
  ) {
    this.location = inner.location;
    this.capabilities = inner.capabilities;
    this.maxAttempts = options.maxAttempts ?? 5;
    this.baseDelayMs = options.baseDelayMs ?? 100;
    this.maxDelayMs = options.maxDelayMs ?? 5000;
    if (!Number.isSafeInteger(this.maxAttempts) || this.maxAttempts < 1) {
      throw new InvalidArgumentError(`retry maxAttempts=${this.maxAttempts} must be >= 1`);
    }
    if (!(this.baseDelayMs >= 0 && this.maxDelayMs >= this.baseDelayMs)) {
      throw new InvalidArgumentError('retry delays must satisfy 0 <= baseDelayMs <= maxDelayMs');
    }
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.random = options.random ?? Math.random;
  }

  /** The delay before retry number `attempt` (1-based): half fixed, half random. */
  delayFor(attempt: number): number {
    const ceiling = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
    return Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
  }

  getRange(key: string, offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    return this.retry('getRange', key, () => this.inner.getRange(key, offset, length, into));
  }

  async getStream(key: string): Promise<AsyncIterable<Uint8Array>> {
    const stream = await this.retry('getStream', key, () => this.inner.getStream(key));
    return this.resumable(key, stream);
  }

  stat(key: string): Promise<ObjectInfo | undefined> {
    return this.retry('stat', key, () => this.inner.stat(key));
  }

  put(key: string, data: Uint8Array): Promise<void> {
    return this.retry('put', key, () => this.inner.put(key, data));
  }

  putFile(key: string, path: string): Promise<void> {
    return this.retry('putFile', key, () => this.inner.putFile(key, path));
  }

  delete(key: string): Promise<void> {
    return this.retry('delete', key, () => this.inner.delete(key));
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const seen = new Set<string>();
    for (let attempt = 1; ; attempt++) {
      try {
        for await (const info of this.inner.list(prefix)) {
          if (seen.has(info.key)) continue;
          seen.add(info.key);
          yield info;
        }
        return;
      } catch (e) {
        await this.backOff('list', prefix, attempt, e);
      }
    }
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private async retry<T>(op: string, key: string, call: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (e) {
        await this.backOff(op, key, attempt, e);
      }
    }
  }

  /** Rethrows `e` unless it is transient and attempts are left; else waits before the next. */
  private async backOff(op: string, key: string, attempt: number, e: unknown): Promise<void> {
    if (!isTransient(e) || attempt >= this.maxAttempts) throw e;
    const delayMs = this.delayFor(attempt);
    this.options.onRetry?.({ op, key, attempt, delayMs, error: e });
    await this.sleep(delayMs);
  }

  private async *resumable(
    key: string,
    stream: AsyncIterable<Uint8Array>,
  ): AsyncIterable<Uint8Array> {
    let done = 0;
    try {
      for await (const piece of stream) {
        done += piece.length;
        yield piece;
      }
      return;
    } catch (e) {
      await this.backOff('getStream', key, 1, e);
    }
    // The stream broke transiently after `done` bytes: read the rest with ranged reads.
    const info = await this.stat(key);
    if (info === undefined) {
      throw new NotFoundError(`object '${key}' was deleted while it was being read`, { key });
    }
    while (done < info.size) {
      const piece = await this.getRange(key, done, Math.min(RESUME_PIECE, info.size - done));
      done += piece.length;
      yield piece;
    }
  }
}

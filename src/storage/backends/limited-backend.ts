/**
 * A decorator that bounds how many calls run at once in another backend (restic's
 * `internal/backend/sema`): a remote store answers a thousand parallel ranged reads slower,
 * not faster, and a client should not open a connection per chunk. Calls beyond the limit
 * wait, first come first served.
 *
 * A slot is held for the whole of getRange, stat, put, putFile and delete, and for the
 * opening of getStream (until its response starts: the stream's body is then read outside
 * the limit, so a consumer holding streams open can never starve the others of slots). A
 * listing runs one request at a time by itself and takes no slot.
 */
import { InvalidArgumentError } from '../../core/errors.js';
import type { BackendCapabilities, ObjectBackend, ObjectInfo } from './object-backend.js';

export class LimitedBackend implements ObjectBackend {
  readonly location: string;
  readonly capabilities: BackendCapabilities;
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  /** @throws InvalidArgumentError unless `limit` is a positive integer. */
  constructor(
    readonly inner: ObjectBackend,
    readonly limit: number,
  ) {
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new InvalidArgumentError(`concurrency limit ${limit} must be a positive integer`);
    }
    this.location = inner.location;
    this.capabilities = inner.capabilities;
  }

  /** Calls running in the inner backend now (never more than `limit`). */
  get running(): number {
    return this.active;
  }

  getRange(key: string, offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    return this.run(() => this.inner.getRange(key, offset, length, into));
  }

  getStream(key: string): Promise<AsyncIterable<Uint8Array>> {
    return this.run(() => this.inner.getStream(key));
  }

  stat(key: string): Promise<ObjectInfo | undefined> {
    return this.run(() => this.inner.stat(key));
  }

  put(key: string, data: Uint8Array): Promise<void> {
    return this.run(() => this.inner.put(key, data));
  }

  putFile(key: string, path: string): Promise<void> {
    return this.run(() => this.inner.putFile(key, path));
  }

  delete(key: string): Promise<void> {
    return this.run(() => this.inner.delete(key));
  }

  list(prefix: string): AsyncIterable<ObjectInfo> {
    return this.inner.list(prefix);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private async run<T>(call: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active++;
    }
    try {
      return await call();
    } finally {
      // Hand the slot straight to the next waiter (active stays the same), else free it.
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

/**
 * Where packs and small objects live. A deliberately dumb key/value store so that the local
 * filesystem and any S3-compatible server fit the same shape: no rename, no append, no
 * conditional writes. Keys are `/`-separated relative paths chosen by `store-layout.ts`
 * (content-addressed, so writing the same key twice writes the same bytes).
 *
 * Role interfaces are small and composed; decorators (retry, concurrency limits, caching,
 * fault injection) implement `ObjectBackend` and wrap another one.
 *
 * Every operation validates its key with `validateObjectKey` (list: `validateKeyPrefix`)
 * and throws InvalidArgumentError for an invalid one, so a key can never reach outside the
 * backend. Every backend passes test/conformance/object-backend-conformance.ts.
 */

export interface ObjectInfo {
  readonly key: string;
  readonly size: number;
}

export interface ObjectReader {
  /**
   * Reads `length` bytes at `offset` (a zero-length read returns an empty array). Throws
   * NotFoundError if the object does not exist, CorruptionError if it is shorter than
   * `offset + length`, InvalidArgumentError for a negative or non-integer range.
   *
   * With `into` (at least `length` bytes), a backend that can reads into it and returns a
   * view of it, so a caller streaming many ranges can reuse its buffers; others ignore it
   * and return a new array. The caller must not assume either.
   */
  getRange(key: string, offset: number, length: number, into?: Uint8Array): Promise<Uint8Array>;
  /** Streams the whole object. Throws NotFoundError if it does not exist. */
  getStream(key: string): Promise<AsyncIterable<Uint8Array>>;
  /** Size of the object, or undefined when it does not exist. */
  stat(key: string): Promise<ObjectInfo | undefined>;
}

export interface ObjectWriter {
  /**
   * Stores `data` under `key`, atomically (readers see all of it or nothing) and durably
   * (fsynced / acknowledged) before resolving. Idempotent: overwriting a key is allowed and
   * callers only ever rewrite a key with identical content.
   */
  put(key: string, data: Uint8Array): Promise<void>;
  /**
   * Stores the local file at `path` under `key`, with the guarantees of `put`. The file
   * must already be complete, and fsynced unless `capabilities.putFileCopies`; the
   * backend may move it (it no longer exists afterwards) or copy it (the caller deletes
   * it) — callers must not use `path` again except to remove it if it still exists.
   */
  putFile(key: string, path: string): Promise<void>;
  /** Deletes the object; deleting a missing key is not an error (idempotent). */
  delete(key: string): Promise<void>;
}

export interface ObjectLister {
  /**
   * Every object whose key starts with `prefix` (plain string prefix: `packs/a` matches
   * `packs/ab/…`; `''` lists everything), in no particular order.
   */
  list(prefix: string): AsyncIterable<ObjectInfo>;
}

export interface BackendCapabilities {
  /** Objects are files on this machine (fast local ranged reads, no request cost). */
  readonly local: boolean;
  /**
   * putFile uploads a copy of the file and makes that copy durable itself (S3), so the
   * caller need not fsync the file first (PackWriterOptions.sync). False for a backend
   * that may keep the caller's file as the object (the filesystem renames it into place),
   * which needs the file synced before putFile.
   */
  readonly putFileCopies: boolean;
}

export interface ObjectBackend extends ObjectReader, ObjectWriter, ObjectLister {
  /** Human-readable location, e.g. `file:///srv/mv/objects` or `s3://bucket/prefix`. */
  readonly location: string;
  readonly capabilities: BackendCapabilities;
  /** Releases resources (open files, connections). Idempotent; later calls may throw. */
  close(): Promise<void>;
}

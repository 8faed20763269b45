/**
 * The storage engine's contract, as the registry sees it. Implemented by `Store` in
 * `store.ts` over an ObjectBackend (packs) and a ChunkIndex (SQL). Everything here is
 * content-addressed: files by the SHA-256 of their bytes, versions by the SHA-256 of
 * their manifest's canonical JSON.
 */
import type { Sha256Hex } from '../core/digest.js';

/** One entry of a version's manifest. Paths are relative, `/`-separated, validated. */
export interface ManifestEntry {
  readonly path: string;
  readonly size: number;
  readonly sha256: Sha256Hex;
}

/** Entries sorted by path (byte order); `digest` = SHA-256 of `canonicalManifestJson`. */
export interface Manifest {
  readonly digest: Sha256Hex;
  readonly entries: readonly ManifestEntry[];
  readonly totalSize: number;
}

/** What ingesting bytes cost: how much was new versus already stored. */
export interface IngestStats {
  readonly files: number;
  readonly bytes: number;
  readonly newBytes: number;
  readonly chunks: number;
  readonly newChunks: number;
}

export interface IngestedFile {
  readonly sha256: Sha256Hex;
  readonly size: number;
  /** Format the chunker recognised (safetensors, gguf, raw). */
  readonly format: string;
  readonly stats: IngestStats;
}

export interface IngestedTree {
  readonly manifest: Manifest;
  readonly stats: IngestStats;
}

/** Progress callback: called often (throttle in the UI), never after the promise settles. */
export type ProgressFn = (p: {
  readonly bytesDone: number;
  readonly bytesTotal: number;
  readonly path?: string;
}) => void;

export interface IngestOptions {
  readonly onProgress?: ProgressFn;
  readonly signal?: AbortSignal;
  /** For the file and manifest records: see CommitOptions. The chunks are always durable. */
  readonly durable?: boolean;
}

/**
 * `durable: false` (default true) commits a record without an fsync of its own. Only for a
 * caller that commits, right after and on the same database, a durable transaction that
 * depends on it (a version naming the manifest): that commit makes this one durable too,
 * as both databases log in commit order. If the caller stops before, a power cut may lose
 * the record, which then nothing references.
 */
export interface CommitOptions {
  readonly durable?: boolean;
}

export interface ReadFileOptions {
  /**
   * Verify every chunk (and, for a whole-file read, the file digest). Default true. False
   * moves the check to the caller, which must hash what it receives against the digest.
   */
  readonly verify?: boolean;
}

export interface ContentStore {
  /**
   * Chunks, deduplicates and stores one local file; returns its SHA-256. Idempotent.
   * The file's chunks are durable and indexed when this resolves, but the file is only
   * protected from GC once a manifest referencing it is committed (within the grace period).
   */
  ingestFile(path: string, options?: IngestOptions): Promise<IngestedFile>;
  /**
   * Ingests every regular file under `dir` (or the single file `dir`), then commits the
   * manifest. Symlinks and special files are rejected with InvalidArgumentError; so are
   * paths that are not valid manifest paths.
   */
  ingestTree(dir: string, options?: IngestOptions): Promise<IngestedTree>;
  /** Commits a manifest whose files are all stored. Throws NotFoundError naming a missing file. */
  commitManifest(entries: readonly ManifestEntry[], options?: CommitOptions): Promise<Manifest>;
  getManifest(digest: Sha256Hex): Promise<Manifest>;
  hasFile(sha256: Sha256Hex): Promise<boolean>;
  /**
   * Streams a file (or the byte range [offset, offset+length)) verifying every chunk;
   * a whole-file read also verifies the file digest at the end. A damaged chunk rejects
   * the stream with CorruptionError naming file, chunk and pack. With `verify: false` the
   * stored bytes are streamed unchecked: only for a caller that verifies them itself
   * against the file's digest (a pulling client), so the bytes are not hashed twice.
   */
  readFile(
    sha256: Sha256Hex,
    range?: { offset: number; length: number },
    options?: ReadFileOptions,
  ): AsyncIterable<Uint8Array>;
  /**
   * A file's chunk ids in order with their cumulative end offsets (`ends[k]` is where
   * chunk k ends), from the index, without reading data. Formats the chunker splits
   * (safetensors, GGUF) start a chunk at every tensor boundary, so equal id runs over a
   * tensor's range mean equal bytes. @throws NotFoundError, CorruptionError
   */
  fileChunks(
    sha256: Sha256Hex,
  ): Promise<{ readonly ids: readonly string[]; readonly ends: Float64Array }>;
  /**
   * Writes the manifest's files under `dest` (created; must be empty or absent), verified.
   * Each file appears under its final name only once complete (written to a temp name,
   * then renamed). Like `cp` and `git checkout`, it does not fsync: callers that need the
   * copy durable before going on run `sync`.
   */
  materialize(digest: Sha256Hex, dest: string, options?: IngestOptions): Promise<void>;
  close(): Promise<void>;
}

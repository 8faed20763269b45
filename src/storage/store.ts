/**
 * The storage engine: content-defined chunking, deduplication against the chunk index,
 * packing new chunks, and verified reads. Implements `ContentStore`.
 *
 * Ingest of one file (three threads):
 *   main thread: read 4 MiB blocks → probe large pieces → slice the chunks the workers
 *                cut → ids are looked up in the index → new chunk bytes are appended to
 *                the current PackWriter
 *   hash worker: SHA-256 of the whole file
 *   piece-hash worker: SHA-256 of each large piece (the piece cache's keys)
 *   either worker: FastCDC and chunk SHA-256 of the pieces being cut (new data)
 * (FileChunker says which pieces are cut and which the piece cache spares.)
 * Commit order (crash safety): pack fsynced and stored → pack's chunks indexed → file
 * record (checks its chunks are still indexed) → manifest. A crash at any point leaves at
 * worst an unreferenced pack (indexed by `repair`, reclaimed by GC) or temp files (deleted
 * on the next open); nothing committed ever points at bytes that are not durable.
 */
import { createHash } from 'node:crypto';
import { type FileHandle, mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { isSha256Hex, type Sha256Hex } from '../core/digest.js';
import {
  CorruptionError,
  hasErrno,
  InvalidArgumentError,
  IoError,
  isModelvaultError,
  ModelvaultError,
  NotFoundError,
} from '../core/errors.js';
import { HashWorker } from '../core/hash-worker.js';
import { listLocalTree, readFully } from '../core/local-files.js';
import { validateManifestPath } from '../core/names.js';
import { detectLayout } from '../formats/detect-layout.js';
import type { ObjectBackend } from './backends/object-backend.js';
import { CDC_WORKER_EXTENSION } from './chunking/cdc-worker.js';
import { type ChunkingParams, DEFAULT_CHUNKING } from './chunking/chunking-params.js';
import type {
  CommitOptions,
  ContentStore,
  IngestedFile,
  IngestedTree,
  IngestOptions,
  IngestStats,
  Manifest,
  ManifestEntry,
  ReadFileOptions,
} from './content-store.js';
import { BLOCK_SIZE, type ChunkedFile, FileChunker } from './file-chunker.js';
import {
  ChunkIndex,
  type ChunkLocation,
  chunkIdsToHex,
  MissingChunksError,
  type StorageDb,
} from './index/chunk-index.js';
import { buildManifest, parseManifest } from './manifest.js';
import { PackWriter } from './pack-writer.js';
import { packKey } from './store-layout.js';

/** Read buffers shared with the hash worker (one being chunked, one prefetched, two hashing). */
const POOL_SIZE = 4;
const READ_COALESCE = 8 * 1024 * 1024;
/** Size of the reused buffers of readFileLent, and the most it reads at once. */
const LENT_BLOCK = 2 * 1024 * 1024;
/** readFileLent's idle buffers kept for the next read (two per read in progress). */
const MAX_LENT_BUFFERS = 16;
/**
 * materialize reads runs of at most this much (plus a chunk) into MATERIALIZE_BUFFERS
 * shared buffers: one being read while those before it are hashed and written. Measured
 * on a quiet machine (docs/benchmarks.md): 2 MiB × 4 beat 4 MiB × 3 and 8 MiB × 4 (the
 * workers hash a run while it is still in cache); 1 MiB × 6 was no better.
 */
const MATERIALIZE_RUN = 2 * 1024 * 1024;
const MATERIALIZE_BUFFERS = 4;
const newLentBuffer = () => Buffer.allocUnsafeSlow(LENT_BLOCK);

/** A chunk of a file being read, located in its pack. */
interface ReadPiece {
  readonly id: string;
  readonly packId: string;
  readonly offset: number;
  readonly length: number;
  /** Where the chunk starts in the file. */
  readonly fileOffset: number;
}

/** What planRead found: the chunks of [start, end) and their runs (index ranges, j exclusive). */
interface ReadPlan {
  readonly start: number;
  readonly end: number;
  readonly wanted: readonly ReadPiece[];
  readonly runs: readonly { readonly i: number; readonly j: number }[];
}

/**
 * Runs of chunks contiguous in one pack, each read with one ranged read: index ranges of
 * `wanted` (j exclusive), at most `coalesce` bytes each plus a chunk.
 */
function groupRuns(wanted: readonly ReadPiece[], coalesce: number): { i: number; j: number }[] {
  const runs: { i: number; j: number }[] = [];
  for (let i = 0; i < wanted.length; ) {
    const first = wanted[i]!;
    let j = i + 1;
    let runEnd = first.offset + first.length;
    while (
      j < wanted.length &&
      wanted[j]!.packId === first.packId &&
      wanted[j]!.offset === runEnd &&
      runEnd - first.offset < coalesce
    ) {
      runEnd += wanted[j]!.length;
      j++;
    }
    runs.push({ i, j });
    i = j;
  }
  return runs;
}

/** Chunks whose offsets the range-read cache keeps (~100 bytes each: ~100 MiB at most). */
const OFFSET_CACHE_CHUNKS = 1_000_000;

function missingChunk(sha256: string, id: string): CorruptionError {
  return new CorruptionError(`file ${sha256} is damaged: chunk ${id} is missing from the index`, {
    sha256,
    chunk: id,
  });
}

export interface StoreOptions {
  readonly backend: ObjectBackend;
  readonly db: StorageDb;
  /** Local directory for temp files (packs being written, files being materialized). */
  readonly tmpDir: string;
  readonly chunking?: ChunkingParams;
  /** Seal a pack once it holds this many bytes (default 32 MiB). */
  readonly packTargetSize?: number;
}

/** A pack being filled by one ingest session; sealed packs are stored and indexed. */
class PackSink {
  private writer: PackWriter | undefined;
  /** Chunks written in this session but not yet indexed (dedup within the session). */
  readonly pending = new Set<string>();
  /**
   * Packs are stored in `lanes.length` chains, pack k on chain k mod n: one chain stores
   * them one after the other; two (a remote backend) keep a second upload going while the
   * first finishes, so the last packs of an ingest do not wait in a row.
   */
  private readonly lanes: Promise<void>[];
  /** Full packs waiting to be stored: if an earlier one fails, abort() removes them. */
  private readonly queued = new Set<PackWriter>();

  private queuedCount = 0;

  constructor(
    private readonly store: Store,
    private readonly targetSize: number,
  ) {
    this.lanes = Array.from({ length: store.packUploads }, () => Promise.resolve());
  }

  async add(id: string, bytes: Uint8Array): Promise<void> {
    if (!this.writer) this.writer = await this.store.newPackWriter();
    await this.writer.add(id as Sha256Hex, bytes);
    this.pending.add(id);
    if (this.writer.size >= this.targetSize) {
      const w = this.writer;
      this.writer = undefined;
      // Seal in the background while the next pack fills; errors surface at flush().
      this.queue(w);
    }
  }

  /**
   * Stores `w` after the packs queued before it on its chain (skipped once one of them
   * failed; flush reports the failure, abort removes the skipped packs' files).
   */
  private queue(w: PackWriter): void {
    this.queued.add(w);
    const lane = this.queuedCount++ % this.lanes.length;
    const stored = this.lanes[lane]!.then(() => {
      this.queued.delete(w);
      return this.store.storePack(w);
    });
    // A failure is reported by flush() (or swallowed by abort()), which may come much
    // later: until then the chain must count as handled, or the process reports an
    // unhandled rejection (e.g. a full disk while the next pack fills).
    stored.catch(() => undefined);
    this.lanes[lane] = stored;
  }

  /** Settles once every chain has; rejects with the first failure. */
  private async settled(): Promise<void> {
    const results = await Promise.allSettled(this.lanes);
    for (const r of results) if (r.status === 'rejected') throw r.reason;
  }

  /** Seals and indexes everything written so far. */
  async flush(): Promise<void> {
    const w = this.writer;
    this.writer = undefined;
    if (w) this.queue(w);
    await this.settled();
    this.pending.clear();
  }

  async abort(): Promise<void> {
    await this.writer?.abort();
    this.writer = undefined;
    await this.settled().catch(() => undefined);
    // Packs never stored because an earlier one failed (a full disk): their temp files
    // would otherwise stay until the next open, filling the disk further.
    for (const w of this.queued) await w.abort();
    this.queued.clear();
  }
}

function emptyStats(): { -readonly [K in keyof IngestStats]: IngestStats[K] } {
  return { files: 0, bytes: 0, newBytes: 0, chunks: 0, newChunks: 0 };
}

export class Store implements ContentStore {
  readonly backend: ObjectBackend;
  readonly index: ChunkIndex;
  readonly tmpDir: string;
  readonly chunking: ChunkingParams;
  readonly packTargetSize: number;
  /**
   * Packs of one ingest stored at once: 1 on a local backend (a rename), 2 on a remote one,
   * whose upload of the last packs would otherwise wait for the one before.
   */
  readonly packUploads: number;
  /** Ingest's two workers (file-chunker.ts): file digest, piece hashes, FastCDC. */
  private readonly hasher = new HashWorker(CDC_WORKER_EXTENSION);
  private readonly pieceHasher = new HashWorker(CDC_WORKER_EXTENSION);
  /** Whole-file digests of reads, when free; reads never wait for it. */
  private readonly readHasher = new HashWorker();
  /** Chunk checks of materialize, when free (beside `readHasher`'s file digest). */
  private readonly verifyHasher = new HashWorker();
  /** Idle buffers of materialize (writeVerified), kept for the next one. */
  private readonly materializeBuffers: SharedArrayBuffer[] = [];
  /**
   * The two buffers whole-file reads hand to `readHasher`, reused by every lease (there is
   * one at a time) and grown to the largest run read so far (readHashBuffers).
   */
  private readHashPair: [SharedArrayBuffer, SharedArrayBuffer] | undefined;
  /** Read buffers shared with the hash worker; used by one hashing stream at a time. */
  private readonly blockPool: SharedArrayBuffer[] = [];
  /** Idle buffers of readFileLent. */
  private readonly lentBuffers: Buffer[] = [];
  /** Chunk offsets of recently range-read files (see chunkOffsets). */
  private readonly offsetCache = new Map<
    string,
    { ids: readonly string[]; ends: Float64Array; chunkIds: Uint8Array }
  >();
  private offsetCacheChunks = 0;

  constructor(options: StoreOptions) {
    this.backend = options.backend;
    this.index = new ChunkIndex(options.db);
    this.tmpDir = options.tmpDir;
    this.chunking = options.chunking ?? DEFAULT_CHUNKING;
    this.packTargetSize = options.packTargetSize ?? 32 * 1024 * 1024;
    this.packUploads = this.backend.capabilities.local ? 1 : 2;
  }

  /**
   * A pack writer for this store's backend: fsyncing its file only when the backend may
   * keep that file as the object (see BackendCapabilities.putFileCopies).
   */
  newPackWriter(): Promise<PackWriter> {
    return PackWriter.create(this.tmpDir, { sync: !this.backend.capabilities.putFileCopies });
  }

  /** Seals `writer`, stores the pack in the backend and indexes its chunks. */
  async storePack(writer: PackWriter): Promise<void> {
    const sealed = await writer.seal();
    try {
      // Content-addressed ids: GC may be deleting this very pack (see pack-markers.ts).
      await this.index.beginPackWrite(sealed.packId);
      await this.backend.putFile(packKey(sealed.packId), sealed.path);
    } finally {
      await rm(sealed.path, { force: true });
    }
    await this.index.addPack({ id: sealed.packId, size: sealed.size, entries: sealed.entries });
  }

  async ingestFile(path: string, options: IngestOptions = {}): Promise<IngestedFile> {
    const sink = new PackSink(this, this.packTargetSize);
    try {
      const r = await this.chunkFile(path, sink, options, 0, 0);
      await sink.flush();
      await this.commitFileRecord(r, path, options);
      return r.file;
    } catch (e) {
      await sink.abort();
      throw e;
    }
  }

  private async commitFileRecord(
    r: { file: IngestedFile; chunkIds: Uint8Array },
    path: string,
    options: IngestOptions,
    attempt = 0,
  ): Promise<void> {
    try {
      await this.index.commitFile(
        {
          sha256: r.file.sha256,
          size: r.file.size,
          chunkIds: r.chunkIds,
          format: r.file.format,
        },
        Date.now(),
        options,
      );
    } catch (e) {
      // GC swept a chunk we deduplicated against between lookup and commit: write it again.
      if (!(e instanceof MissingChunksError) || attempt >= 2) throw e;
      const sink = new PackSink(this, this.packTargetSize);
      const again = await this.chunkFile(path, sink, options, 0, 0);
      await sink.flush();
      await this.commitFileRecord(again, path, options, attempt + 1);
    }
  }

  /**
   * Chunks one file into `sink`. Returns its digest and chunk list; the caller commits the
   * file record after `sink.flush()` so the record never precedes its chunks.
   */
  private async chunkFile(
    path: string,
    sink: PackSink,
    options: IngestOptions,
    baseDone: number,
    total: number,
  ): Promise<{ file: IngestedFile; chunkIds: Uint8Array }> {
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (e) {
      if (hasErrno(e, 'ENOENT')) throw new NotFoundError(`file '${path}' does not exist`, { path });
      throw new IoError(`cannot open '${path}': ${(e as Error).message}`, { path }, { cause: e });
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new InvalidArgumentError(`'${path}' is not a regular file`, { path });
      const size = st.size;
      const layout = await detectLayout(
        async (offset, length) => {
          const buf = new Uint8Array(Math.max(0, Math.min(length, size - offset)));
          const n = await readFully(fh, buf, offset);
          return buf.subarray(0, n);
        },
        size,
        { name: path.split(sep).pop() ?? path },
      );
      if (this.blockPool.length === 0) {
        for (let i = 0; i < POOL_SIZE; i++) this.blockPool.push(new SharedArrayBuffer(BLOCK_SIZE));
      }
      // One ingest at a time uses the hash worker (and with it the block pool).
      const lease = await this.hasher.acquire();
      const pieceLease = await this.pieceHasher.acquire();
      let result: ChunkedFile;
      try {
        result = await new FileChunker(
          fh,
          size,
          layout,
          this.chunking,
          this.index,
          sink,
          this.blockPool,
        ).run(
          lease,
          pieceLease,
          (done) =>
            options.onProgress?.({ bytesDone: baseDone + done, bytesTotal: total || size, path }),
          options.signal,
        );
      } catch (e) {
        if (e instanceof IoError && e.message.startsWith('file changed')) {
          throw new IoError(`file '${path}' changed while it was being stored`, { path });
        }
        throw e;
      } finally {
        await pieceLease.release();
        await lease.release();
      }
      const stats = {
        files: 1,
        bytes: size,
        chunks: result.chunks,
        newChunks: result.newChunks,
        newBytes: result.newBytes,
      };
      const after = await fh.stat();
      if (after.size !== size || after.mtimeMs !== st.mtimeMs) {
        throw new IoError(`file '${path}' changed while it was being stored`, { path });
      }
      return {
        file: { sha256: result.digest as Sha256Hex, size, format: layout.format, stats },
        chunkIds: result.chunkIds,
      };
    } finally {
      await fh.close();
    }
  }

  async ingestTree(dir: string, options: IngestOptions = {}): Promise<IngestedTree> {
    const files = await listLocalTree(dir);
    const total = files.reduce((s, f) => s + f.size, 0);
    const stats = emptyStats();
    const sink = new PackSink(this, this.packTargetSize);
    const results: { rel: string; abs: string; r: { file: IngestedFile; chunkIds: Uint8Array } }[] =
      [];
    let done = 0;
    try {
      for (const f of files) {
        const r = await this.chunkFile(f.abs, sink, options, done, total);
        results.push({ rel: f.rel, abs: f.abs, r });
        done += r.file.size;
        stats.files++;
        stats.bytes += r.file.stats.bytes;
        stats.chunks += r.file.stats.chunks;
      }
      await sink.flush();
    } catch (e) {
      await sink.abort();
      throw e;
    }
    // The file records need no fsync of their own: the manifest's commit, right after and
    // on the same database, makes them durable with it (CommitOptions), and until then
    // nothing refers to them.
    const fileOptions = { ...options, durable: false };
    for (const { abs, r } of results) {
      await this.commitFileRecord(r, abs, fileOptions);
      stats.newBytes += r.file.stats.newBytes;
      stats.newChunks += r.file.stats.newChunks;
    }
    const entries = results.map(({ rel, r }) => ({
      path: rel,
      size: r.file.size,
      sha256: r.file.sha256,
    }));
    for (let attempt = 0; ; attempt++) {
      try {
        return { manifest: await this.commitManifest(entries, options), stats };
      } catch (e) {
        // A GC (with a grace period shorter than this ingest) collected a file record
        // between its commit and the manifest's: commit it again, then the manifest.
        const sha = (e as NotFoundError).details?.sha256;
        const lost =
          e instanceof NotFoundError ? results.find((x) => x.r.file.sha256 === sha) : undefined;
        if (!lost || attempt >= 3) throw e;
        await this.commitFileRecord(lost.r, lost.abs, fileOptions);
      }
    }
  }

  async commitManifest(
    entries: readonly ManifestEntry[],
    options: CommitOptions = {},
  ): Promise<Manifest> {
    const m = buildManifest(entries);
    await this.index.commitManifest(m, Date.now(), options);
    return { digest: m.digest, entries: m.entries, totalSize: m.totalSize };
  }

  async getManifest(digest: Sha256Hex): Promise<Manifest> {
    if (!isSha256Hex(digest))
      throw new InvalidArgumentError(`invalid manifest digest '${String(digest).slice(0, 80)}'`);
    const body = await this.index.getManifestBody(digest);
    if (body === undefined)
      throw new NotFoundError(`manifest ${digest} not found`, { manifest: digest });
    return parseManifest(digest, body);
  }

  async hasFile(sha256: Sha256Hex): Promise<boolean> {
    return (await this.index.hasFiles([sha256])).has(sha256);
  }

  /**
   * Where a file's bytes [start, end) lie: the chunks overlapping the range, located, and
   * grouped into runs contiguous in one pack (at most `coalesce` bytes each, plus a chunk).
   * @throws NotFoundError, InvalidArgumentError (range), CorruptionError (missing chunks)
   */
  private async planRead(
    sha256: Sha256Hex,
    range: { offset: number; length: number } | undefined,
    coalesce: number,
  ): Promise<ReadPlan> {
    const file = await this.index.getFile(sha256);
    if (!file) throw new NotFoundError(`file ${sha256} not found`, { sha256 });
    const start = range?.offset ?? 0;
    const end = range ? range.offset + range.length : file.size;
    if (
      !Number.isSafeInteger(start) ||
      !Number.isSafeInteger(end) ||
      start < 0 ||
      end > file.size ||
      start > end
    ) {
      throw new InvalidArgumentError(
        `range ${start}-${end} is outside file ${sha256} of ${file.size} bytes`,
        {
          sha256,
        },
      );
    }
    // Chunks overlapping [start, end), grouped into runs that are contiguous in one pack.
    const wanted: ReadPiece[] = [];
    if (range === undefined) {
      const ids = chunkIdsToHex(file.chunkIds);
      const locations = await this.index.locate(ids);
      let fileOffset = 0;
      for (const id of ids) {
        const loc = locations.get(id);
        if (!loc) throw missingChunk(sha256, id);
        wanted.push({ ...loc, fileOffset });
        fileOffset += loc.length;
      }
      if (fileOffset !== file.size) {
        throw new CorruptionError(
          `file ${sha256} is damaged: chunks add up to ${fileOffset} of ${file.size} bytes`,
          {
            sha256,
          },
        );
      }
    } else if (start < end) {
      // A range locates only the chunks it needs: the file's chunk offsets are cached (a
      // chunk's length never changes), so ranged reads of a large file are not quadratic.
      const { ids, ends } = await this.chunkOffsets(file);
      let lo = 0;
      let hi = ids.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (ends[mid]! <= start) lo = mid + 1;
        else hi = mid;
      }
      const needed: { id: string; fileOffset: number }[] = [];
      for (let k = lo; k < ids.length; k++) {
        const fileOffset = k === 0 ? 0 : ends[k - 1]!;
        if (fileOffset >= end) break;
        needed.push({ id: ids[k]!, fileOffset });
      }
      const locations = await this.index.locate(needed.map((n) => n.id));
      for (const n of needed) {
        const loc = locations.get(n.id);
        if (!loc) throw missingChunk(sha256, n.id);
        wanted.push({ ...loc, fileOffset: n.fileOffset });
      }
    }
    return { start, end, wanted, runs: groupRuns(wanted, coalesce) };
  }

  /**
   * Reads `length` bytes at `offset` of the pack holding `first` (the first chunk of a
   * run), into `into` when the backend can. A missing or short pack is damage to the file.
   */
  private readPack(
    sha256: string,
    first: ReadPiece,
    offset: number,
    length: number,
    into?: Uint8Array,
  ): Promise<Uint8Array> {
    return this.backend
      .getRange(packKey(first.packId as Sha256Hex), offset, length, into)
      .catch((e: unknown) => {
        // A missing or short pack is damage; a failing disk or network (IO, UNAVAILABLE)
        // is not, and says so: retrying later may well succeed.
        if (e instanceof ModelvaultError && (e.code === 'CORRUPT' || e.code === 'NOT_FOUND')) {
          throw new CorruptionError(
            `file ${sha256} is damaged: pack ${first.packId} holding chunk ${first.id} is unreadable (${e.message})`,
            { sha256, chunk: first.id, pack: first.packId },
            { cause: e },
          );
        }
        throw e;
      });
  }

  /**
   * Hands a file's stored bytes (or the range [offset, offset+length)) to `write`,
   * UNVERIFIED, in blocks read into two reused buffers: a block is valid only until the
   * promise `write` returned resolves; the next block is read while one is written. For a
   * caller that verifies every byte itself against the file's digest (a pulling client):
   * like `readFile(…, { verify: false })` without a new buffer per read, whose garbage
   * collection cost a server sending files more CPU than the sending (profiled). Nothing
   * is written before the chunks are located, so a missing file or chunk rejects before
   * the first block. @throws as readFile, or the error of `write`
   */
  async readFileLent(
    sha256: Sha256Hex,
    range: { offset: number; length: number } | undefined,
    write: (block: Uint8Array) => Promise<void>,
  ): Promise<void> {
    const plan = await this.planRead(sha256, range, Number.POSITIVE_INFINITY);
    await this.lendPlan(sha256, plan, write);
  }

  /**
   * Like readFileLent, for a file not recorded yet whose chunks the caller located (an
   * upload's commit hashing the file it is about to record). `file` names it in errors.
   */
  async readChunksLent(
    file: string,
    chunks: readonly ChunkLocation[],
    write: (block: Uint8Array) => Promise<void>,
  ): Promise<void> {
    const wanted: ReadPiece[] = [];
    let fileOffset = 0;
    for (const c of chunks) {
      wanted.push({ ...c, fileOffset });
      fileOffset += c.length;
    }
    const runs = groupRuns(wanted, Number.POSITIVE_INFINITY);
    await this.lendPlan(file, { start: 0, end: fileOffset, wanted, runs }, write);
  }

  /** The reading and lending of readFileLent, for a planned read. */
  private async lendPlan(
    sha256: string,
    { start, end, wanted, runs }: ReadPlan,
    write: (block: Uint8Array) => Promise<void>,
  ): Promise<void> {
    // The runs' bytes inside [start, end), in pieces of at most LENT_BLOCK.
    const pieces: { first: ReadPiece; offset: number; length: number }[] = [];
    for (const { i, j } of runs) {
      const first = wanted[i]!;
      const last = wanted[j - 1]!;
      const lo = Math.max(start - first.fileOffset, 0);
      const hi = Math.min(end - first.fileOffset, last.offset + last.length - first.offset);
      for (let at = lo; at < hi; at += LENT_BLOCK) {
        const length = Math.min(hi - at, LENT_BLOCK);
        pieces.push({ first, offset: first.offset + at, length });
      }
    }
    const buffers = [
      this.lentBuffers.pop() ?? newLentBuffer(),
      this.lentBuffers.pop() ?? newLentBuffer(),
    ];
    const read = (k: number) => {
      const p = pieces[k]!;
      const pending = this.readPack(sha256, p.first, p.offset, p.length, buffers[k % 2]);
      pending.catch(() => undefined); // awaited below, or abandoned after a failure
      return pending;
    };
    let next = pieces.length > 0 ? read(0) : undefined;
    let written: Promise<void> = Promise.resolve();
    try {
      for (let k = 0; k < pieces.length; k++) {
        const data = await next!;
        // The other buffer is free once the block written from it is out.
        await written;
        next = k + 1 < pieces.length ? read(k + 1) : undefined;
        written = write(data);
        written.catch(() => undefined); // awaited before the next write, or in finally
      }
      await written;
    } finally {
      // The buffers go back only once nothing reads into or writes from them.
      await Promise.allSettled([written, next]);
      for (const b of buffers) {
        if (this.lentBuffers.length < MAX_LENT_BUFFERS) this.lentBuffers.push(b);
      }
    }
  }

  /**
   * Streams a file's bytes, verifying each chunk's SHA-256 (and, for whole-file reads, the
   * file's) unless `options.verify` is false (ContentStore.readFile). Neighbouring chunks in
   * the same pack are fetched with one ranged read.
   */
  async *readFile(
    sha256: Sha256Hex,
    range?: { offset: number; length: number },
    options: ReadFileOptions = {},
  ): AsyncIterable<Uint8Array> {
    const verify = options.verify ?? true;
    const { start, end, wanted, runs } = await this.planRead(sha256, range, READ_COALESCE);
    const whole = range === undefined && verify ? createHash('sha256') : undefined;
    const fetchRun = (r: { i: number; j: number }) => {
      const first = wanted[r.i]!;
      const last = wanted[r.j - 1]!;
      return this.readPack(sha256, first, first.offset, last.offset + last.length - first.offset);
    };
    // The whole-file digest is computed by the read hash worker when it is free (copying
    // each run into one of two shared buffers), else on this thread.
    const lease = whole ? this.readHasher.tryAcquire() : undefined;
    let largestRun = 0;
    for (const { i, j } of lease ? runs : []) {
      const last = wanted[j - 1]!;
      largestRun = Math.max(largestRun, last.offset + last.length - wanted[i]!.offset);
    }
    const shared = lease ? this.readHashBuffers(largestRun) : [];
    let pendingHash: Promise<unknown> = Promise.resolve();
    try {
      let next = runs.length > 0 ? fetchRun(runs[0]!) : undefined;
      for (let r = 0; r < runs.length; r++) {
        const { i, j } = runs[r]!;
        const first = wanted[i]!;
        const data = await next!;
        // Read the next run while this one is verified and consumed.
        next = r + 1 < runs.length ? fetchRun(runs[r + 1]!) : undefined;
        next?.catch(() => undefined);
        // Verify every chunk of the run, then hand out the run as one slice (fewer, larger
        // writes downstream); nothing is yielded before its chunks are verified.
        for (let k = i; verify && k < j; k++) {
          const p = wanted[k]!;
          const bytes = data.subarray(p.offset - first.offset, p.offset - first.offset + p.length);
          if (createHash('sha256').update(bytes).digest('hex') !== p.id) {
            throw new CorruptionError(
              `file ${sha256} is damaged: chunk ${p.id} in pack ${p.packId} fails verification`,
              { sha256, chunk: p.id, pack: p.packId },
            );
          }
        }
        if (lease) {
          await pendingHash;
          const buf = shared[r % 2]!;
          new Uint8Array(buf).set(data);
          pendingHash = lease.block(buf, data.length);
        } else {
          whole?.update(data);
        }
        const from = Math.max(start - first.fileOffset, 0);
        const to = Math.min(end - first.fileOffset, data.length);
        yield from === 0 && to === data.length ? data : data.subarray(from, to);
      }
      if (whole) {
        await pendingHash;
        const actual = lease ? await lease.end() : whole.digest('hex');
        if (actual !== sha256) {
          throw new CorruptionError(`file ${sha256} is damaged: its chunks hash to ${actual}`, {
            sha256,
          });
        }
      }
    } finally {
      await lease?.release();
    }
  }

  /**
   * The read hash worker's two buffers, at least `bytes` long. Reused, not allocated per
   * read: a SharedArrayBuffer posted to the worker is freed only once both threads' heaps
   * have collected their handles, and the worker's rarely collects (it allocates almost
   * nothing), so fresh buffers per read — formerly 2 x 8 MiB, even for a small file —
   * piled up as resident memory on a server answering many downloads
   * (docs/reliability.md, Load). Grown in powers of two,
   * from 64 KiB to READ_COALESCE plus a chunk. Only the lease holder may call this.
   */
  private readHashBuffers(bytes: number): [SharedArrayBuffer, SharedArrayBuffer] {
    if (this.readHashPair && this.readHashPair[0].byteLength >= bytes) return this.readHashPair;
    let size = 64 * 1024;
    while (size < bytes) size *= 2;
    size = Math.min(size, READ_COALESCE + this.chunking.maxSize);
    this.readHashPair = [new SharedArrayBuffer(size), new SharedArrayBuffer(size)];
    return this.readHashPair;
  }

  async fileChunks(sha256: Sha256Hex): Promise<{ ids: readonly string[]; ends: Float64Array }> {
    const file = await this.index.getFile(sha256);
    if (!file) throw new NotFoundError(`file ${sha256} not found`, { sha256 });
    const { ids, ends } = await this.chunkOffsets(file);
    return { ids, ends };
  }

  /**
   * A file's chunk ids and cumulative end offsets, cached by file (LRU, bounded by chunk
   * count). The entry is used only while the file record still lists the same chunks.
   */
  private async chunkOffsets(file: {
    sha256: Sha256Hex;
    size: number;
    chunkIds: Uint8Array;
  }): Promise<{ ids: readonly string[]; ends: Float64Array }> {
    const cached = this.offsetCache.get(file.sha256);
    if (cached && Buffer.from(cached.chunkIds).equals(Buffer.from(file.chunkIds))) {
      this.offsetCache.delete(file.sha256);
      this.offsetCache.set(file.sha256, cached);
      return cached;
    }
    const ids = chunkIdsToHex(file.chunkIds);
    const locations = await this.index.locate(ids);
    const ends = new Float64Array(ids.length);
    let at = 0;
    for (let k = 0; k < ids.length; k++) {
      const loc = locations.get(ids[k]!);
      if (!loc) throw missingChunk(file.sha256, ids[k]!);
      at += loc.length;
      ends[k] = at;
    }
    if (at !== file.size) {
      throw new CorruptionError(
        `file ${file.sha256} is damaged: chunks add up to ${at} of ${file.size} bytes`,
        { sha256: file.sha256 },
      );
    }
    const entry = { ids, ends, chunkIds: Uint8Array.from(file.chunkIds) };
    if (cached) this.offsetCacheChunks -= cached.ids.length;
    this.offsetCache.delete(file.sha256);
    this.offsetCache.set(file.sha256, entry);
    this.offsetCacheChunks += ids.length;
    for (const [key, old] of this.offsetCache) {
      if (this.offsetCacheChunks <= OFFSET_CACHE_CHUNKS || old === entry) break;
      this.offsetCache.delete(key);
      this.offsetCacheChunks -= old.ids.length;
    }
    return entry;
  }

  async materialize(digest: Sha256Hex, dest: string, options: IngestOptions = {}): Promise<void> {
    const manifest = await this.getManifest(digest);
    await mkdir(dest, { recursive: true });
    const existing = await readdir(dest);
    if (existing.length > 0)
      throw new InvalidArgumentError(`destination '${dest}' is not empty`, { dest });
    let done = 0;
    for (const e of manifest.entries) {
      validateManifestPath(e.path);
      const target = join(dest, ...e.path.split('/'));
      await mkdir(dirname(target), { recursive: true });
      // Written under a temp name and renamed only once every chunk and the file digest
      // are verified (writeVerified writes bytes before their check completes).
      const tmp = `${target}.mvault-partial`;
      const fh = await open(tmp, 'w');
      try {
        await this.writeVerified(
          e.sha256,
          fh,
          (bytes) => {
            done += bytes;
            options.onProgress?.({
              bytesDone: done,
              bytesTotal: manifest.totalSize,
              path: e.path,
            });
          },
          options.signal,
        );
      } catch (err) {
        await fh.close();
        await rm(tmp, { force: true });
        throw namingFile(err, e.path);
      }
      await fh.close();
      await rename(tmp, target);
    }
  }

  /**
   * Writes file `sha256` into `fh` from offset 0 and resolves once every chunk's id and
   * the file's digest are verified; rejects with CorruptionError otherwise. The bytes
   * reach `fh` BEFORE their checks finish, so until this resolves the file's content is
   * unverified: the caller writes under a name nobody reads and renames it afterwards.
   *
   * Why not readFile: it verifies each run before handing it on, on this thread, and
   * copies it for the read hash worker. Here each run is read into a shared buffer and
   * two things then run at once on that one copy: the chunk checks (verify worker) and
   * the file digest followed by the run's write (read hash worker, with synchronous
   * writes: measured ~0.04 CPU-s per 198 MB cheaper than a threadpool request per
   * 128 KiB piece), while the next run is read into another buffer. This thread only
   * issues reads, so the hashing gets both cores. A worker another read holds is
   * replaced by hashing here (and its writes by libuv's threads).
   */
  private async writeVerified(
    sha256: Sha256Hex,
    fh: FileHandle,
    onBytes: (bytes: number) => void,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const { wanted, runs } = await this.planRead(sha256, undefined, MATERIALIZE_RUN);
    const fileLease = this.readHasher.tryAcquire();
    const chunkLease = this.verifyHasher.tryAcquire();
    const whole = fileLease ? undefined : createHash('sha256');
    const buffers: SharedArrayBuffer[] = [];
    for (let k = 0; k < MATERIALIZE_BUFFERS; k++) {
      buffers.push(
        this.materializeBuffers.pop() ??
          new SharedArrayBuffer(MATERIALIZE_RUN + this.chunking.maxSize),
      );
    }
    // What still uses each buffer: its run's write and checks (rejecting on a failure).
    const busy: Promise<unknown>[] = buffers.map(() => Promise.resolve());
    const damaged = (p: ReadPiece) =>
      new CorruptionError(
        `file ${sha256} is damaged: chunk ${p.id} in pack ${p.packId} fails verification`,
        { sha256, chunk: p.id, pack: p.packId },
      );
    let at = 0;
    try {
      for (let r = 0; r < runs.length; r++) {
        signal?.throwIfAborted();
        const { i, j } = runs[r]!;
        const first = wanted[i]!;
        const last = wanted[j - 1]!;
        const length = last.offset + last.length - first.offset;
        const k = r % buffers.length;
        await busy[k];
        if (buffers[k]!.byteLength < length) buffers[k] = new SharedArrayBuffer(length);
        const buf = buffers[k]!;
        const view = new Uint8Array(buf, 0, length);
        const data = await this.readPack(sha256, first, first.offset, length, view);
        if (data.buffer !== buf || data.byteOffset !== 0) view.set(data);
        let checked: Promise<unknown>;
        if (chunkLease) {
          const ranges = [];
          for (let c = i; c < j; c++) {
            const from = wanted[c]!.offset - first.offset;
            ranges.push({ key: c, from, to: from + wanted[c]!.length, last: true });
          }
          checked = chunkLease.ranges(buf, ranges).then((digests) => {
            for (const d of digests) {
              if (d.digest !== wanted[d.key]!.id) throw damaged(wanted[d.key]!);
            }
          });
        } else {
          for (let c = i; c < j; c++) {
            const p = wanted[c]!;
            const from = p.offset - first.offset;
            const bytes = view.subarray(from, from + p.length);
            if (createHash('sha256').update(bytes).digest('hex') !== p.id) throw damaged(p);
          }
          checked = Promise.resolve();
        }
        // The file-digest worker writes the run after hashing it (no threadpool request
        // per piece); without it, this thread hashes and libuv writes.
        let written: Promise<unknown>;
        if (fileLease) {
          written = fileLease.block(buf, length, { fd: fh.fd, position: at, slice: WRITE_SLICE });
        } else {
          whole!.update(view);
          written = writeAt(fh, view, at);
        }
        at += length;
        busy[k] = settledThenFirstError(checked, written);
        // Awaited before the buffer's next use or below; a failure meanwhile must not
        // count as unhandled.
        busy[k]!.catch(() => undefined);
        onBytes(length);
      }
      await Promise.all(busy);
      const actual = fileLease ? await fileLease.end() : whole!.digest('hex');
      if (actual !== sha256) {
        throw new CorruptionError(`file ${sha256} is damaged: its chunks hash to ${actual}`, {
          sha256,
        });
      }
    } finally {
      // Nothing may still read or write a buffer that is handed back.
      await Promise.allSettled(busy);
      await fileLease?.release();
      await chunkLease?.release();
      for (const b of buffers) {
        if (this.materializeBuffers.length < MATERIALIZE_BUFFERS) this.materializeBuffers.push(b);
      }
    }
  }

  async close(): Promise<void> {
    await this.hasher.close();
    await this.pieceHasher.close();
    await this.readHasher.close();
    await this.verifyHasher.close();
    await this.backend.close();
  }
}

/**
 * Waits for both promises to settle, then rejects with the first one's error, if any,
 * else the second's. A materialize run is done only when its chunk checks AND its write
 * are: the read hash worker writes to the file's descriptor, which the FileHandle does not
 * know about, so a failed check must not let the caller close that descriptor (whose
 * number the next open may reuse) while the worker still writes to it. (Releasing an
 * unended lease also waits for the worker's queue, but that is the lease's own business;
 * the test "no write outlives the file" fails when neither waits.)
 */
async function settledThenFirstError(a: Promise<unknown>, b: Promise<unknown>): Promise<void> {
  const [x, y] = await Promise.allSettled([a, b]);
  if (x.status === 'rejected') throw x.reason;
  if (y.status === 'rejected') throw y.reason;
}

/**
 * The most one write of materialize hands the kernel, cut at multiples of this in the
 * file (writeAt, and the read hash worker's writes in writeVerified). The page cache
 * sizes its folios after the write, and 2 MiB writes cost 6–10× more in the kernel's copy
 * than small ones on this project's VM (0.2–0.35 CPU-s per 198 MB against ~0.03 s; most
 * likely the host backing free large pages again on first touch: docs/benchmarks.md,
 * storage, session 10). `cp` copies in small pieces too.
 */
const WRITE_SLICE = 128 * 1024;

/** Writes all of `bytes` at `position`, in writes of at most WRITE_SLICE (see there). */
async function writeAt(fh: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < bytes.length; ) {
    const at = position + done;
    const n = Math.min(bytes.length - done, WRITE_SLICE - (at % WRITE_SLICE));
    const { bytesWritten } = await fh.write(bytes, done, n, at);
    done += bytesWritten;
  }
}

/**
 * A read failure of one file of a version, with that file's path in front of the message
 * (a damaged chunk or a missing pack says which pack; the user needs the file), keeping
 * the error code. Aborts and foreign errors pass unchanged.
 */
function namingFile(err: unknown, path: string): unknown {
  if (!isModelvaultError(err)) return err;
  return new ModelvaultError(
    err.code,
    `cannot read '${path}': ${err.message}`,
    { ...(err.details ?? {}), path },
    { cause: err },
  );
}

/**
 * Ingest of one local file: turns its bytes into an ordered chunk list, storing the
 * chunks the index does not have. Used by Store; not a public API.
 *
 * Work is split over three threads so that neither the main thread nor one worker is the
 * long pole (measured per thread on a new 198 MB version: main 0.75 s and the workers
 * 0.15 s each before, ~0.35 s and ~0.3 s each with this layout):
 *   worker a:  SHA-256 of the whole file (block by block, shared memory)
 *   worker b:  SHA-256 of each large piece (cache-key prefix, then its bytes)
 *   a or b:    FastCDC cut points and chunk SHA-256 of each piece that is cut (a new large
 *              piece, or a piece the cache never holds), on whichever worker has less work
 *              queued when the piece starts (storage/chunking/cdc-worker.ts)
 *   main thread:  reading, and for each piece of the file layout (header, tensors…):
 *     - a large piece (1 MiB–256 MiB: a tensor, or a whole raw file) is first probed: once
 *       its first 64 KiB are read, their probe key (PieceProbe) is looked up. An unknown
 *       start means a new piece: it is sent to be cut as it streams by (one read), and the
 *       main thread only slices the chunks out at the returned ends, looks their ids up and
 *       packs the new ones. A known start means it is probably stored: the main thread does
 *       nothing more with it until worker b returns its key, which is looked up in the
 *       piece cache. A hit yields its known chunks without chunking or per-chunk hashing; a
 *       miss re-reads the piece (page-cached), checks its hash again (the file must not
 *       change between the passes), cuts it on this thread, hashes the chunks and records it.
 *     - other pieces are cut on a worker as they stream by, the same way.
 * (Before 2026-11-27 the main thread hashed the pieces itself, and until the CDC worker it
 * cut and hashed every new chunk: ~0.5 s of its ~0.75 s per new 198 MB.)
 * Chunk ids are always SHA-256 of the chunk bytes; the piece hash only names cache entries,
 * and a cache entry is used only if all its chunks are still live in the index. (BLAKE3
 * would make the piece pass ~3x cheaper, but its npm package's per-platform binaries are
 * not all installable here, which breaks `npm ci`; SHA-256 with SHA-NI is built in.)
 */
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { IoError, ModelvaultError } from '../core/errors.js';
import type { HashRange, HashStream, RangeDigest } from '../core/hash-worker.js';
import { readFully } from '../core/local-files.js';
import { copyFromShared, copyOutOfShared } from '../core/shared-copy.js';
import type { FileLayout, Piece } from '../formats/file-layout.js';
import { type CdcRange, type CdcResult, cdcRanges } from './chunking/cdc-worker.js';
import type { ChunkingParams } from './chunking/chunking-params.js';
import { cdcConfig } from './chunking/fastcdc.js';
import {
  PIECE_CACHE_MIN,
  pieceCacheEligible,
  pieceCacheKeyPrefix,
} from './chunking/piece-cache-key.js';
import { StreamChunker } from './chunking/stream-chunker.js';
import type { ChunkIndex } from './index/chunk-index.js';

export const BLOCK_SIZE = 4 * 1024 * 1024;

/** Where new chunks go (Store's PackSink). */
export interface ChunkSink {
  /** Chunks written in this session but not yet indexed. */
  readonly pending: ReadonlySet<string>;
  add(id: string, bytes: Uint8Array): Promise<void>;
}

export interface ChunkedFile {
  readonly digest: string;
  /** Concatenated 32-byte chunk ids in file order. */
  readonly chunkIds: Uint8Array;
  readonly chunks: number;
  readonly newChunks: number;
  readonly newBytes: number;
}

/** Cuts a stream of bytes (fed piecewise) into chunks and names them with SHA-256. */
class ChunkCutter {
  private hash = createHash('sha256');
  private parts: Uint8Array[] = [];
  private pos = 0;

  constructor(
    private readonly chunker: StreamChunker,
    private readonly emit: (id: string, bytes: Uint8Array) => void,
  ) {}

  /** Feeds the next bytes of the stream; the chunks they complete are emitted. */
  feed(bytes: Uint8Array, last = false): void {
    const base = this.pos;
    const cuts = this.chunker.push(bytes);
    if (last) cuts.push(...this.chunker.finish());
    let from = 0;
    for (const cut of cuts) {
      const to = cut - base;
      const part = bytes.subarray(from, to);
      this.hash.update(part);
      const whole = this.parts.length === 0 ? part : Buffer.concat([...this.parts, part]);
      this.emit(this.hash.digest('hex'), whole);
      this.hash = createHash('sha256');
      this.parts = [];
      from = to;
    }
    if (from < bytes.length) {
      const rest = bytes.subarray(from);
      this.hash.update(rest);
      this.parts.push(rest);
    }
    this.pos = base + bytes.length;
  }

  /** The caller is about to reuse its buffer: keep a copy of the open chunk's bytes. */
  detach(): void {
    this.parts = this.parts.map((p) => Buffer.from(p));
  }
}

export class FileChunker {
  private readonly ids: Buffer[] = [];
  private batch: { id: string; bytes: Uint8Array }[] = [];
  private chunks = 0;
  private newChunks = 0;
  private newBytes = 0;
  private readonly cacheKeyPrefix: Buffer;

  constructor(
    private readonly fh: FileHandle,
    private readonly size: number,
    private readonly layout: FileLayout,
    private readonly params: ChunkingParams,
    private readonly index: ChunkIndex,
    private readonly sink: ChunkSink,
    private readonly pool: SharedArrayBuffer[],
  ) {
    this.cacheKeyPrefix = Buffer.from(pieceCacheKeyPrefix(params));
  }

  private emit = (id: string, bytes: Uint8Array): void => {
    this.ids.push(Buffer.from(id, 'hex'));
    this.batch.push({ id, bytes });
  };

  /** Deduplicates the emitted chunks against the index and stores the new ones. */
  private async flush(): Promise<void> {
    const batch = this.batch;
    this.batch = [];
    if (batch.length === 0) return;
    const candidates = batch.map((c) => c.id).filter((id) => !this.sink.pending.has(id));
    const live = candidates.length > 0 ? await this.index.liveChunks(candidates) : new Set();
    for (const c of batch) {
      this.chunks++;
      if (live.has(c.id) || this.sink.pending.has(c.id)) continue;
      await this.sink.add(c.id, c.bytes);
      this.newChunks++;
      this.newBytes += c.bytes.length;
    }
  }

  /**
   * Runs the whole file on two hash workers, `a` and `b` (each a HashStream of a worker
   * built with CDC_WORKER_EXTENSION): `a` takes the file's digest, `b` the piece hashes,
   * and each new piece (or piece that is never cached) is cut and its chunks hashed on
   * whichever of the two has less work queued when the piece starts. The main thread is
   * left with reading, probing, the index and the pack writes. `onBlock` reports progress
   * (bytes done). Throws IoError when the file changes under it.
   *
   * Blocks are pipelined: one loop reads each block and sends its messages to the workers,
   * while a chain of takes, one per block in file order, takes the results (chunk ids looked
   * up, new chunks packed, pieces recorded), so the chunk list is in file order and a slow
   * take (index lookups, pack writes) holds back neither the reads nor the workers, only
   * the reuse of its block's buffer. The loop runs ahead by at most the pool's buffers: a
   * read buffer is reused only once both workers and its take are done with it; bytes of a
   * chunk still open when its block is done are copied aside (PendingBytes.detach). A take
   * that fails stops the loop; a failing loop stops the takes not yet started.
   */
  async run(
    a: HashStream,
    b: HashStream,
    onBlock: (done: number) => void,
    signal?: AbortSignal,
  ): Promise<ChunkedFile> {
    const pieces = this.layout.pieces;
    const config = cdcConfig(this.params);
    const workers = [a, b];
    /** Work queued on each worker so far, in SHA-256-byte units (for the CDC placement). */
    const load = [0, 0];
    /** Whether anything was sent to `b` (it is started, and must be ended). */
    let bUsed = false;
    /** Per piece being cut on a worker: which one, its unconsumed bytes, its chunk list. */
    const cutting = new Map<
      number,
      { worker: number; bytes: PendingBytes; done: number; list?: Buffer[]; probeKey?: string }
    >();

    const busy: Promise<unknown>[] = this.pool.map(() => Promise.resolve());
    let slot = 0;
    const read = async (pos: number) => {
      const i = slot++ % this.pool.length;
      await busy[i];
      const buf = this.pool[i]!;
      const view = new Uint8Array(buf, 0, Math.min(BLOCK_SIZE, this.size - pos));
      const n = await readFully(this.fh, view, pos);
      if (n !== view.length)
        throw new IoError('file changed while it was being stored (it shrank)');
      return { i, buf, view };
    };
    // The parts of large pieces in [pos, end), for the piece-hash worker (key: piece index).
    let rangePiece = 0;
    const pieceRanges = (pos: number, end: number): HashRange[] => {
      const out: HashRange[] = [];
      for (let j = rangePiece; j < pieces.length && pieces[j]!.offset < end; j++) {
        const p = pieces[j]!;
        const pEnd = p.offset + p.length;
        if (pEnd <= end) rangePiece = j + 1;
        if (!pieceCacheEligible(p) || pEnd <= pos) continue;
        out.push({
          key: j,
          from: Math.max(p.offset, pos) - pos,
          to: Math.min(pEnd, end) - pos,
          prefix: p.offset >= pos ? this.cacheKeyPrefix : undefined,
          last: pEnd <= end,
        });
      }
      return out;
    };

    let pieceIndex = 0;
    let inPiece = false;
    /** For the large piece being read: its first bytes, until they say whether it is new. */
    let probe: PieceProbe | undefined;
    let probeKey: string | undefined;

    let seq = 0;
    /** Dispatched blocks whose results are not yet taken, oldest first. */
    const untaken: DispatchedBlock[] = [];
    /**
     * The takes, chained in file order and run beside the loop that reads and dispatches:
     * a slow take (index lookups, pack writes) does not hold back the next block's reads
     * and worker hashing, only the reuse of its own buffer.
     */
    let taking: Promise<void> = Promise.resolve();
    let takeFailure: { error: unknown } | undefined;
    const takeNext = async (): Promise<void> => {
      const block = untaken[0]!;
      try {
        if (takeFailure) throw takeFailure.error;
        await this.take(block, cutting, onBlock);
        untaken.shift();
      } catch (error) {
        // No later block will be taken: free their buffers for the read-ahead (it still
        // waits for the workers), so the loop reaches its check and stops.
        takeFailure ??= { error };
        for (const b of untaken.splice(0)) b.taken.resolve();
        throw error;
      }
    };
    let pos = 0;
    let next = this.size > 0 ? read(0) : undefined;
    try {
      while (next) {
        signal?.throwIfAborted();
        if (takeFailure) throw takeFailure.error;
        const { i, buf, view } = await next;
        const end = pos + view.length;
        const ranges = pieceRanges(pos, end);
        const fileHashed = a.block(buf, view.length);
        load[0]! += view.length;
        if (ranges.length > 0) bUsed = true;
        const pieceDigests =
          ranges.length > 0 ? b.ranges(buf, ranges) : Promise.resolve<RangeDigest[]>([]);
        for (const r of ranges) load[1]! += r.to - r.from;
        const cdc: CdcRange[][] = [[], []];
        const steps: BlockStep[] = [];
        /** Sends piece `key`'s next bytes (seg, after `head`) to its worker. */
        const feed = (key: number, seg: Uint8Array, last: boolean, head?: Uint8Array) => {
          const c = cutting.get(key)!;
          if (head) c.bytes.push(head, Number.POSITIVE_INFINITY);
          c.bytes.push(seg, seq);
          const from = seg.byteOffset;
          cdc[c.worker]!.push({ key, head, from, to: from + seg.length, last });
          steps.push({ kind: 'cut', key, worker: c.worker, at: cdc[c.worker]!.length - 1 });
        };
        /** Starts cutting piece `key` (of `remaining` more bytes) on the less loaded worker. */
        const startCutting = (key: number, remaining: number, cached?: { probeKey: string }) => {
          // Worker `b` starts (a thread: tens of ms) only for work worth it, so a file of
          // small pieces (a config, a tokenizer) keeps to the one worker its digest needs.
          const worker = load[1]! < load[0]! && (bUsed || remaining >= PIECE_CACHE_MIN) ? 1 : 0;
          if (worker === 1) bUsed = true;
          load[worker]! += remaining * CDC_COST;
          const list = cached ? [] : undefined;
          cutting.set(key, { worker, bytes: new PendingBytes(), done: 0, list, ...cached });
        };

        let cursor = pos;
        while (cursor < end) {
          const piece = pieces[pieceIndex]!;
          const pieceEnd = piece.offset + piece.length;
          const segEnd = Math.min(end, pieceEnd);
          const seg = view.subarray(cursor - pos, segEnd - pos);
          const last = segEnd === pieceEnd;
          if (pieceCacheEligible(piece)) {
            if (!inPiece) {
              inPiece = true;
              probe = new PieceProbe(piece.length);
              probeKey = undefined;
            }
            if (cutting.has(pieceIndex)) {
              feed(pieceIndex, seg, last);
            } else if (probe) {
              const used = probe.take(seg);
              if (probe.full) {
                // The piece hash's value after the probe's bytes (as if it were copied).
                const h = createHash('sha256').update(this.cacheKeyPrefix).update(probe.bytes);
                probeKey = `p:${piece.length}:${h.digest('hex')}`;
                if ((await this.index.getPiece(probeKey)) === undefined) {
                  // No piece ever began like this one: it is new, so cut and hash it in this
                  // pass rather than in a second read once its key has missed.
                  startCutting(pieceIndex, piece.length, { probeKey });
                  feed(pieceIndex, seg.subarray(used), last, probe.bytes);
                }
                probe = undefined;
              }
            }
            // Otherwise the piece is probably stored: only the piece-hash worker reads it.
            if (last) {
              steps.push({
                kind: cutting.has(pieceIndex) ? 'record' : 'cached',
                piece: pieceIndex,
                probeKey,
                digests: pieceDigests,
              });
              inPiece = false;
              probe = undefined;
            }
          } else {
            if (!cutting.has(pieceIndex)) startCutting(pieceIndex, piece.length);
            feed(pieceIndex, seg, last);
          }
          cursor = segEnd;
          if (last) pieceIndex++;
        }
        const results = cdc.map((rs, w) =>
          rs.length > 0 ? cdcRanges(workers[w]!, buf, rs, config) : Promise.resolve([]),
        );
        for (const r of results) r.catch(() => undefined);
        const current: DispatchedBlock = { seq, end, steps, results, taken: deferred() };
        untaken.push(current);
        busy[i] = Promise.all([fileHashed, pieceDigests, ...results, current.taken.promise]);
        busy[i]!.catch(() => undefined);
        seq++;
        next = end < this.size ? read(end) : undefined;
        next?.catch(() => undefined);

        taking = taking.then(takeNext);
        taking.catch(() => undefined);
        pos = end;
      }
      await taking;
      await Promise.all(busy);
    } catch (e) {
      // The pool's buffers go to the next ingest once this returns: nothing may still be
      // reading into one (the read-ahead), hashing one (a worker) or taking one (the take
      // chain) by then, or that ingest would pack bytes other than those its chunk ids were
      // computed from. A failed take leaves the rest of the chain rejected, not running.
      takeFailure ??= { error: e };
      await taking.catch(() => undefined);
      for (const block of untaken.splice(0)) block.taken.resolve();
      await Promise.allSettled([next, ...busy]);
      throw e;
    }
    const digest = await a.end();
    if (bUsed) await b.end();
    return {
      digest,
      chunkIds: Buffer.concat(this.ids),
      chunks: this.chunks,
      newChunks: this.newChunks,
      newBytes: this.newBytes,
    };
  }

  /**
   * Takes a dispatched block's results in file order: names its chunks (and stores the new
   * ones), records the new pieces that end in it and looks up the stored ones; then copies
   * aside the bytes of chunks still open and lets the block's buffer go.
   */
  private async take(
    block: DispatchedBlock,
    cutting: Map<
      number,
      { worker: number; bytes: PendingBytes; done: number; list?: Buffer[]; probeKey?: string }
    >,
    onBlock: (done: number) => void,
  ): Promise<void> {
    try {
      for (const step of block.steps) {
        if (step.kind === 'cut') {
          const r = (await block.results[step.worker]!)[step.at]!;
          const c = cutting.get(step.key)!;
          for (let k = 0; k < r.ends.length; k++) {
            const end = r.ends[k]!;
            const bytes = c.bytes.take(end - c.done);
            c.done = end;
            const id = r.ids[k]!;
            this.emit(id, bytes);
            if (c.list) {
              const e = Buffer.alloc(36);
              e.write(id, 0, 'hex');
              e.writeUInt32LE(bytes.length, 32);
              c.list.push(e);
            }
          }
          const piece = this.layout.pieces[step.key]!;
          if (c.done === piece.length && !c.list) cutting.delete(step.key);
        } else {
          const key = (await step.digests).find((d) => d.key === step.piece)?.digest;
          if (key === undefined)
            throw new ModelvaultError('INTERNAL', `no hash for piece ${step.piece}`);
          if (step.kind === 'record') {
            const c = cutting.get(step.piece)!;
            cutting.delete(step.piece);
            await this.flush();
            await this.recordPiece(key, c.list!, c.probeKey);
          } else {
            await this.finishCachedPiece(this.layout.pieces[step.piece]!, key, step.probeKey);
          }
        }
      }
      await this.flush();
      for (const c of cutting.values()) c.bytes.detach(block.seq);
      onBlock(block.end);
      block.taken.resolve();
    } catch (e) {
      block.taken.resolve();
      throw e;
    }
  }

  /** A large piece has been read and hashed: use its cached chunks, or chunk it. */
  private async finishCachedPiece(piece: Piece, key: string, probeKey?: string): Promise<void> {
    await this.flush();
    const cached = await this.index.getPiece(key);
    if (cached && cached.length % 36 === 0 && cached.length > 0) {
      const entries = Buffer.from(cached.buffer, cached.byteOffset, cached.byteLength);
      const ids: string[] = [];
      let total = 0;
      for (let o = 0; o < entries.length; o += 36) {
        ids.push(entries.toString('hex', o, o + 32));
        total += entries.readUInt32LE(o + 32);
      }
      const live = await this.index.liveChunks(ids.filter((id) => !this.sink.pending.has(id)));
      if (total === piece.length && ids.every((id) => live.has(id) || this.sink.pending.has(id))) {
        for (let o = 0; o < entries.length; o += 36)
          this.ids.push(Buffer.from(entries.subarray(o, o + 32)));
        this.chunks += ids.length;
        return;
      }
    }
    // Miss: read the piece again (it was just read, so it is in the page cache), check it
    // is the same bytes, and chunk it.
    const check = createHash('sha256');
    check.update(this.cacheKeyPrefix);
    const { cutter, list } = this.newPieceCutter(piece);
    const buf = Buffer.allocUnsafe(Math.min(BLOCK_SIZE, piece.length));
    for (let done = 0; done < piece.length; ) {
      const view = buf.subarray(0, Math.min(buf.length, piece.length - done));
      const n = await readFully(this.fh, view, piece.offset + done);
      if (n !== view.length)
        throw new IoError('file changed while it was being stored (it shrank)');
      check.update(view);
      done += n;
      cutter.feed(view, done === piece.length);
      await this.flush();
      cutter.detach();
    }
    if (check.digest('hex') !== key) throw new IoError('file changed while it was being stored');
    await this.recordPiece(key, list, probeKey);
  }

  /** A cutter for one large piece on its own, listing its chunks for the piece cache. */
  private newPieceCutter(piece: Piece): { cutter: ChunkCutter; list: Buffer[] } {
    const list: Buffer[] = [];
    const cutter = new ChunkCutter(
      new StreamChunker(
        this.params,
        [{ offset: 0, length: piece.length, kind: piece.kind }],
        piece.length,
      ),
      (id, bytes) => {
        this.emit(id, bytes);
        const e = Buffer.alloc(36);
        e.write(id, 0, 'hex');
        e.writeUInt32LE(bytes.length, 32);
        list.push(e);
      },
    );
    return { cutter, list };
  }

  /** Records a chunked piece under its key, and its probe key as seen. */
  private async recordPiece(key: string, list: Buffer[], probeKey?: string): Promise<void> {
    await this.index.putPiece(key, Buffer.concat(list));
    if (probeKey !== undefined) await this.index.putPiece(probeKey, PROBE_MARK);
  }
}

/**
 * Bytes of a large piece's start that decide, before its whole-piece key is known, whether
 * it may be in the piece cache. Their probe key, `p:<piece length>:<hex>`, is the value the
 * piece hash would have after them (SHA-256 of the key prefix and these bytes, on the main
 * thread: 64 KiB per piece, ~2% of a file's bytes, as the piece hash runs on a worker);
 * piece keys are bare hex, so the two never meet. A piece whose start was never recorded is new (or was stored before probes
 * existed): it is chunked on the first read. One whose start was seen is hashed whole and
 * looked up, as before; a wrong guess either way costs time, never correctness, as chunk
 * ids always come from the bytes being stored. 64 KiB: enough to tell a retrained tensor
 * (every byte differs) from a stored one, and little to copy aside per piece.
 */
export const PROBE_BYTES = 64 * 1024;
/** Value of a probe entry in the piece cache (never a chunk list: not a multiple of 36). */
const PROBE_MARK = Uint8Array.of(1);

class PieceProbe {
  readonly bytes: Buffer;
  private fill = 0;

  constructor(pieceLength: number) {
    this.bytes = Buffer.allocUnsafe(Math.min(PROBE_BYTES, pieceLength));
  }

  get full(): boolean {
    return this.fill === this.bytes.length;
  }

  /** Copies what it still needs from the front of `seg`; returns how many bytes it took. */
  take(seg: Uint8Array): number {
    const n = Math.min(this.bytes.length - this.fill, seg.length);
    copyFromShared(this.bytes, this.fill, seg.subarray(0, n));
    this.fill += n;
    return n;
  }
}

/**
 * Cost of cutting and naming a byte on a worker (FastCDC in JavaScript plus the chunk's
 * SHA-256), in units of one SHA-256 byte: ~0.3 s + ~0.18 s against ~0.18 s per 200 MB
 * measured here. Used only to place pieces on the less loaded worker.
 */
const CDC_COST = 2.7;

/** What taking a dispatched block's results involves, step by step in file order. */
type BlockStep =
  | { kind: 'cut'; key: number; worker: number; at: number }
  | {
      kind: 'record' | 'cached';
      piece: number;
      probeKey?: string;
      digests: Promise<RangeDigest[]>;
    };

interface DispatchedBlock {
  readonly seq: number;
  /** File offset just past the block. */
  readonly end: number;
  readonly steps: BlockStep[];
  /** Each worker's CDC results for the block. */
  readonly results: Promise<CdcResult[]>[];
  /** Resolved once the main thread is done with the block's bytes. */
  readonly taken: { promise: Promise<void>; resolve: () => void };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * The bytes of one piece that have been sent to be cut but not yet taken as chunks: views
 * of read blocks (tagged with the block's sequence number) or private copies.
 */
class PendingBytes {
  private parts: { bytes: Uint8Array; seq: number }[] = [];

  push(bytes: Uint8Array, seq: number): void {
    if (bytes.length > 0) this.parts.push({ bytes, seq });
  }

  /** Removes and returns the next `n` bytes (a view when they lie in one part). */
  take(n: number): Uint8Array {
    const first = this.parts[0];
    if (first && first.bytes.length >= n) {
      const out = first.bytes.subarray(0, n);
      if (first.bytes.length === n) this.parts.shift();
      else first.bytes = first.bytes.subarray(n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    for (let at = 0; at < n; ) {
      const p = this.parts[0];
      if (!p) throw new ModelvaultError('INTERNAL', 'chunk ends past the bytes read');
      const k = Math.min(n - at, p.bytes.length);
      copyFromShared(out, at, p.bytes.subarray(0, k));
      at += k;
      if (k === p.bytes.length) this.parts.shift();
      else p.bytes = p.bytes.subarray(k);
    }
    return out;
  }

  /** Block `seq` (and any before it) is about to be reused: copy its bytes still held. */
  detach(seq: number): void {
    for (const p of this.parts) {
      if (p.seq <= seq) {
        p.bytes = copyOutOfShared(p.bytes);
        p.seq = Number.POSITIVE_INFINITY;
      }
    }
  }
}

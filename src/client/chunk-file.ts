/**
 * Chunks a local file exactly as the server's store would (the same format detection and
 * StreamChunker, with the server's FastCDC parameters), so a push can ask the server which
 * chunks it already has before sending any. Node only (reads the file, hashes with
 * node:crypto). Like the store's ingest, the file's own SHA-256 is computed by a hash
 * worker thread (shared memory, nothing copied) while this thread cuts and hashes the
 * chunks, and the next block is read while one is hashed. Memory: three 4 MiB blocks and
 * the chunk list (~40 bytes per 64 KiB chunk).
 *
 * With a ChunkCache (chunk-cache.ts): a file whose identity (inode, size, mtime, ctime) is
 * recorded is not read at all; otherwise each large tensor is hashed whole first, as the
 * store's ingest does (storage/file-chunker.ts), and a tensor the cache knows is not cut
 * or hashed chunk by chunk. The chunks are the same either way: chunks never cross piece
 * boundaries, so a tensor chunked alone cuts as it does within the file.
 */

import { createHash, type Hash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { IoError } from '../core/errors.js';
import { type HashLease, HashWorker } from '../core/hash-worker.js';
import { readFully } from '../core/local-files.js';
import type { FileFormat } from '../core/upload-protocol.js';
import { detectLayout } from '../formats/detect-layout.js';
import type { Piece } from '../formats/file-layout.js';
import type { ChunkingParams } from '../storage/chunking/chunking-params.js';
import { pieceCacheEligible, pieceCacheKeyPrefix } from '../storage/chunking/piece-cache-key.js';
import { StreamChunker } from '../storage/chunking/stream-chunker.js';
import type { CachedChunk, ChunkCache } from './chunk-cache.js';

/** The SDK's hash thread (started on first use; never keeps the process alive). */
const clientHashWorker = new HashWorker();

const BLOCK_SIZE = 4 * 1024 * 1024;
/** Blocks in flight: one being read, one being chunked, one being hashed by the worker. */
const BLOCKS = 3;

export interface ChunkedFile {
  readonly sha256: string;
  readonly size: number;
  readonly format: FileFormat;
  /** In file order; `offset` is where the chunk starts in the file. */
  readonly chunks: readonly {
    readonly id: string;
    readonly offset: number;
    readonly length: number;
  }[];
  /** Cache entries this result was built from ('file' entry, piece keys): see dropCached. */
  readonly fromCache?: { readonly file: boolean; readonly pieces: readonly string[] };
}

export interface ChunkFileOptions {
  /** Called after each block with the bytes just read (the whole size on a file-cache hit). */
  readonly onBytes?: (n: number) => void;
  readonly signal?: AbortSignal;
  /** Reuse and record what is known of the file (chunk-cache.ts). */
  readonly cache?: ChunkCache;
}

/** Forgets the cache entries `c` was built from (the server found them wrong). */
export async function dropCached(
  cache: ChunkCache,
  params: ChunkingParams,
  path: string,
  c: ChunkedFile,
): Promise<void> {
  if (c.fromCache?.file) await cache.dropFile(params, path);
  for (const key of c.fromCache?.pieces ?? []) await cache.dropPiece(key);
}

const sameFile = (a: BigIntStats, b: BigIntStats) =>
  a.size === b.size &&
  a.mtimeNs === b.mtimeNs &&
  a.ctimeNs === b.ctimeNs &&
  a.ino === b.ino &&
  a.dev === b.dev;

/**
 * Hashes the file and every chunk (or takes them from `options.cache`).
 * @throws IoError when the file cannot be read or changes while it is read.
 */
export async function chunkLocalFile(
  path: string,
  params: ChunkingParams,
  options: ChunkFileOptions = {},
): Promise<ChunkedFile> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw new IoError(`cannot open '${path}': ${(e as Error).message}`, { path }, { cause: e });
  }
  try {
    const before = await fh.stat({ bigint: true });
    const size = Number(before.size);
    const cache = options.cache;
    const known = await cache?.getFile(params, path, before);
    if (known) {
      let offset = 0;
      const chunks = known.chunks.map((k) => {
        const c = { id: k.id, offset, length: k.length };
        offset += k.length;
        return c;
      });
      options.onBytes?.(size);
      return { ...known, chunks, fromCache: { file: true, pieces: [] } };
    }
    const readAt = Date.now();
    const c = await chunkOpenFile(fh, path, size, params, options);
    const after = await fh.stat({ bigint: true });
    if (!sameFile(before, after)) {
      throw new IoError(`file '${path}' changed while it was read`, { path });
    }
    await cache?.putFile(params, path, before, readAt, c);
    return c;
  } finally {
    await fh.close();
  }
}

async function chunkOpenFile(
  fh: FileHandle,
  path: string,
  size: number,
  params: ChunkingParams,
  options: ChunkFileOptions,
): Promise<ChunkedFile> {
  const layout = await detectLayout(
    async (offset, length) => {
      const buf = new Uint8Array(Math.max(0, Math.min(length, size - offset)));
      return buf.subarray(0, await readFully(fh, buf, offset));
    },
    size,
    { name: path },
  );
  const cache = options.cache;
  const cached = (p: Piece) => cache !== undefined && pieceCacheEligible(p);
  // Pieces that stream through FastCDC, laid end to end as one virtual stream (all of them
  // without a cache): chunks never cross piece boundaries, so this cuts as the file does.
  const streamed: Piece[] = [];
  let vsize = 0;
  for (const p of layout.pieces) {
    if (!cached(p)) {
      streamed.push({ offset: vsize, length: p.length, kind: p.kind });
      vsize += p.length;
    }
  }
  const chunker = new StreamChunker(params, streamed, vsize);
  const prefix = pieceCacheKeyPrefix(params);
  const usedPieces: string[] = [];

  // The file digest on the worker when it is free (another chunking holds it otherwise).
  const lease: HashLease | undefined = clientHashWorker.tryAcquire();
  const whole = lease ? undefined : createHash('sha256');
  const chunks: { id: string; offset: number; length: number }[] = [];
  /** The streamed chunk being cut: its hash, and where it starts in the file and stream. */
  let current: { hash: Hash; fileStart: number; vStart: number } | undefined;
  let vFed = 0;
  const feedStreamed = (seg: Uint8Array, fileAt: number) => {
    const vBase = vFed;
    const cuts = chunker.push(seg);
    vFed += seg.length;
    if (vFed === vsize) cuts.push(...chunker.finish());
    let from = 0;
    const start = (at: number) =>
      (current ??= { hash: createHash('sha256'), fileStart: fileAt + at, vStart: vBase + at });
    for (const cut of cuts) {
      const o = start(from);
      o.hash.update(seg.subarray(from, cut - vBase));
      chunks.push({ id: o.hash.digest('hex'), offset: o.fileStart, length: cut - o.vStart });
      current = undefined;
      from = cut - vBase;
    }
    if (from < seg.length) start(from).hash.update(seg.subarray(from));
  };

  /** A cached-eligible piece has been read and hashed: take its chunks, or chunk it. */
  const finishPiece = async (piece: Piece, key: string) => {
    const known = await cache!.getPiece(key, piece.length);
    if (known) {
      usedPieces.push(key);
      let offset = piece.offset;
      for (const k of known) {
        chunks.push({ id: k.id, offset, length: k.length });
        offset += k.length;
      }
      return;
    }
    // Miss: read the piece again (just read, so page-cached), check it is the same bytes,
    // chunk it alone and record it.
    const check = createHash('sha256').update(prefix);
    const own = new StreamChunker(
      params,
      [{ offset: 0, length: piece.length, kind: piece.kind }],
      piece.length,
    );
    const list: CachedChunk[] = [];
    let hash = createHash('sha256');
    let chunkStart = 0;
    const buf = new Uint8Array(Math.min(BLOCK_SIZE, piece.length));
    for (let done = 0; done < piece.length; ) {
      const view = buf.subarray(0, Math.min(buf.length, piece.length - done));
      if ((await readFully(fh, view, piece.offset + done)) !== view.length) {
        throw new IoError(`file '${path}' shrank while it was read`, { path });
      }
      check.update(view);
      const cuts = own.push(view);
      if (done + view.length === piece.length) cuts.push(...own.finish());
      let from = 0;
      for (const cut of cuts) {
        hash.update(view.subarray(from, cut - done));
        const id = hash.digest('hex');
        list.push({ id, length: cut - chunkStart });
        chunks.push({ id, offset: piece.offset + chunkStart, length: cut - chunkStart });
        hash = createHash('sha256');
        chunkStart = cut;
        from = cut - done;
      }
      hash.update(view.subarray(from));
      done += view.length;
    }
    if (check.digest('hex') !== key) {
      throw new IoError(`file '${path}' changed while it was read`, { path });
    }
    await cache!.putPiece(key, list);
  };

  const blockSize = Math.min(BLOCK_SIZE, Math.max(size, 1));
  const blocks = Array.from({ length: BLOCKS }, () => ({
    view: new Uint8Array(lease ? new SharedArrayBuffer(blockSize) : new ArrayBuffer(blockSize)),
    hashed: Promise.resolve() as Promise<unknown>,
  }));
  /** Reads block `k` (at file offset `at`) once the worker is done with its buffer. */
  const read = async (k: number, at: number) => {
    const b = blocks[k % BLOCKS]!;
    await b.hashed;
    const view = b.view.subarray(0, Math.min(blockSize, size - at));
    const n = await readFully(fh, view, at);
    if (n !== view.length) throw new IoError(`file '${path}' shrank while it was read`, { path });
    return { b, view };
  };
  let next: ReturnType<typeof read> | undefined;
  try {
    let pieceIndex = 0;
    let pieceHash: Hash | undefined;
    next = size > 0 ? read(0, 0) : undefined;
    for (let k = 0, pos = 0; pos < size; k++) {
      options.signal?.throwIfAborted();
      const { b, view } = await next!;
      const n = view.length;
      next = pos + n < size ? read(k + 1, pos + n) : undefined;
      next?.catch(() => undefined); // awaited next round, or dropped with the error
      if (lease) b.hashed = lease.block(b.view.buffer as SharedArrayBuffer, n);
      else whole!.update(view);
      for (let cursor = pos; cursor < pos + n; ) {
        const piece = layout.pieces[pieceIndex]!;
        const pieceEnd = piece.offset + piece.length;
        const segEnd = Math.min(pos + n, pieceEnd);
        const seg = view.subarray(cursor - pos, segEnd - pos);
        if (cached(piece)) {
          pieceHash ??= createHash('sha256').update(prefix);
          pieceHash.update(seg);
        } else feedStreamed(seg, cursor);
        cursor = segEnd;
        if (cursor === pieceEnd) {
          if (pieceHash) {
            await finishPiece(piece, pieceHash.digest('hex'));
            pieceHash = undefined;
          }
          pieceIndex++;
        }
      }
      pos += n;
      options.onBytes?.(n);
    }
    await Promise.all(blocks.map((b) => b.hashed));
    const sha256 = lease ? await lease.end() : whole!.digest('hex');
    if (vsize === 0) chunker.finish();
    return {
      sha256,
      size,
      format: layout.format,
      chunks,
      ...(cache ? { fromCache: { file: false, pieces: usedPieces } } : {}),
    };
  } finally {
    // Nothing may be reading into or hashing from a block once it is dropped.
    await next?.catch(() => undefined);
    await Promise.allSettled(blocks.map((b) => b.hashed));
    await lease?.release();
  }
}

/**
 * Chunks a local file exactly as the server's store would (the same format detection and
 * StreamChunker, with the server's FastCDC parameters), so a push can ask the server which
 * chunks it already has before sending any. Node only (reads the file, hashes with
 * node:crypto). Like the store's ingest, the file's own SHA-256 is computed by a hash
 * worker thread (shared memory, nothing copied) while this thread cuts and hashes the
 * chunks, and the next block is read while one is hashed. Memory: three 4 MiB blocks and
 * the chunk list (~40 bytes per 64 KiB chunk).
 */

import { createHash, type Hash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import { IoError } from '../core/errors.js';
import type { HashLease } from '../core/hash-worker.js';
import { readFully } from '../core/local-files.js';
import type { FileFormat } from '../core/upload-protocol.js';
import { detectLayout } from '../formats/detect-layout.js';
import type { ChunkingParams } from '../storage/chunking/chunking-params.js';
import { StreamChunker } from '../storage/chunking/stream-chunker.js';
import { clientHashWorker } from './stream-hasher.js';

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
}

/**
 * Hashes the file and every chunk. `onBytes(n)` is called after each block with the bytes
 * just read.
 * @throws IoError when the file cannot be read or changes while it is read.
 */
export async function chunkLocalFile(
  path: string,
  params: ChunkingParams,
  options: { readonly onBytes?: (n: number) => void; readonly signal?: AbortSignal } = {},
): Promise<ChunkedFile> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw new IoError(`cannot open '${path}': ${(e as Error).message}`, { path }, { cause: e });
  }
  try {
    const before = await fh.stat();
    const size = before.size;
    const layout = await detectLayout(
      async (offset, length) => {
        const buf = new Uint8Array(Math.max(0, Math.min(length, size - offset)));
        return buf.subarray(0, await readFully(fh, buf, offset));
      },
      size,
      { name: path },
    );
    const chunker = new StreamChunker(params, layout.pieces, size);
    // The file digest on the worker when it is free (another chunking holds it otherwise).
    const lease: HashLease | undefined = clientHashWorker.tryAcquire();
    const whole = lease ? undefined : createHash('sha256');
    const chunks: { id: string; offset: number; length: number }[] = [];
    let chunk: Hash = createHash('sha256');
    let chunkStart = 0;
    const blockSize = Math.min(BLOCK_SIZE, Math.max(size, 1));
    const blocks = Array.from({ length: BLOCKS }, () => ({
      view: new Uint8Array(lease ? new SharedArrayBuffer(blockSize) : new ArrayBuffer(blockSize)),
      hashed: Promise.resolve() as Promise<unknown>,
    }));
    const cut = (end: number) => {
      chunks.push({ id: chunk.digest('hex'), offset: chunkStart, length: end - chunkStart });
      chunk = createHash('sha256');
      chunkStart = end;
    };
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
      next = size > 0 ? read(0, 0) : undefined;
      for (let k = 0, pos = 0; pos < size; k++) {
        options.signal?.throwIfAborted();
        const { b, view } = await next!;
        const n = view.length;
        next = pos + n < size ? read(k + 1, pos + n) : undefined;
        next?.catch(() => undefined); // awaited next round, or dropped with the error
        if (lease) b.hashed = lease.block(b.view.buffer as SharedArrayBuffer, n);
        else whole!.update(view);
        const cuts = chunker.push(view);
        if (pos + n === size) cuts.push(...chunker.finish());
        let from = 0;
        for (const c of cuts) {
          chunk.update(view.subarray(from, c - pos));
          cut(c);
          from = c - pos;
        }
        chunk.update(view.subarray(from));
        pos += n;
        options.onBytes?.(n);
      }
      await Promise.all(blocks.map((b) => b.hashed));
      const sha256 = lease ? await lease.end() : whole!.digest('hex');
      if (size === 0) chunker.finish();
      const after = await fh.stat();
      if (after.size !== size || after.mtimeMs !== before.mtimeMs) {
        throw new IoError(`file '${path}' changed while it was read`, { path });
      }
      return { sha256, size, format: layout.format, chunks };
    } finally {
      // Nothing may be reading into or hashing from a block once it is dropped.
      await next?.catch(() => undefined);
      await Promise.allSettled(blocks.map((b) => b.hashed));
      await lease?.release();
    }
  } finally {
    await fh.close();
  }
}

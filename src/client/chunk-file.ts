/**
 * Chunks a local file exactly as the server's store would (the same format detection and
 * StreamChunker, with the server's FastCDC parameters), so a push can ask the server which
 * chunks it already has before sending any. Node only (reads the file, hashes with
 * node:crypto). Memory: one 4 MiB block and the chunk list (~40 bytes per 64 KiB chunk).
 */

import { createHash, type Hash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import { IoError } from '../core/errors.js';
import { readFully } from '../core/local-files.js';
import type { FileFormat } from '../core/upload-protocol.js';
import { detectLayout } from '../formats/detect-layout.js';
import type { ChunkingParams } from '../storage/chunking/chunking-params.js';
import { StreamChunker } from '../storage/chunking/stream-chunker.js';

const BLOCK_SIZE = 4 * 1024 * 1024;

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
    const whole = createHash('sha256');
    const chunks: { id: string; offset: number; length: number }[] = [];
    let chunk: Hash = createHash('sha256');
    let chunkStart = 0;
    const block = new Uint8Array(Math.min(BLOCK_SIZE, Math.max(size, 1)));
    let pos = 0;
    const cut = (end: number) => {
      chunks.push({ id: chunk.digest('hex'), offset: chunkStart, length: end - chunkStart });
      chunk = createHash('sha256');
      chunkStart = end;
    };
    while (pos < size) {
      options.signal?.throwIfAborted();
      const view = block.subarray(0, Math.min(block.length, size - pos));
      const n = await readFully(fh, view, pos);
      if (n !== view.length) throw new IoError(`file '${path}' shrank while it was read`, { path });
      whole.update(view);
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
    if (size === 0) chunker.finish();
    const after = await fh.stat();
    if (after.size !== size || after.mtimeMs !== before.mtimeMs) {
      throw new IoError(`file '${path}' changed while it was read`, { path });
    }
    return { sha256: whole.digest('hex'), size, format: layout.format, chunks };
  } finally {
    await fh.close();
  }
}

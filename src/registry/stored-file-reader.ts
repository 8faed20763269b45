/**
 * A `RangeReader` over a stored file: the format inspectors read headers of stored files
 * through it exactly as they read local files, every byte verified by `readFile`.
 */
import type { Sha256Hex } from '../core/digest.js';
import type { RangeReader } from '../formats/file-layout.js';
import type { ContentStore } from '../storage/content-store.js';

/** Reads [offset, offset + length) clipped to the file's `size`. */
export function storedFileReader(
  store: ContentStore,
  sha256: Sha256Hex,
  size: number,
): RangeReader {
  return async (offset, length) => {
    const start = Math.min(Math.max(0, offset), size);
    const len = Math.max(0, Math.min(length, size - start));
    if (len === 0) return new Uint8Array(0);
    const parts: Uint8Array[] = [];
    for await (const part of store.readFile(sha256, { offset: start, length: len }))
      parts.push(part);
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  };
}

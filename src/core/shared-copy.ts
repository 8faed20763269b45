/**
 * Copying bytes out of a SharedArrayBuffer at full speed.
 *
 * V8 copies to or from shared memory (`TypedArray.prototype.set`, `Buffer.copy`,
 * `Buffer.from(view)`) with a "relaxed" memmove that moves whole words only when source
 * and destination have the same address modulo the word size, and otherwise moves one
 * byte at a time: measured ~1.3–3 GB/s here against ~10–20 GB/s aligned. Chunks cut from a
 * shared read block start at arbitrary offsets, so copying them into a pack buffer mostly
 * took the byte loop (~0.15 s of the ingest main thread per 198 MB of new data).
 * `copyFromShared` instead copies through a private scratch buffer at the source's own
 * alignment (word copies), then from there with an ordinary memmove: two fast copies
 * instead of one slow one (bench figures in docs/benchmarks.md, storage, session 9).
 */

const WORD = 8;
const SCRATCH = 256 * 1024;
let scratch: Uint8Array | undefined;

/** Whether `view` lies in shared memory (a SharedArrayBuffer or a shared wasm memory). */
export function isShared(view: Uint8Array): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && view.buffer instanceof SharedArrayBuffer;
}

/**
 * Copies `source` into `target` at `offset`, like `target.set(source, offset)` (same
 * bytes, same RangeError when it does not fit), but fast when `source` is shared and
 * `target` is not. The two must not overlap.
 */
export function copyFromShared(target: Uint8Array, offset: number, source: Uint8Array): void {
  if (!isShared(source) || isShared(target) || source.length < 64) {
    target.set(source, offset);
    return;
  }
  if (offset < 0 || offset + source.length > target.length) {
    throw new RangeError(`copy of ${source.length} bytes at ${offset} overruns ${target.length}`);
  }
  scratch ??= new Uint8Array(SCRATCH + WORD);
  for (let done = 0; done < source.length; ) {
    const n = Math.min(SCRATCH, source.length - done);
    const part = source.subarray(done, done + n);
    // Same address modulo 8 as the source (both buffers' bases are 8-byte aligned).
    const at = part.byteOffset % WORD;
    scratch.set(part, at);
    target.set(scratch.subarray(at, at + n), offset + done);
    done += n;
  }
}

/** A private copy of `source` (like `Buffer.from(source)`), fast when it is shared. */
export function copyOutOfShared(source: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(source.length);
  copyFromShared(out, 0, source);
  return out;
}

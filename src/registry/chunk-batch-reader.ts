/**
 * Streaming parser of chunk batch bodies (framing in `core/upload-protocol.ts`). Reads
 * frames one at a time from any async byte stream, holding at most one chunk plus one
 * network buffer, so a batch body never sits in memory whole.
 */
import { InvalidArgumentError, ModelvaultError } from '../core/errors.js';
import {
  CHUNK_BATCH_MAGIC,
  CHUNK_FRAME_HEADER_SIZE,
  decodeChunkFrameHeader,
} from '../core/upload-protocol.js';

/** Exact-length reads over an async stream of byte blocks. */
export class ByteReader {
  private readonly it: AsyncIterator<Uint8Array>;
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private done = false;
  /** Bytes handed out so far. */
  consumed = 0;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.it = source[Symbol.asyncIterator]();
  }

  private async fill(): Promise<boolean> {
    while (!this.done) {
      const next = await this.it.next();
      if (next.done) {
        this.done = true;
        return false;
      }
      if (next.value.length === 0) continue;
      const v = next.value;
      this.buf = Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      this.pos = 0;
      return true;
    }
    return false;
  }

  /**
   * The next `n` bytes, or null when the stream ends before the first of them.
   * The returned bytes may share memory with the stream's blocks; do not modify them.
   * @throws InvalidArgumentError when the stream ends after some but not all of them.
   */
  async readExactly(n: number, what: string): Promise<Buffer | null> {
    if (this.pos >= this.buf.length && !(await this.fill())) {
      if (n === 0) return Buffer.alloc(0);
      return null;
    }
    if (this.buf.length - this.pos >= n) {
      const out = this.buf.subarray(this.pos, this.pos + n);
      this.pos += n;
      this.consumed += n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      if (this.pos >= this.buf.length && !(await this.fill())) {
        throw new InvalidArgumentError(
          `truncated chunk batch: the body ended inside ${what} (${at} of ${n} bytes)`,
          { offset: this.consumed + at },
        );
      }
      const take = Math.min(n - at, this.buf.length - this.pos);
      this.buf.copy(out, at, this.pos, this.pos + take);
      this.pos += take;
      at += take;
    }
    this.consumed += n;
    return out;
  }
}

export interface ChunkFrame {
  readonly id: string;
  readonly bytes: Buffer;
}

export interface ChunkBatchLimits {
  /** Largest body, framing included. */
  readonly maxBatchBytes: number;
  /** Largest chunk payload. */
  readonly maxChunkBytes: number;
}

/**
 * Yields each frame of a chunk batch body, checking the magic, the framing and the limits
 * before reading a payload (so an oversized frame is refused before it is buffered).
 * Does not verify chunk ids against their bytes: the caller does.
 * @throws InvalidArgumentError (bad magic, truncated body, zero or oversized chunk) and
 *   ModelvaultError TOO_LARGE (body over maxBatchBytes).
 */
export async function* readChunkBatch(
  source: AsyncIterable<Uint8Array>,
  limits: ChunkBatchLimits,
): AsyncGenerator<ChunkFrame> {
  const reader = new ByteReader(source);
  const magic = await reader.readExactly(CHUNK_BATCH_MAGIC.length, 'the batch magic');
  if (magic === null) return;
  if (!magic.equals(CHUNK_BATCH_MAGIC)) {
    throw new InvalidArgumentError(
      "not a chunk batch: the body must start with 'MVC1' (see docs/api.md)",
      { offset: 0 },
    );
  }
  for (;;) {
    const header = await reader.readExactly(CHUNK_FRAME_HEADER_SIZE, 'a frame header');
    if (header === null) return;
    const { id, length } = decodeChunkFrameHeader(header);
    if (length === 0 || length > limits.maxChunkBytes) {
      throw new InvalidArgumentError(
        `chunk ${id} declares ${length} bytes; chunks must be 1 to ${limits.maxChunkBytes} bytes`,
        { chunk: id, length, maxChunkBytes: limits.maxChunkBytes },
      );
    }
    if (reader.consumed + length > limits.maxBatchBytes) {
      throw new ModelvaultError(
        'TOO_LARGE',
        `chunk batch exceeds ${limits.maxBatchBytes} bytes; send smaller batches`,
        { maxBatchBytes: limits.maxBatchBytes },
      );
    }
    const bytes = await reader.readExactly(length, `chunk ${id}`);
    if (bytes === null) {
      throw new InvalidArgumentError(`truncated chunk batch: chunk ${id} has no bytes`, {
        chunk: id,
      });
    }
    yield { id, bytes };
  }
}

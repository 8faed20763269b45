import type { RangeReader } from './file-layout.js';

/** Thrown inside parsers for malformed content; parsers turn it into a `ParseResult` reason. */
export class FormatReject extends Error {
  override readonly name = 'FormatReject';
}

/**
 * A little-endian sequential reader over a `RangeReader` that fetches bounded windows, so
 * a parser can walk a header of any size while holding at most `max(window, n)` bytes for
 * its largest single `fill(n)`. Skipped bytes are never read.
 *
 * Usage in hot paths avoids an `await` per field: `if (!c.has(n)) await c.fill(n)`, then
 * the synchronous getters, each of which advances `pos`.
 */
export class RangeCursor {
  /** Absolute offset of the next byte to read. */
  pos = 0;
  private buf: Uint8Array = new Uint8Array(0);
  private view: DataView = new DataView(this.buf.buffer);
  private bufStart = 0;

  constructor(
    private readonly read: RangeReader,
    readonly size: number,
    private readonly window = 1024 * 1024,
  ) {}

  /** True when [pos, pos + n) is buffered. */
  has(n: number): boolean {
    return this.pos >= this.bufStart && this.pos + n <= this.bufStart + this.buf.length;
  }

  /**
   * Buffers [pos, pos + n), reading a window from `pos`.
   * @throws FormatReject naming `what` when the file ends first.
   */
  async fill(n: number, what: string): Promise<void> {
    if (this.has(n)) return;
    if (this.pos + n > this.size) throw new FormatReject(`truncated ${what} at offset ${this.pos}`);
    const len = Math.min(Math.max(n, this.window), this.size - this.pos);
    const got = await this.read(this.pos, len);
    if (got.length < n) throw new FormatReject(`truncated ${what} at offset ${this.pos}`);
    this.buf = got;
    this.bufStart = this.pos;
    this.view = new DataView(got.buffer, got.byteOffset, got.length);
  }

  /** Advances past `n` bytes without reading them. */
  skip(n: number, what: string): void {
    if (n > this.size - this.pos) throw new FormatReject(`${what} runs past the file end`);
    this.pos += n;
  }

  /** Bytes left after `pos`. */
  get remaining(): number {
    return this.size - this.pos;
  }

  u8(): number {
    const v = this.view.getUint8(this.pos - this.bufStart);
    this.pos += 1;
    return v;
  }

  u32(): number {
    const v = this.view.getUint32(this.pos - this.bufStart, true);
    this.pos += 4;
    return v;
  }

  /**
   * A u64 as a number: exact up to 2^53 - 1, and larger values stay larger than
   * `Number.MAX_SAFE_INTEGER`, so limit checks remain correct.
   */
  u64(): number {
    const at = this.pos - this.bufStart;
    const v = this.view.getUint32(at, true) + this.view.getUint32(at + 4, true) * 2 ** 32;
    this.pos += 8;
    return v;
  }

  big64(signed: boolean): bigint {
    const at = this.pos - this.bufStart;
    const v = signed ? this.view.getBigInt64(at, true) : this.view.getBigUint64(at, true);
    this.pos += 8;
    return v;
  }

  /** Reads a little-endian number of the given fixed-size kind. */
  scalar(kind: 'i8' | 'u16' | 'i16' | 'i32' | 'f32' | 'f64'): number {
    const at = this.pos - this.bufStart;
    const v = this.view;
    switch (kind) {
      case 'i8':
        this.pos += 1;
        return v.getInt8(at);
      case 'u16':
        this.pos += 2;
        return v.getUint16(at, true);
      case 'i16':
        this.pos += 2;
        return v.getInt16(at, true);
      case 'i32':
        this.pos += 4;
        return v.getInt32(at, true);
      case 'f32':
        this.pos += 4;
        return v.getFloat32(at, true);
      case 'f64':
        this.pos += 8;
        return v.getFloat64(at, true);
    }
  }

  /** The next `n` buffered bytes (a view, valid until the next `fill`). */
  bytes(n: number): Uint8Array {
    const at = this.pos - this.bufStart;
    this.pos += n;
    return this.buf.subarray(at, at + n);
  }
}

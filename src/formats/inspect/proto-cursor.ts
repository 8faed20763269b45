/**
 * A streaming protobuf wire-format walker over a `RangeCursor`: it visits the fields of a
 * message between two offsets without loading the message, so a multi-GiB ONNX file is
 * walked by reading only the fields asked for (names, shapes) and skipping the rest
 * (initializer raw data, float_data…) unread. Every length is checked against the bytes
 * of the enclosing message before it is used.
 */
import { FormatReject, type RangeCursor } from '../range-cursor.js';

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

export interface ProtoField {
  readonly field: number;
  readonly wire: number;
  /** For WIRE_LEN: the payload's bounds [start, end). */
  readonly start: number;
  readonly end: number;
}

export class ProtoCursor {
  private readonly decoder = new TextDecoder('utf-8');
  constructor(readonly c: RangeCursor) {}

  /** A varint (exact up to 2^53; larger values stay larger). */
  async varint(limit: number): Promise<number> {
    const c = this.c;
    let v = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (c.pos >= limit) throw new FormatReject(`truncated varint at offset ${c.pos}`);
      if (!c.has(1)) await c.fill(1, 'varint');
      const b = c.u8();
      v += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return v;
      scale *= 128;
    }
    throw new FormatReject(`varint longer than 10 bytes at offset ${c.pos}`);
  }

  /**
   * Visits each field of the message in [pos, end). `visit` must consume the field's
   * payload (or return false to have it skipped).
   */
  async fields(end: number, visit: (f: ProtoField) => Promise<boolean>): Promise<void> {
    const c = this.c;
    while (c.pos < end) {
      const at = c.pos;
      const key = await this.varint(end);
      const field = Math.floor(key / 8);
      const wire = key % 8;
      if (field === 0) throw new FormatReject(`protobuf field number 0 at offset ${at}`);
      let start = c.pos;
      let fend = c.pos;
      if (wire === WIRE_LEN) {
        const len = await this.varint(end);
        start = c.pos;
        if (len > end - start) {
          throw new FormatReject(
            `protobuf field ${field} of ${len} bytes at offset ${at} overruns its message`,
          );
        }
        fend = start + len;
      } else if (wire === WIRE_I64) fend = start + 8;
      else if (wire === WIRE_I32) fend = start + 4;
      else if (wire !== WIRE_VARINT) {
        throw new FormatReject(`unsupported protobuf wire type ${wire} at offset ${at}`);
      }
      if (fend > end)
        throw new FormatReject(`protobuf field ${field} at offset ${at} overruns its message`);
      const consumed = await visit({ field, wire, start, end: fend });
      if (!consumed) {
        if (wire === WIRE_VARINT) await this.varint(end);
        else c.skip(fend - c.pos, `protobuf field ${field}`);
      } else if (wire !== WIRE_VARINT && c.pos !== fend) {
        throw new FormatReject(`protobuf field ${field} at offset ${at} was not read to its end`);
      }
    }
    if (c.pos !== end) throw new FormatReject(`protobuf message overruns its end at offset ${end}`);
  }

  /** A string payload of at most `max` bytes (longer ones are skipped and cut). */
  async string(f: ProtoField, max = 4096): Promise<string> {
    const len = f.end - f.start;
    const c = this.c;
    if (len > max) {
      const head = await this.string({ ...f, end: f.start + max }, max);
      c.skip(f.end - c.pos, 'string');
      return `${head}…`;
    }
    if (!c.has(len)) await c.fill(len, 'string');
    return this.decoder.decode(c.bytes(len));
  }

  /** A varint field, or each value of a packed repeated varint field. */
  async ints(f: ProtoField, out: number[], max: number): Promise<void> {
    if (f.wire === WIRE_VARINT) {
      if (out.length >= max) throw new FormatReject(`more than ${max} values in field ${f.field}`);
      out.push(await this.varint(Number.MAX_SAFE_INTEGER));
      return;
    }
    if (f.wire !== WIRE_LEN) throw new FormatReject(`field ${f.field} has wire type ${f.wire}`);
    while (this.c.pos < f.end) {
      if (out.length >= max) throw new FormatReject(`more than ${max} values in field ${f.field}`);
      out.push(await this.varint(f.end));
    }
  }
}

/**
 * Streaming comparison of two tensors' bytes: fed aligned slices of A and B in order, it
 * keeps a handful of running sums, so memory is constant whatever the tensor's size.
 * Float dtypes (F64, F32, F16, BF16 and their ONNX names) give max |Δ|, relative L2
 * ‖B − A‖/‖A‖ and cosine similarity; other dtypes (quantized blocks, integers) give the
 * count of differing bytes.
 */
import type { TensorStats } from '../core/model-inspection.js';

type FloatKind = 'f64' | 'f32' | 'f16' | 'bf16';
const FLOAT_KINDS: Readonly<Record<string, FloatKind>> = {
  F64: 'f64',
  DOUBLE: 'f64',
  F32: 'f32',
  FLOAT: 'f32',
  F16: 'f16',
  FLOAT16: 'f16',
  BF16: 'bf16',
  BFLOAT16: 'bf16',
};
const WIDTH: Readonly<Record<FloatKind, number>> = { f64: 8, f32: 4, f16: 2, bf16: 2 };

/** IEEE 754 half to number. */
function half(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

const bf16Scratch = new DataView(new ArrayBuffer(4));
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export class TensorStatsAccumulator {
  private readonly kind: FloatKind | undefined;
  /** Bytes per unit fed at a time: one element, or one byte. */
  readonly unit: number;
  private maxAbs = 0;
  private dd = 0;
  private aa = 0;
  private bb = 0;
  private ab = 0;
  private changed = 0;

  constructor(dtype: string) {
    this.kind = FLOAT_KINDS[dtype];
    this.unit = this.kind ? WIDTH[this.kind] : 1;
  }

  private value(v: DataView, at: number): number {
    switch (this.kind) {
      case 'f64':
        return v.getFloat64(at, true);
      case 'f32':
        return v.getFloat32(at, true);
      case 'f16':
        return half(v.getUint16(at, true));
      default:
        bf16Scratch.setUint32(0, v.getUint16(at, true) << 16);
        return bf16Scratch.getFloat32(0);
    }
  }

  /** Feeds the next bytes of A and B (equal lengths, a multiple of `unit`). */
  update(a: Uint8Array, b: Uint8Array): void {
    if (a.length !== b.length || a.length % this.unit !== 0) {
      throw new RangeError('tensor slices must be equal and element-aligned');
    }
    if (!this.kind) {
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) this.changed++;
      return;
    }
    if (this.kind === 'f32' && a.byteOffset % 4 === 0 && b.byteOffset % 4 === 0 && LITTLE_ENDIAN) {
      // Typed arrays read floats several times faster than DataView; they need aligned
      // offsets, and the platform's byte order to be the file's (little-endian).
      this.addF32(
        new Float32Array(a.buffer, a.byteOffset, a.length / 4),
        new Float32Array(b.buffer, b.byteOffset, b.length / 4),
      );
      return;
    }
    const va = new DataView(a.buffer, a.byteOffset, a.length);
    const vb = new DataView(b.buffer, b.byteOffset, b.length);
    for (let at = 0; at < a.length; at += this.unit) {
      const x = this.value(va, at);
      const y = this.value(vb, at);
      const d = y - x;
      if (d !== 0 || Number.isNaN(d)) this.changed++;
      const ad = Math.abs(d);
      if (ad > this.maxAbs || Number.isNaN(ad)) this.maxAbs = ad;
      this.dd += d * d;
      this.aa += x * x;
      this.bb += y * y;
      this.ab += x * y;
    }
  }

  private addF32(fa: Float32Array, fb: Float32Array): void {
    let { maxAbs, dd, aa, bb, ab, changed } = this;
    for (let i = 0; i < fa.length; i++) {
      const x = fa[i]!;
      const y = fb[i]!;
      const d = y - x;
      if (d !== 0 || Number.isNaN(d)) changed++;
      const ad = Math.abs(d);
      if (ad > maxAbs || Number.isNaN(ad)) maxAbs = ad;
      dd += d * d;
      aa += x * x;
      bb += y * y;
      ab += x * y;
    }
    this.maxAbs = maxAbs;
    this.dd = dd;
    this.aa = aa;
    this.bb = bb;
    this.ab = ab;
    this.changed = changed;
  }

  result(): TensorStats {
    if (!this.kind)
      return { maxAbsDiff: null, relativeL2: null, cosine: null, changedBytes: this.changed };
    const finite = (v: number) => (Number.isFinite(v) ? v : null);
    return {
      maxAbsDiff: this.maxAbs,
      relativeL2: this.aa > 0 ? finite(Math.sqrt(this.dd) / Math.sqrt(this.aa)) : null,
      cosine:
        this.aa > 0 && this.bb > 0
          ? finite(this.ab / (Math.sqrt(this.aa) * Math.sqrt(this.bb)))
          : null,
      changedElements: this.changed,
    };
  }
}

/**
 * The layer a tensor belongs to: its name up to and including the first all-digit part
 * (`model.layers.11.mlp.up.weight` → `model.layers.11`, `blk.3.attn_q.weight` → `blk.3`),
 * else the name without its last part (`lm_head.weight` → `lm_head`).
 */
export function layerPrefix(name: string): string {
  const parts = name.split('.');
  const i = parts.findIndex((p) => /^\d+$/.test(p));
  if (i >= 0) return parts.slice(0, i + 1).join('.');
  return parts.length > 1 ? parts.slice(0, -1).join('.') : name;
}

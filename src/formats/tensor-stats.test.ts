import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { layerPrefix, TensorStatsAccumulator } from './tensor-stats.js';

const f32 = (xs: readonly number[]) => new Uint8Array(new Float32Array(xs).buffer);
/** The same bytes at an odd offset, which typed arrays cannot view (the DataView path). */
function unaligned(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes, 1);
  return out.subarray(1);
}

function stats(dtype: string, a: Uint8Array, b: Uint8Array) {
  const acc = new TensorStatsAccumulator(dtype);
  acc.update(a, b);
  return acc.result();
}

describe('TensorStatsAccumulator', () => {
  it('computes max |Δ|, relative L2, cosine and changed elements of f32 tensors', () => {
    const r = stats('F32', f32([1, 2, 3]), f32([1, 2, 5]));
    expect(r.maxAbsDiff).toBe(2);
    expect(r.changedElements).toBe(1);
    expect(r.relativeL2).toBeCloseTo(2 / Math.sqrt(14), 12);
    expect(r.cosine).toBeCloseTo(20 / (Math.sqrt(14) * Math.sqrt(30)), 12);
  });

  it('gives the same f32 result from aligned (typed array) and unaligned (DataView) bytes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.float(), fc.float()), { minLength: 1, maxLength: 64 }),
        (pairs) => {
          const a = f32(pairs.map((p) => p[0]));
          const b = f32(pairs.map((p) => p[1]));
          expect(stats('F32', a, b)).toEqual(stats('F32', unaligned(a), unaligned(b)));
        },
      ),
    );
  });

  it('counts NaN differences as changed and reports non-finite results as null', () => {
    const r = stats('F32', f32([1, Number.NaN]), f32([1, 2]));
    expect(r.changedElements).toBe(1);
    expect(r.relativeL2).toBeNull();
  });

  it('decodes f16 and bf16, and counts changed bytes of other dtypes', () => {
    // 1.0 and 2.0 in f16 (0x3c00, 0x4000) and bf16 (0x3f80, 0x4000), little-endian.
    expect(stats('F16', new Uint8Array([0, 0x3c]), new Uint8Array([0, 0x40])).maxAbsDiff).toBe(1);
    expect(stats('BF16', new Uint8Array([0x80, 0x3f]), new Uint8Array([0, 0x40])).maxAbsDiff).toBe(
      1,
    );
    expect(stats('I8', new Uint8Array([1, 2, 3]), new Uint8Array([1, 9, 9])).changedBytes).toBe(2);
  });

  it('refuses slices of different lengths or cut elements', () => {
    const acc = new TensorStatsAccumulator('F32');
    expect(() => acc.update(new Uint8Array(4), new Uint8Array(8))).toThrow(RangeError);
    expect(() => acc.update(new Uint8Array(6), new Uint8Array(6))).toThrow(RangeError);
  });

  it('groups tensors by layer prefix', () => {
    expect(layerPrefix('model.layers.11.mlp.up.weight')).toBe('model.layers.11');
    expect(layerPrefix('blk.3.attn_q.weight')).toBe('blk.3');
    expect(layerPrefix('lm_head.weight')).toBe('lm_head');
  });
});

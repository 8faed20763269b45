import { describe, expect, it } from 'vitest';
import { CorruptionError } from '../core/errors.js';
import {
  decodeKeyPoints,
  decodeMetricPoints,
  encodeMetricPoints,
  type MetricPointColumns,
  segmentEnds,
} from './metric-points-codec.js';

const SPECIALS = [
  -0,
  0,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  Number.MAX_VALUE,
  -Number.MAX_VALUE,
  Number.MIN_VALUE,
  2.2250738585072014e-308,
  0.1 + 0.2,
  -123456789.125,
];

function sample(): MetricPointColumns {
  const keys = ['loss', 'ключ', '指标 μ', '😀/x', ''];
  const n = 40;
  const keyIndex: number[] = [];
  const steps: number[] = [];
  const timestamps: number[] = [];
  const values: number[] = [];
  const nans: number[] = [];
  for (let i = 0; i < n; i++) {
    keyIndex.push((i * 3) % keys.length);
    steps.push(i % 2 ? Number.MAX_SAFE_INTEGER - i : Number.MIN_SAFE_INTEGER + i);
    timestamps.push(i % 3 ? 1_700_000_000_000 + i : -i);
    const nan = i % 7 === 3 ? 1 : 0;
    values.push(nan ? 0 : SPECIALS[i % SPECIALS.length]!);
    nans.push(nan);
  }
  return { keys, keyIndex, steps, timestamps, values, nans };
}

/** The bit patterns of doubles (toEqual on them tells -0 from 0 too). */
const bits = (xs: ArrayLike<number>) =>
  Array.from(xs, (x) => Buffer.from(new Float64Array([x]).buffer).toString('hex'));

describe('metric points codec', () => {
  it('round-trips every value exactly: -0, ±Infinity, extreme doubles and safe integers, unicode keys', () => {
    const p = sample();
    const blob = encodeMetricPoints(p);
    const d = decodeMetricPoints(blob);
    expect(d.keys).toEqual(p.keys);
    expect(Array.from(d.keyIndex!)).toEqual(p.keyIndex);
    expect(bits(d.steps)).toEqual(bits(p.steps));
    expect(bits(d.timestamps)).toEqual(bits(p.timestamps));
    expect(bits(d.values)).toEqual(bits(p.values));
    expect(Array.from(d.nans)).toEqual(p.nans);
    // One key's points, in the blob's order.
    const of = (j: number) => [...Array(p.steps.length).keys()].filter((i) => p.keyIndex![i] === j);
    for (let j = 0; j < p.keys.length; j++) {
      const k = decodeKeyPoints(blob, Buffer.from(p.keys[j]!, 'utf8'));
      expect(bits(k.values)).toEqual(bits(of(j).map((i) => p.values[i]!)));
      expect(Array.from(k.steps)).toEqual(of(j).map((i) => p.steps[i]!));
      expect(Array.from(k.nans)).toEqual(of(j).map((i) => p.nans[i]!));
    }
    expect(decodeKeyPoints(blob, Buffer.from('absent')).steps).toHaveLength(0);
  });

  it('packs a single key without per-point key indexes', () => {
    const one = {
      keys: ['a'],
      keyIndex: null,
      steps: [1, 2],
      timestamps: [3, 4],
      values: [-0, 5],
      nans: [0, 0],
    };
    const blob = encodeMetricPoints(one);
    expect(blob.length).toBe(12 + 2 * 25 + 4 + 1);
    const d = decodeMetricPoints(blob);
    expect(d.keyIndex).toBeNull();
    expect(Object.is(d.values[0], -0)).toBe(true);
    expect(Array.from(decodeKeyPoints(blob, Buffer.from('a')).timestamps)).toEqual([3, 4]);
  });

  it('reads from an unaligned view of a larger buffer', () => {
    const blob = encodeMetricPoints(sample());
    const big = Buffer.alloc(blob.length + 3);
    blob.copy(big, 3);
    expect(bits(decodeMetricPoints(big.subarray(3)).values)).toEqual(bits(sample().values));
  });

  it('rejects every truncation and corrupt lengths, flags, indexes and numbers', () => {
    const blob = encodeMetricPoints(sample());
    const n = 40;
    for (let len = 0; len < blob.length; len++) {
      expect(() => decodeMetricPoints(blob.subarray(0, len))).toThrow(CorruptionError);
      expect(() => decodeKeyPoints(blob.subarray(0, len), Buffer.from('loss'))).toThrow(
        CorruptionError,
      );
    }
    const mutate = (write: (b: Buffer) => void) => {
      const b = Buffer.from(blob);
      write(b);
      return b;
    };
    const bad = [
      mutate((b) => b.writeUInt8(2, 0)), // version
      mutate((b) => b.writeUInt32LE(n + 1, 4)), // count
      mutate((b) => b.writeUInt32LE(0xffffffff, 4)),
      mutate((b) => b.writeUInt32LE(0, 8)), // keys
      mutate((b) => b.writeUInt32LE(n + 1, 8)),
      mutate((b) => b.writeDoubleLE(0.5, 12)), // a step that is no integer
      mutate((b) => b.writeDoubleLE(2 ** 53, 12 + 8 * n)), // a timestamp beyond 2^53
      mutate((b) => b.writeDoubleLE(Number.NaN, 12)),
      mutate((b) => b.writeUInt8(2, 12 + 24 * n)), // a NaN flag
      mutate((b) => b.writeUInt16LE(5, 12 + 25 * n)), // a key index
      mutate((b) => b.writeUInt32LE(1000, 12 + 27 * n)), // a key's length
      Buffer.concat([blob, Buffer.from([0])]), // trailing bytes
    ];
    for (const b of bad) {
      expect(() => decodeMetricPoints(b)).toThrow(CorruptionError);
    }
    // A key that is not UTF-8.
    const key = encodeMetricPoints({
      keys: ['é'],
      keyIndex: null,
      steps: [1],
      timestamps: [1],
      values: [1],
      nans: [0],
    });
    key[key.length - 1] = 0xff;
    expect(() => decodeMetricPoints(key)).toThrow(CorruptionError);
  });

  it('refuses to pack what the format cannot hold', () => {
    const base = { keyIndex: null, steps: [1], timestamps: [1], values: [1], nans: [0] };
    expect(() => encodeMetricPoints({ ...base, keys: [] })).toThrow();
    expect(() => encodeMetricPoints({ ...base, keys: ['a'], steps: [] })).toThrow();
    expect(() => encodeMetricPoints({ ...base, keys: ['a', 'b'] })).toThrow();
  });

  it('cuts segments at a change of (step, timestamp) when it can', () => {
    const steps = [0, 1, 1, 1, 2, 3, 3, 3, 3, 3, 4];
    const timestamps = steps.map(() => 0);
    expect(segmentEnds(steps, timestamps, 4)).toEqual([4, 5, 9, 11]);
    expect(segmentEnds(steps, timestamps, 100)).toEqual([11]);
    expect(segmentEnds([], [], 4)).toEqual([]);
    // A run longer than a segment is cut inside.
    expect(segmentEnds([5, 5, 5, 5, 5], [0, 0, 0, 0, 0], 2)).toEqual([2, 4, 5]);
  });
});

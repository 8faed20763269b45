import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../core/errors.js';
import { type ChunkingParams, DEFAULT_CHUNKING } from './chunking-params.js';
import { type CdcState, cdcConfig, chunkEnds, findCut, GEAR_TABLE, scanCut } from './fastcdc.js';

/**
 * mulberry32: a fixed 32-bit PRNG, defined here (not imported) so the golden input below
 * can never change under the test.
 */
function mulberry32Bytes(seed: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let a = seed >>> 0;
  for (let i = 0; i < length; i += 4) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    t = (t ^ (t >>> 14)) >>> 0;
    for (let k = 0; k < 4 && i + k < length; k++) out[i + k] = (t >>> (8 * k)) & 0xff;
  }
  return out;
}

/**
 * The algorithm as the module documents it, written for clarity, not speed: an independent
 * implementation the optimized scanner must agree with byte for byte.
 */
function referenceChunkEnds(data: Uint8Array, p: ChunkingParams): number[] {
  const bits = Math.log2(p.avgSize);
  const mask = (ones: number) => ((2 ** ones - 1) * 2 ** (31 - ones)) >>> 0;
  const maskS = mask(bits + 2);
  const maskL = mask(bits - 2);
  const ends: number[] = [];
  let start = 0;
  while (start < data.length) {
    const remaining = data.length - start;
    let cut = Math.min(remaining, p.maxSize);
    let hash = 0;
    for (let k = p.minSize; k < Math.min(remaining, p.maxSize); k++) {
      hash = (hash * 2 + GEAR_TABLE[data[start + k]!]!) >>> 0;
      if ((hash & (k < p.avgSize ? maskS : maskL)) >>> 0 === 0) {
        cut = k + 1;
        break;
      }
    }
    start += cut;
    ends.push(start);
  }
  return ends;
}

const SMALL: ChunkingParams = { minSize: 256, avgSize: 1024, maxSize: 4096 };

const paramsArb = fc
  .tuple(
    fc.integer({ min: 8, max: 12 }),
    fc.integer({ min: 0, max: 3 }),
    fc.integer({ min: 0, max: 3 }),
  )
  .map(([bits, minShift, maxShift]) => {
    const avgSize = 2 ** bits;
    return { minSize: Math.max(64, avgSize >> minShift), avgSize, maxSize: avgSize << maxShift };
  });

describe('GEAR_TABLE', () => {
  it('is derived from SHA-256 as documented', () => {
    const seed = new TextEncoder().encode('modelvault fastcdc gear v1');
    for (let i = 0; i < 256; i++) {
      const digest = createHash('sha256').update(seed).update(Uint8Array.of(i)).digest();
      expect(GEAR_TABLE[i], `entry ${i}`).toBe(digest.readUInt32LE(0));
    }
  });
});

describe('chunk boundaries', () => {
  // Golden values: these boundaries are part of the storage format. If this test fails,
  // the change breaks deduplication against every stored chunk: revert it, do not update.
  const input = mulberry32Bytes(20_240_601, 4 * 1024 * 1024);

  it('pin the golden input', () => {
    expect(createHash('sha256').update(input).digest('hex')).toBe(GOLDEN_INPUT_SHA256);
  });

  it('are pinned for the default parameters', () => {
    expect(chunkEnds(input, DEFAULT_CHUNKING)).toEqual(GOLDEN_DEFAULT);
  });

  it('are pinned for small parameters', () => {
    const ends = chunkEnds(input.subarray(0, 1024 * 1024), {
      minSize: 1024,
      avgSize: 4096,
      maxSize: 16384,
    });
    expect(ends.slice(0, 16)).toEqual(GOLDEN_SMALL_FIRST);
    expect(ends.length).toBe(GOLDEN_SMALL_COUNT);
    expect(createHash('sha256').update(JSON.stringify(ends)).digest('hex')).toBe(
      GOLDEN_SMALL_SHA256,
    );
  });

  it('match the reference implementation', () => {
    expect(chunkEnds(input, DEFAULT_CHUNKING)).toEqual(referenceChunkEnds(input, DEFAULT_CHUNKING));
    fc.assert(
      fc.property(paramsArb, fc.integer(), fc.integer({ min: 0, max: 40_000 }), (p, seed, len) => {
        const data = mulberry32Bytes(seed, len);
        expect(chunkEnds(data, p)).toEqual(referenceChunkEnds(data, p));
      }),
      { numRuns: 200 },
    );
  });

  it('do not depend on where the input sits in memory', () => {
    fc.assert(
      fc.property(paramsArb, fc.integer(), fc.integer({ min: 0, max: 30_000 }), (p, seed, len) => {
        const data = mulberry32Bytes(seed, len);
        const expected = referenceChunkEnds(data, p);
        const backing = new Uint8Array(len + 16);
        for (let offset = 0; offset < 8; offset++) {
          backing.fill(offset * 31);
          backing.set(data, offset);
          expect(chunkEnds(backing.subarray(offset, offset + len), p)).toEqual(expected);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('match the reference on low-entropy data', () => {
    const zeros = new Uint8Array(100_000);
    const pattern = new Uint8Array(100_000).map((_, i) => i % 7);
    const ones = new Uint8Array(100_000).fill(0xff);
    for (const data of [zeros, pattern, ones]) {
      expect(chunkEnds(data, SMALL)).toEqual(referenceChunkEnds(data, SMALL));
    }
  });

  it('respect the size limits', () => {
    fc.assert(
      fc.property(paramsArb, fc.integer(), fc.integer({ min: 1, max: 60_000 }), (p, seed, len) => {
        const ends = chunkEnds(mulberry32Bytes(seed, len), p);
        expect(ends.at(-1)).toBe(len);
        let start = 0;
        ends.forEach((end, i) => {
          const size = end - start;
          expect(size).toBeLessThanOrEqual(p.maxSize);
          if (i < ends.length - 1) {
            expect(size).toBeGreaterThanOrEqual(Math.min(p.minSize + 1, p.maxSize));
          }
          start = end;
        });
      }),
    );
  });

  it('average close to avgSize on random data', () => {
    const ends = chunkEnds(input, SMALL);
    const mean = input.length / ends.length;
    // Normalized chunking with minSize = avg/4 lands a little above the average.
    expect(mean).toBeGreaterThan(SMALL.avgSize * 0.8);
    expect(mean).toBeLessThan(SMALL.avgSize * 1.5);
  });

  it('resynchronise after an insertion', () => {
    const a = input.subarray(0, 512 * 1024);
    const b = new Uint8Array(a.length + 100);
    b.set(a.subarray(0, 10_000));
    b.set(mulberry32Bytes(7, 100), 10_000);
    b.set(a.subarray(10_000), 10_100);
    const endsA = new Set(chunkEnds(a, SMALL).map((e) => e + 100));
    const endsB = chunkEnds(b, SMALL);
    const shared = endsB.filter((e) => endsA.has(e)).length;
    expect(shared / endsB.length).toBeGreaterThan(0.9);
  });
});

describe('findCut', () => {
  it('returns end for a remainder no longer than minSize', () => {
    const data = mulberry32Bytes(1, 1000);
    expect(findCut(data, 100, 356, SMALL)).toBe(356);
    expect(findCut(data, 999, 1000, SMALL)).toBe(1000);
  });

  it('forces a cut at maxSize', () => {
    const p = { minSize: 256, avgSize: 1024, maxSize: 1024 };
    const data = mulberry32Bytes(5, 20_000);
    const cut = findCut(data, 0, data.length, p);
    // With maxSize = avgSize most chunks find no cut in their 768 hashed bytes.
    expect(cut).toBe(1024);
    expect(findCut(data, 0, 1024, p)).toBe(1024);
    expect(findCut(data, 0, 1000, p)).toBe(1000);
  });

  it('does not depend on bytes before start or after the cut', () => {
    const data = mulberry32Bytes(3, 50_000);
    const cut = findCut(data, 1000, data.length, SMALL);
    const copy = data.slice(1000, cut);
    expect(findCut(copy, 0, copy.length, SMALL)).toBe(copy.length);
  });
});

describe('scanCut', () => {
  it('gives the same cuts as chunkEnds for any split of the input', () => {
    fc.assert(
      fc.property(
        paramsArb,
        fc.integer(),
        fc.integer({ min: 0, max: 50_000 }),
        fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 0, max: 3 }),
        (p, seed, len, sizes, offset) => {
          const data = new Uint8Array(len + 4).subarray(offset, offset + len);
          data.set(mulberry32Bytes(seed, len));
          const config = cdcConfig(p);
          const state: CdcState = { length: 0, hash: 0 };
          const ends: number[] = [];
          let from = 0;
          let k = 0;
          while (from < len) {
            const end = Math.min(len, from + sizes[k++ % sizes.length]!);
            let at = from;
            for (;;) {
              const cut = scanCut(data, at, end, state, config);
              if (cut < 0) break;
              ends.push(cut);
              at = cut;
            }
            from = end;
          }
          if (state.length > 0) ends.push(len);
          expect(ends).toEqual(chunkEnds(data, p));
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('cdcConfig', () => {
  it('rejects invalid parameters', () => {
    expect(() => cdcConfig({ minSize: 16, avgSize: 1024, maxSize: 4096 })).toThrow(
      InvalidArgumentError,
    );
    expect(() => cdcConfig({ minSize: 256, avgSize: 1000, maxSize: 4096 })).toThrow(
      InvalidArgumentError,
    );
    expect(() => cdcConfig({ minSize: 256, avgSize: 1024, maxSize: 512 })).toThrow(
      InvalidArgumentError,
    );
  });

  it('uses log2(avg) ± 2 mask bits', () => {
    const c = cdcConfig(DEFAULT_CHUNKING);
    const popcount = (x: number) => x.toString(2).split('1').length - 1;
    expect(popcount(c.maskS)).toBe(18);
    expect(popcount(c.maskL)).toBe(14);
    expect(c.maskS).toBeGreaterThan(0);
  });
});

const GOLDEN_INPUT_SHA256 = 'baae85fe82e3620d1236d276be4f4b4e2a756a08af8a84ed409768063eabb389';
const GOLDEN_DEFAULT: number[] = [
  106059, 194481, 317711, 379060, 467492, 533208, 617832, 741398, 836241, 930821, 1003859, 1089697,
  1159129, 1259571, 1327768, 1397624, 1475435, 1525461, 1587717, 1662928, 1731705, 1803018, 1869415,
  1967399, 1985936, 2010275, 2126607, 2197110, 2314305, 2399997, 2467585, 2539803, 2625188, 2692603,
  2779637, 2896490, 2988290, 3059454, 3159344, 3193574, 3269157, 3288338, 3374878, 3445887, 3553879,
  3638211, 3713183, 3779592, 3824921, 3890993, 3980721, 4064558, 4192197, 4194304,
];
const GOLDEN_SMALL_FIRST: number[] = [
  4858, 9184, 14964, 17521, 19400, 22674, 26430, 31155, 36669, 40770, 44885, 46318, 52707, 59656,
  63937, 65048,
];
const GOLDEN_SMALL_COUNT = 223;
const GOLDEN_SMALL_SHA256 = '11af56e4294471b3e97815da4fcdc7434abd4661d3c0bb09a4031f883d7f74db';

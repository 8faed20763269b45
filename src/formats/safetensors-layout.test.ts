import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  memoryReader,
  pseudoRandomBytes,
  writeSafetensors,
  writeSafetensorsRaw,
} from '../../test/fixtures/model-files.js';
import { checkPieces } from './file-layout.js';
import { parseSafetensorsHeader, safetensorsLayout } from './safetensors-layout.js';

const f32 = (name: string, shape: number[], seed = 1) => ({
  name,
  dtype: 'F32',
  shape,
  data: pseudoRandomBytes(seed, 4 * shape.reduce((a, b) => a * b, 1)),
});

const sample = () =>
  writeSafetensors(
    [f32('embed.weight', [16, 8], 1), f32('layer.0.bias', [8], 2), f32('head.weight', [8, 4], 3)],
    { format: 'pt', note: 'hi' },
  );

async function parse(bytes: Uint8Array) {
  return parseSafetensorsHeader(memoryReader(bytes), bytes.length);
}

async function reason(bytes: Uint8Array): Promise<string> {
  const r = await safetensorsLayout(memoryReader(bytes), bytes.length);
  expect(r.ok).toBe(false);
  return r.ok ? '' : r.reason;
}

function header(json: unknown, dataLength: number): Uint8Array {
  return writeSafetensorsRaw(JSON.stringify(json), new Uint8Array(dataLength));
}

describe('parseSafetensorsHeader', () => {
  it('returns tensors sorted by offset and the metadata', async () => {
    const r = await parse(sample());
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const h = r.value;
    expect(h.dataStart).toBe(8 + h.headerLength);
    expect(h.headerLength % 8).toBe(0);
    expect(h.metadata).toEqual({ format: 'pt', note: 'hi' });
    expect(h.tensors).toEqual([
      { name: 'embed.weight', dtype: 'F32', shape: [16, 8], begin: 0, end: 512 },
      { name: 'layer.0.bias', dtype: 'F32', shape: [8], begin: 512, end: 544 },
      { name: 'head.weight', dtype: 'F32', shape: [8, 4], begin: 544, end: 672 },
    ]);
  });

  it('sorts by data offset, not header order, and keeps empty and scalar tensors', async () => {
    const bytes = header(
      {
        b: { dtype: 'I64', shape: [], data_offsets: [16, 24] },
        a: { dtype: 'BF16', shape: [4, 2], data_offsets: [0, 16] },
        empty: { dtype: 'F16', shape: [0, 3], data_offsets: [24, 24] },
      },
      24,
    );
    const r = await parse(bytes);
    expect(r.ok && r.value.tensors.map((t) => t.name)).toEqual(['a', 'b', 'empty']);
  });

  it('validates sizes of known dtypes, including sub-byte ones', async () => {
    const ok = header({ x: { dtype: 'F4', shape: [2, 3], data_offsets: [0, 3] } }, 3);
    expect((await parse(ok)).ok).toBe(true);
    const odd = header({ x: { dtype: 'F4', shape: [3], data_offsets: [0, 2] } }, 2);
    expect(await reason(odd)).toMatch(/needs 12 bits/);
    const wrong = header({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8);
    expect(await reason(wrong)).toMatch(/"x" is 8 bytes, but F32\[3\] needs 12/);
    const unknown = header({ x: { dtype: 'Q9_FANCY', shape: [3], data_offsets: [0, 5] } }, 5);
    expect((await parse(unknown)).ok).toBe(true);
  });

  it('rejects hostile length prefixes without reading them', async () => {
    const huge = new Uint8Array(64);
    new DataView(huge.buffer).setBigUint64(0, 2n ** 63n, true);
    const reader = memoryReader(huge);
    const r = await parseSafetensorsHeader(reader, huge.length);
    expect(r.ok ? '' : r.reason).toMatch(/exceeds the 100 MiB limit/);
    expect(reader.bytesRead).toBe(8);

    const past = writeSafetensorsRaw('{}');
    new DataView(past.buffer).setUint32(0, 1000, true);
    expect(await reason(past)).toMatch(/runs past the file end/);

    const big = new Uint8Array(16);
    new DataView(big.buffer).setUint32(0, 100 * 1024 * 1024 + 1, true);
    expect(await reason(big)).toMatch(/100 MiB/);
    expect(await reason(new Uint8Array(5))).toMatch(/too short/);
  });

  it.each([
    ['not JSON', '{"a": ', /not valid UTF-8 JSON/],
    ['an array', '[1, 2]', /start with '\{'/],
    ['not an object', '{"a": 1}', /"a" is not an object/],
    ['missing dtype', '{"a": {"shape": [], "data_offsets": [0, 0]}}', /no string dtype/],
    ['a bad shape', '{"a": {"dtype": "U8", "shape": [-1], "data_offsets": [0, 0]}}', /shape/],
    ['bad offsets', '{"a": {"dtype": "U8", "shape": [1], "data_offsets": [0]}}', /data_offsets/],
    ['negative', '{"a": {"dtype": "U8", "shape": [1], "data_offsets": [-1, 0]}}', /data_offsets/],
    ['fractional', '{"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1.5]}}', /not a range/],
    ['reversed', '{"a": {"dtype": "U8", "shape": [0], "data_offsets": [4, 2]}}', /not a range/],
    [
      'past the end',
      '{"a": {"dtype": "U8", "shape": [9], "data_offsets": [0, 9]}}',
      /past the data/,
    ],
    ['huge', '{"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1e300]}}', /not a range/],
    ['bad metadata', '{"__metadata__": {"k": 1}}', /__metadata__ "k" is not a string/],
    ['metadata array', '{"__metadata__": []}', /__metadata__ is not an object/],
  ])('rejects a header that is %s', async (_what, json, expected) => {
    expect(await reason(writeSafetensorsRaw(json, new Uint8Array(8)))).toMatch(expected);
  });

  it('rejects invalid UTF-8 and overlapping tensors', async () => {
    const bytes = writeSafetensorsRaw('{"\u00e9": 1}');
    bytes[10] = 0xff;
    expect(await reason(bytes)).toMatch(/UTF-8/);
    const overlap = header(
      {
        a: { dtype: 'U8', shape: [4], data_offsets: [0, 4] },
        b: { dtype: 'U8', shape: [4], data_offsets: [2, 6] },
      },
      6,
    );
    expect(await reason(overlap)).toMatch(/"a" and "b" overlap/);
  });
});

describe('safetensorsLayout', () => {
  it('makes a header piece and one piece per tensor', async () => {
    const bytes = sample();
    const r = await safetensorsLayout(memoryReader(bytes), bytes.length);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const dataStart = bytes.length - 672;
    expect(r.value.format).toBe('safetensors');
    expect(r.value.pieces).toEqual([
      { offset: 0, length: dataStart, kind: 'header' },
      { offset: dataStart, length: 512, kind: 'tensor', name: 'embed.weight' },
      { offset: dataStart + 512, length: 32, kind: 'tensor', name: 'layer.0.bias' },
      { offset: dataStart + 544, length: 128, kind: 'tensor', name: 'head.weight' },
    ]);
  });

  it('turns gaps and trailing bytes into padding pieces', async () => {
    const bytes = writeSafetensors([f32('a', [2]), f32('b', [3])], undefined, { gap: 5 });
    const withTail = new Uint8Array(bytes.length + 3);
    withTail.set(bytes);
    const r = await safetensorsLayout(memoryReader(withTail), withTail.length);
    expect(r.ok && r.value.pieces.map((p) => [p.kind, p.length])).toEqual([
      ['header', bytes.length - 25],
      ['tensor', 8],
      ['padding', 5],
      ['tensor', 12],
      ['padding', 3],
    ]);
  });

  it('never throws on mutated headers, and any layout it returns is valid', async () => {
    const original = sample();
    const headerEnd = 8 + new DataView(original.buffer).getUint32(0, true);
    const mutation = fc.oneof(
      // Bit flips inside the prefix and JSON header.
      fc
        .array(
          fc.tuple(fc.integer({ min: 0, max: headerEnd - 1 }), fc.integer({ min: 0, max: 7 })),
          {
            minLength: 1,
            maxLength: 4,
          },
        )
        .map((flips) => (b: Uint8Array) => {
          const out = b.slice();
          for (const [at, bit] of flips) out[at]! ^= 1 << bit;
          return out;
        }),
      // Truncation anywhere.
      fc.integer({ min: 0, max: original.length }).map((n) => (b: Uint8Array) => b.slice(0, n)),
      // The length field set to something large.
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((n) => (b: Uint8Array) => {
        const out = b.slice();
        new DataView(out.buffer).setBigUint64(0, n, true);
        return out;
      }),
      // A byte of the JSON replaced by a random character.
      fc
        .tuple(fc.integer({ min: 8, max: headerEnd - 1 }), fc.integer({ min: 0, max: 255 }))
        .map(([at, v]) => (b: Uint8Array) => {
          const out = b.slice();
          out[at] = v;
          return out;
        }),
    );
    await fc.assert(
      fc.asyncProperty(mutation, async (mutate) => {
        const bytes = mutate(original);
        const r = await safetensorsLayout(memoryReader(bytes), bytes.length);
        if (r.ok) expect(checkPieces(r.value.pieces, bytes.length)).toBeUndefined();
        else expect(r.reason.length).toBeGreaterThan(0);
      }),
      { numRuns: 500 },
    );
  });
});

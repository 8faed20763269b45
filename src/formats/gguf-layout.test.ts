import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type GgufKvSpec,
  type GgufSpec,
  type GgufTensorSpec,
  memoryReader,
  pseudoRandomBytes,
  writeGguf,
  writeGgufDetailed,
} from '../../test/fixtures/model-files.js';
import { checkPieces } from './file-layout.js';
import { GGML_TYPES, ggufLayout, parseGgufHeader } from './gguf-layout.js';

const tensor = (name: string, dims: number[], type: number, seed = 1): GgufTensorSpec => {
  const info = GGML_TYPES.get(type)!;
  const elements = dims.reduce((a, b) => a * b, 1);
  return {
    name,
    dims,
    type,
    data: pseudoRandomBytes(seed, (elements / info.blockSize) * info.typeSize),
  };
};

const KVS: GgufKvSpec[] = [
  { key: 'general.architecture', type: 'string', value: 'llama' },
  { key: 'general.name', type: 'string', value: 'tiny' },
  { key: 'llama.block_count', type: 'uint32', value: 2 },
  { key: 'llama.rope.freq_base', type: 'float32', value: 10000 },
  { key: 'general.file_type', type: 'uint64', value: 7n },
  { key: 'x.int64', type: 'int64', value: -5n },
  { key: 'x.int8', type: 'int8', value: -3 },
  { key: 'x.uint8', type: 'uint8', value: 200 },
  { key: 'x.int16', type: 'int16', value: -300 },
  { key: 'x.uint16', type: 'uint16', value: 60000 },
  { key: 'x.int32', type: 'int32', value: -70000 },
  { key: 'x.float64', type: 'float64', value: 0.25 },
  { key: 'x.bool', type: 'bool', value: true },
  {
    key: 'tokenizer.ggml.tokens',
    type: 'array',
    value: { itemType: 'string', items: ['<s>', '</s>', 'hello'] },
  },
  {
    key: 'x.nested',
    type: 'array',
    value: {
      itemType: 'array',
      items: [
        { itemType: 'int32', items: [1, 2] },
        { itemType: 'string', items: ['a'] },
      ],
    },
  },
];

const TENSORS: GgufTensorSpec[] = [
  tensor('token_embd.weight', [64, 8], 8, 1), // Q8_0: 16 blocks × 34 bytes
  tensor('blk.0.attn_norm.weight', [64], 0, 2), // F32
  tensor('blk.0.ffn.weight', [256, 2], 12, 3), // Q4_K: 2 blocks × 144 bytes
  tensor('output.weight', [3, 5], 1, 4), // F16, 30 bytes: padding follows
];

const sample = (spec: Partial<GgufSpec> = {}) =>
  writeGgufDetailed({ kvs: KVS, tensors: TENSORS, ...spec });

async function reason(bytes: Uint8Array): Promise<string> {
  const r = await ggufLayout(memoryReader(bytes), bytes.length);
  expect(r.ok).toBe(false);
  return r.ok ? '' : r.reason;
}

/** Offsets of a GGUF header's fields, to damage them on purpose. */
function u64At(bytes: Uint8Array, at: number, value: bigint): Uint8Array {
  const out = bytes.slice();
  new DataView(out.buffer).setBigUint64(at, value, true);
  return out;
}

describe('parseGgufHeader', () => {
  it('returns metadata of every type and the tensor infos', async () => {
    const { bytes, headerSize, dataStart } = sample();
    const r = await parseGgufHeader(memoryReader(bytes), bytes.length);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const h = r.value;
    expect(h.version).toBe(3);
    expect(h.alignment).toBe(32);
    expect(h.headerSize).toBe(headerSize);
    expect(h.dataStart).toBe(dataStart);
    const kv = Object.fromEntries(h.kvs.map((k) => [k.key, k.value]));
    expect(kv).toEqual({
      'general.architecture': 'llama',
      'general.name': 'tiny',
      'llama.block_count': 2,
      'llama.rope.freq_base': 10000,
      'general.file_type': 7n,
      'x.int64': -5n,
      'x.int8': -3,
      'x.uint8': 200,
      'x.int16': -300,
      'x.uint16': 60000,
      'x.int32': -70000,
      'x.float64': 0.25,
      'x.bool': true,
      'tokenizer.ggml.tokens': { itemType: 'string', length: 3, items: ['<s>', '</s>', 'hello'] },
      'x.nested': {
        itemType: 'array',
        length: 2,
        items: [
          { itemType: 'int32', length: 2, items: [1, 2] },
          { itemType: 'string', length: 1, items: ['a'] },
        ],
      },
    });
    expect(h.kvs.find((k) => k.key === 'x.bool')?.type).toBe('bool');
    expect(h.tensors).toEqual([
      {
        name: 'token_embd.weight',
        dims: [64, 8],
        type: 8,
        typeName: 'Q8_0',
        offset: 0,
        byteSize: 544,
      },
      {
        name: 'blk.0.attn_norm.weight',
        dims: [64],
        type: 0,
        typeName: 'F32',
        offset: 544,
        byteSize: 256,
      },
      {
        name: 'blk.0.ffn.weight',
        dims: [256, 2],
        type: 12,
        typeName: 'Q4_K',
        offset: 800,
        byteSize: 288,
      },
      { name: 'output.weight', dims: [3, 5], type: 1, typeName: 'F16', offset: 1088, byteSize: 30 },
    ]);
  });

  it('keeps only the length of long arrays and skips large strings', async () => {
    const tokens = Array.from({ length: 5000 }, (_, i) => `tok${i}`);
    const { bytes } = sample({
      kvs: [
        {
          key: 'tokenizer.ggml.tokens',
          type: 'array',
          value: { itemType: 'string', items: tokens },
        },
        {
          key: 'scores',
          type: 'array',
          value: { itemType: 'float32', items: tokens.map(() => 0.5) },
        },
        { key: 'big', type: 'string', value: 'x'.repeat(3000) },
      ],
    });
    const r = await parseGgufHeader(memoryReader(bytes), bytes.length, { maxStringValue: 1000 });
    expect(r.ok && r.value.kvs).toEqual([
      { key: 'tokenizer.ggml.tokens', type: 'array', value: { itemType: 'string', length: 5000 } },
      { key: 'scores', type: 'array', value: { itemType: 'float32', length: 5000 } },
      { key: 'big', type: 'string', omitted: true },
    ]);
  });

  it('reads the header in bounded windows and never the tensor data', async () => {
    const tokens = Array.from({ length: 40_000 }, (_, i) => `token-${i}-${'y'.repeat(i % 50)}`);
    const big = tensor('big.weight', [1024, 1024], 0, 9); // 4 MiB of tensor data
    const { bytes, dataStart } = sample({
      kvs: [
        {
          key: 'tokenizer.ggml.tokens',
          type: 'array',
          value: { itemType: 'string', items: tokens },
        },
      ],
      tensors: [big],
    });
    expect(dataStart).toBeGreaterThan(1024 * 1024);
    const reads: number[] = [];
    const inner = memoryReader(bytes);
    const reader = async (offset: number, length: number) => {
      reads.push(length);
      return inner(offset, length);
    };
    const r = await parseGgufHeader(reader, bytes.length, { window: 64 * 1024 });
    expect(r.ok).toBe(true);
    expect(Math.max(...reads)).toBeLessThanOrEqual(64 * 1024);
    expect(inner.bytesRead).toBeLessThan(dataStart + 64 * 1024);
  });

  it('accepts version 2 and a custom alignment', async () => {
    const { bytes, dataStart, tensorOffsets } = sample({ version: 2, alignment: 256 });
    expect(dataStart % 256).toBe(0);
    const r = await parseGgufHeader(memoryReader(bytes), bytes.length);
    expect(r.ok && [r.value.version, r.value.alignment, r.value.dataStart]).toEqual([
      2,
      256,
      dataStart,
    ]);
    const layout = await ggufLayout(memoryReader(bytes), bytes.length);
    expect(
      layout.ok && layout.value.pieces.filter((p) => p.kind === 'tensor').map((p) => p.offset),
    ).toEqual(tensorOffsets);
  });

  it.each([
    ['version 1', { version: 1 }, /unsupported gguf version 1/],
    ['big-endian', { version: 0x03000000 }, /big-endian/],
    ['alignment 0', { kvs: [{ key: 'general.alignment', type: 'uint32', value: 0 }] }, /alignment/],
    [
      'alignment 48',
      { kvs: [{ key: 'general.alignment', type: 'uint32', value: 48 }] },
      /alignment/,
    ],
    [
      'alignment u64',
      { kvs: [{ key: 'general.alignment', type: 'uint64', value: 64n }] },
      /alignment/,
    ],
    [
      'duplicate keys',
      { kvs: [KVS[0]!, KVS[0]!] },
      /duplicate gguf metadata key "general.architecture"/,
    ],
    ['duplicate tensors', { tensors: [TENSORS[1]!, TENSORS[1]!] }, /duplicate gguf tensor/],
    [
      'a bad block multiple',
      { tensors: [{ ...TENSORS[0]!, dims: [48, 8] }] },
      /not a multiple of 32/,
    ],
    [
      'too many dims',
      { tensors: [{ ...TENSORS[1]!, dims: [1, 1, 1, 1, 1, 1, 1, 1, 64] }] },
      /9 dimensions/,
    ],
    [
      'deep nesting',
      {
        kvs: [
          {
            key: 'deep',
            type: 'array',
            value: {
              itemType: 'array',
              items: [
                {
                  itemType: 'array',
                  items: [
                    {
                      itemType: 'array',
                      items: [{ itemType: 'array', items: [{ itemType: 'uint8', items: [] }] }],
                    },
                  ],
                },
              ],
            },
          },
        ],
      },
      /nested deeper than 4/,
    ],
  ] as [string, Partial<GgufSpec>, RegExp][])('rejects %s', async (_what, spec, expected) => {
    expect(await reason(writeGguf({ kvs: KVS, tensors: TENSORS, ...spec }))).toMatch(expected);
  });

  it('rejects huge counts and lengths before looping or allocating', async () => {
    const { bytes } = sample();
    const reader = memoryReader(bytes);
    const r = await parseGgufHeader(reader, bytes.length);
    expect(r.ok).toBe(true);
    // tensor_count at 8, kv_count at 16, first key length at 24.
    expect(await reason(u64At(bytes, 8, 2n ** 62n))).toMatch(/implausible gguf tensor count/);
    expect(await reason(u64At(bytes, 8, 10_000_000n))).toMatch(/implausible gguf tensor count/);
    expect(await reason(u64At(bytes, 16, 2n ** 64n - 1n))).toMatch(
      /implausible gguf metadata count/,
    );
    expect(await reason(u64At(bytes, 24, 2n ** 40n))).toMatch(/exceeds the 65536 byte limit/);
    expect(await reason(u64At(bytes, 24, 60_000n))).toMatch(/runs past the file end/);
    // An array's count lies after the key, the value type and the item type.
    const arrays = writeGguf({
      kvs: [{ key: 'a', type: 'array', value: { itemType: 'string', items: ['x'] } }],
    });
    expect(await reason(u64At(arrays, 24 + 8 + 1 + 4 + 4, 2n ** 50n))).toMatch(
      /array of .* items exceeds the item limit/,
    );
    expect(await reason(u64At(arrays, 24 + 8 + 1 + 4 + 4, 1000n))).toMatch(
      /array of 1000 items runs past the file end/,
    );
    // The first string's length follows the count; both parsing paths check it.
    const hugeString = u64At(arrays, 24 + 8 + 1 + 4 + 4 + 8, 2n ** 40n);
    expect(await reason(hugeString)).toMatch(/string value of \d+ bytes exceeds the 67108864/);
    const parsed = await parseGgufHeader(memoryReader(hugeString), hugeString.length);
    expect(parsed.ok ? '' : parsed.reason).toMatch(/exceeds the 67108864 byte limit/);
  });

  it('rejects truncated headers and unknown value types', async () => {
    const { bytes, headerSize } = sample();
    for (const n of [0, 3, 4, 23, 24, 100, headerSize - 1]) {
      expect(await reason(bytes.slice(0, n))).toMatch(
        /truncated|missing GGUF magic|past|implausible/,
      );
    }
    const badType = writeGguf({ kvs: [{ key: 'k', type: 'uint8', value: 1 }] });
    new DataView(badType.buffer).setUint32(24 + 8 + 1, 13, true);
    expect(await reason(badType)).toMatch(/unknown gguf value type 13/);
  });
});

describe('ggufLayout', () => {
  it('makes a header piece, tensor pieces and alignment padding', async () => {
    const { bytes, dataStart, tensorOffsets } = sample();
    const r = await ggufLayout(memoryReader(bytes), bytes.length);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.format).toBe('gguf');
    expect(r.value.pieces).toEqual([
      { offset: 0, length: dataStart, kind: 'header' },
      { offset: tensorOffsets[0], length: 544, kind: 'tensor', name: 'token_embd.weight' },
      { offset: tensorOffsets[1], length: 256, kind: 'tensor', name: 'blk.0.attn_norm.weight' },
      { offset: tensorOffsets[2], length: 288, kind: 'tensor', name: 'blk.0.ffn.weight' },
      { offset: tensorOffsets[3], length: 30, kind: 'tensor', name: 'output.weight' },
      { offset: tensorOffsets[3]! + 30, length: 2, kind: 'padding' },
    ]);
  });

  it('extends a tensor of unknown type to the next tensor or the file end', async () => {
    const unknown = { name: 'mystery', dims: [10], type: 99, data: pseudoRandomBytes(5, 40) };
    const { bytes, tensorOffsets } = sample({
      tensors: [TENSORS[1]!, unknown, TENSORS[3]!, { ...unknown, name: 'tail' }],
    });
    const r = await ggufLayout(memoryReader(bytes), bytes.length);
    expect(r.ok && r.value.pieces.slice(1).map((p) => [p.name, p.offset, p.length])).toEqual([
      ['blk.0.attn_norm.weight', tensorOffsets[0], 256],
      ['mystery', tensorOffsets[1], tensorOffsets[2]! - tensorOffsets[1]!],
      ['output.weight', tensorOffsets[2], 30],
      [undefined, tensorOffsets[2]! + 30, 2],
      ['tail', tensorOffsets[3], bytes.length - tensorOffsets[3]!],
    ]);
  });

  it('stays linear when many tensors of unknown type share an offset', async () => {
    const tensors = Array.from({ length: 50_000 }, (_, i) => ({
      name: `t${i}`,
      dims: [1],
      type: 99,
      data: new Uint8Array(0),
    }));
    const { bytes } = writeGgufDetailed({ tensors });
    const withData = new Uint8Array(bytes.length + 100);
    withData.set(bytes);
    const started = performance.now();
    const r = await ggufLayout(memoryReader(withData), withData.length);
    expect(r.ok ? '' : r.reason).toMatch(/overlaps/);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('accepts a file without tensors that ends before the alignment padding', async () => {
    const { bytes, headerSize } = sample({ tensors: [] });
    const short = bytes.slice(0, headerSize);
    const r = await ggufLayout(memoryReader(short), short.length);
    expect(r.ok && r.value.pieces).toEqual([{ offset: 0, length: headerSize, kind: 'header' }]);
  });

  it('rejects tensors past the end or overlapping', async () => {
    const { bytes } = sample();
    expect(await reason(bytes.slice(0, bytes.length - 40))).toMatch(/past the file end/);
    const overlap = writeGguf({ tensors: [TENSORS[1]!, TENSORS[2]!] });
    // Move the second tensor's offset (the last 8 bytes of the infos) into the first.
    const { headerSize } = writeGgufDetailed({ tensors: [TENSORS[1]!, TENSORS[2]!] });
    expect(await reason(u64At(overlap, headerSize - 8, 100n))).toMatch(/overlaps/);
  });

  it('never throws on mutated headers, and any layout it returns is valid', async () => {
    const { bytes: original, dataStart } = sample();
    const mutation = fc.oneof(
      fc
        .array(
          fc.tuple(fc.integer({ min: 0, max: dataStart - 1 }), fc.integer({ min: 0, max: 7 })),
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
      fc.integer({ min: 0, max: original.length }).map((n) => (b: Uint8Array) => b.slice(0, n)),
      // Any 8 aligned-or-not header bytes set to a large or random u64 (lengths, counts).
      fc
        .tuple(
          fc.integer({ min: 0, max: dataStart - 8 }),
          fc.oneof(
            fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
            fc.constantFrom(2n ** 32n, 2n ** 53n, 2n ** 63n),
          ),
        )
        .map(
          ([at, v]) =>
            (b: Uint8Array) =>
              u64At(b, at, v),
        ),
    );
    await fc.assert(
      fc.asyncProperty(mutation, async (mutate) => {
        const bytes = mutate(original);
        const r = await ggufLayout(memoryReader(bytes), bytes.length);
        if (r.ok) expect(checkPieces(r.value.pieces, bytes.length)).toBeUndefined();
        else expect(r.reason.length).toBeGreaterThan(0);
        const h = await parseGgufHeader(memoryReader(bytes), bytes.length);
        expect(typeof h.ok).toBe('boolean');
      }),
      { numRuns: 500 },
    );
  });
});

/**
 * GGUF (ggml's model format, versions 2 and 3, little-endian):
 *
 *   "GGUF" | version u32 | tensor_count u64 | kv_count u64
 *   kv_count × { key: string, value_type u32, value }
 *   tensor_count × { name: string, n_dims u32, dims u64[n_dims], ggml_type u32, offset u64 }
 *   padding to `general.alignment` (default 32) | tensor data
 *
 * Strings are a u64 length and UTF-8 bytes; arrays are an item type u32, a u64 count and the
 * items (arrays may nest). Tensor offsets are relative to the data section.
 *
 * The file is untrusted: the header is read through bounded windows (tokenizer vocabularies
 * make it many MiB), counts and lengths are checked against the bytes left and against caps
 * before any loop or allocation, large values are skipped rather than kept, and bad content
 * yields a reason, never an exception. Tensor offsets need not be aligned or in header
 * order; they must not overlap (for tensors whose size we know).
 */
import type { FileLayout, ParseResult, RangeReader } from './file-layout.js';
import { FormatReject, RangeCursor } from './range-cursor.js';
import { type TensorExtent, tensorPieces } from './tensor-pieces.js';

export interface GgmlTypeInfo {
  readonly name: string;
  /** Elements per block; a tensor's first dimension must be a multiple of it. */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly typeSize: number;
}

/**
 * ggml tensor types by id, with their block geometry (from ggml's type traits, as mirrored by
 * gguf-py's GGML_QUANT_SIZES). Ids missing here (removed or future types) are "unknown": such
 * a tensor's extent runs to the next tensor's offset or the end of the file.
 */
export const GGML_TYPES: ReadonlyMap<number, GgmlTypeInfo> = new Map(
  (
    [
      [0, 'F32', 1, 4],
      [1, 'F16', 1, 2],
      [2, 'Q4_0', 32, 18],
      [3, 'Q4_1', 32, 20],
      [6, 'Q5_0', 32, 22],
      [7, 'Q5_1', 32, 24],
      [8, 'Q8_0', 32, 34],
      [9, 'Q8_1', 32, 36],
      [10, 'Q2_K', 256, 84],
      [11, 'Q3_K', 256, 110],
      [12, 'Q4_K', 256, 144],
      [13, 'Q5_K', 256, 176],
      [14, 'Q6_K', 256, 210],
      [15, 'Q8_K', 256, 292],
      [16, 'IQ2_XXS', 256, 66],
      [17, 'IQ2_XS', 256, 74],
      [18, 'IQ3_XXS', 256, 98],
      [19, 'IQ1_S', 256, 50],
      [20, 'IQ4_NL', 32, 18],
      [21, 'IQ3_S', 256, 110],
      [22, 'IQ2_S', 256, 82],
      [23, 'IQ4_XS', 256, 136],
      [24, 'I8', 1, 1],
      [25, 'I16', 1, 2],
      [26, 'I32', 1, 4],
      [27, 'I64', 1, 8],
      [28, 'F64', 1, 8],
      [29, 'IQ1_M', 256, 56],
      [30, 'BF16', 1, 2],
      [34, 'TQ1_0', 256, 54],
      [35, 'TQ2_0', 256, 66],
      [39, 'MXFP4', 32, 17],
      [40, 'NVFP4', 64, 36],
      [41, 'Q1_0', 128, 18],
    ] as const
  ).map(([id, name, blockSize, typeSize]) => [id, Object.freeze({ name, blockSize, typeSize })]),
);

/** GGUF metadata value types, indexed by their u32 id. */
export const GGUF_VALUE_TYPES = [
  'uint8',
  'int8',
  'uint16',
  'int16',
  'uint32',
  'int32',
  'float32',
  'bool',
  'string',
  'array',
  'uint64',
  'int64',
  'float64',
] as const;
export type GgufValueType = (typeof GGUF_VALUE_TYPES)[number];

/** Encoded size of the fixed-size value types (0 for string and array). */
const FIXED_SIZE = [1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8] as const;
const STRING = 8;
const ARRAY = 9;

/** Arrays longer than this keep only their length (tokenizer vocabularies, merges, scores). */
const DEFAULT_MAX_ARRAY_ITEMS = 1024;
/** Strings longer than this are skipped (the KV is marked `omitted`). */
const DEFAULT_MAX_STRING_VALUE = 1024 * 1024;
/** Total string bytes kept across all values, so a hostile header cannot pin gigabytes. */
const RETAINED_STRING_BUDGET = 16 * 1024 * 1024;

/** Caps on hostile headers; files beyond them are reported as unparseable. */
export const GGUF_LIMITS = Object.freeze({
  /** Real models have thousands of tensors; each info costs us a few hundred bytes. */
  maxTensors: 1_000_000,
  maxKvs: 1_000_000,
  maxStringLength: 64 * 1024 * 1024,
  /** Keys and tensor names are identifiers (ggml itself caps names at 63 bytes). */
  maxNameLength: 64 * 1024,
  maxArrayDepth: 4,
  /** Items per array; string and nested arrays are walked item by item. */
  maxArrayLength: 100_000_000,
  maxDims: 8,
});

export type GgufValue = number | bigint | boolean | string | GgufArray;

export interface GgufArray {
  readonly itemType: GgufValueType;
  readonly length: number;
  /** The items, unless the array was too long or too large to keep. */
  readonly items?: readonly GgufValue[];
}

export interface GgufKv {
  readonly key: string;
  readonly type: GgufValueType;
  /** Absent when `omitted`. uint64/int64 are bigints; other numbers are numbers. */
  readonly value?: GgufValue;
  /** True when a string value was too large to keep. */
  readonly omitted?: boolean;
}

export interface GgufTensorInfo {
  readonly name: string;
  /** ggml order: dims[0] is the fastest-varying dimension. */
  readonly dims: readonly number[];
  readonly type: number;
  /** Undefined for a type id not in GGML_TYPES. */
  readonly typeName?: string;
  /** Byte offset relative to the data section (`dataStart`). */
  readonly offset: number;
  /** Bytes of tensor data; undefined for an unknown type. */
  readonly byteSize?: number;
}

export interface GgufHeader {
  readonly version: number;
  readonly alignment: number;
  readonly kvs: readonly GgufKv[];
  /** In header order. */
  readonly tensors: readonly GgufTensorInfo[];
  /** Where the tensor infos end. */
  readonly headerSize: number;
  /** headerSize rounded up to the alignment: where tensor offsets count from. */
  readonly dataStart: number;
}

export interface GgufParseOptions {
  /** Arrays longer than this keep only their length. Default 1024. */
  readonly maxArrayItems?: number;
  /** String values longer than this are omitted. Default 1 MiB. */
  readonly maxStringValue?: number;
  /** Bytes per header read. Default 1 MiB. */
  readonly window?: number;
}

const GGUF_MAGIC = 0x46554747; // "GGUF" as a little-endian u32

function q(name: string): string {
  return JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name);
}

/** Bytes of a tensor of a known type, or a reason. */
function tensorBytes(name: string, dims: readonly number[], info: GgmlTypeInfo): number {
  const first = dims[0] ?? 1;
  if (first % info.blockSize !== 0) {
    throw new FormatReject(
      `tensor ${q(name)} of type ${info.name} has dims[0] = ${first}, not a multiple of ${info.blockSize}`,
    );
  }
  let elements = 1n;
  for (const d of dims) elements *= BigInt(d);
  const bytes = (elements / BigInt(info.blockSize)) * BigInt(info.typeSize);
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new FormatReject(`tensor ${q(name)} is impossibly large`);
  }
  return Number(bytes);
}

class GgufReader {
  private readonly decoder = new TextDecoder('utf-8');
  private budget = RETAINED_STRING_BUDGET;

  constructor(
    readonly c: RangeCursor,
    private readonly maxArrayItems: number,
    private readonly maxStringValue: number,
  ) {}

  /** A length-prefixed string's length, checked against the cap and the bytes left. */
  async stringLength(what: string, cap: number): Promise<number> {
    const c = this.c;
    if (!c.has(8)) await c.fill(8, what);
    const len = c.u64();
    if (len > cap) throw new FormatReject(`${what} of ${len} bytes exceeds the ${cap} byte limit`);
    if (len > c.remaining) throw new FormatReject(`${what} runs past the file end`);
    return len;
  }

  /** A key or tensor name. */
  async name(what: string): Promise<string> {
    const len = await this.stringLength(what, GGUF_LIMITS.maxNameLength);
    if (!this.c.has(len)) await this.c.fill(len, what);
    return this.decoder.decode(this.c.bytes(len));
  }

  /** A string value: kept if small enough and within budget, else skipped (undefined). */
  async stringValue(keep: boolean): Promise<string | undefined> {
    const len = await this.stringLength('string value', GGUF_LIMITS.maxStringLength);
    if (!keep || len > this.maxStringValue || len > this.budget) {
      this.c.skip(len, 'string value');
      return undefined;
    }
    this.budget -= len;
    if (!this.c.has(len)) await this.c.fill(len, 'string value');
    return this.decoder.decode(this.c.bytes(len));
  }

  /** A fixed-size value (type ids other than string and array); buffered by the caller. */
  fixed(type: number): GgufValue {
    const c = this.c;
    switch (type) {
      case 0:
        return c.u8();
      case 1:
        return c.scalar('i8');
      case 2:
        return c.scalar('u16');
      case 3:
        return c.scalar('i16');
      case 4:
        return c.u32();
      case 5:
        return c.scalar('i32');
      case 6:
        return c.scalar('f32');
      case 7:
        return c.u8() !== 0;
      case 10:
        return c.big64(false);
      case 11:
        return c.big64(true);
      default:
        return c.scalar('f64');
    }
  }

  /**
   * A value of type id `type`; with `keep` false it is only skipped.
   * @returns the value, or undefined when skipped or too large to keep.
   */
  async value(type: number, depth: number, keep: boolean): Promise<GgufValue | undefined> {
    if (!(type >= 0 && type < GGUF_VALUE_TYPES.length)) {
      throw new FormatReject(`unknown gguf value type ${type} at offset ${this.c.pos - 4}`);
    }
    if (type === STRING) return this.stringValue(keep);
    if (type === ARRAY) return this.array(depth + 1, keep);
    const size = FIXED_SIZE[type]!;
    const c = this.c;
    if (!keep) {
      c.skip(size, 'value');
      return undefined;
    }
    if (!c.has(size)) await c.fill(size, 'value');
    return this.fixed(type);
  }

  async array(depth: number, keep: boolean): Promise<GgufArray | undefined> {
    if (depth > GGUF_LIMITS.maxArrayDepth) {
      throw new FormatReject(`gguf arrays nested deeper than ${GGUF_LIMITS.maxArrayDepth}`);
    }
    const c = this.c;
    if (!c.has(12)) await c.fill(12, 'array header');
    const itemType = c.u32();
    const length = c.u64();
    if (!(itemType < GGUF_VALUE_TYPES.length)) {
      throw new FormatReject(`unknown gguf array item type ${itemType}`);
    }
    // Every item takes at least one byte (8 for strings, 12 for arrays): a count the file
    // cannot hold is rejected before we loop over it.
    const minItem = itemType === STRING ? 8 : itemType === ARRAY ? 12 : FIXED_SIZE[itemType]!;
    if (length > GGUF_LIMITS.maxArrayLength) {
      throw new FormatReject(`gguf array of ${length} items exceeds the item limit`);
    }
    if (length > c.remaining / minItem) {
      throw new FormatReject(`gguf array of ${length} items runs past the file end`);
    }
    const typeName = GGUF_VALUE_TYPES[itemType]!;
    const keepItems = keep && length <= this.maxArrayItems;
    if (itemType !== STRING && itemType !== ARRAY) {
      if (!keepItems) {
        c.skip(length * minItem, 'array');
        return keep ? { itemType: typeName, length } : undefined;
      }
      if (!c.has(length * minItem)) await c.fill(length * minItem, 'array');
      const items: GgufValue[] = [];
      for (let i = 0; i < length; i++) items.push(this.fixed(itemType));
      return { itemType: typeName, length, items };
    }
    if (itemType === STRING && !keepItems) {
      // The common huge case (vocabularies, merges): skip each string without reading it,
      // synchronously while its length is buffered.
      for (let i = 0; i < length; i++) {
        if (!c.has(8)) await c.fill(8, 'string length');
        const len = c.u64();
        if (len > GGUF_LIMITS.maxStringLength) {
          throw new FormatReject(
            `string value of ${len} bytes exceeds the ${GGUF_LIMITS.maxStringLength} byte limit`,
          );
        }
        c.skip(len, 'string value');
      }
      return keep ? { itemType: typeName, length } : undefined;
    }
    let items: GgufValue[] | undefined = keepItems ? [] : undefined;
    for (let i = 0; i < length; i++) {
      const v =
        itemType === STRING
          ? await this.stringValue(items !== undefined)
          : await this.array(depth + 1, items !== undefined);
      if (v === undefined) items = undefined;
      else items?.push(v);
    }
    if (!keep) return undefined;
    return items === undefined
      ? { itemType: typeName, length }
      : { itemType: typeName, length, items };
  }
}

/**
 * Reads and validates a GGUF header (metadata and tensor infos) through bounded reads.
 * @returns the header, or a reason when the bytes are not a well-formed GGUF v2/v3 file of
 *   this size. Throws only what `read` throws.
 */
export async function parseGgufHeader(
  read: RangeReader,
  size: number,
  options: GgufParseOptions = {},
): Promise<ParseResult<GgufHeader>> {
  try {
    return { ok: true, value: await parseHeader(read, size, options) };
  } catch (e) {
    if (e instanceof FormatReject) return { ok: false, reason: e.message };
    throw e;
  }
}

async function parseHeader(
  read: RangeReader,
  size: number,
  options: GgufParseOptions,
): Promise<GgufHeader> {
  const c = new RangeCursor(read, size, options.window);
  const r = new GgufReader(
    c,
    options.maxArrayItems ?? DEFAULT_MAX_ARRAY_ITEMS,
    options.maxStringValue ?? DEFAULT_MAX_STRING_VALUE,
  );
  await c.fill(24, 'gguf header');
  if (c.u32() !== GGUF_MAGIC) throw new FormatReject('missing GGUF magic');
  const version = c.u32();
  if (version !== 2 && version !== 3) {
    // A big-endian file shows its version byte-swapped (0x02000000, 0x03000000).
    const swapped = version === 0x02000000 || version === 0x03000000;
    throw new FormatReject(
      swapped ? 'big-endian gguf is not supported' : `unsupported gguf version ${version}`,
    );
  }
  const tensorCount = c.u64();
  const kvCount = c.u64();
  // Each KV takes at least 13 bytes and each tensor info at least 24.
  if (kvCount > GGUF_LIMITS.maxKvs || kvCount > c.remaining / 13) {
    throw new FormatReject(`implausible gguf metadata count ${kvCount}`);
  }
  if (tensorCount > GGUF_LIMITS.maxTensors || tensorCount > c.remaining / 24) {
    throw new FormatReject(`implausible gguf tensor count ${tensorCount}`);
  }

  const kvs: GgufKv[] = [];
  const keys = new Set<string>();
  let alignment = 32;
  for (let i = 0; i < kvCount; i++) {
    const key = await r.name('metadata key');
    if (keys.has(key)) throw new FormatReject(`duplicate gguf metadata key ${q(key)}`);
    keys.add(key);
    if (!c.has(4)) await c.fill(4, 'value type');
    const typeId = c.u32();
    const value = await r.value(typeId, 0, true);
    const type = GGUF_VALUE_TYPES[typeId]!;
    kvs.push(value === undefined ? { key, type, omitted: true } : { key, type, value });
    if (key === 'general.alignment') {
      if (
        type !== 'uint32' ||
        typeof value !== 'number' ||
        value === 0 ||
        (value & (value - 1)) !== 0
      ) {
        throw new FormatReject(`general.alignment must be a power-of-two uint32`);
      }
      alignment = value;
    }
  }

  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const name = await r.name('tensor name');
    if (names.has(name)) throw new FormatReject(`duplicate gguf tensor ${q(name)}`);
    names.add(name);
    if (!c.has(4)) await c.fill(4, 'tensor info');
    const nDims = c.u32();
    if (nDims > GGUF_LIMITS.maxDims) {
      throw new FormatReject(`tensor ${q(name)} has ${nDims} dimensions`);
    }
    await c.fill(nDims * 8 + 12, 'tensor info');
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) {
      const dim = c.u64();
      if (dim > Number.MAX_SAFE_INTEGER)
        throw new FormatReject(`tensor ${q(name)} dimension ${dim}`);
      dims.push(dim);
    }
    const type = c.u32();
    const offset = c.u64();
    if (offset > Number.MAX_SAFE_INTEGER)
      throw new FormatReject(`tensor ${q(name)} offset ${offset}`);
    const info = GGML_TYPES.get(type);
    tensors.push(
      info === undefined
        ? { name, dims, type, offset }
        : {
            name,
            dims,
            type,
            typeName: info.name,
            offset,
            byteSize: tensorBytes(name, dims, info),
          },
    );
  }
  const headerSize = c.pos;
  const dataStart = Math.ceil(headerSize / alignment) * alignment;
  return { version, alignment, kvs, tensors, headerSize, dataStart };
}

/** Absolute byte extents of the tensors; unknown types run to the next tensor or file end. */
function tensorExtents(header: GgufHeader, size: number): TensorExtent[] {
  const { dataStart } = header;
  const sorted = [...header.tensors].sort((a, b) => a.offset - b.offset);
  const extents: TensorExtent[] = new Array(sorted.length);
  // Walk backwards so "the next larger offset" costs O(1) even when many tensors share one
  // offset (a hostile header must not make this quadratic).
  let nextLarger = size;
  for (let i = sorted.length - 1; i >= 0; i--) {
    const t = sorted[i]!;
    const after = sorted[i + 1];
    if (after !== undefined && after.offset > t.offset) nextLarger = dataStart + after.offset;
    const offset = dataStart + t.offset;
    extents[i] = {
      name: t.name,
      offset,
      length: t.byteSize ?? Math.max(0, nextLarger - offset),
    };
  }
  return extents;
}

/**
 * The pieces of a GGUF file: header [0, dataStart) (metadata, tensor infos, alignment
 * padding), then tensors by offset, with padding pieces for gaps and trailing bytes.
 * @param options as for `parseGgufHeader`; only header parsing cost depends on them.
 */
export async function ggufLayout(
  read: RangeReader,
  size: number,
  options?: GgufParseOptions,
): Promise<ParseResult<FileLayout>> {
  const parsed = await parseGgufHeader(read, size, { maxArrayItems: 0, ...options });
  if (!parsed.ok) return parsed;
  const header = parsed.value;
  const extents = tensorExtents(header, size);
  let headerEnd = header.dataStart;
  if (headerEnd > size) {
    // A file without tensor data may end before the alignment padding.
    if (extents.some((e) => e.length > 0)) {
      return { ok: false, reason: `gguf data section starts at ${headerEnd}, past the file end` };
    }
    headerEnd = size;
  }
  const pieces = tensorPieces(headerEnd, extents, size);
  return pieces.ok ? { ok: true, value: { format: 'gguf', pieces: pieces.value } } : pieces;
}

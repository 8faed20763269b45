/**
 * safetensors (huggingface/safetensors): a little-endian u64 header length N, N bytes of
 * UTF-8 JSON mapping tensor names to `{dtype, shape, data_offsets: [begin, end]}` (offsets
 * relative to the data section at 8 + N) plus an optional `__metadata__` string map, then
 * the data section.
 *
 * The file is untrusted: every length is checked against the file size and a cap before
 * anything is read or allocated, and bad content yields a reason, never an exception.
 * Gaps between tensors are accepted (they become padding pieces); overlaps are not.
 */
import type { FileLayout, ParseResult, RangeReader } from './file-layout.js';
import { tensorPieces } from './tensor-pieces.js';

/** Largest header we read (the reference implementation uses the same 100 MiB limit). */
export const SAFETENSORS_MAX_HEADER = 100 * 1024 * 1024;

/**
 * Bits per element of the dtypes we know (including the sub-byte float formats). A tensor
 * of an unknown dtype keeps its byte range, unchecked.
 */
export const SAFETENSORS_DTYPE_BITS: Readonly<Record<string, number>> = Object.freeze({
  BOOL: 8,
  U8: 8,
  I8: 8,
  F8_E4M3: 8,
  F8_E5M2: 8,
  F8_E8M0: 8,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
  U16: 16,
  I16: 16,
  F16: 16,
  BF16: 16,
  U32: 32,
  I32: 32,
  F32: 32,
  U64: 64,
  I64: 64,
  F64: 64,
  C64: 64,
});

export interface SafetensorsTensor {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Byte range [begin, end) relative to the data section (`dataStart`). */
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsHeader {
  /** N, the JSON header's length in bytes. */
  readonly headerLength: number;
  /** 8 + N: where the data section starts. */
  readonly dataStart: number;
  /** Sorted by `begin` (file order for ties). */
  readonly tensors: readonly SafetensorsTensor[];
  readonly metadata?: Readonly<Record<string, string>>;
}

type Result<T> = ParseResult<T>;

const fail = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });

/** Quotes an untrusted name for a message, bounded. */
function q(name: string): string {
  return JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name);
}

function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Product of the dims as a bigint (dims are safe integers, so this is exact). */
function elementCount(shape: readonly number[]): bigint {
  let n = 1n;
  for (const d of shape) n *= BigInt(d);
  return n;
}

/**
 * Reads and validates a safetensors header.
 * @returns the header, or a reason when the bytes are not a well-formed safetensors file
 *   of this size. Throws only what `read` throws.
 */
export async function parseSafetensorsHeader(
  read: RangeReader,
  size: number,
): Promise<Result<SafetensorsHeader>> {
  if (size < 8) return fail(`file of ${size} bytes is too short for a safetensors header`);
  const prefix = await read(0, 8);
  if (prefix.length < 8) return fail('truncated safetensors length prefix');
  const view = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const lo = view.getUint32(0, true);
  const hi = view.getUint32(4, true);
  if (hi !== 0 || lo > SAFETENSORS_MAX_HEADER) {
    return fail(`safetensors header length ${hi * 2 ** 32 + lo} exceeds the 100 MiB limit`);
  }
  const headerLength = lo;
  if (8 + headerLength > size) {
    return fail(`safetensors header length ${headerLength} runs past the file end ${size}`);
  }
  if (headerLength < 2) return fail(`safetensors header length ${headerLength} is too short`);
  const raw = await read(8, headerLength);
  if (raw.length < headerLength) return fail('truncated safetensors header');
  const bytes = raw.length === headerLength ? raw : raw.subarray(0, headerLength);
  if (bytes[0] !== 0x7b) return fail("safetensors header does not start with '{'");

  let json: unknown;
  try {
    // fatal: invalid UTF-8 is an error, not U+FFFD; the trailing space padding is valid JSON.
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes));
  } catch (e) {
    return fail(`safetensors header is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return fail('safetensors header is not a JSON object');
  }

  const dataStart = 8 + headerLength;
  const dataLength = size - dataStart;
  const tensors: SafetensorsTensor[] = [];
  let metadata: Record<string, string> | undefined;
  for (const [name, entry] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
        return fail('safetensors __metadata__ is not an object');
      }
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'string') return fail(`safetensors __metadata__ ${q(k)} is not a string`);
      }
      metadata = Object.fromEntries(Object.entries(entry as Record<string, string>));
      continue;
    }
    const checked = checkTensor(name, entry, dataLength);
    if (!checked.ok) return checked;
    tensors.push(checked.value);
  }
  // Stable sort: equal begins (empty tensors) keep the header's order.
  tensors.sort((a, b) => a.begin - b.begin);
  let end = 0;
  let last = '';
  for (const t of tensors) {
    if (t.end === t.begin) continue;
    if (t.begin < end) return fail(`tensors ${q(last)} and ${q(t.name)} overlap`);
    end = t.end;
    last = t.name;
  }
  return {
    ok: true,
    value:
      metadata === undefined
        ? { headerLength, dataStart, tensors }
        : { headerLength, dataStart, tensors, metadata },
  };
}

function checkTensor(name: string, entry: unknown, dataLength: number): Result<SafetensorsTensor> {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    return fail(`tensor ${q(name)} is not an object`);
  }
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (typeof dtype !== 'string') return fail(`tensor ${q(name)} has no string dtype`);
  if (!Array.isArray(shape) || !shape.every(isIndex)) {
    return fail(`tensor ${q(name)} shape is not a list of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !isIndex(offsets[0])) {
    return fail(`tensor ${q(name)} data_offsets is not [begin, end]`);
  }
  const begin = offsets[0];
  const end: unknown = offsets[1];
  if (!isIndex(end) || end < begin) {
    return fail(`tensor ${q(name)} data_offsets [${begin}, ${String(end)}] is not a range`);
  }
  if (end > dataLength) {
    return fail(`tensor ${q(name)} ends at ${end}, past the data section (${dataLength} bytes)`);
  }
  const bits = SAFETENSORS_DTYPE_BITS[dtype];
  if (bits !== undefined) {
    const totalBits = elementCount(shape) * BigInt(bits);
    if (totalBits % 8n !== 0n || totalBits / 8n !== BigInt(end - begin)) {
      return fail(
        `tensor ${q(name)} is ${end - begin} bytes, but ${dtype}[${shape.join(', ')}] needs ${
          totalBits % 8n === 0n ? `${totalBits / 8n}` : `${totalBits} bits`
        }`,
      );
    }
  }
  return { ok: true, value: { name, dtype, shape, begin, end } };
}

/**
 * The pieces of a safetensors file: header [0, 8 + N), then tensors by offset, with padding
 * pieces for gaps and trailing bytes.
 */
export async function safetensorsLayout(
  read: RangeReader,
  size: number,
): Promise<Result<FileLayout>> {
  const header = await parseSafetensorsHeader(read, size);
  if (!header.ok) return header;
  const { dataStart, tensors } = header.value;
  const pieces = tensorPieces(
    dataStart,
    tensors.map((t) => ({ name: t.name, offset: dataStart + t.begin, length: t.end - t.begin })),
    size,
  );
  return pieces.ok ? { ok: true, value: { format: 'safetensors', pieces: pieces.value } } : pieces;
}

/**
 * What every format inspector returns: the facts of one file (see `FileInspection`), or a
 * reason why its header is unreadable. Inspectors read only headers, through a
 * `RangeReader`, so they work on local files and on stored files (`Store.readFile` ranges)
 * alike, and they never throw for bad content (only for the reader's own I/O errors).
 */
import type { FileInspection, TensorInfo } from '../../core/model-inspection.js';
import type { ParseResult } from '../file-layout.js';
import { FormatReject } from '../range-cursor.js';

export type Inspected = Omit<FileInspection, 'path' | 'size' | 'format' | 'readable' | 'reason'>;

export type InspectResult = ParseResult<Inspected>;

/** Tensors kept in a detailed inspection; beyond it only counts are kept. */
export const MAX_LISTED_TENSORS = 200_000;

/** Parameter count and parameters per dtype of a tensor list. */
export function tensorTotals(tensors: readonly TensorInfo[]): {
  parameterCount: number;
  dtypes: Record<string, number>;
} {
  let parameterCount = 0;
  const dtypes: Record<string, number> = {};
  for (const t of tensors) {
    const n = elements(t.shape);
    parameterCount += n;
    dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + n;
  }
  return { parameterCount, dtypes };
}

/** Product of the dims (exact below 2^53; larger values stay large). */
export function elements(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Runs `body`, turning a FormatReject (and parser stack overflows) into a reason. */
export async function guarded(body: () => Promise<Inspected>): Promise<InspectResult> {
  try {
    return { ok: true, value: await body() };
  } catch (e) {
    if (e instanceof FormatReject) return { ok: false, reason: e.message };
    if (e instanceof RangeError && /call stack/i.test(e.message)) {
      return { ok: false, reason: 'nested too deeply' };
    }
    throw e;
  }
}

/** Quotes an untrusted string for a message, bounded. */
export function q(s: string): string {
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);
}

/** A JSON-safe copy of a bigint: a number when exact, else its decimal string. */
export function jsonNumber(v: number | bigint): number | string {
  if (typeof v === 'number') return v;
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(v)
    : v.toString();
}

/**
 * The packed form of a list of metric points, as `run_metric_batches.points` (a pending
 * log-batch: its points in logged order) and `run_metric_segments.points` (one key's folded
 * points in get-history's order) store them (migration 0305, docs/design.md "Tracking").
 *
 * Layout, version 1 (all integers little-endian):
 *
 *     u8 version = 1, 3 zero bytes, u32 n (points, ≥ 1), u32 k (distinct keys, 1..min(n, 65535))
 *     f64[n] steps, f64[n] timestamps, f64[n] values      (values exact: -0, ±Infinity)
 *     u8[n]  is_nan (0 or 1; the value of a NaN point is stored as 0)
 *     u16[n] each point's key, an index into the keys     (only when k > 1)
 *     k × (u32 byte length, UTF-8 bytes)                  the keys
 *
 * Steps and timestamps are safe integers (the tracking service checks them), so a double
 * holds them exactly. Decoding checks every length against the blob, every key index, every
 * flag and that steps and timestamps are safe integers, and throws CorruptionError rather
 * than reading out of bounds or returning a point that was never logged.
 */
import { CorruptionError } from '../core/errors.js';

export const METRIC_POINTS_VERSION = 1;
const HEADER = 12;
const MAX_KEYS = 0xffff;
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Points as columns; `keyIndex` is null when every point has the same (only) key. */
export interface MetricPointColumns {
  /** The distinct keys. */
  readonly keys: readonly string[];
  /** Each point's key as an index into `keys`, or null when there is one key. */
  readonly keyIndex: ArrayLike<number> | null;
  readonly steps: ArrayLike<number>;
  readonly timestamps: ArrayLike<number>;
  /** 0 for a NaN point. */
  readonly values: ArrayLike<number>;
  /** 1 for NaN, else 0. */
  readonly nans: ArrayLike<number>;
}

/** One key's points, decoded. */
export interface KeyPoints {
  readonly steps: Float64Array;
  readonly timestamps: Float64Array;
  readonly values: Float64Array;
  readonly nans: Uint8Array;
}

export interface DecodedMetricPoints extends KeyPoints {
  readonly keys: readonly string[];
  /** Null when there is one key. */
  readonly keyIndex: Uint16Array | null;
}

/** Packs points (see the module comment). @throws Error for an input outside the format. */
export function encodeMetricPoints(p: MetricPointColumns): Buffer {
  const n = p.steps.length;
  const k = p.keys.length;
  if (n < 1 || k < 1 || k > Math.min(n, MAX_KEYS)) {
    throw new Error(`metric points: ${n} points with ${k} keys cannot be packed`);
  }
  if (k > 1 !== (p.keyIndex !== null)) {
    throw new Error('metric points: keyIndex is needed exactly when there are several keys');
  }
  const keyLengths = p.keys.map((key) => Buffer.byteLength(key, 'utf8'));
  let size = HEADER + 25 * n + (k > 1 ? 2 * n : 0);
  for (const len of keyLengths) size += 4 + len;
  const buf = Buffer.allocUnsafe(size);
  buf.writeUInt32LE(METRIC_POINTS_VERSION, 0);
  buf.writeUInt32LE(n, 4);
  buf.writeUInt32LE(k, 8);
  if (LITTLE_ENDIAN) {
    const floats = new Float64Array(3 * n);
    for (let i = 0; i < n; i++) {
      floats[i] = p.steps[i]!;
      floats[n + i] = p.timestamps[i]!;
      floats[2 * n + i] = p.values[i]!;
    }
    buf.set(new Uint8Array(floats.buffer), HEADER);
  } else {
    for (let i = 0; i < n; i++) {
      buf.writeDoubleLE(p.steps[i]!, HEADER + 8 * i);
      buf.writeDoubleLE(p.timestamps[i]!, HEADER + 8 * (n + i));
      buf.writeDoubleLE(p.values[i]!, HEADER + 8 * (2 * n + i));
    }
  }
  let off = HEADER + 24 * n;
  for (let i = 0; i < n; i++) buf[off + i] = p.nans[i] ? 1 : 0;
  off += n;
  if (p.keyIndex) {
    for (let i = 0; i < n; i++) {
      const j = p.keyIndex[i]!;
      if (!(j >= 0 && j < k)) throw new Error(`metric points: key index ${j} out of range`);
      buf[off + 2 * i] = j & 0xff;
      buf[off + 2 * i + 1] = j >>> 8;
    }
    off += 2 * n;
  }
  for (let j = 0; j < k; j++) {
    buf.writeUInt32LE(keyLengths[j]!, off);
    buf.write(p.keys[j]!, off + 4, 'utf8');
    off += 4 + keyLengths[j]!;
  }
  return buf;
}

function corrupt(why: string): never {
  throw new CorruptionError(`corrupt packed metric points: ${why}`);
}

/** The blob's structure, every length checked. */
interface Layout {
  readonly n: number;
  readonly k: number;
  /** Offset of the u16 key indexes, or -1 when k is 1. */
  readonly indexAt: number;
  /** Each key's [start, end) in the blob. */
  readonly keySpans: readonly (readonly [number, number])[];
}

function layoutOf(blob: Uint8Array): Layout {
  if (blob.length < HEADER) corrupt(`${blob.length} bytes`);
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  if (view.getUint32(0, true) !== METRIC_POINTS_VERSION) {
    corrupt(`unknown version ${view.getUint8(0)}`);
  }
  const n = view.getUint32(4, true);
  const k = view.getUint32(8, true);
  if (n < 1 || k < 1 || k > Math.min(n, MAX_KEYS)) corrupt(`${n} points, ${k} keys`);
  const indexAt = k > 1 ? HEADER + 25 * n : -1;
  let off = HEADER + 25 * n + (k > 1 ? 2 * n : 0);
  const keySpans: [number, number][] = [];
  for (let j = 0; j < k; j++) {
    if (off + 4 > blob.length) corrupt('truncated key table');
    const len = view.getUint32(off, true);
    if (off + 4 + len > blob.length) corrupt('truncated key');
    keySpans.push([off + 4, off + 4 + len]);
    off += 4 + len;
  }
  if (off !== blob.length) corrupt(`${blob.length - off} bytes after the keys`);
  return { n, k, indexAt, keySpans };
}

/** Copies points `pick` (all when null) of the blob's columns, checking each. */
function columnsOf(blob: Uint8Array, n: number, pick: readonly number[] | null): KeyPoints {
  const all = new Float64Array(3 * n);
  if (LITTLE_ENDIAN) new Uint8Array(all.buffer).set(blob.subarray(HEADER, HEADER + 24 * n));
  else {
    const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    for (let i = 0; i < 3 * n; i++) all[i] = view.getFloat64(HEADER + 8 * i, true);
  }
  const nanAt = HEADER + 24 * n;
  const m = pick ? pick.length : n;
  const steps = pick ? new Float64Array(m) : all.subarray(0, n);
  const timestamps = pick ? new Float64Array(m) : all.subarray(n, 2 * n);
  const values = pick ? new Float64Array(m) : all.subarray(2 * n, 3 * n);
  const nans = new Uint8Array(m);
  for (let i = 0; i < m; i++) {
    const at = pick ? pick[i]! : i;
    const step = all[at]!;
    const timestamp = all[n + at]!;
    const nan = blob[nanAt + at]!;
    if (!Number.isSafeInteger(step) || !Number.isSafeInteger(timestamp) || nan > 1) {
      corrupt(`point ${at}`);
    }
    if (pick) {
      steps[i] = step;
      timestamps[i] = timestamp;
      values[i] = all[2 * n + at]!;
    }
    nans[i] = nan;
  }
  return { steps, timestamps, values, nans };
}

function keyIndexOf(blob: Uint8Array, layout: Layout): Uint16Array | null {
  if (layout.indexAt < 0) return null;
  const { n, k } = layout;
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const j = blob[layout.indexAt + 2 * i]! | (blob[layout.indexAt + 2 * i + 1]! << 8);
    if (j >= k) corrupt(`key index ${j} of ${k}`);
    out[i] = j;
  }
  return out;
}

/** Unpacks every point. @throws CorruptionError for a blob that is not a valid encoding. */
export function decodeMetricPoints(blob: Uint8Array): DecodedMetricPoints {
  const layout = layoutOf(blob);
  const keyIndex = keyIndexOf(blob, layout);
  let keys: string[];
  try {
    keys = layout.keySpans.map(([a, b]) => UTF8.decode(blob.subarray(a, b)));
  } catch {
    corrupt('a key is not UTF-8');
  }
  return { keys, keyIndex, ...columnsOf(blob, layout.n, null) };
}

function sameBytes(blob: Uint8Array, a: number, b: number, key: Uint8Array): boolean {
  if (b - a !== key.length) return false;
  for (let i = 0; i < key.length; i++) if (blob[a + i] !== key[i]) return false;
  return true;
}

/**
 * The points of one key (its UTF-8 bytes), in the blob's order: empty when the key is not
 * in it. Other keys are compared as bytes, not decoded. @throws CorruptionError as above.
 */
export function decodeKeyPoints(blob: Uint8Array, key: Uint8Array): KeyPoints {
  const layout = layoutOf(blob);
  const keyIndex = keyIndexOf(blob, layout);
  const j = layout.keySpans.findIndex(([a, b]) => sameBytes(blob, a, b, key));
  if (j < 0) return columnsOf(blob, layout.n, []);
  if (keyIndex === null) return columnsOf(blob, layout.n, null);
  const pick: number[] = [];
  for (let i = 0; i < layout.n; i++) if (keyIndex[i] === j) pick.push(i);
  return columnsOf(blob, layout.n, pick);
}

/** The most points a folded segment holds (run_metric_segments; migration 0305). */
export const SEGMENT_MAX_POINTS = 4096;

/**
 * Where to cut one key's points, sorted in get-history's order, into segments of at most
 * `max` points: the ends (exclusive) of each segment. A cut is moved back to the start of
 * a run of points with the same (step, timestamp) when that run does not start the
 * segment, so that consecutive segments are disjoint by (step, timestamp) — what lets
 * get-history skip whole segments — whenever no such run is longer than `max`.
 */
export function segmentEnds(
  steps: ArrayLike<number>,
  timestamps: ArrayLike<number>,
  max: number = SEGMENT_MAX_POINTS,
): number[] {
  const n = steps.length;
  const ends: number[] = [];
  let start = 0;
  while (n - start > max) {
    let end = start + max;
    let back = end;
    while (
      back > start &&
      steps[back] === steps[back - 1] &&
      timestamps[back] === timestamps[back - 1]
    ) {
      back--;
    }
    if (back > start) end = back;
    ends.push(end);
    start = end;
  }
  if (n > start) ends.push(n);
  return ends;
}

/** One key's points as plain columns, sorted in get-history's order (see segmentEnds). */
export interface SegmentColumns {
  readonly steps: readonly number[];
  readonly timestamps: readonly number[];
  readonly values: readonly number[];
  readonly nans: readonly number[];
}

/**
 * The columns of a `run_metric_segments` row that describe its points: points
 * [start, end) of `key`'s `p`, their count, the first and last points' step and
 * timestamp (what get-history skips segments by), and the points packed.
 */
export function segmentFields(key: string, p: SegmentColumns, start: number, end: number) {
  return {
    n: end - start,
    first_step: p.steps[start]!,
    first_timestamp: p.timestamps[start]!,
    last_step: p.steps[end - 1]!,
    last_timestamp: p.timestamps[end - 1]!,
    points: encodeMetricPoints({
      keys: [key],
      keyIndex: null,
      steps: p.steps.slice(start, end),
      timestamps: p.timestamps.slice(start, end),
      values: p.values.slice(start, end),
      nans: p.nans.slice(start, end),
    }),
  };
}

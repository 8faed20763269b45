/**
 * Text for people: byte sizes, times, digests, metric values and aligned tables. Pure
 * functions; the CLI's only place that decides how a value looks in a terminal.
 */
import { formatDigest, type Sha256Hex } from '../core/digest.js';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** `512 B`, `12.3 KiB`, `1.21 GiB`, `212 MiB`: binary units, three significant digits. */
export function formatBytes(n: number): string {
  let value = n;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${n} B`;
  const digits = Math.abs(value) < 10 ? 2 : Math.abs(value) < 100 ? 1 : 0;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

/** Local time as `2024-05-01 14:03:09`. */
export function formatTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** `sha256:ab12cd34ef56…`: enough to tell versions apart in a table. */
export function shortDigest(hex: string): string {
  return `${formatDigest(hex as Sha256Hex).slice(0, 19)}…`;
}

/** A metric value without float noise: 0.941, 1e-7, 12345.7. */
export function formatNumber(n: number): string {
  return String(Number(n.toPrecision(6)));
}

/** `+0.011`, `-3`, `0`. */
export function formatDelta(n: number): string {
  return n > 0 ? `+${formatNumber(n)}` : formatNumber(n);
}

/** `a=1, b=2` for a record, `-` when empty. */
export function formatPairs(record: Readonly<Record<string, string | number>>, sep = ', '): string {
  const entries = Object.entries(record);
  if (entries.length === 0) return '-';
  return entries.map(([k, v]) => `${k}=${typeof v === 'number' ? formatNumber(v) : v}`).join(sep);
}

/** The first line of `text`, at most `max` characters. */
export function oneLine(text: string | null | undefined, max = 60): string {
  if (!text) return '';
  const first = text.split('\n', 1)[0] ?? '';
  return first.length > max || text.includes('\n') ? `${first.slice(0, max - 1)}…` : first;
}

export interface TableOptions {
  /** Indexes of columns to right-align (numbers). */
  readonly right?: readonly number[];
}

/** Columns separated by two spaces, each as wide as its widest cell; no trailing spaces. */
export function table(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  options: TableOptions = {},
): string {
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => [...(r[i] ?? '')].length)));
  const right = new Set(options.right ?? []);
  return all
    .map((r) =>
      r
        .map((cell, i) => {
          const pad = ' '.repeat(widths[i]! - [...cell].length);
          return right.has(i) ? pad + cell : cell + pad;
        })
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** `label  value` lines with labels padded to one width. */
export function fields(pairs: readonly (readonly [string, string])[], indent = '  '): string {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${indent}${k.padEnd(width)}  ${v}`).join('\n');
}

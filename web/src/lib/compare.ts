/** Side-by-side tables of the compare page and the version list of its URL. */

export const MIN_COMPARE = 2;
export const MAX_COMPARE = 5;

/**
 * `"3,1,3,7"` → `[3, 1, 7]`: positive integers, first occurrence kept, in the given order.
 * Returns an error message instead when the list is not 2–5 versions.
 */
export function parseVersionList(text: string | null): number[] | string {
  const parts = (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const out: number[] = [];
  for (const p of parts) {
    if (!/^[1-9][0-9]{0,15}$/.test(p)) return `'${p.slice(0, 40)}' is not a version number`;
    const n = Number(p);
    if (!out.includes(n)) out.push(n);
  }
  if (out.length < MIN_COMPARE || out.length > MAX_COMPARE) {
    return `choose ${MIN_COMPARE} to ${MAX_COMPARE} different versions to compare (got ${out.length})`;
  }
  return out;
}

export interface SideBySideRow<T> {
  readonly key: string;
  /** One per compared version, undefined where that version lacks the key. */
  readonly values: readonly (T | undefined)[];
  /** Not every version has the same value. */
  readonly differs: boolean;
}

/** Every key of any of `maps`, sorted, with each map's value; `onlyDifferences` filters. */
export function sideBySide<T>(
  maps: readonly Readonly<Record<string, T>>[],
  onlyDifferences = false,
): SideBySideRow<T>[] {
  const keys = new Set<string>();
  for (const m of maps) for (const k of Object.keys(m)) keys.add(k);
  const rows: SideBySideRow<T>[] = [];
  for (const key of [...keys].sort()) {
    const values = maps.map((m) => (Object.hasOwn(m, key) ? m[key] : undefined));
    const differs = values.some((v) => !Object.is(v, values[0]));
    if (!onlyDifferences || differs) rows.push({ key, values, differs });
  }
  return rows;
}

/**
 * Builds search filters and ORDER BY terms in the registry's filter language (MLflow's
 * syntax with OR and parentheses; see src/metadata/search/filter-parser.ts). The UI never
 * parses filters itself: the server does, and its 400 names the position of an error.
 */

const BARE_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A string literal: single quotes, with `\` and `'` escaped. */
export function quote(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** `metrics.auc`, or `metrics.\`val loss\`` for keys that are not identifiers. */
export function fieldRef(scope: 'metrics' | 'params' | 'tags', key: string): string {
  return BARE_KEY.test(key) ? `${scope}.${key}` : `${scope}.\`${key.replace(/`/g, '``')}\``;
}

/** Escapes LIKE's wildcards so `text` matches literally. */
export function likeLiteral(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** True when the text looks like a filter expression rather than words to look for. */
export function looksLikeFilter(text: string): boolean {
  return /(=|<|>|\bLIKE\b|\bILIKE\b|\bIN\b|\bIS\b)/i.test(text);
}

/**
 * The models page's search box: a filter expression is sent as it is; plain words match
 * names containing them, case-insensitively. Empty text → no filter.
 */
export function modelSearchFilter(text: string): string | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  if (looksLikeFilter(t)) return t;
  return `name ILIKE ${quote(`%${likeLiteral(t)}%`)}`;
}

/** The versions of one model, narrowed by the user's filter (kept in parentheses). */
export function modelVersionsFilter(model: string, userFilter: string): string {
  const own = `name = ${quote(model)}`;
  const f = userFilter.trim();
  return f === '' ? own : `${own} AND (${f})`;
}

/** A sortable column of the versions table. */
export type SortKey =
  | { readonly kind: 'attribute'; readonly key: 'version_number' | 'created_at' | 'size' | 'stage' }
  | { readonly kind: 'metrics' | 'params'; readonly key: string };

export interface SortState {
  readonly by: SortKey;
  readonly dir: 'ASC' | 'DESC';
}

/** ORDER BY terms for a sort; the version number breaks ties (newest first). */
export function orderByFor(sort: SortState): string[] {
  const field = sort.by.kind === 'attribute' ? sort.by.key : fieldRef(sort.by.kind, sort.by.key);
  const terms = [`${field} ${sort.dir}`];
  if (field !== 'version_number') terms.push('version_number DESC');
  return terms;
}

/** Same column → flip the direction; another column → that column, descending. */
export function toggleSort(current: SortState, by: SortKey): SortState {
  const same = current.by.kind === by.kind && current.by.key === by.key;
  if (same) return { by, dir: current.dir === 'DESC' ? 'ASC' : 'DESC' };
  return { by, dir: 'DESC' };
}

const ATTRIBUTE_SORTS = ['version_number', 'created_at', 'size', 'stage'] as const;

/** The default order of a versions table: newest first. */
export const DEFAULT_SORT: SortState = {
  by: { kind: 'attribute', key: 'version_number' },
  dir: 'DESC',
};

/**
 * A sort from the URL: `created_at`, `metrics:auc`, `params:lr` plus a direction
 * (`asc`/`desc`, default desc). Anything else gives the default sort.
 */
export function parseSort(by: string | null, dir: string | null): SortState {
  const d = dir?.toLowerCase() === 'asc' ? 'ASC' : 'DESC';
  if (!by) return { ...DEFAULT_SORT, dir: dir ? d : DEFAULT_SORT.dir };
  const m = /^(metrics|params):(.+)$/.exec(by);
  if (m) return { by: { kind: m[1] as 'metrics' | 'params', key: m[2]! }, dir: d };
  const attr = ATTRIBUTE_SORTS.find((a) => a === by);
  return attr ? { by: { kind: 'attribute', key: attr }, dir: d } : DEFAULT_SORT;
}

/** The URL form of a sort (inverse of parseSort). */
export function sortParam(sort: SortState): { sort: string; dir: string } {
  const by = sort.by.kind === 'attribute' ? sort.by.key : `${sort.by.kind}:${sort.by.key}`;
  return { sort: by, dir: sort.dir.toLowerCase() };
}

/** A comma-separated list from the URL (`auc,loss`), without empties or repeats. */
export function listParam(text: string | null): string[] {
  return [
    ...new Set(
      (text ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    ),
  ];
}

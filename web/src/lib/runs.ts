/**
 * Pure logic of the experiments and runs pages: a run's metrics and params as maps, the
 * columns a runs table can show, MLflow ORDER BY terms, artifact download URLs and the
 * axes of the parallel-coordinates view. Unit-tested in runs.test.ts.
 */
import { fieldRef } from './filter';

/** The parts of an MLflow run these helpers read (see api/mlflow.ts). */
export interface RunLike {
  readonly info: { readonly run_id: string; readonly run_name: string };
  readonly data: {
    readonly metrics?: readonly { readonly key: string; readonly value: number | string }[];
    readonly params?: readonly { readonly key: string; readonly value: string }[];
    readonly tags?: readonly { readonly key: string; readonly value: string }[];
  };
}

/** MLflow's JSON writes NaN and ±Infinity as strings: back to numbers. */
export function metricNumber(v: number | string): number {
  if (typeof v === 'number') return v;
  if (v === 'Infinity') return Number.POSITIVE_INFINITY;
  if (v === '-Infinity') return Number.NEGATIVE_INFINITY;
  return v === 'NaN' ? Number.NaN : Number(v);
}

/** A run's latest metric values by key. */
export function runMetrics(run: RunLike): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of run.data.metrics ?? []) out[m.key] = metricNumber(m.value);
  return out;
}

/** A run's params (or tags) by key. */
export function keyValueMap(
  list: readonly { readonly key: string; readonly value: string }[] | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list ?? []) out[kv.key] = kv.value;
  return out;
}

/** Every metric key and param key of any of `runs`, each sorted. */
export function runKeys(runs: readonly RunLike[]): { metrics: string[]; params: string[] } {
  const metrics = new Set<string>();
  const params = new Set<string>();
  for (const r of runs) {
    for (const m of r.data.metrics ?? []) metrics.add(m.key);
    for (const p of r.data.params ?? []) params.add(p.key);
  }
  return { metrics: [...metrics].sort(), params: [...params].sort() };
}

/** A sortable column of the runs table. */
export type RunSortKey =
  | { readonly kind: 'attributes'; readonly key: 'start_time' | 'run_name' | 'status' }
  | { readonly kind: 'metrics' | 'params'; readonly key: string };

export interface RunSort {
  readonly by: RunSortKey;
  readonly dir: 'ASC' | 'DESC';
}

export const DEFAULT_RUN_SORT: RunSort = {
  by: { kind: 'attributes', key: 'start_time' },
  dir: 'DESC',
};

/** MLflow `order_by` terms for a sort; newest first breaks ties. */
export function runOrderBy(sort: RunSort): string[] {
  const field =
    sort.by.kind === 'attributes'
      ? `attributes.${sort.by.key}`
      : fieldRef(sort.by.kind, sort.by.key);
  const terms = [`${field} ${sort.dir}`];
  if (field !== 'attributes.start_time') terms.push('attributes.start_time DESC');
  return terms;
}

/** `start_time`, `metrics:acc`, `params:lr` and a direction from the URL; else the default. */
export function parseRunSort(by: string | null, dir: string | null): RunSort {
  const d = dir?.toLowerCase() === 'asc' ? 'ASC' : 'DESC';
  if (!by) return { ...DEFAULT_RUN_SORT, dir: dir ? d : 'DESC' };
  const m = /^(metrics|params):(.+)$/.exec(by);
  if (m) return { by: { kind: m[1] as 'metrics' | 'params', key: m[2]! }, dir: d };
  if (by === 'start_time' || by === 'run_name' || by === 'status') {
    return { by: { kind: 'attributes', key: by }, dir: d };
  }
  return DEFAULT_RUN_SORT;
}

/** The URL form of a sort (inverse of parseRunSort). */
export function runSortParam(sort: RunSort): { sort: string; dir: string } {
  const by = sort.by.kind === 'attributes' ? sort.by.key : `${sort.by.kind}:${sort.by.key}`;
  return { sort: by, dir: sort.dir.toLowerCase() };
}

/** Same column → flip the direction; another column → that column, descending. */
export function toggleRunSort(current: RunSort, by: RunSortKey): RunSort {
  const same = current.by.kind === by.kind && current.by.key === by.key;
  return same ? { by, dir: current.dir === 'DESC' ? 'ASC' : 'DESC' } : { by, dir: 'DESC' };
}

/**
 * Download URL of one of a run's artifacts through the artifact proxy when the run's
 * artifact root is in it (`mlflow-artifacts:/…` or `mlflow-artifacts://host/…`); null
 * for roots elsewhere (the proxy cannot serve them). Each path segment is encoded.
 */
export function artifactDownloadUrl(artifactUri: string, path: string): string | null {
  if (!artifactUri.startsWith('mlflow-artifacts:')) return null;
  let rest = artifactUri.slice('mlflow-artifacts:'.length);
  if (rest.startsWith('//')) {
    const slash = rest.indexOf('/', 2);
    rest = slash < 0 ? '' : rest.slice(slash);
  }
  const root = rest.replace(/^\/+/, '').replace(/\/+$/, '');
  const full = [root, path.replace(/^\/+/, '')].filter((s) => s !== '').join('/');
  if (full === '') return null;
  return `/ajax-api/2.0/mlflow-artifacts/artifacts/${full.split('/').map(encodeURIComponent).join('/')}`;
}

/** The parent folder of an artifact path (`a/b/c` → `a/b`, `a` → ``). */
export function parentPath(path: string): string {
  const at = path.lastIndexOf('/');
  return at < 0 ? '' : path.slice(0, at);
}

/** The last segment of an artifact path. */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** `runs:/<id>/<path>`: the source of a model version registered from a run's artifacts. */
export function runSource(runId: string, path: string): string {
  const p = path.replace(/^\/+/, '').replace(/\/+$/, '');
  return p === '' ? `runs:/${runId}` : `runs:/${runId}/${p}`;
}

// ------------------------------------------------------------- parallel coordinates

/** One vertical axis: numeric (a linear range) or categorical (evenly spaced values). */
export type Axis =
  | {
      readonly key: string;
      readonly kind: 'numeric';
      readonly min: number;
      readonly max: number;
      /** Logarithmic: all values positive and spanning two orders of magnitude or more. */
      readonly log: boolean;
    }
  | { readonly key: string; readonly kind: 'categorical'; readonly values: readonly string[] };

/**
 * An axis from the values runs have for it (undefined where a run lacks it): numeric when
 * every present value parses as a finite number (logarithmic when they are positive and
 * span two orders of magnitude, as learning rates do), else categorical (sorted).
 */
export function axisFor(key: string, values: readonly (string | number | undefined)[]): Axis {
  const present = values.filter((v): v is string | number => v !== undefined && v !== '');
  const nums = present.map((v) => (typeof v === 'number' ? v : Number(v)));
  if (present.length > 0 && nums.every((n) => Number.isFinite(n))) {
    const min = Math.min(...nums);
    const max = Math.max(...nums);
    return { key, kind: 'numeric', min, max, log: min > 0 && max / min >= 100 };
  }
  const distinct = [...new Set(present.map(String))].sort((a, b) => {
    const na = Number(a);
    const nb = Number(b);
    return Number.isFinite(na) && Number.isFinite(nb) ? na - nb : a < b ? -1 : a > b ? 1 : 0;
  });
  return { key, kind: 'categorical', values: distinct };
}

/**
 * Where a value sits on an axis, 0 (bottom) to 1 (top); null when the run lacks it or it
 * is not on the axis. A zero-width numeric axis and a one-value axis put it in the middle.
 */
export function axisPosition(axis: Axis, value: string | number | undefined): number | null {
  if (value === undefined || value === '') return null;
  if (axis.kind === 'numeric') {
    const n = typeof value === 'number' ? value : Number(value);
    if (!Number.isFinite(n)) return null;
    if (axis.max === axis.min) return 0.5;
    if (axis.log) {
      if (n <= 0) return null;
      return (Math.log10(n) - Math.log10(axis.min)) / (Math.log10(axis.max) - Math.log10(axis.min));
    }
    return (n - axis.min) / (axis.max - axis.min);
  }
  const i = axis.values.indexOf(String(value));
  if (i < 0) return null;
  return axis.values.length === 1 ? 0.5 : i / (axis.values.length - 1);
}

/** Tick labels of an axis: its ends (numeric) or every value, at most `max` of them. */
export function axisTicks(axis: Axis, max = 8): { label: string; at: number }[] {
  if (axis.kind === 'numeric') {
    if (axis.min === axis.max) return [{ label: String(axis.min), at: 0.5 }];
    return [
      { label: String(Number(axis.min.toPrecision(4))), at: 0 },
      { label: String(Number(axis.max.toPrecision(4))), at: 1 },
    ];
  }
  const n = axis.values.length;
  const step = Math.max(1, Math.ceil(n / max));
  const out: { label: string; at: number }[] = [];
  for (let i = 0; i < n; i += step) {
    out.push({ label: axis.values[i]!, at: n === 1 ? 0.5 : i / (n - 1) });
  }
  return out;
}

// ------------------------------------------------------------------------ paging

/** Runs per runs/search page in the runs table, unless the URL's `size` says otherwise. */
export const DEFAULT_RUNS_PAGE_SIZE = 100;
/** The largest page the table asks for (each run carries all its latest metrics). */
export const MAX_RUNS_PAGE_SIZE = 1000;

/** The URL's `size` as a page size: an integer in 1..MAX_RUNS_PAGE_SIZE, else the default. */
export function parsePageSize(text: string | null): number {
  if (text === null || !/^\d{1,7}$/.test(text.trim())) return DEFAULT_RUNS_PAGE_SIZE;
  const n = Number(text.trim());
  return n >= 1 && n <= MAX_RUNS_PAGE_SIZE ? n : DEFAULT_RUNS_PAGE_SIZE;
}

/**
 * What the runs table says about its count. MLflow's runs/search has no total, so while
 * pages remain it says how many are loaded and that more match, never a guessed total.
 */
export function runsCountText(loaded: number, more: boolean): string {
  const runs = `${loaded} run${loaded === 1 ? '' : 's'}`;
  return more ? `${runs} loaded · more available` : runs;
}

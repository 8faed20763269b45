/**
 * Per-key samples of the versions' metric, param and tag values, kept in memory so that the
 * version search's plan choice (find-version-page.ts) can estimate how many versions a key
 * condition matches without counting them in SQL on every search.
 *
 * Why: counting a condition's matches (capped at 20,000 index entries) cost ~2–3.5 ms of a
 * ~18 ms search on SQLite at 100,000 versions, and ~10 ms on PostgreSQL; a sample answers
 * in microseconds. The estimate only steers the choice between plans that return the same
 * rows, so a stale or rough sample can cost time, never change a result.
 *
 * A sample is the key's values for SAMPLE_SIZE version ids spread evenly over 1..max(id)
 * (all of them when there are fewer), read with one statement of index probes (~2 ms on
 * SQLite). A condition matching a fraction f of versions is then estimated to within about
 * ±2·sqrt(f(1−f)/SAMPLE_SIZE) of the versions (±1.3 % at f = 10 %), exact while the
 * registry has at most SAMPLE_SIZE versions. Samples and the version count are read again
 * once they are MAX_AGE_MS old, or as soon as the registry has grown by a quarter.
 *
 * Conditions a sample cannot answer exactly as SQL would (LIKE, ILIKE, a value of the other
 * type) are not estimated here: the caller counts them in SQL.
 */
import { type Kysely, sql } from 'kysely';
import type { RegistryDB } from '../schema.js';
import { keyedTableOf } from './compile-filter.js';
import type { FieldRef, FilterExpr, FilterValue } from './filter-ast.js';

/** Version ids sampled per key. */
const SAMPLE_SIZE = 2_000;
/** A sample or version count older than this is read again. */
const MAX_AGE_MS = 60_000;
/** At most this many keys' samples are kept (the oldest are dropped first). */
const MAX_KEYS = 256;
/** A sample whose text values add up to more characters than this is not kept. */
const MAX_SAMPLE_CHARS = 1_000_000;

interface KeySample {
  /** max(id) of the versions when sampled. */
  readonly total: number;
  /** Version ids sampled: min(total, SAMPLE_SIZE). */
  readonly sampled: number;
  /** The sampled versions' values for the key (the versions that have it). */
  readonly values: readonly (number | string)[];
  readonly at: number;
}

/** A value test equivalent to the SQL condition on `x.value`, for the keyed rows. */
type ValueTest = (value: number | string) => boolean;

export interface KeyStatisticsOptions {
  readonly sampleSize?: number;
  readonly maxAgeMs?: number;
  /** The clock (tests move it). */
  readonly now?: () => number;
}

export class KeyStatistics {
  private readonly samples = new Map<string, KeySample>();
  private versions: { readonly total: number; readonly at: number } | undefined;
  private readonly sampleSize: number;
  private readonly maxAgeMs: number;
  private readonly now: () => number;

  constructor(options: KeyStatisticsOptions = {}) {
    this.sampleSize = options.sampleSize ?? SAMPLE_SIZE;
    this.maxAgeMs = options.maxAgeMs ?? MAX_AGE_MS;
    this.now = options.now ?? Date.now;
  }

  /** max(id) of the versions (the search's "total"), read at most once per MAX_AGE_MS. */
  async versionTotal(db: Kysely<RegistryDB>): Promise<number> {
    const cached = this.versions;
    if (cached && this.now() - cached.at < this.maxAgeMs) return cached.total;
    const { rows } = await sql<{
      n: number | string | null;
    }>`select max(id) as n from model_versions`.execute(db);
    const total = Number(rows[0]?.n ?? 0);
    this.versions = { total, at: this.now() };
    return total;
  }

  /**
   * How many versions `node` (one top-level condition of a version search) matches, as
   * estimated from its key's sample; undefined when a sample cannot answer it (not a
   * metric/param/tag condition, LIKE, …), and the caller counts it in SQL.
   */
  async estimate(db: Kysely<RegistryDB>, node: FilterExpr): Promise<number | undefined> {
    const test = valueTest(node);
    if (!test || node.kind === 'and' || node.kind === 'or') return undefined;
    const sample = await this.sample(db, node.field);
    if (!sample) return undefined;
    let hits = 0;
    for (const v of sample.values) if (test(v)) hits++;
    return sample.sampled === 0 ? 0 : Math.round((hits * sample.total) / sample.sampled);
  }

  private async sample(db: Kysely<RegistryDB>, field: FieldRef): Promise<KeySample | undefined> {
    const { table, ownerColumn } = keyedTableOf(field, 'versions');
    const id = `${table}\0${field.key}`;
    const total = await this.versionTotal(db);
    const cached = this.samples.get(id);
    if (
      cached &&
      this.now() - cached.at < this.maxAgeMs &&
      total <= cached.total + Math.max(cached.total / 4, 16)
    ) {
      return cached;
    }
    this.samples.delete(id);
    const sampled = Math.min(total, this.sampleSize);
    const ids = Array.from({ length: sampled }, (_, i) =>
      sampled === total ? i + 1 : 1 + Math.floor((i * total) / sampled),
    );
    const values: (number | string)[] = [];
    let chars = 0;
    // Chunks of ids keep each statement's parameters well under every dialect's limit.
    for (let i = 0; i < ids.length; i += 1_000) {
      const { rows } = await sql<{
        value: number | string;
      }>`select x.value as value from ${sql.table(
        table,
      )} as x where x.key = ${field.key} and ${sql.ref(`x.${ownerColumn}`)} in (${sql.join(ids.slice(i, i + 1_000))})`.execute(
        db,
      );
      for (const r of rows) {
        const v = field.scope === 'metric' ? Number(r.value) : String(r.value);
        if (typeof v === 'string') chars += v.length;
        values.push(v);
      }
    }
    const sample: KeySample = { total, sampled, values, at: this.now() };
    if (chars > MAX_SAMPLE_CHARS) return sample;
    if (this.samples.size >= MAX_KEYS) {
      const oldest = this.samples.keys().next().value;
      if (oldest !== undefined) this.samples.delete(oldest);
    }
    this.samples.set(id, sample);
    return sample;
  }
}

/** A metric's value as SQL compares it, or undefined (the compiler rejects the filter). */
function metricValue(v: FilterValue): number | undefined {
  const n = typeof v === 'number' ? v : v.trim() === '' ? Number.NaN : Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * The test a keyed row's value passes under `node`, mirroring compile-filter's SQL for the
 * forms a sample can answer exactly: comparisons and IN / NOT IN on metrics (numbers) and
 * `=` / `!=` / IN / NOT IN on params and tags (strings, compared exactly), and IS NOT NULL
 * (the key is present).
 */
function valueTest(node: FilterExpr): ValueTest | undefined {
  if (node.kind === 'and' || node.kind === 'or') return undefined;
  const scope = node.field.scope;
  if (scope !== 'metric' && scope !== 'param' && scope !== 'tag') return undefined;
  const metric = scope === 'metric';
  if (node.kind === 'null') return node.negated ? () => true : undefined;
  if (node.kind === 'in') {
    const values = node.values.map((v) => (metric ? metricValue(v) : v));
    if (values.some((v) => v === undefined || (!metric && typeof v !== 'string'))) {
      return undefined;
    }
    const set = new Set(values);
    return node.negated ? (v) => !set.has(v) : (v) => set.has(v);
  }
  if (metric) {
    const x = metricValue(node.value);
    if (x === undefined) return undefined;
    switch (node.op) {
      case '=':
        return (v) => v === x;
      case '!=':
        return (v) => v !== x;
      case '<':
        return (v) => (v as number) < x;
      case '<=':
        return (v) => (v as number) <= x;
      case '>':
        return (v) => (v as number) > x;
      case '>=':
        return (v) => (v as number) >= x;
      default:
        return undefined;
    }
  }
  const x = node.value;
  if (typeof x !== 'string') return undefined;
  if (node.op === '=') return (v) => v === x;
  if (node.op === '!=') return (v) => v !== x;
  return undefined;
}

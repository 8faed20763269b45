/**
 * Migration 0305: metric points stored packed (metric-points-codec.ts) instead of a row per
 * point: `run_metric_batches` holds each pending log-batch as one row, `run_metric_segments`
 * the folded history as one row per (run, key, fold); `run_metrics` and
 * `run_pending_metrics` are dropped (docs/design.md "Tracking"; docs/benchmarks.md, MLflow
 * section, session 12).
 *
 * - `run_metric_batches` (run_key, seq, batch, n, points): a batch's points in logged
 *   order, `seq` the position of its first point among the run's pending points and
 *   `batch` the row's among the run's pending rows (so the last row tells how many points
 *   and rows are pending: one seek). A row is a few KB, so on SQLite it is a
 *   rowid table with its primary key as a separate index, not `WITHOUT ROWID` (which stores
 *   rows larger than ~1/20 of a page badly).
 * - `run_metric_segments` (run_key, key, fold, n, first/last step and timestamp, points):
 *   one key's folded points, sorted in get-history's order (step, timestamp, NaN first,
 *   value) without identical points; `fold` increases per (run, key). The first and last
 *   points' step and timestamp let get-history skip whole segments without reading them.
 *
 * Both refer to the run by runs.run_key and cascade on its deletion, as the tables they
 * replace. Every existing point is copied as stored — NaN (value 0, is_nan 1), ±Infinity,
 * -0 as the dialect stored it (SQLite stores a REAL -0 as 0) — a point in both old tables
 * or twice in the pending one once (get-history's UNION did the same), run by run and key
 * by key into segments of at most SEGMENT_MAX_POINTS, each key read in pages (readPage), so
 * that memory does not grow with a key's length (docs/benchmarks.md, MLflow section,
 * session 13: ~1.3–1.6 s of CPU per million points on SQLite). `run_latest_metrics` is
 * unchanged.
 */
import { type Kysely, sql } from 'kysely';
import type { NamedMigration } from '../database.js';
import { SEGMENT_MAX_POINTS, segmentEnds, segmentFields } from '../metric-points-codec.js';

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists
type AnyDb = Kysely<any>;

async function createTables(db: AnyDb): Promise<void> {
  await db.schema
    .createTable('run_metric_batches')
    .addColumn('run_key', 'bigint', (c) =>
      c.notNull().references('runs.run_key').onDelete('cascade'),
    )
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('batch', 'integer', (c) => c.notNull())
    .addColumn('n', 'integer', (c) => c.notNull())
    .addColumn('points', 'blob', (c) => c.notNull())
    .addPrimaryKeyConstraint('run_metric_batches_pk', ['run_key', 'seq'])
    .execute();
  await db.schema
    .createTable('run_metric_segments')
    .addColumn('run_key', 'bigint', (c) =>
      c.notNull().references('runs.run_key').onDelete('cascade'),
    )
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('fold', 'bigint', (c) => c.notNull())
    .addColumn('n', 'integer', (c) => c.notNull())
    .addColumn('first_step', 'bigint', (c) => c.notNull())
    .addColumn('first_timestamp', 'bigint', (c) => c.notNull())
    .addColumn('last_step', 'bigint', (c) => c.notNull())
    .addColumn('last_timestamp', 'bigint', (c) => c.notNull())
    .addColumn('points', 'blob', (c) => c.notNull())
    .addPrimaryKeyConstraint('run_metric_segments_pk', ['run_key', 'key', 'fold'])
    .execute();
}

/** One old row: a point as run_metrics and run_pending_metrics store it. */
interface PointRow {
  readonly step: number;
  readonly timestamp: number;
  readonly value: number;
  readonly is_nan: number;
}

/** How many points a page of one key's points holds (the copy's memory bound, below). */
export const COPY_PAGE_POINTS = SEGMENT_MAX_POINTS;

/**
 * One page of a key's points: the next `limit` points after `after` (from the first when
 * null) in get-history's order — what its UNION of the two tables gave, read in pages.
 *
 * The UNION's result is unique on (step, timestamp, is_nan, value) as the dialect compares
 * them (that is what UNION removes), and the order is total on those columns, so "after
 * the last point of the previous page" is exact: nothing is read twice or skipped. Each
 * side takes its own first `limit` points first (run_metrics in its primary key's order
 * after a seek to (step, timestamp), the pending rows distinct, as UNION would make them):
 * the page's points are among them, and neither dialect then reads a key's whole
 * remaining range for every page. `withPending` false leaves out run_pending_metrics for a
 * key that has no pending point there (its side would be empty).
 */
async function readPage(
  db: AnyDb,
  runKey: number,
  key: string,
  after: PointRow | null,
  limit: number,
  withPending: boolean,
): Promise<PointRow[]> {
  const next = after
    ? sql`and (step, timestamp) >= (${after.step}, ${after.timestamp})
        and (step <> ${after.step} or timestamp <> ${after.timestamp} or is_nan < ${after.is_nan}
          or (is_nan = ${after.is_nan} and value > ${after.value}))`
    : sql``;
  const side = (table: string, distinct: boolean) =>
    sql`select * from (select ${distinct ? sql`distinct` : sql``} step, timestamp, value, is_nan
      from ${sql.table(table)} where run_key = ${runKey} and key = ${key} ${next}
      order by step, timestamp, is_nan desc, value limit ${limit})`;
  const query = withPending
    ? sql<PointRow>`${side('run_metrics', false)} as m
        union ${side('run_pending_metrics', true)} as p
        order by step, timestamp, is_nan desc, value limit ${limit}`
    : sql<PointRow>`${side('run_metrics', false)} as m`;
  return (await query.execute(db)).rows;
}

/** A key's points not yet written, as columns. */
interface Columns {
  steps: number[];
  timestamps: number[];
  values: number[];
  nans: number[];
}

const emptyColumns = (): Columns => ({ steps: [], timestamps: [], values: [], nans: [] });

/**
 * Copies one run's points of one key, in get-history's order, into segments — the cuts of
 * `segmentEnds` over all of the key's points, made as the pages come: a cut depends only
 * on the SEGMENT_MAX_POINTS + 1 points from the segment's start, so every segment but the
 * last of what is buffered is final. At most `pageSize` + SEGMENT_MAX_POINTS points are
 * held at a time, however long the key.
 */
async function copyKey(
  db: AnyDb,
  runKey: number,
  key: string,
  pageSize: number,
  withPending: boolean,
): Promise<void> {
  let fold = 0;
  let buf = emptyColumns();
  const write = async (start: number, end: number) => {
    await db
      .insertInto('run_metric_segments')
      .values({ run_key: runKey, key, fold: fold++, ...segmentFields(key, buf, start, end) })
      .execute();
  };

  let after: PointRow | null = null;
  for (;;) {
    const rows = await readPage(db, runKey, key, after, pageSize, withPending);
    for (const r of rows) {
      buf.steps.push(Number(r.step));
      buf.timestamps.push(Number(r.timestamp));
      buf.values.push(r.is_nan ? 0 : Number(r.value));
      buf.nans.push(r.is_nan ? 1 : 0);
    }
    const last = rows.length < pageSize;
    const ends = segmentEnds(buf.steps, buf.timestamps);
    // Without the last page, the buffer's last segment may still grow.
    const final = last ? ends : ends.slice(0, -1);
    let start = 0;
    for (const end of final) {
      await write(start, end);
      start = end;
    }
    if (last) return;
    if (start > 0) {
      buf = {
        steps: buf.steps.slice(start),
        timestamps: buf.timestamps.slice(start),
        values: buf.values.slice(start),
        nans: buf.nans.slice(start),
      };
    }
    after = rows[rows.length - 1]!;
  }
}

/** What the copy can be told (tests: a small page, so that keys span many pages). */
export interface PackOptions {
  /** Points read per query (default COPY_PAGE_POINTS). */
  readonly pageSize?: number;
}

/**
 * Creates the packed tables and copies every run's points of `run_metrics` and
 * `run_pending_metrics` into `run_metric_segments` (the old tables are left in place).
 */
export async function packMetricHistory(db: AnyDb, options: PackOptions = {}): Promise<void> {
  const pageSize = options.pageSize ?? COPY_PAGE_POINTS;
  if (!(Number.isSafeInteger(pageSize) && pageSize >= 1)) {
    throw new Error(`migration 0305: page size ${pageSize}`);
  }
  await createTables(db);
  // The pending side of each page is then a range of this index, not a scan of the run's
  // pending rows for every key and page (the table is dropped after the copy, and so is
  // the index).
  await db.schema
    .createIndex('run_pending_metrics_0305')
    .ifNotExists()
    .on('run_pending_metrics')
    .columns(['run_key', 'key', 'step', 'timestamp', 'value', 'is_nan'])
    .execute();
  const runs = await db.selectFrom('runs').select('run_key').orderBy('run_key').execute();
  for (const { run_key } of runs as { run_key: number }[]) {
    const runKey = Number(run_key);
    const pending = new Set(
      (
        await sql<{
          key: string;
        }>`select distinct key from run_pending_metrics where run_key = ${runKey}`.execute(db)
      ).rows.map((r) => r.key),
    );
    const keys = await sql<{ key: string }>`select key from run_metrics where run_key = ${runKey}
      union select key from run_pending_metrics where run_key = ${runKey} order by key`.execute(db);
    for (const { key } of keys.rows) {
      await copyKey(db, runKey, key, pageSize, pending.has(key));
    }
  }
}

async function up(db: AnyDb): Promise<void> {
  await packMetricHistory(db);
  await db.schema.dropTable('run_pending_metrics').execute();
  await db.schema.dropTable('run_metrics').execute();
}

export const packedMetricHistoryMigration: NamedMigration = {
  name: '0305-packed-metric-history',
  up,
};

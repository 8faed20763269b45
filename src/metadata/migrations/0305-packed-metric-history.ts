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
 * by key (never the whole table in memory) into segments of at most SEGMENT_MAX_POINTS.
 * `run_latest_metrics` is unchanged.
 */
import { type Kysely, sql } from 'kysely';
import type { NamedMigration } from '../database.js';
import { encodeMetricPoints, segmentEnds } from '../metric-points-codec.js';

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

/** Copies one run's points of one key, in get-history's order, into segments. */
async function copyKey(db: AnyDb, runKey: number, key: string): Promise<void> {
  const point = ['step', 'timestamp', 'value', 'is_nan'] as const;
  const rows = (await db
    .selectFrom('run_metrics')
    .select([...point])
    .where('run_key', '=', runKey)
    .where('key', '=', key)
    .union(
      db
        .selectFrom('run_pending_metrics')
        .select([...point])
        .where('run_key', '=', runKey)
        .where('key', '=', key),
    )
    .orderBy('step')
    .orderBy('timestamp')
    .orderBy('is_nan', 'desc')
    .orderBy('value')
    .execute()) as { step: number; timestamp: number; value: number; is_nan: number }[];
  const steps = rows.map((r) => Number(r.step));
  const timestamps = rows.map((r) => Number(r.timestamp));
  let start = 0;
  let fold = 0;
  for (const end of segmentEnds(steps, timestamps)) {
    const part = rows.slice(start, end);
    const points = encodeMetricPoints({
      keys: [key],
      keyIndex: null,
      steps: steps.slice(start, end),
      timestamps: timestamps.slice(start, end),
      values: part.map((r) => (r.is_nan ? 0 : Number(r.value))),
      nans: part.map((r) => (r.is_nan ? 1 : 0)),
    });
    await db
      .insertInto('run_metric_segments')
      .values({
        run_key: runKey,
        key,
        fold: fold++,
        n: end - start,
        first_step: steps[start],
        first_timestamp: timestamps[start],
        last_step: steps[end - 1],
        last_timestamp: timestamps[end - 1],
        points,
      })
      .execute();
    start = end;
  }
}

async function up(db: AnyDb): Promise<void> {
  await createTables(db);
  const runs = await db.selectFrom('runs').select('run_key').orderBy('run_key').execute();
  for (const { run_key } of runs as { run_key: number }[]) {
    const runKey = Number(run_key);
    const keys = await sql<{ key: string }>`select key from run_metrics where run_key = ${runKey}
      union select key from run_pending_metrics where run_key = ${runKey} order by key`.execute(db);
    for (const { key } of keys.rows) await copyKey(db, runKey, key);
  }
  await db.schema.dropTable('run_pending_metrics').execute();
  await db.schema.dropTable('run_metrics').execute();
}

export const packedMetricHistoryMigration: NamedMigration = {
  name: '0305-packed-metric-history',
  up,
};

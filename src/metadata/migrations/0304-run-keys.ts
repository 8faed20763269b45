/**
 * Migration 0304: every run gets an integer key (`runs.run_key`), and the metric tables —
 * `run_metrics` (the history), `run_pending_metrics` (batches not yet folded into it) and
 * `run_latest_metrics` (each key's latest point) — are keyed by it instead of by the
 * run's 32-character text id.
 *
 * The run id was half of every point's row: with an integer in its place a 100-point
 * log-batch writes fewer and smaller b-tree entries (its pending rows, the fold, the
 * latest-point upsert, the commit: ~15 % less CPU in-process), and a folded history takes
 * about half the pages (docs/benchmarks.md, MLflow section, session 11). `run_key` is a
 * column of its own, not SQLite's implicit rowid (which VACUUM may renumber) nor a
 * PostgreSQL sequence: the tracking service assigns max + 1 when it creates a run, under
 * the write lock, on both dialects (as experiment ids). A unique index makes it the target
 * of the three tables' foreign keys, which cascade on delete as the run id's did. The
 * run's other tables (params, tags, inputs) keep the run id: one row per key, not per
 * point.
 *
 * Existing runs are numbered from 1 in (start_time, id) order; every row is copied as
 * stored (the same columns' values: NaN as is_nan 1, value 0 in the point tables and
 * NULL in run_latest_metrics; pending points with their seq). The point tables stay
 * `WITHOUT ROWID` on SQLite, run_latest_metrics a rowid table with its (key, value)
 * index for search, as in 0300.
 */
import { type Kysely, sql } from 'kysely';
import type { NamedMigration } from '../database.js';
import { withoutRowid } from '../dialects/portable-ddl.js';

const POINT = ['key', 'step', 'timestamp', 'value', 'is_nan'] as const;

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists
async function up(db: Kysely<any>): Promise<void> {
  // NOT NULL needs a default for the existing rows on SQLite; the service always sets it.
  await db.schema
    .alterTable('runs')
    .addColumn('run_key', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
  await sql`update runs set run_key = n.k
    from (select id, row_number() over (order by start_time, id) as k from runs) as n
    where n.id = runs.id`.execute(db);
  await db.schema.createIndex('runs_run_key').unique().on('runs').column('run_key').execute();

  // The history: a new table, the points copied in its key's order, the old one dropped.
  await withoutRowid(
    db.schema
      .createTable('run_metrics_0304')
      .addColumn('run_key', 'bigint', (c) =>
        c.notNull().references('runs.run_key').onDelete('cascade'),
      )
      .addColumn('key', 'text', (c) => c.notNull())
      .addColumn('step', 'bigint', (c) => c.notNull())
      .addColumn('timestamp', 'bigint', (c) => c.notNull())
      .addColumn('value', 'double precision', (c) => c.notNull())
      .addColumn('is_nan', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('run_metrics_pk', ['run_key', ...POINT]),
  ).execute();
  await db
    .insertInto('run_metrics_0304')
    .columns(['run_key', ...POINT])
    .expression(
      db
        .selectFrom('run_metrics as m')
        .innerJoin('runs as r', 'r.id', 'm.run_id')
        .select(['r.run_key', ...POINT.map((c) => `m.${c}` as const)])
        .orderBy('r.run_key')
        .orderBy('m.key')
        .orderBy('m.step')
        .orderBy('m.timestamp')
        .orderBy('m.value')
        .orderBy('m.is_nan'),
    )
    .execute();
  await db.schema.dropTable('run_metrics').execute();
  await db.schema.alterTable('run_metrics_0304').renameTo('run_metrics').execute();

  // The pending points (at most PENDING_METRICS.foldAt a run) and the latest points (one
  // a key) go through a copy, so that the new tables have the old ones' names and so do
  // their keys and indexes.
  await db.schema
    .createTable('run_pending_metrics_0304')
    .as(
      db
        .selectFrom('run_pending_metrics as p')
        .innerJoin('runs as r', 'r.id', 'p.run_id')
        .select(['r.run_key', 'p.seq', ...POINT.map((c) => `p.${c}` as const)]),
    )
    .execute();
  await db.schema.dropTable('run_pending_metrics').execute();
  await withoutRowid(
    db.schema
      .createTable('run_pending_metrics')
      .addColumn('run_key', 'bigint', (c) =>
        c.notNull().references('runs.run_key').onDelete('cascade'),
      )
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('key', 'text', (c) => c.notNull())
      .addColumn('step', 'bigint', (c) => c.notNull())
      .addColumn('timestamp', 'bigint', (c) => c.notNull())
      .addColumn('value', 'double precision', (c) => c.notNull())
      .addColumn('is_nan', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('run_pending_metrics_pk', ['run_key', 'seq']),
  ).execute();
  await db
    .insertInto('run_pending_metrics')
    .columns(['run_key', 'seq', ...POINT])
    .expression(
      db
        .selectFrom('run_pending_metrics_0304')
        .select(['run_key', 'seq', ...POINT])
        .orderBy('run_key')
        .orderBy('seq'),
    )
    .execute();
  await db.schema.dropTable('run_pending_metrics_0304').execute();

  await db.schema
    .createTable('run_latest_metrics_0304')
    .as(
      db
        .selectFrom('run_latest_metrics as l')
        .innerJoin('runs as r', 'r.id', 'l.run_id')
        .select(['r.run_key', 'l.key', 'l.value', 'l.is_nan', 'l.step', 'l.timestamp']),
    )
    .execute();
  await db.schema.dropTable('run_latest_metrics').execute();
  await db.schema
    .createTable('run_latest_metrics')
    .addColumn('run_key', 'bigint', (c) =>
      c.notNull().references('runs.run_key').onDelete('cascade'),
    )
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('value', 'double precision')
    .addColumn('is_nan', 'integer', (c) => c.notNull())
    .addColumn('step', 'bigint', (c) => c.notNull())
    .addColumn('timestamp', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('run_latest_metrics_pk', ['run_key', 'key'])
    .execute();
  await db.schema
    .createIndex('run_latest_metrics_key_value')
    .on('run_latest_metrics')
    .columns(['key', 'value'])
    .execute();
  await db
    .insertInto('run_latest_metrics')
    .columns(['run_key', 'key', 'value', 'is_nan', 'step', 'timestamp'])
    .expression(
      db
        .selectFrom('run_latest_metrics_0304')
        .select(['run_key', 'key', 'value', 'is_nan', 'step', 'timestamp'])
        .orderBy('run_key')
        .orderBy('key'),
    )
    .execute();
  await db.schema.dropTable('run_latest_metrics_0304').execute();
}

export const runKeysMigration: NamedMigration = { name: '0304-run-keys', up };

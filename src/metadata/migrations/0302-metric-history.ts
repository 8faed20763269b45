/**
 * Migration 0302: `run_metrics` (every logged metric point) stored once, in its key's
 * order. The table of 0300 is a rowid table whose primary key (run_id, key, step,
 * timestamp, value, is_nan) SQLite keeps as a second b-tree, so every point was written
 * twice and a batch of 100 keys dirtied ~100 index leaves plus the table's pages. Here the
 * table is the primary-key b-tree itself (SQLite `WITHOUT ROWID`, `withoutRowid` in
 * ../dialects/portable-ddl.ts; PostgreSQL keeps a heap and its primary-key index as
 * before). Same columns, same key, same reads: a run's history of one key is one range
 * (metrics/get-history), the latest points stay in run_latest_metrics. Measured in
 * docs/benchmarks.md (MLflow section): log-batch of 100 metrics ~45 % less SQLite time.
 */
import type { Kysely } from 'kysely';
import type { NamedMigration } from '../database.js';
import { withoutRowid } from '../dialects/portable-ddl.js';

const COLUMNS = ['run_id', 'key', 'step', 'timestamp', 'value', 'is_nan'] as const;

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists
async function up(db: Kysely<any>): Promise<void> {
  await withoutRowid(
    db.schema
      .createTable('run_metric_points')
      .addColumn('run_id', 'text', (c) => c.notNull().references('runs.id').onDelete('cascade'))
      .addColumn('key', 'text', (c) => c.notNull())
      .addColumn('step', 'bigint', (c) => c.notNull())
      .addColumn('timestamp', 'bigint', (c) => c.notNull())
      .addColumn('value', 'double precision', (c) => c.notNull())
      .addColumn('is_nan', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('run_metric_points_pk', [...COLUMNS]),
  ).execute();
  await db
    .insertInto('run_metric_points')
    .columns([...COLUMNS])
    .expression(db.selectFrom('run_metrics').select([...COLUMNS]))
    .execute();
  await db.schema.dropTable('run_metrics').execute();
  await db.schema.alterTable('run_metric_points').renameTo('run_metrics').execute();
}

export const metricHistoryMigration: NamedMigration = { name: '0302-metric-history', up };

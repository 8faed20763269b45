/**
 * Migration 0303: `run_pending_metrics`, where a multi-point log-batch writes its points
 * next to each other before they are folded into `run_metrics` in key order.
 *
 * `run_metrics` is keyed (run, key, step, …) for metrics/get-history, so a batch of 100
 * keys dirtied ~100 of its leaf pages, each written to the WAL and checkpointed: that was
 * most of a log-batch's cost (docs/benchmarks.md, MLflow section). Here a batch's points
 * are rows (run_id, seq) with consecutive `seq`, i.e. one or two pages per batch. Once a
 * run has enough pending points the tracking service moves them all into `run_metrics`
 * in one statement (sorted by key, so each key's leaf page is written once per fold
 * rather than once per batch) and deletes them. Readers of a key's history read the
 * union of both tables (docs/design.md, "Tracking").
 *
 * `seq` counts the run's pending points from 0 (so the last one's seq + 1 is how many are
 * pending, found by one seek on the key); it restarts after a fold. Points are stored as
 * in `run_metrics` (NaN: value 0, is_nan 1). Nothing to copy: existing points stay where
 * they are, and the table starts empty. SQLite stores it `WITHOUT ROWID`.
 */
import type { Kysely } from 'kysely';
import type { NamedMigration } from '../database.js';
import { withoutRowid } from '../dialects/portable-ddl.js';

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists
async function up(db: Kysely<any>): Promise<void> {
  await withoutRowid(
    db.schema
      .createTable('run_pending_metrics')
      .addColumn('run_id', 'text', (c) => c.notNull().references('runs.id').onDelete('cascade'))
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('key', 'text', (c) => c.notNull())
      .addColumn('step', 'bigint', (c) => c.notNull())
      .addColumn('timestamp', 'bigint', (c) => c.notNull())
      .addColumn('value', 'double precision', (c) => c.notNull())
      .addColumn('is_nan', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('run_pending_metrics_pk', ['run_id', 'seq']),
  ).execute();
}

export const pendingMetricsMigration: NamedMigration = { name: '0303-pending-metrics', up };

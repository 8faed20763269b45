/**
 * Migration 0300: MLflow tracking — experiments, runs, their params, tags, metric points,
 * latest metrics and dataset inputs (see `../tracking-schema.ts` for column meanings).
 *
 * Portable DDL through Kysely's schema builder only (SQLite and PostgreSQL): integer /
 * bigint / text / double precision, booleans as 0/1, timestamps as integer ms, JSON as
 * text. Experiment ids are allocated by the tracking service (max + 1 under the write
 * lock), so no dialect-specific auto-increment is needed; `0` is MLflow's Default
 * experiment, created here.
 */
import type { Kysely } from 'kysely';
import type { NamedMigration } from '../database.js';

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists
async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('experiments')
    .addColumn('id', 'bigint', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('artifact_location', 'text', (c) => c.notNull())
    .addColumn('lifecycle_stage', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('deleted_at', 'bigint')
    .execute();

  await db.schema
    .createTable('experiment_tags')
    .addColumn('experiment_id', 'bigint', (c) =>
      c.notNull().references('experiments.id').onDelete('cascade'),
    )
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('experiment_tags_pk', ['experiment_id', 'key'])
    .execute();

  await db.schema
    .createTable('runs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('experiment_id', 'bigint', (c) => c.notNull().references('experiments.id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('start_time', 'bigint', (c) => c.notNull())
    .addColumn('end_time', 'bigint')
    .addColumn('lifecycle_stage', 'text', (c) => c.notNull())
    .addColumn('artifact_uri', 'text', (c) => c.notNull())
    .addColumn('deleted_at', 'bigint')
    .execute();
  await db.schema
    .createIndex('runs_experiment_start')
    .on('runs')
    .columns(['experiment_id', 'start_time'])
    .execute();

  for (const table of ['run_params', 'run_tags'] as const) {
    await db.schema
      .createTable(table)
      .addColumn('run_id', 'text', (c) => c.notNull().references('runs.id').onDelete('cascade'))
      .addColumn('key', 'text', (c) => c.notNull())
      .addColumn('value', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint(`${table}_pk`, ['run_id', 'key'])
      .execute();
  }

  // Every logged point. Like MLflow, the whole point is the key: logging the same point
  // twice stores it once. NaN is stored as value 0 with is_nan = 1 (SQLite has no NaN).
  await db.schema
    .createTable('run_metrics')
    .addColumn('run_id', 'text', (c) => c.notNull().references('runs.id').onDelete('cascade'))
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('step', 'bigint', (c) => c.notNull())
    .addColumn('timestamp', 'bigint', (c) => c.notNull())
    .addColumn('value', 'double precision', (c) => c.notNull())
    .addColumn('is_nan', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('run_metrics_pk', [
      'run_id',
      'key',
      'step',
      'timestamp',
      'value',
      'is_nan',
    ])
    .execute();

  // The latest point per key (highest step, then timestamp, then value), which search,
  // ORDER BY and a run's `data.metrics` read. value is NULL for NaN, so NaN never matches
  // a comparison and sorts last.
  await db.schema
    .createTable('run_latest_metrics')
    .addColumn('run_id', 'text', (c) => c.notNull().references('runs.id').onDelete('cascade'))
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('value', 'double precision')
    .addColumn('is_nan', 'integer', (c) => c.notNull())
    .addColumn('step', 'bigint', (c) => c.notNull())
    .addColumn('timestamp', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('run_latest_metrics_pk', ['run_id', 'key'])
    .execute();
  await db.schema
    .createIndex('run_latest_metrics_key_value')
    .on('run_latest_metrics')
    .columns(['key', 'value'])
    .execute();

  await db.schema
    .createTable('run_inputs')
    .addColumn('run_id', 'text', (c) => c.notNull().references('runs.id').onDelete('cascade'))
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('dataset', 'text', (c) => c.notNull())
    .addColumn('tags', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('run_inputs_pk', ['run_id', 'name', 'digest'])
    .execute();

  const now = Date.now();
  await db
    .insertInto('experiments')
    .values({
      id: 0,
      name: 'Default',
      artifact_location: 'mlflow-artifacts:/0',
      lifecycle_stage: 'active',
      created_at: now,
      updated_at: now,
      deleted_at: null,
    })
    .execute();
}

export const trackingMigration: NamedMigration = { name: '0300-tracking', up };

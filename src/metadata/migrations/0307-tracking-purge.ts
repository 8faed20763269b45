/**
 * Migration 0307: what purging deleted runs and experiments needs (registry/tracking-purge.ts,
 * garbage collection's equivalent of `mlflow gc`):
 *
 * - `runs_deleted`, a partial index on runs (deleted_at, id) where deleted_at is not null:
 *   the purge reads the runs deleted before a cutoff in that order, a batch at a time, as
 *   an index range (a registry of a million runs, most of them active, is not scanned once
 *   per batch). Active runs (deleted_at NULL) are not in it, so logging and creating runs
 *   write nothing more.
 * - `tracking_sequences` (name → last_value): the highest experiment id ever given
 *   (`experiment_id`), written when an experiment is purged. Ids are allocated as max + 1
 *   (tracking-service.ts createExperiment), so without it purging the newest experiment
 *   would give its id again — to a new experiment that would inherit its permissions' ids
 *   and its audit subject `experiment:<id>`. Empty until the first purge.
 *
 * Portable DDL (Kysely's schema builder): partial indexes exist on both dialects.
 */
import type { Kysely } from 'kysely';
import type { NamedMigration } from '../database.js';

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists
async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createIndex('runs_deleted')
    .on('runs')
    .columns(['deleted_at', 'id'])
    .where('deleted_at', 'is not', null)
    .execute();
  await db.schema
    .createTable('tracking_sequences')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('last_value', 'bigint', (c) => c.notNull())
    .execute();
}

export const trackingPurgeMigration: NamedMigration = { name: '0307-tracking-purge', up };

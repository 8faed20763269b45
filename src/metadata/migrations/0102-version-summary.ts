/**
 * Migration 0102: a version's summary (format, framework, parameter count, dtype mix,
 * architecture), computed from its files' headers when the version is created and kept as
 * JSON text so showing and listing it needs no read from the store. Nullable: versions
 * created before it, or without a content store, have none.
 */
import type { Kysely } from 'kysely';
import type { NamedMigration } from '../database.js';

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists
async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('model_versions').addColumn('summary', 'text').execute();
}

export const versionSummaryMigration: NamedMigration = { name: '0102-version-summary', up };

/**
 * Migration 0101: a version's model card — the text of the README.md at the root of its
 * files, kept on the version so listing and showing it needs no read from the store.
 * One nullable text column; portable (SQLite and PostgreSQL `alter table … add column`).
 */
import type { Kysely } from 'kysely';
import type { NamedMigration } from '../database.js';

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists
async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('model_versions').addColumn('model_card', 'text').execute();
}

export const modelCardMigration: NamedMigration = { name: '0101-model-card', up };

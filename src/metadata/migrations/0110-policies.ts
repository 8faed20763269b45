/**
 * Migration 0110: promotion policies. One row per (model, target): `model_id` 0 is the
 * registry-wide default (models are never removed, only soft-deleted, so there is no
 * foreign key to dangle, and 0 keeps the primary key portable where NULLs would not be
 * unique); the target is an alias (`target_kind` 'alias', its name) or a stage ('stage',
 * its canonical name); `rules` is canonical JSON of PolicyRules (core/registry-api.ts).
 * Portable: text / bigint columns, a composite primary key.
 */
import type { Kysely } from 'kysely';
import type { NamedMigration } from '../database.js';

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists
async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('promotion_policies')
    .addColumn('model_id', 'bigint', (c) => c.notNull())
    .addColumn('target_kind', 'text', (c) => c.notNull())
    .addColumn('target_name', 'text', (c) => c.notNull())
    .addColumn('rules', 'text', (c) => c.notNull())
    .addColumn('updated_by', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('promotion_policies_pk', ['model_id', 'target_kind', 'target_name'])
    .execute();
}

export const policiesMigration: NamedMigration = { name: '0110-policies', up };

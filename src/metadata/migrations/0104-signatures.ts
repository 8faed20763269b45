/**
 * Migration 0104: signatures attached to versions. One row per (version, signing key):
 * the Sigstore bundle (a DSSE envelope over an in-toto statement in the OpenSSF
 * model-signing format, see `core/model-signing.ts`) as canonical JSON text, the signer's
 * public key (PEM) whose SHA-256 hint is the key id, who attached it and when.
 * Portable: text / bigint columns and a composite primary key.
 */
import type { Kysely } from 'kysely';
import type { NamedMigration } from '../database.js';

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists
async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('version_signatures')
    .addColumn('version_id', 'bigint', (c) =>
      c.notNull().references('model_versions.id').onDelete('cascade'),
    )
    .addColumn('key_id', 'text', (c) => c.notNull())
    .addColumn('public_key', 'text', (c) => c.notNull())
    .addColumn('bundle', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('version_signatures_pk', ['version_id', 'key_id'])
    .execute();
}

export const signaturesMigration: NamedMigration = { name: '0104-signatures', up };

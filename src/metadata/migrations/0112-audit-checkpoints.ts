/**
 * Migration 0112: signed audit checkpoints. One row per checkpoint, keyed by the seq of
 * the chain head it signs: the head's hash, when it was signed (ms; the signature covers
 * its ISO-8601 form), the signing key's id and the base64 ed25519 signature
 * (metadata/audit-chain.ts, "Checkpoint signature"). Portable: text / bigint columns.
 */
import type { Kysely } from 'kysely';
import type { NamedMigration } from '../database.js';

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists
async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('audit_checkpoints')
    .addColumn('seq', 'bigint', (c) => c.primaryKey())
    .addColumn('hash', 'text', (c) => c.notNull())
    .addColumn('time', 'bigint', (c) => c.notNull())
    .addColumn('key_id', 'text', (c) => c.notNull())
    .addColumn('signature', 'text', (c) => c.notNull())
    .execute();
}

export const auditCheckpointsMigration: NamedMigration = { name: '0112-audit-checkpoints', up };

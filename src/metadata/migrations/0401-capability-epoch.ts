/**
 * Migration 0401: revocable signed request capabilities (server/auth/request-signer.ts).
 * `users.capability_epoch` is a per-user generation each capability records when it is
 * minted; a capability whose epoch is no longer the user's is refused. It is raised by
 * `revoke-capabilities`, a password change and disabling the user, which so kill every
 * capability minted before. Existing users start at 0.
 *
 * Portable: a bigint column with a constant default (`alter table … add column`).
 */
import type { Kysely } from 'kysely';
import type { NamedMigration } from '../database.js';

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists
async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('users')
    .addColumn('capability_epoch', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
}

export const capabilityEpochMigration: NamedMigration = { name: '0401-capability-epoch', up };

/**
 * Migration 0400: authentication and permissions (registry/access-control.ts).
 *
 * - `users`: name (the audit actor), scrypt hash with its own salt and parameters (JSON),
 *   admin flag, created/disabled times.
 * - `api_tokens`: only the SHA-256 of each secret is stored (unique: the lookup key); `id`
 *   is the public prefix shown in listings.
 * - `permissions`: one explicit level per (user, resource kind, resource id); model ids and
 *   experiment ids are both integers, so renaming a model keeps its grants and a model
 *   recreated under an old name does not inherit them.
 * - `auth_settings`: registry-wide settings (the default permission), key → JSON text.
 *
 * Portable: text / integer / bigint columns, composite primary keys.
 */
import type { Kysely } from 'kysely';
import type { NamedMigration } from '../database.js';

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists
async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('users')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('password_salt', 'text', (c) => c.notNull())
    .addColumn('password_params', 'text', (c) => c.notNull())
    .addColumn('is_admin', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('disabled_at', 'bigint')
    .execute();
  await db.schema
    .createTable('api_tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('secret_sha256', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('user_name', 'text', (c) => c.notNull().references('users.name'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint')
    .addColumn('last_used_at', 'bigint')
    .addColumn('revoked_at', 'bigint')
    .execute();
  await db.schema.createIndex('api_tokens_user').on('api_tokens').column('user_name').execute();
  await db.schema
    .createTable('permissions')
    .addColumn('user_name', 'text', (c) => c.notNull().references('users.name'))
    .addColumn('resource_kind', 'text', (c) => c.notNull())
    .addColumn('resource_id', 'bigint', (c) => c.notNull())
    .addColumn('level', 'text', (c) => c.notNull())
    .addColumn('granted_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('permissions_pk', ['user_name', 'resource_kind', 'resource_id'])
    .execute();
  await db.schema
    .createIndex('permissions_resource')
    .on('permissions')
    .columns(['resource_kind', 'resource_id'])
    .execute();
  await db.schema
    .createTable('auth_settings')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute();
}

export const authMigration: NamedMigration = { name: '0400-auth', up };

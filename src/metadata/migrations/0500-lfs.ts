/**
 * Migration 0400: the Git LFS server's objects and locks (see `../lfs-schema.ts`). Portable
 * DDL through Kysely's schema builder only (SQLite and PostgreSQL); no foreign keys to other
 * subsystems' tables.
 */
import type { Kysely } from 'kysely';
import type { NamedMigration } from '../database.js';

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists
async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('lfs_objects')
    .addColumn('namespace', 'text', (c) => c.notNull())
    .addColumn('repo', 'text', (c) => c.notNull())
    .addColumn('oid', 'text', (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('manifest', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('lfs_objects_pk', ['namespace', 'repo', 'oid'])
    .execute();

  await db.schema
    .createTable('lfs_locks')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('namespace', 'text', (c) => c.notNull())
    .addColumn('repo', 'text', (c) => c.notNull())
    .addColumn('path', 'text', (c) => c.notNull())
    .addColumn('owner', 'text', (c) => c.notNull())
    .addColumn('locked_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('lfs_locks_path_unique', ['namespace', 'repo', 'path'])
    .execute();
}

export const lfsMigration: NamedMigration = { name: '0500-lfs', up };

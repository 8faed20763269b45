/**
 * Migration 0200: remote upload sessions (see `../upload-schema.ts`). Portable DDL through
 * Kysely's schema builder only (SQLite and PostgreSQL); no foreign keys to the registry's
 * tables, so the storage engine and the registry stay independent of it.
 */
import type { Kysely } from 'kysely';
import type { NamedMigration } from '../database.js';

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists
async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('upload_sessions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('spec_digest', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('file_count', 'integer', (c) => c.notNull())
    .addColumn('chunk_count', 'integer', (c) => c.notNull())
    .addColumn('total_size', 'bigint', (c) => c.notNull())
    .addColumn('received_chunks', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('received_bytes', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('committer', 'text')
    .addColumn('commit_id', 'text')
    .addColumn('result', 'text')
    .addColumn('last_error', 'text')
    .execute();
  await db.schema
    .createIndex('upload_sessions_spec')
    .on('upload_sessions')
    .columns(['spec_digest', 'actor'])
    .execute();
  await db.schema
    .createIndex('upload_sessions_expires')
    .on('upload_sessions')
    .column('expires_at')
    .execute();

  await db.schema
    .createTable('upload_files')
    .addColumn('session_id', 'text', (c) => c.notNull())
    .addColumn('path', 'text', (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('sha256', 'text', (c) => c.notNull())
    .addColumn('format', 'text', (c) => c.notNull())
    .addColumn('chunk_ids', 'blob', (c) => c.notNull())
    .addPrimaryKeyConstraint('upload_files_pk', ['session_id', 'path'])
    .execute();

  await db.schema
    .createTable('upload_chunks')
    .addColumn('session_id', 'text', (c) => c.notNull())
    .addColumn('chunk_id', 'text', (c) => c.notNull())
    .addColumn('length', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('upload_chunks_pk', ['session_id', 'chunk_id'])
    .execute();
  await db.schema
    .createIndex('upload_chunks_chunk')
    .on('upload_chunks')
    .column('chunk_id')
    .execute();
}

export const uploadsMigration: NamedMigration = { name: '0200-uploads', up };

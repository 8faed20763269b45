import type { NamedMigrationLike } from './named-migration.js';

/** Portable DDL (SQLite and PostgreSQL) for the tables in storage-schema.ts. */
export const storageMigrations: readonly NamedMigrationLike[] = [
  {
    name: '0001-storage',
    async up(db) {
      await db.schema
        .createTable('packs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('chunk_count', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('chunks')
        // Binary ids: half the size of hex in the row and in both indexes.
        .addColumn('id', 'blob', (c) => c.primaryKey())
        .addColumn('pack_id', 'blob', (c) => c.notNull())
        .addColumn('offset', 'bigint', (c) => c.notNull())
        .addColumn('length', 'integer', (c) => c.notNull())
        .addColumn('dead_since', 'bigint')
        .execute();
      await db.schema.createIndex('chunks_pack').on('chunks').column('pack_id').execute();
      await db.schema
        .createTable('files')
        .addColumn('sha256', 'text', (c) => c.primaryKey())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('chunk_count', 'integer', (c) => c.notNull())
        .addColumn('chunk_ids', 'blob', (c) => c.notNull())
        .addColumn('format', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('manifests')
        .addColumn('digest', 'text', (c) => c.primaryKey())
        .addColumn('body', 'text', (c) => c.notNull())
        .addColumn('total_size', 'bigint', (c) => c.notNull())
        .addColumn('file_count', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('manifest_files')
        .addColumn('manifest_digest', 'text', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('file_sha256', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('manifest_files_pk', ['manifest_digest', 'path'])
        .execute();
      await db.schema
        .createIndex('manifest_files_file')
        .on('manifest_files')
        .column('file_sha256')
        .execute();
      await db.schema
        .createTable('storage_leases')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('holder', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute();
    },
  },
  {
    name: '0002-piece-cache',
    async up(db) {
      await db.schema
        .createTable('piece_cache')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('chunks', 'blob', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
    },
  },
];

/**
 * Migration 0105: unsafe-pickle scan results, taken when a version is created.
 * `version_scans` holds one row per scanned version (the overall verdict, `none` when it
 * has no pickle-based file); `version_scan_files` one row per pickle-based file, with the
 * scanner's report as JSON text. The index on sha256 lets a new version reuse the report
 * of a file already scanned by the same scanner instead of reading it again.
 * Portable: text / integer / bigint columns, composite primary keys.
 */
import type { Kysely } from 'kysely';
import type { NamedMigration } from '../database.js';

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists
async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('version_scans')
    .addColumn('version_id', 'bigint', (c) =>
      c.primaryKey().references('model_versions.id').onDelete('cascade'),
    )
    .addColumn('verdict', 'text', (c) => c.notNull())
    .addColumn('scanner', 'text', (c) => c.notNull())
    .addColumn('scanned_at', 'bigint', (c) => c.notNull())
    .addColumn('files', 'integer', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('version_scan_files')
    .addColumn('version_id', 'bigint', (c) =>
      c.notNull().references('model_versions.id').onDelete('cascade'),
    )
    .addColumn('path', 'text', (c) => c.notNull())
    .addColumn('sha256', 'text', (c) => c.notNull())
    .addColumn('verdict', 'text', (c) => c.notNull())
    .addColumn('scanner', 'text', (c) => c.notNull())
    .addColumn('report', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('version_scan_files_pk', ['version_id', 'path'])
    .execute();
  await db.schema
    .createIndex('version_scan_files_sha256')
    .on('version_scan_files')
    .columns(['sha256', 'scanner'])
    .execute();
}

export const scansMigration: NamedMigration = { name: '0105-scans', up };

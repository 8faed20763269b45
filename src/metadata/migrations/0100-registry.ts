/**
 * Migration 0100: the model registry's tables (see `../schema.ts` for column meanings).
 *
 * Portable by construction: only Kysely's schema builder, column types integer / bigint /
 * text / real, booleans as integers, timestamps as integer milliseconds, no SQLite-only
 * features. Auto-assigned keys come from `addIdColumn`; `dialects/portable-ddl.ts` turns
 * the SQLite spellings into PostgreSQL's.
 */
import type { ColumnDefinitionBuilder, Kysely } from 'kysely';
import type { NamedMigration } from '../database.js';
import { addIdColumn } from '../dialects/portable-ddl.js';

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists
type AnyDb = Kysely<any>;

async function up(db: AnyDb): Promise<void> {
  await addIdColumn(db.schema.createTable('registered_models'))
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('description', 'text')
    .addColumn('owner', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('deleted_at', 'bigint')
    .addColumn('next_version', 'integer', (c) => c.notNull().defaultTo(1))
    .execute();

  await db.schema
    .createTable('model_tags')
    .addColumn('model_id', 'bigint', (c) =>
      c.notNull().references('registered_models.id').onDelete('cascade'),
    )
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('model_tags_pk', ['model_id', 'key'])
    .execute();
  await db.schema
    .createIndex('model_tags_key_value')
    .on('model_tags')
    .columns(['key', 'value'])
    .execute();

  await addIdColumn(db.schema.createTable('model_versions'))
    .addColumn('model_id', 'bigint', (c) =>
      c.notNull().references('registered_models.id').onDelete('cascade'),
    )
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('manifest_digest', 'text', (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('file_count', 'integer', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('created_by', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('READY'))
    .addColumn('status_message', 'text')
    .addColumn('stage', 'text', (c) => c.notNull().defaultTo('None'))
    .addColumn('approval', 'text', (c) => c.notNull().defaultTo('pending'))
    .addColumn('approval_reviewer', 'text')
    .addColumn('approval_comment', 'text')
    .addColumn('approval_time', 'bigint')
    .addColumn('run_id', 'text')
    .addColumn('source', 'text')
    .addColumn('deleted_at', 'bigint')
    .addUniqueConstraint('model_versions_model_version', ['model_id', 'version'])
    .execute();
  await db.schema
    .createIndex('model_versions_digest')
    .on('model_versions')
    .column('manifest_digest')
    .execute();
  await db.schema
    .createIndex('model_versions_run_id')
    .on('model_versions')
    .column('run_id')
    .execute();

  const versionRef = (c: ColumnDefinitionBuilder) =>
    c.notNull().references('model_versions.id').onDelete('cascade');

  for (const table of ['version_tags', 'version_params'] as const) {
    await db.schema
      .createTable(table)
      .addColumn('version_id', 'bigint', versionRef)
      .addColumn('key', 'text', (c) => c.notNull())
      .addColumn('value', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint(`${table}_pk`, ['version_id', 'key'])
      .execute();
    await db.schema.createIndex(`${table}_key_value`).on(table).columns(['key', 'value']).execute();
  }

  await addIdColumn(db.schema.createTable('version_metrics'))
    .addColumn('version_id', 'bigint', versionRef)
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('value', 'real', (c) => c.notNull())
    .addColumn('step', 'bigint', (c) => c.notNull())
    .addColumn('timestamp', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('version_metrics_version_key')
    .on('version_metrics')
    .columns(['version_id', 'key', 'step'])
    .execute();

  await db.schema
    .createTable('version_latest_metrics')
    .addColumn('version_id', 'bigint', versionRef)
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('value', 'real', (c) => c.notNull())
    .addColumn('step', 'bigint', (c) => c.notNull())
    .addColumn('timestamp', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('version_latest_metrics_pk', ['version_id', 'key'])
    .execute();
  await db.schema
    .createIndex('version_latest_metrics_key_value')
    .on('version_latest_metrics')
    .columns(['key', 'value'])
    .execute();

  await db.schema
    .createTable('version_parents')
    .addColumn('version_id', 'bigint', versionRef)
    // No cascade: purging a version that others descend from must be decided explicitly.
    .addColumn('parent_version_id', 'bigint', (c) => c.notNull().references('model_versions.id'))
    .addPrimaryKeyConstraint('version_parents_pk', ['version_id', 'parent_version_id'])
    .execute();
  await db.schema
    .createIndex('version_parents_parent')
    .on('version_parents')
    .column('parent_version_id')
    .execute();

  await db.schema
    .createTable('version_datasets')
    .addColumn('version_id', 'bigint', versionRef)
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('uri', 'text')
    .addColumn('digest', 'text')
    .addPrimaryKeyConstraint('version_datasets_pk', ['version_id', 'name'])
    .execute();

  await db.schema
    .createTable('version_code')
    .addColumn('version_id', 'bigint', (c) =>
      c.primaryKey().references('model_versions.id').onDelete('cascade'),
    )
    .addColumn('git_remote', 'text')
    .addColumn('git_commit', 'text')
    .addColumn('git_dirty', 'integer')
    .execute();

  await db.schema
    .createTable('aliases')
    .addColumn('model_id', 'bigint', (c) =>
      c.notNull().references('registered_models.id').onDelete('cascade'),
    )
    .addColumn('alias', 'text', (c) => c.notNull())
    .addColumn('version_id', 'bigint', (c) => c.notNull().references('model_versions.id'))
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('aliases_pk', ['model_id', 'alias'])
    .execute();
  await db.schema.createIndex('aliases_version').on('aliases').column('version_id').execute();

  await db.schema
    .createTable('audit_events')
    .addColumn('seq', 'bigint', (c) => c.primaryKey())
    .addColumn('time', 'bigint', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('data', 'text', (c) => c.notNull())
    .addColumn('prev_hash', 'text', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .execute();
  for (const column of ['subject', 'actor', 'action', 'time'] as const) {
    await db.schema
      .createIndex(`audit_events_${column}`)
      .on('audit_events')
      .columns([column, 'seq'])
      .execute();
  }
}

export const registryMigration: NamedMigration = { name: '0100-registry', up };

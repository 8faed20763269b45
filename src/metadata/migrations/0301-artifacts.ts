/**
 * Migration 0301: the MLflow artifact proxy's path tree and multipart uploads (see
 * `../artifact-schema.ts`). Portable DDL through Kysely's schema builder only (SQLite and
 * PostgreSQL); no foreign keys to other subsystems' tables.
 */
import type { Kysely } from 'kysely';
import type { NamedMigration } from '../database.js';

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists
async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('mlflow_artifact_entries')
    .addColumn('dir', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('sha256', 'text')
    .addColumn('size', 'bigint')
    .addColumn('manifest', 'text')
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('mlflow_artifact_entries_pk', ['dir', 'name'])
    .execute();
  await db.schema
    .createIndex('mlflow_artifact_entries_manifest')
    .on('mlflow_artifact_entries')
    .column('manifest')
    .execute();

  await db.schema
    .createTable('mlflow_artifact_uploads')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('path', 'text', (c) => c.notNull())
    .addColumn('num_parts', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('mlflow_artifact_parts')
    .addColumn('upload_id', 'text', (c) => c.notNull())
    .addColumn('part_number', 'integer', (c) => c.notNull())
    .addColumn('sha256', 'text', (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('manifest', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('mlflow_artifact_parts_pk', ['upload_id', 'part_number'])
    .execute();
}

export const artifactsMigration: NamedMigration = { name: '0301-artifacts', up };

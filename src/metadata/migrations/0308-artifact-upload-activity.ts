/**
 * Migration 0308: what expiring abandoned MLflow multipart uploads needs
 * (registry/artifact-service.ts, `expireUploads`, run by garbage collection):
 *
 * - `mlflow_artifact_uploads.updated_at`: when the upload was created or last received a
 *   part. An upload idle longer than its time to live is refused and then dropped with its
 *   parts, whose bytes were otherwise kept forever (a client that crashed mid-upload never
 *   aborts). Existing uploads start from their creation time.
 * - `mlflow_artifact_uploads_path`: an index on the upload's path; purging a run deletes
 *   the uploads under its artifact root by a range of paths.
 *
 * Portable DDL (Kysely's schema builder): a NOT NULL column added with a default, then
 * filled, works on both dialects.
 */
import { type Kysely, sql } from 'kysely';
import type { NamedMigration } from '../database.js';

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists
async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('mlflow_artifact_uploads')
    .addColumn('updated_at', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
  await sql`update mlflow_artifact_uploads set updated_at = created_at`.execute(db);
  await db.schema
    .createIndex('mlflow_artifact_uploads_path')
    .on('mlflow_artifact_uploads')
    .column('path')
    .execute();
}

export const artifactUploadActivityMigration: NamedMigration = {
  name: '0308-artifact-upload-activity',
  up,
};

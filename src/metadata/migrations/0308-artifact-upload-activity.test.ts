import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type FreshDatabase,
  freshDatabase,
  TEST_DIALECTS,
} from '../../../test/support/dialects.js';
import { openDatabase } from '../database.js';
import { artifactsMigration } from './0301-artifacts.js';
import { artifactUploadActivityMigration } from './0308-artifact-upload-activity.js';

describe.each(TEST_DIALECTS)('migration 0308-artifact-upload-activity on %s', (dialect) => {
  let fresh: FreshDatabase | undefined;
  afterEach(async () => {
    await fresh?.cleanup();
    fresh = undefined;
  });

  it('starts an existing upload idle from its creation, and indexes uploads by path', async () => {
    fresh = await freshDatabase(dialect);
    // biome-ignore lint/suspicious/noExplicitAny: tables of migrations before the typed schema
    const before = await openDatabase<any>(fresh.config, [artifactsMigration]);
    await sql`insert into mlflow_artifact_uploads (id, path, num_parts, created_at)
      values ('a', '0/r/artifacts/x.bin', 3, 1700000000000)`.execute(before.db);
    await before.close();
    // biome-ignore lint/suspicious/noExplicitAny: as above
    const after = await openDatabase<any>(fresh.config, [
      artifactsMigration,
      artifactUploadActivityMigration,
    ]);
    try {
      const rows = await after.db
        .selectFrom('mlflow_artifact_uploads')
        .select(['id', 'created_at', 'updated_at'])
        .execute();
      expect(
        rows.map((r: Record<string, unknown>) => [
          r.id,
          Number(r.created_at),
          Number(r.updated_at),
        ]),
      ).toEqual([['a', 1700000000000, 1700000000000]]);
      const indexes =
        dialect === 'sqlite'
          ? await sql<{ name: string }>`select name from sqlite_master
              where type = 'index' and tbl_name = 'mlflow_artifact_uploads'`.execute(after.db)
          : await sql<{ name: string }>`select indexname as name from pg_indexes
              where schemaname = current_schema() and tablename = 'mlflow_artifact_uploads'`.execute(
              after.db,
            );
      expect(indexes.rows.map((r) => r.name)).toContain('mlflow_artifact_uploads_path');
    } finally {
      await after.close();
    }
  });
});

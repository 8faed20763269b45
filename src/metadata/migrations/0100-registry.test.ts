import { type Kysely, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type FreshDatabase,
  freshDatabase,
  TEST_DIALECTS,
} from '../../../test/support/dialects.js';
import { type DialectName, openDatabase } from '../database.js';
import type { RegistryDB } from '../schema.js';
import { registryMigration } from './0100-registry.js';

const TABLES = [
  'aliases',
  'audit_events',
  'model_tags',
  'model_versions',
  'registered_models',
  'version_code',
  'version_datasets',
  'version_latest_metrics',
  'version_metrics',
  'version_params',
  'version_parents',
  'version_tags',
];

async function indexNames(db: Kysely<RegistryDB>, dialect: DialectName): Promise<string[]> {
  const { rows } =
    dialect === 'sqlite'
      ? await sql<{ name: string }>`select name from sqlite_master where type = 'index'`.execute(db)
      : await sql<{
          name: string;
        }>`select indexname as name from pg_indexes where schemaname = current_schema()`.execute(
          db,
        );
  return rows.map((r) => r.name);
}

describe.each(TEST_DIALECTS)('migration 0100-registry on %s', (dialect) => {
  let fresh: FreshDatabase | undefined;
  afterEach(async () => {
    await fresh?.cleanup();
    fresh = undefined;
  });

  it('creates every table and the search indexes, and is applied once', async () => {
    fresh = await freshDatabase(dialect);
    const database = await openDatabase<RegistryDB>(fresh.config, [registryMigration]);
    const tables = (await database.db.introspection.getTables())
      .map((t) => t.name)
      .filter((n) => !n.startsWith('kysely'))
      .sort();
    expect(tables).toEqual(TABLES);
    expect(await indexNames(database.db, dialect)).toEqual(
      expect.arrayContaining([
        'model_tags_key_value',
        'version_tags_key_value',
        'version_params_key_value',
        'version_latest_metrics_key_value',
        'model_versions_digest',
        'audit_events_subject',
      ]),
    );
    await database.close();
    // Reopening does not re-run it.
    const again = await openDatabase<RegistryDB>(fresh.config, [registryMigration]);
    await again.close();
  });

  it('version numbers are unique per model (the constraint backs the allocator)', async () => {
    fresh = await freshDatabase(dialect);
    const database = await openDatabase<RegistryDB>(fresh.config, [registryMigration]);
    try {
      const { id } = await database.db
        .insertInto('registered_models')
        .values({
          name: 'm',
          description: null,
          owner: null,
          created_at: 1,
          updated_at: 1,
          deleted_at: null,
          next_version: 1,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      expect(id).toBe(1);
      const version = {
        model_id: id,
        version: 1,
        manifest_digest: 'a'.repeat(64),
        size: 1,
        file_count: 1,
        description: null,
        created_by: null,
        created_at: 1,
        updated_at: 1,
        status: 'READY' as const,
        status_message: null,
        stage: 'None' as const,
        approval: 'pending' as const,
        approval_reviewer: null,
        approval_comment: null,
        approval_time: null,
        run_id: null,
        source: null,
        deleted_at: null,
      };
      await database.db.insertInto('model_versions').values(version).execute();
      await expect(
        database.db.insertInto('model_versions').values(version).execute(),
      ).rejects.toThrow(/UNIQUE|duplicate key/i);
      // Foreign keys hold on both dialects.
      await expect(
        database.db
          .insertInto('model_versions')
          .values({ ...version, model_id: 999, version: 2 })
          .execute(),
      ).rejects.toThrow(/FOREIGN KEY|foreign key/);
    } finally {
      await database.close();
    }
  });
});

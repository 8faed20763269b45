import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  sql,
} from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../database.js';
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

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('migration 0100-registry', () => {
  it('creates every table and the search indexes on SQLite, and is applied once', async () => {
    dir = await mkdtemp(join(tmpdir(), 'mv-migration-'));
    const path = join(dir, 'db.sqlite');
    const database = await openDatabase<RegistryDB>({ kind: 'sqlite', path }, [registryMigration]);
    const tables = await sql<{ name: string }>`
      select name from sqlite_master where type = 'table' and name not like 'kysely%'
        and name not like 'sqlite%' order by name`.execute(database.db);
    expect(tables.rows.map((r) => r.name)).toEqual(TABLES);
    const indexes = await sql<{ name: string }>`
      select name from sqlite_master where type = 'index' and name not like 'sqlite%'`.execute(
      database.db,
    );
    expect(indexes.rows.map((r) => r.name)).toEqual(
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
    const again = await openDatabase<RegistryDB>({ kind: 'sqlite', path }, [registryMigration]);
    await again.close();
  });

  it('version numbers are unique per model (the constraint backs the allocator)', async () => {
    dir = await mkdtemp(join(tmpdir(), 'mv-migration-'));
    const database = await openDatabase<RegistryDB>(
      { kind: 'sqlite', path: join(dir, 'db.sqlite') },
      [registryMigration],
    );
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
    ).rejects.toThrow(/UNIQUE/);
    await database.close();
  });

  it('compiles to PostgreSQL without SQLite-only syntax', async () => {
    const statements: string[] = [];
    const pg = new Kysely<unknown>({
      dialect: {
        createAdapter: () => new PostgresAdapter(),
        createDriver: () => new DummyDriver(),
        createIntrospector: (db) => new PostgresIntrospector(db),
        createQueryCompiler: () => new PostgresQueryCompiler(),
      },
      log: (event) => {
        statements.push(event.query.sql);
      },
    });
    await registryMigration.up(pg);
    const all = statements.join(';\n');
    expect(statements.length).toBeGreaterThan(12);
    expect(all).not.toMatch(/autoincrement|auto_increment|without rowid|strict|glob/i);
    expect(all).toMatch(/"id" bigserial primary key/);
    expect(all).toMatch(/create table "audit_events"/);
    await pg.destroy();
  });
});

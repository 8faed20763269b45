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
import { modelCardMigration } from './0101-model-card.js';

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('migration 0101-model-card', () => {
  it('adds a nullable model_card column to a database that already has versions', async () => {
    dir = await mkdtemp(join(tmpdir(), 'mv-migration-'));
    const path = join(dir, 'db.sqlite');
    const before = await openDatabase<RegistryDB>({ kind: 'sqlite', path }, [registryMigration]);
    await sql`insert into registered_models (name, created_at, updated_at) values ('m', 1, 1)`.execute(
      before.db,
    );
    await sql`insert into model_versions (model_id, version, manifest_digest, size, file_count,
      created_at, updated_at) values (1, 1, ${'a'.repeat(64)}, 0, 0, 1, 1)`.execute(before.db);
    await before.close();

    const after = await openDatabase<RegistryDB>({ kind: 'sqlite', path }, [
      registryMigration,
      modelCardMigration,
    ]);
    const row = await after.db
      .selectFrom('model_versions')
      .select(['version', 'model_card'])
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ version: 1, model_card: null });
    await after.db.updateTable('model_versions').set({ model_card: '# Card' }).execute();
    const again = await after.db
      .selectFrom('model_versions')
      .select('model_card')
      .executeTakeFirstOrThrow();
    expect(again.model_card).toBe('# Card');
    await after.close();
  });

  it('compiles to a portable ALTER TABLE on PostgreSQL', async () => {
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
    await modelCardMigration.up(pg);
    expect(statements).toEqual(['alter table "model_versions" add column "model_card" text']);
    await pg.destroy();
  });
});

import {
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
} from 'kysely';
import { describe, expect, it } from 'vitest';
import { versionSummaryMigration } from './0102-version-summary.js';

describe('migration 0102-version-summary', () => {
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
    await versionSummaryMigration.up(pg);
    expect(statements).toEqual(['alter table "model_versions" add column "summary" text']);
    await pg.destroy();
  });
});

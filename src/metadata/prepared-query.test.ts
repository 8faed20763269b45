import type { Kysely } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { type FreshDatabase, freshDatabase, TEST_DIALECTS } from '../../test/support/dialects.js';
import { type Database, openDatabase } from './database.js';
import { PreparedQueryFamily, prepareQuery, rowsOf } from './prepared-query.js';

interface Db {
  points: { k: string; v: number | null };
}

const migration = {
  name: '0001-points',
  // biome-ignore lint/suspicious/noExplicitAny: a migration runs before the typed schema exists
  up: async (db: Kysely<any>) => {
    await db.schema
      .createTable('points')
      .addColumn('k', 'text', (c) => c.primaryKey())
      .addColumn('v', 'double precision')
      .execute();
  },
};

describe.each(TEST_DIALECTS)('PreparedQuery on %s', (dialect) => {
  let fresh: FreshDatabase | undefined;
  let database: Database<Db> | undefined;
  afterEach(async () => {
    await database?.close();
    await fresh?.cleanup();
    database = undefined;
    fresh = undefined;
  });

  it('builds once, then runs with new values, in and out of transactions', async () => {
    fresh = await freshDatabase(dialect);
    database = await openDatabase<Db>(fresh.config, [migration]);
    const db = database.db;
    let builds = 0;
    const insert = new PreparedQueryFamily((n: number) =>
      prepareQuery((q: Kysely<Db>, p: { rows: readonly { k: string; v: number | null }[] }) => {
        builds++;
        return q.insertInto('points').values(rowsOf(p.rows, n).map((r) => ({ k: r.k, v: r.v })));
      }),
    );
    const byKey = prepareQuery((q: Kysely<Db>, p: { k: string; min: number }) => {
      builds++;
      // A constant (1) among the placeholders stays a constant.
      return q
        .selectFrom('points')
        .select(['k', 'v'])
        .where('k', '=', p.k)
        .where('v', '>', p.min)
        .limit(1);
    });
    await database.writeTransaction(async (trx) => {
      await insert.for(2).run(trx, {
        rows: [
          { k: 'a', v: 1 },
          { k: 'b', v: null },
        ],
      });
      await insert.for(2).run(trx, {
        rows: [
          { k: 'c', v: 3 },
          { k: 'd', v: 4 },
        ],
      });
      await insert.for(1).run(trx, { rows: [{ k: 'e', v: 5 }] });
    });
    expect(await byKey.executeTakeFirst(db, { k: 'c', min: 2 })).toEqual({ k: 'c', v: 3 });
    expect(await byKey.executeTakeFirst(db, { k: 'c', min: 3 })).toBeUndefined();
    expect(await byKey.execute(db, { k: 'e', min: 0 })).toEqual([{ k: 'e', v: 5 }]);
    expect(builds).toBe(3); // two row counts and the select, each once
    // SQLite takes the constant limit as a literal (dialects/sqlite-inline-limits.ts).
    expect(byKey.compile(db, { k: 'x', min: 0 }).parameters).toEqual(
      dialect === 'sqlite' ? ['x', 0] : ['x', 0, 1],
    );
    // A missing value throws instead of binding undefined.
    expect(() => byKey.compile(db, { k: 'x' } as never)).toThrow(/no value for placeholder 'min'/);
    await expect(insert.for(2).run(db, { rows: [{ k: 'f', v: 1 }] })).rejects.toThrow(
      /no value for placeholder 'rows\[1\]\.k'/,
    );
    expect(await db.selectFrom('points').select('k').orderBy('k').execute()).toHaveLength(5);
  });
});

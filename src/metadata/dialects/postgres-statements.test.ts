import { type Kysely, sql } from 'kysely';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type FreshDatabase,
  freshDatabase,
  TEST_DIALECTS,
} from '../../../test/support/dialects.js';
import { constantStatement, constantStatementName } from '../constant-statements.js';
import { type Database, openDatabase } from '../database.js';
import { executeCompiled, prepareQuery } from '../prepared-query.js';
import { MAX_NAMED_PER_CONNECTION } from './postgres-statements.js';

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

/** `select *`: its result columns change when a column is added. */
const pointByKey = prepareQuery((db: Kysely<Db>, p: { k: string }) =>
  db.selectFrom('points').selectAll().where('k', '=', p.k),
);
const pointsAbove = prepareQuery((db: Kysely<Db>, p: { min: number }) =>
  db.selectFrom('points').select(['k', 'v']).where('v', '>', p.min).orderBy('k'),
);
const insertPoint = prepareQuery((db: Kysely<Db>, p: { k: string; v: number | null }) =>
  db.insertInto('points').values({ k: p.k, v: p.v }),
);
const setPoint = prepareQuery((db: Kysely<Db>, p: { k: string; v: number }) =>
  db.updateTable('points').set({ v: p.v }).where('k', '=', p.k),
);

/** The named statements prepared on `db`'s connection. */
// biome-ignore lint/suspicious/noExplicitAny: any schema
async function preparedOn(db: Kysely<any>): Promise<string[]> {
  const { rows } = await sql<{
    name: string;
  }>`select name from pg_prepared_statements order by name`.execute(db);
  return rows.map((r) => r.name);
}

/** The same statement with its text altered (a trailing space): not constant, so unnamed. */
function unnamed<T extends { sql: string }>(q: T): T {
  return { ...q, sql: `${q.sql} ` };
}

describe.each(TEST_DIALECTS)('constant statements on %s', (dialect) => {
  let fresh: FreshDatabase | undefined;
  let database: Database<Db> | undefined;
  afterEach(async () => {
    await database?.close();
    await fresh?.cleanup();
    database = undefined;
    fresh = undefined;
  });

  it('give the same rows as the same statement unnamed, before and after a generic plan', async () => {
    fresh = await freshDatabase(dialect);
    database = await openDatabase<Db>(fresh.config, [migration]);
    const db = database.db;
    await database.writeTransaction(async (trx) => {
      for (const [k, v] of [
        ['a', 1.5],
        ['b', null],
        ['c', 0],
        ['d', 1e300],
        ['e', Number.POSITIVE_INFINITY],
        ['f', 2 ** 53],
      ] as const) {
        await insertPoint.run(trx, { k, v });
      }
    });
    expect(constantStatementName(pointsAbove.compile(db, { min: 0 }).sql)).toMatch(
      /^mv_[0-9a-f]{40}$/,
    );
    // Twelve runs: PostgreSQL may switch a statement to a generic plan after five.
    for (let i = 0; i < 12; i++) {
      for (const min of [-1, 0, 1, 1e301]) {
        const q = pointsAbove.compile(db, { min });
        const named = await executeCompiled(db, q);
        const plain = await executeCompiled(db, unnamed(q));
        expect(named.rows).toEqual(plain.rows);
      }
      for (const k of ['a', 'b', 'c', 'zz']) {
        const q = pointByKey.compile(db, { k });
        expect((await executeCompiled(db, q)).rows).toEqual(
          (await executeCompiled(db, unnamed(q))).rows,
        );
      }
    }
    expect(await pointsAbove.execute(db, { min: 0 })).toEqual([
      { k: 'a', v: 1.5 },
      { k: 'd', v: 1e300 },
      { k: 'e', v: Number.POSITIVE_INFINITY },
      { k: 'f', v: 2 ** 53 },
    ]);
  });
});

describe.each(TEST_DIALECTS.filter((d) => d === 'postgres'))(
  'named statements on %s',
  (dialect) => {
    let fresh: FreshDatabase | undefined;
    let database: Database<Db> | undefined;
    let other: pg.Client | undefined;
    afterEach(async () => {
      await other?.end();
      await database?.close();
      await fresh?.cleanup();
      other = undefined;
      database = undefined;
      fresh = undefined;
    });

    /** The database with one pooled connection, and a second session on it (another replica). */
    async function open(): Promise<{ database: Database<Db>; other: pg.Client }> {
      fresh = await freshDatabase(dialect);
      if (fresh.config.kind !== 'postgres') throw new Error('postgres only');
      database = await openDatabase<Db>({ ...fresh.config, maxConnections: 1 }, [migration]);
      other = new pg.Client({ connectionString: fresh.config.url });
      await other.connect();
      await database.writeTransaction(async (trx) => {
        await insertPoint.run(trx, { k: 'a', v: 1 });
        await insertPoint.run(trx, { k: 'b', v: 2 });
      });
      return { database, other };
    }

    it('prepare a constant statement once per connection, and only constant ones', async () => {
      const { database } = await open();
      const db = database.db;
      const name = constantStatementName(pointByKey.compile(db, { k: 'a' }).sql);
      const rawText = constantStatement('select count(*)::int as n from points where v >= $1');
      await db.connection().execute(async (conn) => {
        for (const k of ['a', 'b', 'a', 'x']) await pointByKey.execute(conn, { k });
        await executeCompiled(conn, {
          ...pointByKey.compile(conn, { k: 'a' }),
          sql: rawText,
          parameters: [2],
        });
        // Built queries with other texts stay unnamed.
        await conn.selectFrom('points').select('k').where('k', 'in', ['a', 'b']).execute();
        const names = await preparedOn(conn);
        expect(names).toContain(name);
        expect(names).toContain(constantStatementName(rawText));
        expect(names).toContain(
          constantStatementName(insertPoint.compile(db, { k: '', v: 0 }).sql),
        );
        expect(names.every((n) => /^mv_[0-9a-f]{40}$/.test(n))).toBe(true);
        const { rows } = await sql<{
          statement: string;
        }>`select statement from pg_prepared_statements where name = ${name}`.execute(conn);
        expect(rows[0]?.statement).toBe(pointByKey.compile(db, { k: 'a' }).sql);
      });
    });

    it(`keep at most ${MAX_NAMED_PER_CONNECTION} names a connection; the rest run unnamed`, async () => {
      const { database } = await open();
      const texts = Array.from({ length: MAX_NAMED_PER_CONNECTION + 20 }, (_, i) =>
        constantStatement(`select $1::int + ${i} as n`),
      );
      await database.db.connection().execute(async (conn) => {
        const before = (await preparedOn(conn)).length;
        for (const [i, text] of texts.entries()) {
          const { rows } = await conn.executeQuery({
            ...pointByKey.compile(conn, { k: 'a' }),
            sql: text,
            parameters: [1000],
          });
          expect(rows).toEqual([{ n: 1000 + i }]);
        }
        const names = await preparedOn(conn);
        expect(names.length).toBe(MAX_NAMED_PER_CONNECTION);
        expect(names.length).toBeGreaterThan(before);
      });
    });

    // Another replica migrating (a rolling upgrade) changes the result columns of `select *`:
    // PostgreSQL then refuses the prepared statement ("cached plan must not change result
    // type", 0A000) until it is parsed again.
    it('recover when another session adds a column under a prepared select *, outside a transaction', async () => {
      const { database, other } = await open();
      const db = database.db;
      expect(await pointByKey.execute(db, { k: 'a' })).toEqual([{ k: 'a', v: 1 }]);
      await other.query('alter table points add column note text');
      await other.query(`update points set note = 'n' where k = 'a'`);
      expect(await pointByKey.execute(db, { k: 'a' })).toEqual([{ k: 'a', v: 1, note: 'n' }]);
      expect(await pointByKey.execute(db, { k: 'b' })).toEqual([{ k: 'b', v: 2, note: null }]);
      // The other statements of the connection were forgotten and are prepared anew.
      expect(await pointsAbove.execute(db, { min: 0 })).toEqual([
        { k: 'a', v: 1 },
        { k: 'b', v: 2 },
      ]);
      await other.query('alter table points drop column note');
      expect(await pointByKey.execute(db, { k: 'a' })).toEqual([{ k: 'a', v: 1 }]);
    });

    it('run a write transaction again when a schema change made its named statement stale', async () => {
      const { database, other } = await open();
      const write = (k: string) => {
        let attempts = 0;
        const result = database.writeTransaction(async (trx) => {
          attempts++;
          await insertPoint.run(trx, { k, v: 3 });
          return pointByKey.execute(trx, { k: 'a' });
        });
        return result.then((rows) => ({ rows, attempts }));
      };
      expect(await write('c')).toEqual({ rows: [{ k: 'a', v: 1 }], attempts: 1 });
      await other.query('alter table points add column note text');
      // The first attempt's insert is rolled back with it: 'd' is written once.
      expect(await write('d')).toEqual({ rows: [{ k: 'a', v: 1, note: null }], attempts: 2 });
      expect(await write('e')).toEqual({ rows: [{ k: 'a', v: 1, note: null }], attempts: 1 });
      const { rows } = await other.query('select k from points order by k');
      expect(rows.map((r) => r.k)).toEqual(['a', 'b', 'c', 'd', 'e']);
    });

    it('recover from statements deallocated behind the client', async () => {
      const { database } = await open();
      await database.db.connection().execute(async (conn) => {
        expect(await pointsAbove.execute(conn, { min: 1 })).toEqual([{ k: 'b', v: 2 }]);
        await sql`deallocate all`.execute(conn);
        expect(await pointsAbove.execute(conn, { min: 1 })).toEqual([{ k: 'b', v: 2 }]);
        expect(await preparedOn(conn)).toContain(
          constantStatementName(pointsAbove.compile(conn, { min: 1 }).sql),
        );
      });
    });

    it('roll a failed transaction back with its named statements, and keep them usable', async () => {
      const { database } = await open();
      await expect(
        database.writeTransaction(async (trx) => {
          await insertPoint.run(trx, { k: 'c', v: 3 });
          await insertPoint.run(trx, { k: 'a', v: 4 }); // duplicate key
        }),
      ).rejects.toMatchObject({ code: '23505' });
      await expect(
        database.writeTransaction(async (trx) => {
          await insertPoint.run(trx, { k: 'c', v: 3 });
          throw new Error('abandoned');
        }),
      ).rejects.toThrow('abandoned');
      expect(await pointsAbove.execute(database.db, { min: 0 })).toEqual([
        { k: 'a', v: 1 },
        { k: 'b', v: 2 },
      ]);
      await database.writeTransaction((trx) => insertPoint.run(trx, { k: 'c', v: 3 }));
      expect(await pointByKey.execute(database.db, { k: 'c' })).toEqual([{ k: 'c', v: 3 }]);
    });

    it('still run a write transaction again after a deadlock', async () => {
      const { database, other } = await open();
      // The other session waits long before checking for a deadlock, so this one detects it
      // (deadlock_timeout 1 s) and is the one rolled back.
      await other.query(`set deadlock_timeout = '60s'`);
      await other.query('begin');
      await other.query(`update points set v = 20 where k = 'b'`);
      let attempts = 0;
      let otherDone: Promise<unknown> | undefined;
      await database.writeTransaction(async (trx) => {
        attempts++;
        await setPoint.run(trx, { k: 'a', v: 10 + attempts });
        if (attempts === 1) {
          // The other session now waits for 'a', while this one waits for 'b'.
          otherDone = other
            .query(`update points set v = 21 where k = 'a'`)
            .then(() => other?.query('commit'));
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        await setPoint.run(trx, { k: 'b', v: 30 + attempts });
      });
      await otherDone;
      expect(attempts).toBe(2);
      expect(await pointsAbove.execute(database.db, { min: 0 })).toEqual([
        { k: 'a', v: 12 },
        { k: 'b', v: 32 },
      ]);
    });
  },
);

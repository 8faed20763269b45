/**
 * SQLite write transactions: prepared statements run directly on the transaction's
 * connection (metadata/direct-execution.ts), and LIMIT/OFFSET are literals
 * (sqlite-inline-limits.ts). Real SQLite files.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Kysely, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../database.js';
import { directRunnerOf } from '../direct-execution.js';
import { prepareQuery } from '../prepared-query.js';

interface Db {
  points: { k: string; v: number };
}

const migration = {
  name: '0001-points',
  // biome-ignore lint/suspicious/noExplicitAny: a migration runs before the typed schema exists
  up: async (db: Kysely<any>) => {
    await db.schema
      .createTable('points')
      .addColumn('k', 'text', (c) => c.primaryKey())
      .addColumn('v', 'integer', (c) => c.notNull())
      .execute();
  },
};

const insert = prepareQuery((db: Kysely<Db>, p: { k: string; v: number }) =>
  db.insertInto('points').values({ k: p.k, v: p.v }),
);
const byKey = prepareQuery((db: Kysely<Db>, p: { k: string }) =>
  db.selectFrom('points').select(['k', 'v']).where('k', '=', p.k),
);

/**
 * Starts a write transaction that inserts (k, v), then stays open until `release()`;
 * resolves once the insert ran (the transaction holds the connection). `fail` rolls it back.
 */
async function holdWrite(
  database: Database<Db>,
  k: string,
  v: number,
  fail = false,
): Promise<{ tx: Promise<void>; release: () => void }> {
  let release!: () => void;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  let written!: () => void;
  const wrote = new Promise<void>((resolve) => {
    written = resolve;
  });
  const tx = database.writeTransaction(async (trx) => {
    await insert.run(trx, { k, v });
    written();
    await held;
    if (fail) throw new Error('roll back');
  });
  tx.catch(() => undefined);
  await wrote;
  return { tx, release };
}

describe('SQLite statements', () => {
  let dir: string | undefined;
  let database: Database<Db> | undefined;
  afterEach(async () => {
    await database?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    database = undefined;
    dir = undefined;
  });

  async function open(): Promise<Database<Db>> {
    dir = await mkdtemp(join(tmpdir(), 'mv-direct-'));
    database = await openDatabase<Db>({ kind: 'sqlite', path: join(dir, 'm.db') }, [migration]);
    return database;
  }

  it('run directly inside a write transaction only, with Kysely’s results', async () => {
    const { db, writeTransaction } = await open();
    expect(directRunnerOf(db)).toBeUndefined();
    let inside: Kysely<Db> | undefined;
    const results = await writeTransaction(async (trx) => {
      inside = trx;
      expect(directRunnerOf(trx)).toBeDefined();
      const written = await insert.run(trx, { k: 'a', v: 1 });
      await insert.run(trx, { k: 'b', v: 2 });
      return { written, read: await byKey.execute(trx, { k: 'b' }) };
    });
    expect(results.written.numAffectedRows).toBe(1n);
    expect(results.written.insertId).toBe(1n);
    expect(results.read).toEqual([{ k: 'b', v: 2 }]);
    // Unbound once the transaction ended.
    expect(directRunnerOf(inside!)).toBeUndefined();
    expect(await byKey.execute(db, { k: 'a' })).toEqual([{ k: 'a', v: 1 }]);
  });

  it('a failing direct statement rolls the whole transaction back', async () => {
    const { db, writeTransaction } = await open();
    await expect(
      writeTransaction(async (trx) => {
        await insert.run(trx, { k: 'a', v: 1 });
        await insert.run(trx, { k: 'a', v: 2 }); // primary key
      }),
    ).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT_PRIMARYKEY' });
    expect(await db.selectFrom('points').selectAll().execute()).toEqual([]);
    // The connection is usable afterwards.
    await writeTransaction(async (trx) => {
      await insert.run(trx, { k: 'a', v: 3 });
    });
    expect(await byKey.execute(db, { k: 'a' })).toEqual([{ k: 'a', v: 3 }]);
  });

  it('reads outside the transaction do not see its uncommitted writes', async () => {
    const opened = await open();
    const { db } = opened;
    const { tx, release } = await holdWrite(opened, 'a', 1, true);
    // Queued behind the open transaction (one connection), so it runs after the rollback.
    const read = byKey.execute(db, { k: 'a' });
    release();
    await expect(tx).rejects.toThrow('roll back');
    expect(await read).toEqual([]);
  });

  it('run directly inside a group of reads, after any open transaction, and not after it', async () => {
    const opened = await open();
    const { db, writeTransaction, reads } = opened;
    await writeTransaction(async (trx) => {
      await insert.run(trx, { k: 'a', v: 1 });
    });
    let inside: Kysely<Db> | undefined;
    const read = await reads(async (conn) => {
      inside = conn;
      expect(directRunnerOf(conn)).toBeDefined();
      return Promise.all([byKey.execute(conn, { k: 'a' }), byKey.execute(conn, { k: 'zz' })]);
    });
    expect(read).toEqual([[{ k: 'a', v: 1 }], []]);
    expect(directRunnerOf(inside!)).toBeUndefined();
    // A group waits for an open transaction (one connection) and sees only its commit.
    const { tx, release } = await holdWrite(opened, 'b', 2);
    const during = reads((conn) => byKey.execute(conn, { k: 'b' }));
    release();
    await tx;
    expect(await during).toEqual([{ k: 'b', v: 2 }]);
    // A failing read leaves the connection usable and unbound.
    await expect(
      reads(async (conn) => {
        await sql`select * from no_such_table`.execute(conn);
      }),
    ).rejects.toThrow(/no such table/);
    expect(await byKey.execute(db, { k: 'a' })).toEqual([{ k: 'a', v: 1 }]);
  });

  it('take integer LIMIT and OFFSET as literals, other values as parameters', async () => {
    const { db, writeTransaction } = await open();
    await writeTransaction(async (trx) => {
      for (const [k, v] of [
        ['a', 1],
        ['b', 2],
        ['c', 3],
        ['d', 4],
      ] as const) {
        await insert.run(trx, { k, v });
      }
    });
    const q = db.selectFrom('points').select('k').orderBy('k').limit(2).offset(1);
    const compiled = q.compile();
    expect(compiled.sql).toMatch(/ limit 2 offset 1$/);
    expect(compiled.parameters).toEqual([]);
    expect(await q.execute()).toEqual([{ k: 'b' }, { k: 'c' }]);
    // An expression (not a plain integer) stays as it was.
    const expr = db.selectFrom('points').select('k').orderBy('k').limit(sql<number>`${3} - 2`);
    expect(expr.compile().sql).toMatch(/ limit \? - 2$/);
    expect(await expr.execute()).toEqual([{ k: 'a' }]);
    // A prepared query's placeholder stays a parameter.
    const page = prepareQuery((d: Kysely<Db>, p: { n: number }) =>
      d.selectFrom('points').select('k').orderBy('k').limit(p.n),
    );
    expect(page.compile(db, { n: 3 }).parameters).toEqual([3]);
    expect(await page.execute(db, { n: 3 })).toHaveLength(3);
  });
});

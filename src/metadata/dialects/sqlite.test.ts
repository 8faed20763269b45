import { statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../database.js';
import { openSqlite, WAL_CHECKPOINT_PAGES } from './sqlite.js';

describe('SQLite write transactions', () => {
  let dir: string;
  let database: Database<Record<string, never>>;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mv-sqlite-'));
    database = await openSqlite(join(dir, 'm.db'), []);
    await sql`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`.execute(database.db);
  });
  afterEach(async () => {
    await database.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** The `synchronous` level a transaction commits with (1 NORMAL, 2 FULL), and a write. */
  async function levelOf(durable: boolean): Promise<number> {
    return database.writeTransaction(
      async (trx) => {
        await sql`INSERT INTO t (v) VALUES ('x')`.execute(trx);
        const { rows } = await sql<{ synchronous: number }>`PRAGMA synchronous`.execute(trx);
        return rows[0]!.synchronous;
      },
      { durable },
    );
  }

  it('commits relaxed writes without fsync and durable ones with it, in any order', async () => {
    const levels = [];
    for (const durable of [true, false, false, true, false, true, true]) {
      levels.push(await levelOf(durable));
    }
    expect(levels).toEqual([2, 1, 1, 2, 1, 2, 2]);
    const { rows } = await sql<{ n: number }>`SELECT count(*) AS n FROM t`.execute(database.db);
    expect(rows[0]!.n).toBe(7);
  });

  it('rolls back a failed transaction and keeps the next one durable', async () => {
    await expect(
      database.writeTransaction(
        async (trx) => {
          await sql`INSERT INTO t (v) VALUES ('lost')`.execute(trx);
          throw new Error('boom');
        },
        { durable: false },
      ),
    ).rejects.toThrow('boom');
    expect(await levelOf(true)).toBe(2);
    const { rows } = await sql<{ v: string }>`SELECT v FROM t`.execute(database.db);
    expect(rows.map((r) => r.v)).toEqual(['x']);
  });

  it('keeps statement journals in memory, and a statement failing half-way undoes only itself', async () => {
    const { rows } = await sql<{ temp_store: number }>`PRAGMA temp_store`.execute(database.db);
    expect(rows[0]!.temp_store).toBe(2); // MEMORY: no temp file per multi-row statement
    // Enough rows on enough pages that the statement's journal would spill to a file (> 64 KiB).
    const values = (from: number, n: number) =>
      sql.join(
        Array.from({ length: n }, (_, i) => sql`(${from + i}, ${'v'.repeat(500)})`),
        sql`, `,
      );
    await database.writeTransaction(async (trx) => {
      await sql`INSERT INTO t (id, v) VALUES ${values(1, 400)}`.execute(trx);
      // Rows 401..799 go in, then row 400 collides: this statement alone is undone.
      await expect(
        sql`INSERT INTO t (id, v) VALUES ${values(401, 399)}, (400, 'dup')`.execute(trx),
      ).rejects.toThrow();
      await sql`INSERT INTO t (id, v) VALUES (1000, 'after')`.execute(trx);
    });
    const { rows: after } = await sql<{ n: number; top: number }>`
      SELECT count(*) AS n, max(id) AS top FROM t`.execute(database.db);
    expect(after[0]).toEqual({ n: 401, top: 1000 });
  });
});

describe('SQLite WAL checkpoints', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mv-sqlite-wal-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  type Db = Record<string, never>;
  const pragma = async (d: Database<Db>, name: string) =>
    Object.values(
      (await sql.raw<Record<string, number>>(`PRAGMA ${name}`).execute(d.db)).rows[0]!,
    )[0];
  const insert = (d: Database<Db>, from: number, n: number) =>
    d.writeTransaction(async (trx) => {
      await sql`INSERT INTO t (id, v) VALUES ${sql.join(
        Array.from({ length: n }, (_, i) => sql`(${from + i}, ${'v'.repeat(4000)})`),
      )}`.execute(trx);
    });

  it('checkpoints every WAL_CHECKPOINT_PAGES pages and cuts the WAL file back to that size after a spike', async () => {
    const file = join(dir, 'm.db');
    const wal = `${file}-wal`;
    const byDefault = await openSqlite<Db>(join(dir, 'default.db'), []);
    expect(await pragma(byDefault, 'wal_autocheckpoint')).toBe(WAL_CHECKPOINT_PAGES);
    expect(await pragma(byDefault, 'journal_size_limit')).toBe(
      32 + WAL_CHECKPOINT_PAGES * (24 + 4096),
    );
    await byDefault.close();

    const pages = 100;
    const frame = 24 + 4096;
    const limit = 32 + pages * frame;
    const d = await openSqlite<Db>(file, [], { walCheckpointPages: pages });
    expect(await pragma(d, 'wal_autocheckpoint')).toBe(pages);
    expect(await pragma(d, 'journal_size_limit')).toBe(limit);
    await sql`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`.execute(d.db);
    // A spike: one transaction of ~300 pages, three times the interval.
    await insert(d, 1, 300);
    expect(statSync(wal).size).toBeGreaterThan(300 * frame);
    // Its commit crossed wal_autocheckpoint, so the whole WAL went into the database file:
    // the next writer starts the WAL from its beginning and cuts the file back.
    await insert(d, 301, 1);
    expect(statSync(wal).size).toBeLessThanOrEqual(limit);
    // Steady small writes: checkpointed every `pages` pages, the WAL file no larger.
    let largest = 0;
    for (let i = 0; i < 400; i++) {
      await insert(d, 302 + i, 1);
      largest = Math.max(largest, statSync(wal).size);
    }
    expect(largest).toBeLessThanOrEqual(32 + (pages + 5) * frame);
    await d.close();

    const again = await openSqlite<Db>(file, []);
    const { rows } = await sql<{ n: number; ids: number; bytes: number }>`
      SELECT count(*) AS n, sum(id) AS ids, sum(length(v)) AS bytes FROM t`.execute(again.db);
    await again.close();
    expect(rows[0]).toEqual({ n: 701, ids: (701 * 702) / 2, bytes: 701 * 4000 });
  });
});

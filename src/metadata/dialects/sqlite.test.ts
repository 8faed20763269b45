import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../database.js';
import { openSqlite } from './sqlite.js';

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
});

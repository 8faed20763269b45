import Database from 'better-sqlite3';
import { type Generated, Kysely, SqliteDialect, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { withStatementCache } from './statement-cache.js';

describe('withStatementCache', () => {
  let raw: Database.Database;
  let prepared: string[];
  afterEach(() => raw?.open && raw.close());

  function open(capacity?: number) {
    raw = new Database(':memory:');
    prepared = [];
    const counting = {
      prepare: (text: string) => {
        prepared.push(text);
        return raw.prepare(text);
      },
      close: () => raw.close(),
    };
    raw.exec('CREATE TABLE t (id integer primary key, v text)');
    return withStatementCache(counting, capacity);
  }

  it('prepares a SQL text once and reuses it for all and run', () => {
    const db = open();
    db.prepare('INSERT INTO t (v) VALUES (?)').run(['a']);
    db.prepare('INSERT INTO t (v) VALUES (?)').run(['b']);
    expect(db.prepare('SELECT v FROM t ORDER BY id').all([])).toEqual([{ v: 'a' }, { v: 'b' }]);
    expect(db.prepare('SELECT v FROM t ORDER BY id').all([])).toHaveLength(2);
    expect(prepared).toEqual(['INSERT INTO t (v) VALUES (?)', 'SELECT v FROM t ORDER BY id']);
  });

  it('evicts the least recently used statement beyond its capacity', () => {
    const db = open(2);
    db.prepare('SELECT 1').all([]);
    db.prepare('SELECT 2').all([]);
    db.prepare('SELECT 1').all([]); // 1 is now the most recent
    db.prepare('SELECT 3').all([]); // evicts 2
    db.prepare('SELECT 1').all([]);
    db.prepare('SELECT 2').all([]);
    expect(prepared).toEqual(['SELECT 1', 'SELECT 2', 'SELECT 3', 'SELECT 2']);
  });

  it('gives an iterator its own statement, so the same query can run inside its loop', () => {
    const db = open();
    db.prepare('INSERT INTO t (v) VALUES (?)').run(['a']);
    db.prepare('INSERT INTO t (v) VALUES (?)').run(['b']);
    const seen: unknown[] = [];
    for (const row of db.prepare('SELECT v FROM t ORDER BY id').iterate([])) {
      seen.push(row, db.prepare('SELECT v FROM t ORDER BY id').all([]).length);
    }
    expect(seen).toEqual([{ v: 'a' }, 2, { v: 'b' }, 2]);
  });

  it('sees a schema change through a cached statement, under Kysely', async () => {
    const db = open();
    const k = new Kysely<{ t: { id: Generated<number>; v: string; w?: string } }>({
      dialect: new SqliteDialect({ database: db }),
    });
    await k.insertInto('t').values({ v: 'a' }).execute();
    expect(await sql`SELECT * FROM t`.execute(k)).toMatchObject({ rows: [{ id: 1, v: 'a' }] });
    await sql`ALTER TABLE t ADD COLUMN w text DEFAULT 'x'`.execute(k);
    expect((await sql`SELECT * FROM t`.execute(k)).rows).toEqual([{ id: 1, v: 'a', w: 'x' }]);
    await k.destroy();
    expect(raw.open).toBe(false);
  });
});

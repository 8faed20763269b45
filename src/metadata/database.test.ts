import { fork } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { type FreshDatabase, freshDatabase, TEST_DIALECTS } from '../../test/support/dialects.js';
import { REGISTRY_MIGRATIONS } from '../registry/local-registry.js';
import { storageMigrations } from '../storage/index/storage-migrations.js';
import {
  type DatabaseConfig,
  databaseConfigFrom,
  type NamedMigration,
  openDatabase,
} from './database.js';

const OPENER = fileURLToPath(new URL('../../test/support/concurrent-opener.mjs', import.meta.url));

type Reply = { ok: true } | { error: string };

function location(config: DatabaseConfig): string {
  return config.kind === 'sqlite' ? config.path : config.url;
}

function startOpener(config: DatabaseConfig, worker: number) {
  const child = fork(OPENER, [location(config), String(worker)], {
    execArgv: [], // plain node: the child is JavaScript over dist/
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let reply: Reply | undefined;
  const ready = new Promise<void>((resolve) => {
    child.on('message', (m: { ready?: boolean } & Partial<Reply>) => {
      if (m.ready) resolve();
      else reply = m as Reply;
    });
  });
  const done = new Promise<Reply>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) =>
      reply ? resolve(reply) : reject(new Error(`opener ${worker} exited with ${code}`)),
    );
  });
  return { ready, done, go: () => child.send('go') };
}

const ALL = [...storageMigrations, ...REGISTRY_MIGRATIONS];

describe('databaseConfigFrom', () => {
  it('reads postgres URLs as PostgreSQL and anything else as a SQLite path', () => {
    expect(databaseConfigFrom('postgres://u:p@h:5432/d')).toEqual({
      kind: 'postgres',
      url: 'postgres://u:p@h:5432/d',
    });
    expect(databaseConfigFrom('postgresql://h/d').kind).toBe('postgres');
    expect(databaseConfigFrom('/tmp/x.db')).toEqual({ kind: 'sqlite', path: '/tmp/x.db' });
    expect(() => databaseConfigFrom('mysql://u:secret@h/d')).toThrow(/unsupported.*\*\*\*/);
    expect(() => databaseConfigFrom('mysql://u:secret@h/d')).not.toThrow(/secret/);
    expect(() => databaseConfigFrom('')).toThrow(/empty/);
  });
});

describe('openDatabase on PostgreSQL', () => {
  it('says which server it cannot reach, without the password', async () => {
    const failure = openDatabase(
      { kind: 'postgres', url: 'postgres://mv:hunter2@127.0.0.1:1/none' },
      storageMigrations,
    );
    await expect(failure).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(failure).rejects.toThrow(
      /cannot connect to PostgreSQL at postgres:\/\/mv:\*\*\*@/,
    );
    await expect(failure).rejects.not.toThrow(/hunter2/);
  });
});

describe.each(TEST_DIALECTS)('openDatabase on %s', (dialect) => {
  let fresh: FreshDatabase | undefined;
  afterEach(async () => {
    await fresh?.cleanup();
    fresh = undefined;
  });

  it('lets many processes create and migrate one brand-new database at the same time', async () => {
    fresh = await freshDatabase(dialect);
    const openers = Array.from({ length: 8 }, (_, i) => startOpener(fresh!.config, i + 1));
    await Promise.all(openers.map((o) => o.ready));
    for (const o of openers) o.go();
    const replies = await Promise.all(openers.map((o) => o.done));
    expect(replies).toEqual(openers.map(() => ({ ok: true })));

    const database = await openDatabase(fresh.config, ALL);
    try {
      const applied = await sql<{ name: string }>`select name from kysely_migration order by name`
        .execute(database.db)
        .then((r) => r.rows);
      expect(applied).toEqual(ALL.map((m) => ({ name: m.name })));
      const leases = await sql<{ n: number }>`select count(*) as n from storage_leases`.execute(
        database.db,
      );
      expect(leases.rows).toEqual([{ n: 8 }]);
    } finally {
      await database.close();
    }
  });

  it('reopens an up-to-date database and applies a migration added later', async () => {
    fresh = await freshDatabase(dialect);
    const first = await openDatabase(fresh.config, storageMigrations);
    await first.close();
    const later = await openDatabase(fresh.config, ALL);
    await later.close();
    const again = await openDatabase(fresh.config, ALL);
    try {
      const count = await sql<{ n: number }>`select count(*) as n from kysely_migration`.execute(
        again.db,
      );
      expect(count.rows).toEqual([{ n: ALL.length }]);
    } finally {
      await again.close();
    }
  });

  it('rolls a failed migration back whole and names it', async () => {
    fresh = await freshDatabase(dialect);
    const broken = {
      name: '9999-broken',
      // biome-ignore lint/suspicious/noExplicitAny: migrations are untyped
      async up(db: any) {
        await db.schema.createTable('half_done').addColumn('x', 'integer').execute();
        await sql`select * from no_such_table`.execute(db);
      },
    };
    const failure = openDatabase(fresh.config, [...ALL, broken]);
    await expect(failure).rejects.toMatchObject({
      code: 'INTERNAL',
      details: { migration: '9999-broken' },
    });
    await expect(failure).rejects.toThrow(/9999-broken failed: .*no_such_table/);
    const database = await openDatabase(fresh.config, []);
    try {
      // Nothing of the failed run was kept, on either dialect: it was one transaction.
      const count = await sql<{ n: number }>`select count(*) as n from kysely_migration`.execute(
        database.db,
      );
      expect(count.rows).toEqual([{ n: 0 }]);
      await expect(sql`select * from half_done`.execute(database.db)).rejects.toThrow(/half_done/);
    } finally {
      await database.close();
    }
  });

  it('returns the same JavaScript types on every dialect', async () => {
    fresh = await freshDatabase(dialect);
    const database = await openDatabase(fresh.config, [
      {
        name: '0001-types',
        async up(db) {
          await db.schema
            .createTable('t')
            .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
            .addColumn('big', 'bigint')
            .addColumn('small', 'integer')
            .addColumn('r', 'real')
            .addColumn('b', 'blob')
            .addColumn('s', 'text')
            .execute();
        },
      },
    ]);
    try {
      const db = database.db as unknown as import('kysely').Kysely<{
        t: {
          id: import('kysely').Generated<number>;
          big: number;
          small: number;
          r: number;
          b: Uint8Array;
          s: string;
        };
      }>;
      const big = Date.UTC(2030, 0, 1) * 1000 + 7; // > 2^31, < 2^53
      const blob = Buffer.from(Array.from({ length: 32 }, (_, i) => i * 8));
      await db
        .insertInto('t')
        .values([
          { big, small: 7, r: 0.1, b: blob, s: 'b' },
          { big: 1, small: 1, r: 1 / 3, b: Buffer.alloc(1), s: 'B' },
          { big: 2, small: 2, r: 2, b: Buffer.alloc(1), s: 'ä' },
          { big: 3, small: 3, r: 3, b: Buffer.alloc(1), s: 'a' },
        ])
        .execute();
      const row = await db.selectFrom('t').selectAll().where('b', '=', blob).executeTakeFirst();
      expect(row).toEqual({ id: 1, big, small: 7, r: 0.1, b: blob, s: 'b' });
      expect(Buffer.isBuffer(row?.b)).toBe(true);
      const third = await db.selectFrom('t').select('r').where('id', '=', 2).executeTakeFirst();
      expect(third?.r).toBe(1 / 3); // 8-byte doubles on both (real → double precision)
      // Text orders by code point (binary), whatever the server's locale.
      const order = await db.selectFrom('t').select('s').orderBy('s').execute();
      expect(order.map((r) => r.s)).toEqual(['B', 'a', 'b', 'ä']);
      const n = await db
        .selectFrom('t')
        .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.max('big').as('m')])
        .executeTakeFirst();
      expect(n).toEqual({ n: 4, m: big });
      // Ids are never reused.
      await db.deleteFrom('t').where('id', '=', 4).execute();
      const { id } = await db
        .insertInto('t')
        .values({ big: 4, small: 4, r: 4, b: Buffer.alloc(1), s: 'c' })
        .returning('id')
        .executeTakeFirstOrThrow();
      expect(id).toBe(5);
    } finally {
      await database.close();
    }
  });

  it('serialises write transactions and rolls a failed one back', async () => {
    fresh = await freshDatabase(dialect);
    const database = await openDatabase(fresh.config, storageMigrations);
    try {
      const db = database.db as unknown as import('kysely').Kysely<{
        storage_leases: { name: string; holder: string; expires_at: number };
      }>;
      // A read-then-write counter: lost updates would show as a total below N.
      await db
        .insertInto('storage_leases')
        .values({ name: 'n', holder: 'x', expires_at: 0 })
        .execute();
      const N = 40;
      await Promise.all(
        Array.from({ length: N }, () =>
          database.writeTransaction(async (trx) => {
            const t = trx as unknown as typeof db;
            const row = await t
              .selectFrom('storage_leases')
              .select('expires_at')
              .where('name', '=', 'n')
              .executeTakeFirstOrThrow();
            await new Promise((r) => setTimeout(r, 1));
            await t
              .updateTable('storage_leases')
              .set({ expires_at: row.expires_at + 1 })
              .where('name', '=', 'n')
              .execute();
          }),
        ),
      );
      await expect(
        database.writeTransaction(async (trx) => {
          await (trx as unknown as typeof db)
            .updateTable('storage_leases')
            .set({ expires_at: -1 })
            .execute();
          throw new Error('changed my mind');
        }),
      ).rejects.toThrow('changed my mind');
      const row = await db.selectFrom('storage_leases').select('expires_at').executeTakeFirst();
      expect(row?.expires_at).toBe(N);
    } finally {
      await database.close();
    }
  });
});

describe.each(TEST_DIALECTS)('Database.compact on %s', (dialect) => {
  let fresh: FreshDatabase | undefined;
  afterEach(async () => {
    await fresh?.cleanup();
    fresh = undefined;
  });

  // A table of 1,500 incompressible 4 KiB rows, of which the last 1,350 are deleted: the
  // space of a dropped table or a migrated-away history, at the end of the file.
  const blobs: NamedMigration = {
    name: '9000-blobs',
    up: async (db) => {
      await db.schema
        .createTable('blobs')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('data', 'text', (c) => c.notNull())
        .execute();
    },
  };
  type Blobs = { blobs: { id: number; data: string } };
  const digest = (rows: readonly { id: number; data: string }[]) =>
    createHash('sha256')
      .update(rows.map((r) => `${r.id}:${r.data}`).join('\n'))
      .digest('hex');

  it('gives deleted rows’ space back and keeps every remaining row', async () => {
    fresh = await freshDatabase(dialect);
    const database = await openDatabase<Blobs>(fresh.config, [blobs]);
    try {
      if (dialect === 'postgres') {
        // Else autovacuum may get to the deleted rows first (the report would show less).
        await sql`alter table blobs set (autovacuum_enabled = false, toast.autovacuum_enabled = false)`.execute(
          database.db,
        );
      }
      for (let batch = 0; batch < 15; batch++) {
        await database.writeTransaction((trx) =>
          trx
            .insertInto('blobs')
            .values(
              Array.from({ length: 100 }, (_, i) => ({
                id: batch * 100 + i,
                data: randomBytes(3072).toString('base64'),
              })),
            )
            .execute(),
        );
      }
      await database.writeTransaction((trx) =>
        trx.deleteFrom('blobs').where('id', '>=', 150).execute(),
      );
      const kept = await database.db.selectFrom('blobs').selectAll().orderBy('id').execute();
      expect(kept).toHaveLength(150);

      const report = await database.compact();
      const deletedBytes = 1350 * 4096;
      if (dialect === 'sqlite') {
        // The deleted rows' pages were free pages; VACUUM returns them and the WAL is
        // checkpointed and truncated, so the file on disk is the smaller database.
        expect(report.freeBytesBefore).toBeGreaterThan(deletedBytes * 0.9);
        expect(report.bytesBefore - report.bytesAfter).toBeGreaterThan(deletedBytes * 0.9);
        const path = (fresh.config as { path: string }).path;
        expect(statSync(path).size).toBe(report.bytesAfter);
        const wal = `${path}-wal`;
        expect(existsSync(wal) ? statSync(wal).size : 0).toBe(0);
        const free = await sql<{ n: number }>`pragma freelist_count`.execute(database.db);
        expect(Object.values(free.rows[0]!)[0]).toBe(0);
        // The connection's statement journals are back in memory (sqlite.ts).
        const temp = await sql<{ t: number }>`pragma temp_store`.execute(database.db);
        expect(Object.values(temp.rows[0]!)[0]).toBe(2);
      } else {
        // VACUUM truncates the heap's (and TOAST's) trailing empty pages.
        expect(report.freeBytesBefore).toBeUndefined();
        expect(report.bytesBefore - report.bytesAfter).toBeGreaterThan(deletedBytes * 0.5);
      }
      const after = await database.db.selectFrom('blobs').selectAll().orderBy('id').execute();
      expect(digest(after)).toBe(digest(kept));
      // Writes go on as before.
      await database.writeTransaction((trx) =>
        trx.insertInto('blobs').values({ id: 5000, data: 'x' }).execute(),
      );
      const count = await database.db
        .selectFrom('blobs')
        .select((e) => e.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      expect(Number(count.n)).toBe(151);
    } finally {
      await database.close();
    }
  });
});

describe.each(TEST_DIALECTS.filter((d) => d === 'postgres'))(
  'write transactions on %s',
  (dialect) => {
    let fresh: FreshDatabase | undefined;
    afterEach(async () => {
      await fresh?.cleanup();
      fresh = undefined;
    });

    interface TransactionState {
      lock_timeout: string;
      synchronous_commit: string;
      /** Modelvault's writer lock (advisory, keys 'MVLT' and 1) held by this session. */
      held: number;
      /** Any session holding it. */
      anyone: number;
    }
    const stateOf = (db: import('kysely').Kysely<unknown>) =>
      sql<TransactionState>`select current_setting('lock_timeout') as lock_timeout,
      current_setting('synchronous_commit') as synchronous_commit,
      (select count(*) from pg_locks where locktype = 'advisory' and granted
        and classid::bigint = 1297501268 and objid::bigint = 1 and objsubid = 2
        and pid = pg_backend_pid()) as held,
      (select count(*) from pg_locks where locktype = 'advisory'
        and classid::bigint = 1297501268 and objid::bigint = 1 and objsubid = 2) as anyone`
        .execute(db)
        .then((r) => r.rows[0]!);

    // The transaction's opening statements go to the server as one query string: each
    // setting and the lock must still hold inside it, and only there.
    it('hold the writer lock, the lock timeout and the durability asked for, only inside', async () => {
      fresh = await freshDatabase(dialect);
      const database = await openDatabase(fresh.config, storageMigrations);
      try {
        const durable = await database.writeTransaction((trx) => stateOf(trx));
        expect(durable).toEqual({
          lock_timeout: '30s',
          synchronous_commit: 'on',
          held: 1,
          anyone: 1,
        });
        const relaxed = await database.writeTransaction((trx) => stateOf(trx), { durable: false });
        expect(relaxed).toEqual({
          lock_timeout: '30s',
          synchronous_commit: 'off',
          held: 1,
          anyone: 1,
        });
        // SET LOCAL ends with the transaction, and so does the lock: the next one, on the
        // same pooled connection or another, starts from the defaults.
        expect(await database.writeTransaction((trx) => stateOf(trx))).toEqual(durable);
        expect(await stateOf(database.db)).toEqual({
          lock_timeout: '0',
          synchronous_commit: 'on',
          held: 0,
          anyone: 0,
        });
        // A failed transaction leaves nothing behind either.
        await expect(
          database.writeTransaction(async (trx) => {
            await sql`select 1 / 0`.execute(trx);
          }),
        ).rejects.toThrow(/division by zero/);
        expect((await stateOf(database.db)).anyone).toBe(0);
        expect(await database.writeTransaction((trx) => stateOf(trx))).toEqual(durable);
      } finally {
        await database.close();
      }
    });
  },
);

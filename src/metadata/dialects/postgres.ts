/**
 * The PostgreSQL dialect of `openDatabase` (scale-out: several replicas share one
 * database). Every difference from SQLite, and why:
 *
 * - Numbers: node-postgres returns `int8` (our `bigint` columns: timestamps, sizes, ids)
 *   and `numeric` (aggregates) as strings; this pool parses them as JS numbers, like
 *   SQLite. An int8 outside the safe-integer range throws rather than losing precision.
 * - DDL: `PortableDdlPlugin` (blob → bytea, real → double precision, autoIncrement →
 *   identity, text → collate "C" so ordering and comparisons are by code point, as on
 *   SQLite, whatever locale the database was created with).
 * - Writers: `writeTransaction` is a READ COMMITTED transaction that first takes
 *   `pg_advisory_xact_lock(WRITER_LOCK)`. Every writer of every replica queues on that one
 *   lock, and each statement after it sees every earlier writer's commit, so
 *   read-then-write logic (next version number, alias moves, the audit chain's last hash,
 *   upload sessions, GC leases) behaves exactly as under SQLite's single writer. Within a
 *   process, writers queue in memory first, so a burst of writes holds one pooled
 *   connection, not one each. The lock wait is bounded (`lock_timeout`, the same 30 s as
 *   SQLite's busy timeout → LockedError). Serialization failures and deadlocks (40001,
 *   40P01: e.g. with a concurrent migration) roll back and run `fn` again, a few times.
 * - `durable: false`: `SET LOCAL synchronous_commit = off` — the commit returns before its
 *   WAL record is flushed; a crash of the server may lose it, never corrupt anything.
 * - Constant statements (every `PreparedQuery`, the raw texts marked with
 *   `constantStatement`) run as named statements, parsed once per pooled connection
 *   (postgres-statements.ts); a transaction whose named statement a concurrent schema
 *   change made stale runs again, like one that hit a deadlock.
 * - Migrations: one transaction holding `pg_advisory_xact_lock(MIGRATION_LOCK)`; DDL is
 *   transactional on PostgreSQL, so a migration applies wholly or not at all, and replicas
 *   starting together migrate one at a time (the later ones find nothing to do).
 */
import { CompiledQuery, Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { LockedError, ModelvaultError } from '../../core/errors.js';
import type { Database } from '../database.js';
import { redactUrl } from '../database-config.js';
import { allApplied, applyMigrations, type NamedMigration, sortedMigrations } from './migrate.js';
import { PortableDdlPlugin } from './portable-ddl.js';
import { isStaleStatementError, NamedStatementClient } from './postgres-statements.js';
import { BUSY_TIMEOUT_MS } from './sqlite.js';

/** Advisory lock keys (two int4: a Modelvault namespace, then the lock). */
const LOCK_NAMESPACE = 0x4d564c54; // 'MVLT'
const WRITER_LOCK = 1;
const MIGRATION_LOCK = 2;
/** How many times a transaction is retried after a serialization failure or deadlock. */
const MAX_ATTEMPTS = 5;

const INT8_OID = 20;
const NUMERIC_OID = 1700;

function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${text} exceeds 2^53`);
  return n;
}

const typeParsers = {
  // biome-ignore lint/suspicious/noExplicitAny: pg's overloads are typed per format
  getTypeParser: ((oid: number, format?: 'text' | 'binary'): any => {
    if (oid === INT8_OID) return parseInt8;
    if (oid === NUMERIC_OID) return Number;
    return pg.types.getTypeParser(oid, format);
  }) as typeof pg.types.getTypeParser,
};

function sqlState(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Serialization failure, deadlock, or a named statement made stale by a schema change
 * (postgres-statements.ts): the transaction did nothing and may simply run again.
 */
function isRetryable(e: unknown): boolean {
  const code = sqlState(e);
  return code === '40001' || code === '40P01' || isStaleStatementError(e);
}

/** A promise chain: `run` calls execute one at a time, in call order. */
class InProcessQueue {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn, fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/**
 * The statements that open a locked transaction, as one simple query (one round trip
 * instead of three or four: each is a network round trip, and every write pays them):
 * BEGIN, its lock timeout, `synchronous_commit = off` when `relaxed`, then the advisory
 * lock `key`. Statements after BEGIN in one query string run inside that transaction, and
 * the first that fails ends the string with its error (the lock's 55P03 as before).
 */
function transactionStart(key: number, relaxed: boolean): CompiledQuery {
  return CompiledQuery.raw(
    [
      'BEGIN',
      `SET LOCAL lock_timeout = '${BUSY_TIMEOUT_MS}ms'`,
      ...(relaxed ? ['SET LOCAL synchronous_commit = off'] : []),
      `select pg_advisory_xact_lock(${LOCK_NAMESPACE}, ${key})`,
    ].join('; '),
  );
}

/** Runs `fn` inside BEGIN … COMMIT on `conn`, after taking the advisory lock `key`. */
async function lockedTransaction<DB, T>(
  conn: Kysely<DB>,
  key: number,
  what: string,
  fn: (trx: Kysely<DB>) => Promise<T>,
  relaxed = false,
): Promise<T> {
  const start = transactionStart(key, relaxed);
  for (let attempt = 1; ; attempt++) {
    try {
      try {
        await conn.executeQuery(start);
      } catch (e) {
        if (sqlState(e) === '55P03') {
          throw new LockedError(
            `the metadata database is busy (${what}): another writer held its lock for ${BUSY_TIMEOUT_MS} ms`,
          );
        }
        throw e;
      }
      const result = await fn(conn);
      await sql`COMMIT`.execute(conn);
      return result;
    } catch (e) {
      await sql`ROLLBACK`.execute(conn).catch(() => undefined);
      if (!isRetryable(e) || attempt >= MAX_ATTEMPTS) throw e;
      const delay = Math.min(500, 10 * 2 ** attempt) * (0.5 + Math.random() / 2);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/**
 * Connects to the PostgreSQL database at `url` and migrates it.
 * @throws ModelvaultError('UNAVAILABLE') when the server cannot be reached or refuses the
 *   login (the message names the URL without its password).
 */
export async function openPostgres<DB>(
  url: string,
  migrations: readonly NamedMigration[],
  options: { readonly maxConnections?: number } = {},
): Promise<Database<DB>> {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.maxConnections ?? 10,
    types: typeParsers,
    Client: NamedStatementClient,
  });
  // An idle client whose server connection drops emits 'error' on the pool; without a
  // listener that would crash the process. The pool replaces the client on next use.
  pool.on('error', () => undefined);
  const db = new Kysely<DB>({
    dialect: new PostgresDialect({ pool }),
    plugins: [new PortableDdlPlugin()],
  });
  try {
    await sql`select 1`.execute(db).catch((e: unknown) => {
      throw new ModelvaultError(
        'UNAVAILABLE',
        `cannot connect to PostgreSQL at ${redactUrl(url)}: ${(e as Error).message}`,
        { database: redactUrl(url) },
        { cause: e },
      );
    });
    const sorted = sortedMigrations(migrations);
    if (
      !(await allApplied(
        db,
        sorted.map((m) => m.name),
      ))
    ) {
      await db.connection().execute((conn) =>
        lockedTransaction(conn, MIGRATION_LOCK, 'migrating', async (trx) => {
          const { rows } = await sql<{
            schema: string | null;
          }>`select current_schema() as schema`.execute(trx);
          await applyMigrations(trx, sorted, { schema: rows[0]?.schema ?? undefined });
        }),
      );
    }
  } catch (e) {
    await db.destroy();
    throw e;
  }

  const writers = new InProcessQueue();
  return {
    db,
    kind: 'postgres',
    writeTransaction: <T>(
      fn: (trx: Kysely<DB>) => Promise<T>,
      options?: { readonly durable?: boolean },
    ) =>
      writers.run(() =>
        db
          .connection()
          .execute((conn) =>
            lockedTransaction(
              conn,
              WRITER_LOCK,
              'starting a write',
              fn,
              options?.durable === false,
            ),
          ),
      ),
    // A pool: independent statements of `fn` may run on several connections at once.
    reads: (fn) => fn(db),
    compact: async () => {
      const schemaBytes = async () => {
        const { rows } = await sql<{ bytes: string | null }>`
          select sum(pg_total_relation_size(format('%I.%I', schemaname, tablename)))::text as bytes
          from pg_tables where schemaname = current_schema()`.execute(db);
        return Number(rows[0]?.bytes ?? 0);
      };
      const bytesBefore = await schemaBytes();
      const { rows: tables } = await sql<{ name: string }>`
        select format('%I.%I', schemaname, tablename) as name
        from pg_tables where schemaname = current_schema() order by tablename`.execute(db);
      // One table at a time (VACUUM runs outside a transaction, on one pooled connection).
      for (const { name } of tables) await sql`vacuum (analyze) ${sql.raw(name)}`.execute(db);
      return { bytesBefore, bytesAfter: await schemaBytes() };
    },
    close: () => db.destroy(),
  };
}

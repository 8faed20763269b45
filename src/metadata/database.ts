/**
 * Opens the metadata database and runs migrations. Every SQL dialect difference lives in
 * `dialects/` (sqlite.ts, postgres.ts, portable-ddl.ts): callers get a `Database` whose
 * `writeTransaction` has the same meaning on SQLite and PostgreSQL (serialised against
 * every other writer of every process sharing the database, all-or-nothing), and
 * migrations written once with Kysely's schema builder run on both. docs/design.md
 * ("SQL dialects") lists the differences and why.
 */
import type { Kysely } from 'kysely';
import type { DatabaseConfig } from './database-config.js';
import type { NamedMigration } from './dialects/migrate.js';
import { openSqlite } from './dialects/sqlite.js';

export {
  type DatabaseConfig,
  databaseConfigFrom,
  isPostgresUrl,
} from './database-config.js';
export type { NamedMigration } from './dialects/migrate.js';
export { addIdColumn } from './dialects/portable-ddl.js';

export type DialectName = DatabaseConfig['kind'];

export interface Database<DB> {
  readonly db: Kysely<DB>;
  readonly kind: DialectName;
  /**
   * Runs `fn` in a transaction that holds the database's write lock from its first
   * statement. Commits when `fn` resolves, rolls back when it throws (and rethrows).
   * Do not nest; do not call other Database methods from inside `fn`. On PostgreSQL `fn`
   * may run again after a serialization failure or deadlock rolled it back, so it must
   * not have effects outside the transaction.
   *
   * `durable: false` is for writes that may be lost on power failure without harm, such
   * as indexing a pack that is itself already durable (repair re-indexes it): the commit
   * skips its own fsync, and the next durable commit makes it durable too. A crash of the
   * process (not the machine) never loses it. Default true.
   *
   * Every write goes through here: a write on `db` outside a transaction has no stated
   * durability (on SQLite it commits with whatever `synchronous` the last transaction set).
   */
  writeTransaction<T>(
    fn: (trx: Kysely<DB>) => Promise<T>,
    options?: { readonly durable?: boolean },
  ): Promise<T>;
  /**
   * Runs a short group of reads (`fn` issues statements on the instance it is given and
   * nothing else: no other I/O, no other Database method, no writes). Not a snapshot: each
   * statement sees the latest commit, as on `db`.
   *
   * On SQLite `fn` holds the single connection (other queries wait, as for a transaction)
   * and its prepared statements run directly on it (direct-execution.ts), instead of each
   * queueing through Kysely's connection mutex and executor: ~20 µs of CPU saved a
   * statement, and a version read is a dozen. On PostgreSQL `fn` runs on `db` (the pool),
   * so independent statements still run on several connections at once.
   */
  reads<T>(fn: (db: Kysely<DB>) => Promise<T>): Promise<T>;
  /**
   * Gives the space of deleted rows back. SQLite keeps a dropped table's or deleted rows'
   * pages in the file as free pages: VACUUM rewrites the file without them (through a
   * temporary file on disk, never in memory, whatever the database's size), holding the
   * write lock for its whole duration, and a checkpoint then truncates the WAL it wrote.
   * PostgreSQL: VACUUM ANALYZE of the schema's tables, which makes dead rows' space
   * reusable (and returns trailing empty pages) without blocking writers; autovacuum does
   * the same on its own schedule. Not inside a transaction or a `reads` group.
   * @throws LockedError when SQLite's write lock stays held by another process.
   */
  compact(): Promise<CompactReport>;
  close(): Promise<void>;
}

/** What `Database.compact` did. */
export interface CompactReport {
  /** The database's size before and after: SQLite's pages (the main file's logical size,
   * without the WAL), PostgreSQL's tables and indexes in the schema. */
  readonly bytesBefore: number;
  readonly bytesAfter: number;
  /** SQLite: bytes of free pages before, what VACUUM can return; PostgreSQL: unknown. */
  readonly freeBytesBefore?: number;
}

/**
 * Opens (creating a SQLite file if needed) the database and applies every migration not
 * yet applied. Safe to call from several processes (and replicas) at once: they migrate
 * one at a time and the later ones find nothing to do.
 * @throws ModelvaultError('INTERNAL') naming the failed migration; LockedError when the
 *   database stays busy; ModelvaultError('UNAVAILABLE') when PostgreSQL cannot be reached.
 */
export async function openDatabase<DB>(
  config: DatabaseConfig,
  migrations: readonly NamedMigration[],
): Promise<Database<DB>> {
  if (config.kind === 'sqlite') return openSqlite<DB>(config.path, migrations);
  // Loaded on demand: the embedded registry (and the CLI's start-up) never needs `pg`.
  const { openPostgres } = await import('./dialects/postgres.js');
  return openPostgres<DB>(config.url, migrations, {
    ...(config.maxConnections !== undefined ? { maxConnections: config.maxConnections } : {}),
  });
}

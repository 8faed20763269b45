/**
 * Opens the metadata database and runs migrations. Every SQL dialect difference lives in
 * this module and `dialect.ts`: callers get a `Database` whose `writeTransaction` has the
 * same meaning on SQLite and PostgreSQL (serialised against other writers, all-or-nothing).
 *
 * SQLite settings and why:
 * - WAL: readers never block the writer; several processes can share one file.
 * - synchronous=FULL: a commit acknowledged to a user survives power loss, which a model
 *   registry owes its users (the cost is one fsync per transaction; writers batch).
 * - busy_timeout: concurrent processes wait for the write lock instead of failing.
 * - BEGIN IMMEDIATE for write transactions: takes the write lock up front, so a
 *   read-then-write transaction (e.g. allocating a version number) cannot deadlock.
 *   SQLite answers some lock conflicts with SQLITE_BUSY without waiting for busy_timeout
 *   (e.g. while another connection recovers the WAL); BEGIN is retried with backoff then.
 * - Migrations run in one BEGIN IMMEDIATE transaction, so processes that open a brand-new
 *   database at the same time apply them once, one after the other; a process that finds
 *   every migration applied takes no lock at all.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import {
  Kysely,
  type Migration,
  type MigrationProvider,
  Migrator,
  SqliteDialect,
  sql,
} from 'kysely';
import { LockedError, ModelvaultError } from '../core/errors.js';

/** A named schema migration. Names sort in application order (`0001_…`, `0002_…`). */
export interface NamedMigration {
  readonly name: string;
  // biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists
  up(db: Kysely<any>): Promise<void>;
}

export type DatabaseConfig = { readonly kind: 'sqlite'; readonly path: string };

export interface Database<DB> {
  readonly db: Kysely<DB>;
  readonly kind: DatabaseConfig['kind'];
  /**
   * Runs `fn` in a transaction that holds the database's write lock from its first
   * statement. Commits when `fn` resolves, rolls back when it throws (and rethrows).
   * Do not nest; do not call other Database methods from inside `fn`.
   *
   * `durable: false` is for writes that may be lost on power failure without harm, such
   * as indexing a pack that is itself already durable (repair re-indexes it): the commit
   * skips its own fsync, and the next durable commit makes it durable too. A crash of the
   * process (not the machine) never loses it. Default true.
   */
  writeTransaction<T>(
    fn: (trx: Kysely<DB>) => Promise<T>,
    options?: { readonly durable?: boolean },
  ): Promise<T>;
  close(): Promise<void>;
}

class StaticMigrations implements MigrationProvider {
  constructor(private readonly migrations: readonly NamedMigration[]) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    const out: Record<string, Migration> = {};
    for (const m of this.migrations) out[m.name] = { up: (db) => m.up(db) };
    return out;
  }
}

/** Kysely's bookkeeping table (its Migrator's default name). */
const MIGRATION_TABLE = 'kysely_migration';
/** The most of the database file SQLite reads through a memory map. */
const MMAP_BYTES = 256 * 1024 * 1024;
/** SQLite's page cache per connection, in KiB (its default is 2 MiB). */
const CACHE_KIB = 64 * 1024;
/** SQLite waits this long for a lock (busy_timeout) before it answers SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 30_000;

function isBusy(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_'));
}

/**
 * Runs `fn`, retrying while SQLite answers SQLITE_BUSY, with exponential backoff and
 * jitter (10 ms to 1 s), for at most BUSY_TIMEOUT_MS in all. Only for statements that
 * change nothing when they fail (BEGIN, PRAGMA): some lock conflicts fail at once instead
 * of waiting for busy_timeout.
 * @throws LockedError when the database stays busy.
 */
async function retryBusy<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + BUSY_TIMEOUT_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!isBusy(e)) throw e;
      if (Date.now() >= deadline) {
        throw new LockedError(
          `the metadata database is busy (${what}): another process holds its lock`,
          { attempts: attempt },
        );
      }
      const delay = Math.min(1000, 5 * 2 ** attempt) * (0.5 + Math.random() / 2);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** True when the database records every one of `names` as applied (no lock taken). */
async function allApplied<DB>(db: Kysely<DB>, names: readonly string[]): Promise<boolean> {
  try {
    const { rows } = await sql<{ name: string }>`select name from ${sql.table(
      MIGRATION_TABLE,
    )}`.execute(db);
    const applied = new Set(rows.map((r) => r.name));
    return names.every((n) => applied.has(n));
  } catch {
    return false; // no migration table yet: a new database
  }
}

/**
 * Applies the pending migrations inside one write transaction (BEGIN IMMEDIATE), so
 * concurrent openers queue on the write lock and the later ones find nothing to do.
 */
async function migrate<DB>(db: Kysely<DB>, migrations: readonly NamedMigration[]): Promise<void> {
  const sorted = [...migrations].sort((a, b) => a.name.localeCompare(b.name));
  if (
    await allApplied(
      db,
      sorted.map((m) => m.name),
    )
  )
    return;
  await db.connection().execute(async (conn) => {
    await retryBusy('migrating', () => sql`BEGIN IMMEDIATE`.execute(conn));
    try {
      const migrator = new Migrator({
        db: conn,
        provider: new StaticMigrations(sorted),
        migrationTableName: MIGRATION_TABLE,
        // This function's transaction holds the write lock for the whole run.
        disableTransactions: true,
        // Migrations written on parallel branches may land with a lower number than one a
        // database already applied (0102 after 0103): apply it rather than refuse to open.
        allowUnorderedMigrations: true,
      });
      const { error, results } = await migrator.migrateToLatest();
      if (error) {
        const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
        throw new ModelvaultError(
          'INTERNAL',
          `database migration ${failed} failed: ${String((error as Error).message ?? error)}`,
          { migration: failed },
          { cause: error },
        );
      }
      await sql`COMMIT`.execute(conn);
    } catch (e) {
      await sql`ROLLBACK`.execute(conn).catch(() => undefined);
      throw e;
    }
  });
}

/**
 * Opens (creating if needed) the database and applies every migration not yet applied.
 * Safe to call from several processes at once (see the module comment).
 * @throws ModelvaultError('INTERNAL') naming the failed migration; LockedError when the
 *   database stays busy.
 */
export async function openDatabase<DB>(
  config: DatabaseConfig,
  migrations: readonly NamedMigration[],
): Promise<Database<DB>> {
  if (config.path !== ':memory:') mkdirSync(dirname(config.path), { recursive: true });
  const raw = new SqliteDatabase(config.path, { timeout: BUSY_TIMEOUT_MS });
  raw.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  try {
    // Switching a new database to WAL needs an exclusive lock, which another opener may hold.
    await retryBusy('opening', async () => raw.pragma('journal_mode = WAL'));
  } catch (e) {
    raw.close();
    throw e;
  }
  raw.pragma('synchronous = FULL');
  raw.pragma('foreign_keys = ON');
  // Reads through a memory map skip a read() per page, and a larger page cache keeps a
  // search's index pages across queries: at 100,000 versions, search is ~3× faster. Both
  // are upper bounds on address space and memory, used only as the database grows.
  raw.pragma(`mmap_size = ${MMAP_BYTES}`);
  raw.pragma(`cache_size = -${CACHE_KIB}`);
  const db = new Kysely<DB>({ dialect: new SqliteDialect({ database: raw }) });
  try {
    await migrate(db, migrations);
  } catch (e) {
    await db.destroy();
    throw e;
  }

  return {
    db,
    kind: 'sqlite',
    writeTransaction: <T>(
      fn: (trx: Kysely<DB>) => Promise<T>,
      options?: { readonly durable?: boolean },
    ) =>
      db.connection().execute(async (conn) => {
        // In WAL mode, synchronous=NORMAL commits without an fsync of the WAL; the next
        // FULL commit syncs everything before it. Set outside the transaction (SQLite
        // refuses to change it inside one) and restored before anyone else can commit.
        const relaxed = options?.durable === false;
        if (relaxed) await sql`PRAGMA synchronous = NORMAL`.execute(conn);
        try {
          await retryBusy('starting a write', () => sql`BEGIN IMMEDIATE`.execute(conn));
          try {
            const result = await fn(conn);
            await sql`COMMIT`.execute(conn);
            return result;
          } catch (e) {
            await sql`ROLLBACK`.execute(conn).catch(() => undefined);
            throw e;
          }
        } finally {
          if (relaxed) await sql`PRAGMA synchronous = FULL`.execute(conn);
        }
      }),
    close: () => db.destroy(),
  };
}

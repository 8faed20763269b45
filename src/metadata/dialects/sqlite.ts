/**
 * The SQLite dialect of `openDatabase` (embedded registries). Settings and why:
 * - WAL: readers never block the writer; several processes can share one file.
 * - synchronous=FULL: a commit acknowledged to a user survives power loss, which a model
 *   registry owes its users (the cost is one fsync per transaction; writers batch).
 * - busy_timeout: concurrent processes wait for the write lock instead of failing.
 * - BEGIN IMMEDIATE for write transactions: takes the write lock up front, so a
 *   read-then-write transaction (e.g. allocating a version number) cannot deadlock.
 *   SQLite answers some lock conflicts with SQLITE_BUSY without waiting for busy_timeout
 *   (e.g. while another connection recovers the WAL); BEGIN is retried with backoff then.
 * - LIMIT/OFFSET values are literals in the SQL text (sqlite-inline-limits.ts): a bound one
 *   made SQLite prepare the statement again on every run.
 * - wal_autocheckpoint = 8,000 pages (SQLite's default is 1,000): a checkpoint copies each
 *   page once however often it was written since the last one, and runs (with an fsync of
 *   the database file) inside the COMMIT that crosses the limit; a longer interval copies
 *   hot pages (b-tree roots, index leaves) far fewer times. journal_size_limit cuts the WAL
 *   file back to that size when it restarts after a larger spike.
 * - Migrations run in one BEGIN IMMEDIATE transaction, so processes that open a brand-new
 *   database at the same time apply them once, one after the other; a process that finds
 *   every migration applied takes no lock at all.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { CompiledQuery, Kysely, type QueryResult, SqliteDialect, sql } from 'kysely';
import { LockedError } from '../../core/errors.js';
import type { Database } from '../database.js';
import { bindDirectRunner, type DirectRunner } from '../direct-execution.js';
import { allApplied, applyMigrations, type NamedMigration, sortedMigrations } from './migrate.js';
import { withSqliteErrors } from './sqlite-errors.js';
import { SqliteInlineLimitsPlugin } from './sqlite-inline-limits.js';
import { withStatementCache } from './statement-cache.js';

/** The most of the database file SQLite reads through a memory map. */
const MMAP_BYTES = 256 * 1024 * 1024;
/** SQLite's page cache per connection, in KiB (its default is 2 MiB). */
const CACHE_KIB = 64 * 1024;
// Transaction control, compiled once: these run around every write.
const BEGIN_IMMEDIATE = CompiledQuery.raw('BEGIN IMMEDIATE');
const COMMIT = CompiledQuery.raw('COMMIT');
const ROLLBACK = CompiledQuery.raw('ROLLBACK');
const SYNC_FULL = CompiledQuery.raw('PRAGMA synchronous = FULL');
const SYNC_NORMAL = CompiledQuery.raw('PRAGMA synchronous = NORMAL');

/**
 * The WAL's automatic checkpoint interval, in pages (wal_autocheckpoint; SQLite's default
 * is 1,000), and the size the WAL file is cut back to when it restarts (journal_size_limit):
 * ~33 MB at 4 KiB pages. Under MLflow's model-versions/create (~150–180 WAL frames a commit)
 * the default checkpointed every ~5 commits: 27,000 page copies and 115 syncs of the
 * database file per 800 creations, against 7,700 and 17 at 8,000 pages
 * (docs/benchmarks.md, session 11). The WAL file does not shrink while it is below the
 * limit, so a steady writer reuses its blocks instead of extending the file.
 */
export const WAL_CHECKPOINT_PAGES = 8_000;

/** SQLite waits this long for a lock (busy_timeout) before it answers SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 30_000;

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

/**
 * Applies the pending migrations inside one write transaction (BEGIN IMMEDIATE), so
 * concurrent openers queue on the write lock and the later ones find nothing to do.
 */
async function migrate<DB>(db: Kysely<DB>, migrations: readonly NamedMigration[]): Promise<void> {
  const sorted = sortedMigrations(migrations);
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
      await applyMigrations(conn, sorted);
      await sql`COMMIT`.execute(conn);
    } catch (e) {
      await sql`ROLLBACK`.execute(conn).catch(() => undefined);
      throw e;
    }
  });
}

/** Settings of an SQLite database that tests change. */
export interface SqliteOptions {
  /** wal_autocheckpoint in pages, and the WAL file's size limit (default WAL_CHECKPOINT_PAGES). */
  readonly walCheckpointPages?: number;
}

/** Opens (creating if needed) the SQLite file at `path` and migrates it. */
export async function openSqlite<DB>(
  path: string,
  migrations: readonly NamedMigration[],
  options: SqliteOptions = {},
): Promise<Database<DB>> {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const raw = new SqliteDatabase(path, { timeout: BUSY_TIMEOUT_MS });
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
  const walPages = options.walCheckpointPages ?? WAL_CHECKPOINT_PAGES;
  raw.pragma(`wal_autocheckpoint = ${walPages}`);
  // The WAL's header (32 bytes) and its frames (a 24-byte header and a page each).
  const pageBytes = Number(raw.pragma('page_size', { simple: true }));
  raw.pragma(`journal_size_limit = ${32 + walPages * (24 + pageBytes)}`);
  // Reads through a memory map skip a read() per page, and a larger page cache keeps a
  // search's index pages across queries: at 100,000 versions, search is ~3× faster. Both
  // are upper bounds on address space and memory, used only as the database grows.
  raw.pragma(`mmap_size = ${MMAP_BYTES}`);
  raw.pragma(`cache_size = -${CACHE_KIB}`);
  const statements = withSqliteErrors(withStatementCache(raw));
  const db = new Kysely<DB>({
    dialect: new SqliteDialect({ database: statements }),
    // Rewrites queries only (LIMIT/OFFSET as literals); results pass through unchanged,
    // which direct execution (below) relies on.
    plugins: [new SqliteInlineLimitsPlugin()],
  });
  // What Kysely's SQLite driver does for a statement, minus its promises
  // (metadata/direct-execution.ts): the same cached statement, errors and result shape.
  const runDirect: DirectRunner = (query) => {
    const stmt = statements.prepare(query.sql);
    if (stmt.reader) return { rows: stmt.all(query.parameters) };
    const { changes, lastInsertRowid } = stmt.run(query.parameters);
    return {
      numAffectedRows: BigInt(changes),
      insertId: BigInt(lastInsertRowid),
      rows: [],
    } satisfies QueryResult<unknown>;
  };
  try {
    await migrate(db, migrations);
  } catch (e) {
    await db.destroy();
    throw e;
  }
  // Statement journals (and temporary b-trees) in memory. A statement that may fail half-way
  // inside a transaction — a multi-row INSERT into a table with keys or foreign keys — keeps
  // a copy of every page it changes so that it can be undone alone; past 64 KiB SQLite spills
  // that copy to a temp file in /var/tmp, created, written and unlinked per statement. A
  // version's 100 latest metrics (one leaf page of the `(key, value, owner)` index per key)
  // did that on almost every creation: ~0.4 ms of its ~2.5 ms of CPU (docs/benchmarks.md,
  // session 10). The application's statements are batched (hundreds of rows), so what this holds in
  // memory is bounded by a statement's pages; the sorter no longer spills either, which is
  // why it is set only after migrations (index builds over large tables sort everything).
  raw.pragma('temp_store = MEMORY');

  // The connection's current `synchronous` setting. Kysely's SQLite driver has one
  // connection, and every write goes through writeTransaction (Database's contract), so
  // the setting only changes when a transaction of the other kind comes: a run of relaxed
  // writes (MLflow logging) pays no PRAGMA per transaction.
  let synchronous: 'FULL' | 'NORMAL' = 'FULL';
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
        // refuses to change it inside one), before the transaction that needs it.
        const wanted = options?.durable === false ? 'NORMAL' : 'FULL';
        if (wanted !== synchronous) {
          runDirect(wanted === 'FULL' ? SYNC_FULL : SYNC_NORMAL);
          synchronous = wanted;
        }
        await retryBusy('starting a write', async () => runDirect(BEGIN_IMMEDIATE));
        // The transaction's prepared statements run directly on this connection.
        const unbind = bindDirectRunner(conn, runDirect);
        try {
          const result = await fn(conn);
          runDirect(COMMIT);
          return result;
        } catch (e) {
          try {
            runDirect(ROLLBACK);
          } catch {
            // SQLite already rolled back (e.g. after SQLITE_FULL): nothing is open.
          }
          throw e;
        } finally {
          unbind();
        }
      }),
    // The group's statements run one after another on the held connection, directly.
    reads: (fn) =>
      db.connection().execute(async (conn) => {
        const unbind = bindDirectRunner(conn, runDirect);
        try {
          return await fn(conn);
        } finally {
          unbind();
        }
      }),
    compact: () =>
      db.connection().execute(async () => {
        const size = () => {
          const page = Number(raw.pragma('page_size', { simple: true }));
          return {
            bytes: Number(raw.pragma('page_count', { simple: true })) * page,
            free: Number(raw.pragma('freelist_count', { simple: true })) * page,
          };
        };
        const before = size();
        // VACUUM builds the new database as a temporary database: in a file, not in the
        // memory the connection's temp_store = MEMORY (above) would use for it.
        raw.pragma('temp_store = FILE');
        try {
          await retryBusy('compacting', async () => raw.exec('VACUUM'));
        } finally {
          raw.pragma('temp_store = MEMORY');
        }
        // In WAL mode the rewritten pages are in the WAL: copy them back and truncate it,
        // so the file shrinks now rather than at a later checkpoint (a reader in another
        // process may still hold the old pages; then the next checkpoint does it).
        raw.pragma('wal_checkpoint(TRUNCATE)');
        return {
          bytesBefore: before.bytes,
          bytesAfter: size().bytes,
          freeBytesBefore: before.free,
        };
      }),
    close: () => db.destroy(),
  };
}

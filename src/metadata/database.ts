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
import { ModelvaultError } from '../core/errors.js';

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
   */
  writeTransaction<T>(fn: (trx: Kysely<DB>) => Promise<T>): Promise<T>;
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

/**
 * Opens (creating if needed) the database and applies every migration not yet applied.
 * Safe to call from several processes at once: migrations are serialised by Kysely's
 * migration lock. Throws ModelvaultError('INTERNAL') naming the failed migration.
 */
export async function openDatabase<DB>(
  config: DatabaseConfig,
  migrations: readonly NamedMigration[],
): Promise<Database<DB>> {
  if (config.path !== ':memory:') mkdirSync(dirname(config.path), { recursive: true });
  const raw = new SqliteDatabase(config.path, { timeout: 30_000 });
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = FULL');
  raw.pragma('foreign_keys = ON');
  raw.pragma('busy_timeout = 30000');
  const db = new Kysely<DB>({ dialect: new SqliteDialect({ database: raw }) });

  const sorted = [...migrations].sort((a, b) => a.name.localeCompare(b.name));
  const migrator = new Migrator({ db, provider: new StaticMigrations(sorted) });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    await db.destroy();
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new ModelvaultError(
      'INTERNAL',
      `database migration ${failed} failed: ${String((error as Error).message ?? error)}`,
      { migration: failed },
      { cause: error },
    );
  }

  return {
    db,
    kind: 'sqlite',
    writeTransaction: <T>(fn: (trx: Kysely<DB>) => Promise<T>) =>
      db.connection().execute(async (conn) => {
        await sql`BEGIN IMMEDIATE`.execute(conn);
        try {
          const result = await fn(conn);
          await sql`COMMIT`.execute(conn);
          return result;
        } catch (e) {
          await sql`ROLLBACK`.execute(conn).catch(() => undefined);
          throw e;
        }
      }),
    close: () => db.destroy(),
  };
}

/**
 * The part of running migrations that is the same on every dialect: Kysely's Migrator over
 * our `NamedMigration` lists, on a connection whose dialect module already holds the lock
 * that makes one process at a time migrate (SQLite: BEGIN IMMEDIATE; PostgreSQL: a
 * transaction holding an advisory lock), so Kysely's own transaction is disabled.
 */
import { channel } from 'node:diagnostics_channel';
import { type Kysely, type Migration, type MigrationProvider, Migrator, sql } from 'kysely';
import { ModelvaultError } from '../../core/errors.js';

/**
 * What applying migrations reports on MIGRATION_CHANNEL, in this order: `plan` once per
 * locked run that has something to apply (`fresh`: the database had no migration applied,
 * i.e. it is being created), then `start` and `done` (with its duration) around each
 * pending migration. A run that fails and is retried (PostgreSQL) reports again.
 */
export type MigrationEvent =
  | { readonly phase: 'plan'; readonly pending: readonly string[]; readonly fresh: boolean }
  | { readonly phase: 'start'; readonly name: string }
  | { readonly phase: 'done'; readonly name: string; readonly ms: number };

/**
 * The diagnostics channel (node:diagnostics_channel) on which opening a database reports
 * its migrations as MigrationEvents: an upgrade of a large registry can take minutes before
 * the server listens, and whoever opened it (the server, the CLI) says so without the
 * metadata layer knowing how (migration-report.ts prints them).
 */
export const MIGRATION_CHANNEL = channel('modelvault:metadata-migration');

function report(event: MigrationEvent): void {
  MIGRATION_CHANNEL.publish(event);
}

/** A named schema migration. Names sort in application order (`0001_…`, `0002_…`). */
export interface NamedMigration {
  readonly name: string;
  // biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists
  up(db: Kysely<any>): Promise<void>;
}

/**
 * Feeds our migrations to Kysely's Migrator and remembers the first one that failed, with
 * its own error: on PostgreSQL the Migrator's bookkeeping after a failure runs in the
 * aborted transaction and fails too, hiding which migration broke and why.
 */
class StaticMigrations implements MigrationProvider {
  failure: { readonly name: string; readonly error: unknown } | undefined;
  constructor(private readonly migrations: readonly NamedMigration[]) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    const out: Record<string, Migration> = {};
    for (const m of this.migrations) {
      out[m.name] = {
        up: async (db) => {
          const started = performance.now();
          if (MIGRATION_CHANNEL.hasSubscribers) report({ phase: 'start', name: m.name });
          try {
            await m.up(db);
            if (MIGRATION_CHANNEL.hasSubscribers) {
              report({ phase: 'done', name: m.name, ms: performance.now() - started });
            }
          } catch (error) {
            this.failure ??= { name: m.name, error };
            throw error;
          }
        },
      };
    }
    return out;
  }
}

/** Kysely's bookkeeping table (its Migrator's default name). */
export const MIGRATION_TABLE = 'kysely_migration';

/** `migrations` in application order (by name). */
export function sortedMigrations(migrations: readonly NamedMigration[]): NamedMigration[] {
  return [...migrations].sort((a, b) => a.name.localeCompare(b.name));
}

/** True when the database records every one of `names` as applied (no lock taken). */
export async function allApplied<DB>(db: Kysely<DB>, names: readonly string[]): Promise<boolean> {
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
 * Applies the pending migrations of `sorted` on `conn`, which must already be inside the
 * caller's locked transaction. `schema`: where Kysely's bookkeeping tables live (the
 * connection's current schema on PostgreSQL).
 * @throws ModelvaultError('INTERNAL') naming the failed migration.
 */
export async function applyMigrations<DB>(
  conn: Kysely<DB>,
  sorted: readonly NamedMigration[],
  options: { readonly schema?: string | undefined } = {},
): Promise<void> {
  const provider = new StaticMigrations(sorted);
  const migrator = new Migrator({
    db: conn,
    provider,
    migrationTableName: MIGRATION_TABLE,
    // Without a schema, Kysely looks for its tables in every schema of the database and
    // takes another schema's for ours (PostgreSQL).
    ...(options.schema ? { migrationTableSchema: options.schema } : {}),
    // The caller's transaction holds the lock for the whole run.
    disableTransactions: true,
    // Migrations written on parallel branches may land with a lower number than one a
    // database already applied (0102 after 0103): apply it rather than refuse to open.
    allowUnorderedMigrations: true,
  });
  if (MIGRATION_CHANNEL.hasSubscribers) {
    const known = await migrator.getMigrations();
    const pending = known.filter((m) => !m.executedAt).map((m) => m.name);
    if (pending.length > 0) {
      report({ phase: 'plan', pending, fresh: pending.length === known.length });
    }
  }
  const outcome = await migrator.migrateToLatest();
  if (outcome.error || provider.failure) {
    const failed = provider.failure?.name ?? 'unknown';
    const error = provider.failure?.error ?? outcome.error;
    throw new ModelvaultError(
      'INTERNAL',
      `database migration ${failed} failed: ${String((error as Error).message ?? error)}`,
      { migration: failed },
      { cause: error },
    );
  }
}

/**
 * A LocalRegistry over a fresh real database — a SQLite file in a temp directory, or a
 * new schema on the run's PostgreSQL server (dialects.ts) — with a fake clock (starts at
 * 2024-01-01, +1 ms per reading) so timestamps are distinct and ordered.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import type { ManifestSummary } from '../../src/core/registry-api.js';
import { type Database, openDatabase } from '../../src/metadata/database.js';
import type { RegistryDB } from '../../src/metadata/schema.js';
import type { ManifestEntriesReader } from '../../src/registry/diff-service.js';
import { LocalRegistry, REGISTRY_MIGRATIONS } from '../../src/registry/local-registry.js';
import {
  openRegistryDirectory,
  type RegistryDirectory,
} from '../../src/registry/registry-directory.js';
import { type FreshDatabase, freshDatabase, type TestDialect } from './dialects.js';

export interface FakeClock {
  (): number;
  set(ms: number): void;
}

export function fakeClock(start = Date.UTC(2024, 0, 1)): FakeClock {
  let t = start;
  const clock = (() => t++) as FakeClock;
  clock.set = (ms: number) => {
    t = ms;
  };
  return clock;
}

export interface TempRegistry {
  readonly registry: LocalRegistry;
  readonly dialect: TestDialect;
  readonly database: Database<RegistryDB>;
  /** Where the database is: open it again with this (a second process, a reopen). */
  readonly fresh: FreshDatabase;
  readonly clock: FakeClock;
  /** Runs raw SQL statements, as someone with direct access to the database would. */
  exec(statements: readonly string[]): Promise<void>;
  cleanup(): Promise<void>;
}

export async function openTempRegistry(
  options: { manifests?: ManifestEntriesReader; defaultActor?: string; dialect?: TestDialect } = {},
): Promise<TempRegistry> {
  const dialect = options.dialect ?? 'sqlite';
  const fresh = await freshDatabase(dialect);
  const clock = fakeClock();
  const database = await openDatabase<RegistryDB>(fresh.config, REGISTRY_MIGRATIONS);
  const registry = new LocalRegistry({
    database,
    clock,
    defaultActor: options.defaultActor ?? 'alice',
    ...(options.manifests ? { manifests: options.manifests } : {}),
  });
  return {
    registry,
    dialect,
    database,
    fresh,
    clock,
    exec: async (statements) => {
      for (const s of statements) await sql.raw(s).execute(database.db);
    },
    cleanup: async () => {
      await registry.close();
      await fresh.cleanup();
    },
  };
}

export interface TempRegistryDirectory {
  /** A registry directory (store, registry, tracking) with defaultActor `alice`. */
  readonly rd: RegistryDirectory;
  /** The registry's clock (deletion times, retention). */
  readonly clock: FakeClock;
  cleanup(): Promise<void>;
}

/**
 * A new registry directory in a temp directory (its name starts with `prefix`), with a
 * fake clock: on SQLite its own database file, on PostgreSQL a fresh database.
 */
export async function openTempRegistryDirectory(
  dialect: TestDialect,
  prefix: string,
): Promise<TempRegistryDirectory> {
  const tmp = await mkdtemp(join(tmpdir(), prefix));
  const fresh = dialect === 'sqlite' ? undefined : await freshDatabase(dialect);
  const clock = fakeClock();
  const rd = await openRegistryDirectory(join(tmp, 'reg'), {
    create: true,
    defaultActor: 'alice',
    clock,
    ...(fresh ? { database: fresh.config } : {}),
  });
  return {
    rd,
    clock,
    cleanup: async () => {
      await rd.close();
      await fresh?.cleanup();
      await rm(tmp, { recursive: true, force: true });
    },
  };
}

/** A deterministic fake SHA-256 hex for `label`. */
export function fakeDigest(label: string): string {
  return createHash('sha256').update(label).digest('hex');
}

export function manifest(label: string, size = 100, fileCount = 1): ManifestSummary {
  return { digest: fakeDigest(label), size, fileCount };
}

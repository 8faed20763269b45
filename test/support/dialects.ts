/**
 * The SQL dialects a metadata suite runs on (dialect-env.ts) and a fresh, empty database
 * of each for one test: a SQLite file in a temp directory, or a new schema in this test
 * file's own PostgreSQL database on the run's server (postgres-global-setup.ts).
 *
 *     describe.each(TEST_DIALECTS)('%s', (dialect) => { … freshDatabase(dialect) … });
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';
import type { DatabaseConfig } from '../../src/metadata/database.js';
import { requestedDialects, type TestDialect } from './dialect-env.js';

export type { TestDialect } from './dialect-env.js';

const adminUrl = inject('pgAdminUrl');

export const TEST_DIALECTS: readonly TestDialect[] = (
  requestedDialects() ?? ['sqlite', 'postgres']
).filter((d) => d === 'sqlite' || adminUrl !== null);

export interface FreshDatabase {
  readonly config: DatabaseConfig;
  /** The SQLite file's directory (SQLite only). */
  readonly dir?: string;
  /** Removes the file or drops the schema. */
  cleanup(): Promise<void>;
}

function withDatabase(url: string, database: string, options?: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  if (options) u.searchParams.set('options', options);
  return u.toString();
}

/** Runs statements on the server as the superuser, on `database`. */
export async function adminQuery(database: string, statements: readonly string[]): Promise<void> {
  if (!adminUrl) throw new Error('no PostgreSQL server in this run');
  const client = new pg.Client({ connectionString: withDatabase(adminUrl, database) });
  await client.connect();
  try {
    for (const s of statements) await client.query(s);
  } finally {
    await client.end();
  }
}

let fileDatabase: Promise<string> | undefined;

/** This test file's database, created on first use (files run in parallel processes). */
function testFileDatabase(): Promise<string> {
  fileDatabase ??= (async () => {
    const name = `mv_${process.pid}_${randomBytes(4).toString('hex')}`;
    await adminQuery('postgres', [`create database ${name}`]);
    return name;
  })();
  return fileDatabase;
}

/** A new empty database of `dialect` for one test. */
export async function freshDatabase(dialect: TestDialect): Promise<FreshDatabase> {
  if (dialect === 'sqlite') {
    const dir = await mkdtemp(join(tmpdir(), 'mv-db-'));
    return {
      config: { kind: 'sqlite', path: join(dir, 'metadata.db') },
      dir,
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  }
  if (!adminUrl) throw new Error('no PostgreSQL server in this run');
  const database = await testFileDatabase();
  const schema = `s_${randomBytes(6).toString('hex')}`;
  await adminQuery(database, [`create schema ${schema}`]);
  return {
    config: {
      kind: 'postgres',
      url: withDatabase(adminUrl, database, `-c search_path=${schema}`),
    },
    cleanup: () => adminQuery(database, [`drop schema ${schema} cascade`]),
  };
}

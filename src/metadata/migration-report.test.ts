import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { type FreshDatabase, freshDatabase, TEST_DIALECTS } from '../../test/support/dialects.js';
import { openDatabase } from './database.js';
import { MIGRATION_CHANNEL, type MigrationEvent, type NamedMigration } from './dialects/migrate.js';
import { migrationLine, reportMigrations } from './migration-report.js';

const table = (name: string): NamedMigration => ({
  name,
  up: async (db) => {
    await sql`create table ${sql.table(`t_${name}`)} (x integer)`.execute(db);
  },
});
const A = table('m0001');
const B = table('m0002');
const C = table('m0003');

describe.each(TEST_DIALECTS)('migration report on %s', (dialect) => {
  let fresh: FreshDatabase | undefined;
  afterEach(async () => {
    await fresh?.cleanup();
    fresh = undefined;
  });

  /** Opens and closes the database with `migrations`, collecting events and printed lines. */
  async function open(migrations: readonly NamedMigration[]) {
    const events: MigrationEvent[] = [];
    const lines: string[] = [];
    const collect = (m: unknown) => events.push(m as MigrationEvent);
    MIGRATION_CHANNEL.subscribe(collect);
    const stop = reportMigrations((line) => lines.push(line));
    try {
      const db = await openDatabase(fresh!.config, migrations);
      await db.close();
    } finally {
      stop();
      MIGRATION_CHANNEL.unsubscribe(collect);
    }
    return { events, lines };
  }

  it('reports an upgrade migration by migration, and prints nothing when creating or current', async () => {
    fresh = await freshDatabase(dialect);
    const created = await open([A, B]);
    expect(created.events.map((e) => [e.phase, 'name' in e ? e.name : e.pending])).toEqual([
      ['plan', ['m0001', 'm0002']],
      ['start', 'm0001'],
      ['done', 'm0001'],
      ['start', 'm0002'],
      ['done', 'm0002'],
    ]);
    expect(created.events[0]).toMatchObject({ phase: 'plan', fresh: true });
    expect(created.lines).toEqual([]);

    const upgraded = await open([A, B, C]);
    expect(upgraded.events[0]).toEqual({ phase: 'plan', pending: ['m0003'], fresh: false });
    expect(upgraded.lines).toHaveLength(3);
    expect(upgraded.lines[0]).toBe(
      'upgrading the metadata database: 1 migration to apply (m0003); on a large registry this can take minutes',
    );
    expect(upgraded.lines[1]).toBe('applying migration m0003…');
    expect(upgraded.lines[2]).toMatch(/^applied migration m0003 in \d+\.\d s$/);
    const done = upgraded.events[2];
    expect(done?.phase === 'done' && done.ms >= 0).toBe(true);

    const current = await open([A, B, C]);
    expect(current.events).toEqual([]);
    expect(current.lines).toEqual([]);
  });
});

describe('migrationLine', () => {
  it('counts and names the pending migrations and gives durations in seconds', () => {
    expect(migrationLine({ phase: 'plan', pending: ['a', 'b'], fresh: false })).toBe(
      'upgrading the metadata database: 2 migrations to apply (a, b); on a large registry this can take minutes',
    );
    expect(migrationLine({ phase: 'done', name: 'a', ms: 31_234 })).toBe(
      'applied migration a in 31.2 s',
    );
  });
});

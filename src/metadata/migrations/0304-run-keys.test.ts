import { type Kysely, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type FreshDatabase,
  freshDatabase,
  TEST_DIALECTS,
} from '../../../test/support/dialects.js';
import { openDatabase } from '../database.js';
import { trackingMigration } from './0300-tracking.js';
import { metricHistoryMigration } from './0302-metric-history.js';
import { pendingMetricsMigration } from './0303-pending-metrics.js';
import { runKeysMigration } from './0304-run-keys.js';

const BEFORE = [trackingMigration, metricHistoryMigration, pendingMetricsMigration];
const POINT = ['key', 'step', 'timestamp', 'value', 'is_nan'] as const;

// biome-ignore lint/suspicious/noExplicitAny: tables of migrations before the typed schema
type AnyDb = Kysely<any>;

/** Every row of the three metric tables, by run id, in a fixed order. */
async function points(db: AnyDb, by: 'run_id' | 'run_key') {
  const read = async (table: string, extra: readonly string[]) => {
    const rows = await db
      .selectFrom(`${table} as m`)
      .innerJoin('runs as r', by === 'run_id' ? 'r.id' : 'r.run_key', `m.${by}`)
      .select(['r.id as run', ...[...extra, ...POINT].map((c) => `m.${c}`)])
      .orderBy('r.id')
      .orderBy('m.key')
      .orderBy('m.step')
      .orderBy('m.timestamp')
      .orderBy('m.is_nan')
      .orderBy('m.value')
      .execute();
    return rows.map((r: Record<string, unknown>) => ({
      ...r,
      step: Number(r.step),
      timestamp: Number(r.timestamp),
      ...(r.seq === undefined ? {} : { seq: Number(r.seq) }),
    }));
  };
  return {
    history: await read('run_metrics', []),
    pending: await read('run_pending_metrics', ['seq']),
    latest: await read('run_latest_metrics', []),
  };
}

describe.each(TEST_DIALECTS)('migration 0304-run-keys on %s', (dialect) => {
  let fresh: FreshDatabase | undefined;
  afterEach(async () => {
    await fresh?.cleanup();
    fresh = undefined;
  });

  it('keys the point tables by a new integer run key, every point copied as stored', async () => {
    fresh = await freshDatabase(dialect);
    // biome-ignore lint/suspicious/noExplicitAny: tables of migrations before the typed schema
    const before = await openDatabase<any>(fresh.config, BEFORE);
    // Three runs; b and c start at the same time (numbered by id then).
    const runs = { a: 'a'.repeat(32), b: 'b'.repeat(32), c: 'c'.repeat(32) };
    const start = { a: 30, b: 10, c: 10 };
    for (const [name, id] of Object.entries(runs)) {
      await sql`insert into runs (id, experiment_id, name, user_id, status, start_time, lifecycle_stage, artifact_uri)
        values (${id}, 0, ${name}, 'u', 'RUNNING', ${start[name as 'a']}, 'active', 'x')`.execute(
        before.db,
      );
    }
    // Values as the service stores them: NaN as 0 with is_nan 1, infinities, -0, the
    // extremes of doubles and of safe integers.
    const values = [
      0.5,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      -0,
      Number.MAX_VALUE,
      Number.MIN_VALUE,
      -123456789.125,
      0.1 + 0.2,
    ];
    const history: Record<string, unknown>[] = [];
    const pending: Record<string, unknown>[] = [];
    const latest: Record<string, unknown>[] = [];
    for (const [r, id] of Object.entries(runs)) {
      // Latest points as stored: NaN as NULL with is_nan 1.
      for (let j = 0; j < 3; j++) {
        const value = values[(j + r.charCodeAt(0)) % values.length];
        latest.push({ run_id: id, key: `k${j}/ü`, value, is_nan: 0, step: j, timestamp: 7 });
      }
      latest.push({ run_id: id, key: 'nan', value: null, is_nan: 1, step: 0, timestamp: 5 });
      values.forEach((value, i) => {
        const step = r === 'c' ? Number.MAX_SAFE_INTEGER - i : i - 3;
        history.push({
          run_id: id,
          key: `k${i % 3}/ü`,
          step,
          timestamp: 1000 + i,
          value,
          is_nan: 0,
        });
        if (r !== 'b') {
          pending.push({
            run_id: id,
            seq: i,
            key: `k${i % 2}`,
            step,
            timestamp: 2000 + i,
            value,
            is_nan: 0,
          });
        }
      });
      history.push({ run_id: id, key: 'nan', step: 0, timestamp: 5, value: 0, is_nan: 1 });
      if (r === 'a') {
        pending.push({
          run_id: id,
          seq: values.length,
          key: 'nan',
          step: 1,
          timestamp: 6,
          value: 0,
          is_nan: 1,
        });
      }
    }
    await before.db.insertInto('run_metrics').values(history).execute();
    await before.db.insertInto('run_pending_metrics').values(pending).execute();
    await before.db.insertInto('run_latest_metrics').values(latest).execute();
    const stored = await points(before.db, 'run_id');
    expect(stored.history).toHaveLength(history.length);
    expect(stored.pending).toHaveLength(pending.length);
    expect(stored.latest).toHaveLength(latest.length);
    await before.close();

    // biome-ignore lint/suspicious/noExplicitAny: as above
    const after = await openDatabase<any>(fresh.config, [...BEFORE, runKeysMigration]);
    try {
      // The same points, read through the run keys (toEqual tells -0 from 0).
      expect(await points(after.db, 'run_key')).toEqual(stored);
      const keys = async () =>
        Object.fromEntries(
          (await after.db.selectFrom('runs').select(['name', 'run_key']).execute()).map(
            (r: Record<string, unknown>) => [r.name, Number(r.run_key)],
          ),
        );
      // Numbered from 1 by (start_time, id).
      expect(await keys()).toEqual({ b: 1, c: 2, a: 3 });
      if (dialect === 'sqlite') {
        for (const table of ['run_metrics', 'run_pending_metrics']) {
          const ddl = await sql<{ sql: string }>`select sql from sqlite_master
            where type = 'table' and name = ${table}`.execute(after.db);
          expect(ddl.rows[0]!.sql).toMatch(/without rowid$/i);
        }
      }
      const insertRun = (name: string, key: number) =>
        after.writeTransaction((trx) =>
          sql`insert into runs (id, experiment_id, name, user_id, status, start_time, lifecycle_stage, artifact_uri, run_key)
            values (${name.repeat(32)}, 0, ${name}, 'u', 'RUNNING', 1, 'active', 'x', ${key})`.execute(
            trx,
          ),
        );
      // A run key is unique, and a point needs its run (the foreign keys came along).
      await expect(insertRun('d', 2)).rejects.toThrow();
      await expect(
        after.writeTransaction((trx) =>
          trx
            .insertInto('run_metrics')
            .values({ run_key: 99, key: 'x', step: 0, timestamp: 0, value: 1, is_nan: 0 })
            .execute(),
        ),
      ).rejects.toThrow();
      await expect(
        after.writeTransaction((trx) =>
          trx
            .insertInto('run_pending_metrics')
            .values({ run_key: 99, seq: 0, key: 'x', step: 0, timestamp: 0, value: 1, is_nan: 0 })
            .execute(),
        ),
      ).rejects.toThrow();
      const latestRow = (run_key: number) => ({
        run_key,
        key: 'nan',
        value: 1,
        is_nan: 0,
        step: 0,
        timestamp: 0,
      });
      for (const runKey of [99, 1]) {
        // No run 99; run 1 already has a latest point of the key (its primary key).
        await expect(
          after.writeTransaction((trx) =>
            trx.insertInto('run_latest_metrics').values(latestRow(runKey)).execute(),
          ),
        ).rejects.toThrow();
      }
      // Search's index over the latest points came along.
      const indexes = await (dialect === 'sqlite'
        ? sql<{ name: string }>`select name from sqlite_master
            where type = 'index' and tbl_name = 'run_latest_metrics'`
        : sql<{ name: string }>`select indexname as name from pg_indexes
            where schemaname = current_schema() and tablename = 'run_latest_metrics'`
      ).execute(after.db);
      expect(indexes.rows.map((r) => r.name)).toContain('run_latest_metrics_key_value');
      // The same point again is stored once (the whole point is the key), as before.
      await after.writeTransaction((trx) =>
        trx
          .insertInto('run_metrics')
          .values({ run_key: 3, key: 'nan', step: 0, timestamp: 5, value: 0, is_nan: 1 })
          .onConflict((oc) => oc.doNothing())
          .execute(),
      );
      expect(await points(after.db, 'run_key')).toEqual(stored);
      // Deleting a run deletes its points in both tables, and only its.
      await after.writeTransaction((trx) =>
        trx.deleteFrom('runs').where('id', '=', runs.a).execute(),
      );
      const left = await points(after.db, 'run_key');
      const notA = (rows: Record<string, unknown>[]) => rows.filter((r) => r.run !== runs.a);
      expect(left).toEqual({
        history: notA(stored.history),
        pending: notA(stored.pending),
        latest: notA(stored.latest),
      });
      expect(left.pending.length).toBeGreaterThan(0);
      if (dialect === 'sqlite') {
        // The key is a column of its own: VACUUM (which may renumber rowids) keeps it.
        await insertRun('e', 7);
        await sql`vacuum`.execute(after.db);
        expect(await keys()).toEqual({ b: 1, c: 2, e: 7 });
        expect(await points(after.db, 'run_key')).toEqual(left);
      }
    } finally {
      await after.close();
    }
  });
});

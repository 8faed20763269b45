import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type FreshDatabase,
  freshDatabase,
  TEST_DIALECTS,
} from '../../../test/support/dialects.js';
import { openDatabase } from '../database.js';
import { trackingMigration } from './0300-tracking.js';
import { metricHistoryMigration } from './0302-metric-history.js';

describe.each(TEST_DIALECTS)('migration 0302-metric-history on %s', (dialect) => {
  let fresh: FreshDatabase | undefined;
  afterEach(async () => {
    await fresh?.cleanup();
    fresh = undefined;
  });

  it('keeps every logged point, and the whole row stays the key', async () => {
    fresh = await freshDatabase(dialect);
    // biome-ignore lint/suspicious/noExplicitAny: tables of migrations before the typed schema
    const before = await openDatabase<any>(fresh.config, [trackingMigration]);
    const run = 'a'.repeat(32);
    await sql`insert into runs (id, experiment_id, name, user_id, status, start_time, lifecycle_stage, artifact_uri)
      values (${run}, 0, 'r', 'u', 'RUNNING', 1, 'active', 'x')`.execute(before.db);
    await sql`insert into run_metrics (run_id, key, step, timestamp, value, is_nan)
      values (${run}, 'loss', 0, 10, 0.5, 0), (${run}, 'loss', 1, 11, 0, 1),
             (${run}, 'acc', 0, 10, 0.9, 0)`.execute(before.db);
    await before.close();

    // biome-ignore lint/suspicious/noExplicitAny: as above
    const after = await openDatabase<any>(fresh.config, [
      trackingMigration,
      metricHistoryMigration,
    ]);
    try {
      const points = async () =>
        (
          await after.db
            .selectFrom('run_metrics')
            .select(['key', 'step', 'timestamp', 'value', 'is_nan'])
            .where('run_id', '=', run)
            .orderBy('key')
            .orderBy('step')
            .execute()
        ).map((r: Record<string, unknown>) => [
          r.key,
          Number(r.step),
          Number(r.timestamp),
          r.value,
          r.is_nan,
        ]);
      expect(await points()).toEqual([
        ['acc', 0, 10, 0.9, 0],
        ['loss', 0, 10, 0.5, 0],
        ['loss', 1, 11, 0, 1],
      ]);
      // Logging the same point again stores it once (the primary key), a new one is added.
      await after.writeTransaction((trx) =>
        trx
          .insertInto('run_metrics')
          .values([
            { run_id: run, key: 'loss', step: 0, timestamp: 10, value: 0.5, is_nan: 0 },
            { run_id: run, key: 'loss', step: 2, timestamp: 12, value: 0.25, is_nan: 0 },
          ])
          .onConflict((oc) => oc.doNothing())
          .execute(),
      );
      expect((await points()).length).toBe(4);
      if (dialect === 'sqlite') {
        const table = await sql<{ sql: string }>`select sql from sqlite_master
          where type = 'table' and name = 'run_metrics'`.execute(after.db);
        expect(table.rows[0]!.sql).toMatch(/without rowid$/i);
      }
      // Deleting the run still deletes its points (the foreign key came along).
      await after.writeTransaction((trx) => trx.deleteFrom('runs').where('id', '=', run).execute());
      expect(await points()).toEqual([]);
    } finally {
      await after.close();
    }
  });
});

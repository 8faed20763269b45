import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { type FreshDatabase, freshDatabase, TEST_DIALECTS } from '../../test/support/dialects.js';
import { fakeClock } from '../../test/support/temp-registry.js';
import { pendingMetricsMigration } from '../metadata/migrations/0303-pending-metrics.js';
import { runKeysMigration } from '../metadata/migrations/0304-run-keys.js';
import type { RegistryContext } from './registry-context.js';
import { openRegistryDirectory, type RegistryDirectory } from './registry-directory.js';
import type { Metric } from './tracking-service.js';

/**
 * A registry whose metrics were logged before migrations 0303 (run_pending_metrics) and
 * 0304 (run keys) keeps them: the database is taken back to its state before 0303 (the
 * pending table, the run keys and both bookkeeping rows gone, the points in run_metrics by
 * run id as 0302 stored them), reopened, and read and logged to.
 */
describe.each(TEST_DIALECTS)('tracking data across migrations 0303 and 0304 on %s', (dialect) => {
  let tmp: string | undefined;
  let fresh: FreshDatabase | undefined;
  let rd: RegistryDirectory | undefined;
  afterEach(async () => {
    await rd?.close();
    await fresh?.cleanup();
    if (tmp) await rm(tmp, { recursive: true, force: true });
    rd = fresh = tmp = undefined;
  });

  it("keeps an existing run's metric history and latest metrics", async () => {
    tmp = await mkdtemp(join(tmpdir(), 'mv-tracking-upgrade-'));
    fresh = dialect === 'sqlite' ? undefined : await freshDatabase(dialect);
    const open = () =>
      openRegistryDirectory(join(tmp!, 'reg'), {
        create: true,
        defaultActor: 'alice',
        clock: fakeClock(),
        ...(fresh ? { database: fresh.config } : {}),
      });
    rd = await open();
    const id = (await rd.tracking.createRun({})).info.run_id;
    const before: Metric[] = [];
    for (let step = 0; step < 20; step++) {
      const points = [
        { key: 'loss', value: 1 / (step + 1), timestamp: 1000 + step, step },
        { key: 'acc', value: step === 3 ? Number.NaN : step / 20, timestamp: 1000 + step, step },
      ];
      // Batches below PENDING_METRICS.minBatch: stored in run_metrics, as before 0303.
      await rd.tracking.logBatch(id, { metrics: points });
      before.push(...points);
    }
    const dbOf = (r: RegistryDirectory) =>
      (r.tracking as unknown as { ctx: RegistryContext }).ctx.database.db;
    const count = async (table: string) =>
      Number(
        (await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(dbOf(rd!)))
          .rows[0]!.n,
      );
    const db = dbOf(rd);
    expect(await count('run_metrics')).toBe(40);
    // Back to the schema before 0303: the points and latest points by run id, no pending
    // table, no run keys. (The tables by run id are plain copies, without their keys:
    // migration 0304 only reads them.)
    await sql`drop table run_pending_metrics`.execute(db);
    for (const [table, columns] of [
      ['run_metrics', sql`m.key, m.step, m.timestamp, m.value, m.is_nan`],
      ['run_latest_metrics', sql`m.key, m.value, m.is_nan, m.step, m.timestamp`],
    ] as const) {
      await sql`create table ${sql.table(`${table}_by_id`)} as
        select r.id as run_id, ${columns}
        from ${sql.table(table)} as m join runs as r on r.run_key = m.run_key`.execute(db);
      await sql`drop table ${sql.table(table)}`.execute(db);
      await sql`alter table ${sql.table(`${table}_by_id`)} rename to ${sql.table(table)}`.execute(
        db,
      );
    }
    await sql`drop index runs_run_key`.execute(db);
    await sql`alter table runs drop column run_key`.execute(db);
    await sql`delete from kysely_migration
      where name in (${pendingMetricsMigration.name}, ${runKeysMigration.name})`.execute(db);
    await rd.close();

    rd = await open();
    const t = rd.tracking;
    const history = async (key: string) => (await t.metricHistory(id, key)).items;
    const of = (key: string) => before.filter((m) => m.key === key);
    expect(await history('loss')).toEqual(of('loss'));
    expect(await history('acc')).toEqual(of('acc'));
    const latest = (await t.getRun(id)).data.metrics;
    expect(latest).toEqual([of('acc')[19], of('loss')[19]]);
    // And the run logs on: a large batch goes to the new table, read with the old points.
    const batch = Array.from({ length: 50 }, (_, i) => ({
      key: 'loss',
      value: i,
      timestamp: 2000 + i,
      step: 20 + i,
    }));
    await t.logBatch(id, { metrics: [...batch, before[0]!] });
    expect(await count('run_pending_metrics')).toBe(51);
    expect(await history('loss')).toEqual([...of('loss'), ...batch]);
    // A run created after the upgrade gets a key of its own (after the numbered ones):
    // its points and latest points are its own, the first run's stay as they were.
    const next = (await t.createRun({})).info.run_id;
    const point = { key: 'loss', value: -1, timestamp: 3000, step: 0 };
    await t.logBatch(next, { metrics: [point] });
    await t.logBatch(next, { metrics: batch.map((m) => ({ ...m, key: 'acc' })) });
    expect((await t.metricHistory(next, 'loss')).items).toEqual([point]);
    expect((await t.metricHistory(next, 'acc')).items).toHaveLength(batch.length);
    expect(await history('loss')).toEqual([...of('loss'), ...batch]);
    expect(await history('acc')).toEqual(of('acc'));
    expect((await t.getRun(id)).data.metrics).toEqual([of('acc')[19], batch[49]]);
    expect((await t.getRun(next)).data.metrics).toEqual([{ ...batch[49]!, key: 'acc' }, point]);
  });
});

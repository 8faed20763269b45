import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { type FreshDatabase, freshDatabase, TEST_DIALECTS } from '../../test/support/dialects.js';
import { insertOldPoints, type OldPoint } from '../../test/support/old-metric-rows.js';
import { fakeClock } from '../../test/support/temp-registry.js';
import { segmentFields } from '../metadata/metric-points-codec.js';
import { pendingMetricsMigration } from '../metadata/migrations/0303-pending-metrics.js';
import { runKeysMigration } from '../metadata/migrations/0304-run-keys.js';
import { packedMetricHistoryMigration } from '../metadata/migrations/0305-packed-metric-history.js';
import { orderedMetricSegmentsMigration } from '../metadata/migrations/0306-ordered-metric-segments.js';
import { trackingPurgeMigration } from '../metadata/migrations/0307-tracking-purge.js';
import type { RegistryContext } from './registry-context.js';
import { openRegistryDirectory, type RegistryDirectory } from './registry-directory.js';
import { DELETED_RETENTION_MS } from './retention.js';
import type { Metric } from './tracking-service.js';

/**
 * A registry whose metrics were logged before migrations 0303 (run_pending_metrics), 0304
 * (run keys) and 0305 (packed points) keeps them: the database is taken back to its state
 * before 0303 (the pending and packed tables, the run keys and the bookkeeping rows gone,
 * the points in run_metrics by run id as 0302 stored them), reopened, and read and logged
 * to. Segments an early fold of 0305 wrote overlapping are ordered when 0306 runs at open.
 * Runs and experiments deleted before 0307 are purged by gc once it is applied.
 */
describe.each(TEST_DIALECTS)('tracking data across migrations 0303 to 0307 on %s', (dialect) => {
  let tmp: string | undefined;
  let fresh: FreshDatabase | undefined;
  let rd: RegistryDirectory | undefined;
  afterEach(async () => {
    await rd?.close();
    await fresh?.cleanup();
    if (tmp) await rm(tmp, { recursive: true, force: true });
    rd = fresh = tmp = undefined;
  });

  /** A new registry's directory and database; opens it (again) on every call. */
  async function registryOpener(): Promise<() => Promise<RegistryDirectory>> {
    tmp = await mkdtemp(join(tmpdir(), 'mv-tracking-upgrade-'));
    fresh = dialect === 'sqlite' ? undefined : await freshDatabase(dialect);
    const dir = join(tmp, 'reg');
    const database = fresh?.config;
    return () =>
      openRegistryDirectory(dir, {
        create: true,
        defaultActor: 'alice',
        clock: fakeClock(),
        ...(database ? { database } : {}),
      });
  }

  it("keeps an existing run's metric history and latest metrics", async () => {
    const open = await registryOpener();
    rd = await open();
    const id = (await rd.tracking.createRun({})).info.run_id;
    const before: Metric[] = [];
    for (let step = 0; step < 20; step++) {
      const points = [
        { key: 'loss', value: 1 / (step + 1), timestamp: 1000 + step, step },
        { key: 'acc', value: step === 3 ? Number.NaN : step / 20, timestamp: 1000 + step, step },
      ];
      await rd.tracking.logBatch(id, { metrics: points });
      before.push(...points);
    }
    const dbOf = (r: RegistryDirectory) =>
      (r.tracking as unknown as { ctx: RegistryContext }).ctx.database.db;
    // The points pending in batches (migration 0305).
    const pending = async () =>
      Number(
        (
          await sql<{ n: number }>`select coalesce(sum(n), 0) as n from run_metric_batches`.execute(
            dbOf(rd!),
          )
        ).rows[0]!.n,
      );
    const db = dbOf(rd);
    // Back to the schema before 0303: the points and latest points by run id, no pending
    // table, no run keys, no packed tables (0305). (The tables by run id are plain tables,
    // without their keys: migration 0304 only reads them.)
    await sql`drop table run_metric_batches`.execute(db);
    await sql`drop table run_metric_segments`.execute(db);
    await sql`create table run_metrics (run_id text not null, key text not null,
      step bigint not null, timestamp bigint not null, value double precision not null,
      is_nan integer not null)`.execute(db);
    for (const m of before) {
      const nan = Number.isNaN(m.value);
      await sql`insert into run_metrics values (${id}, ${m.key}, ${m.step}, ${m.timestamp},
        ${nan ? 0 : m.value}, ${nan ? 1 : 0})`.execute(db);
    }
    await sql`create table run_latest_metrics_by_id as
      select r.id as run_id, m.key, m.value, m.is_nan, m.step, m.timestamp
      from run_latest_metrics as m join runs as r on r.run_key = m.run_key`.execute(db);
    await sql`drop table run_latest_metrics`.execute(db);
    await sql`alter table run_latest_metrics_by_id rename to run_latest_metrics`.execute(db);
    await sql`drop index runs_run_key`.execute(db);
    await sql`alter table runs drop column run_key`.execute(db);
    await sql`delete from kysely_migration
      where name in (${pendingMetricsMigration.name}, ${runKeysMigration.name},
        ${packedMetricHistoryMigration.name})`.execute(db);
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
    expect(await pending()).toBe(51);
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

  it("packs the points of migration 0304's tables exactly as get-history read them (0305)", async () => {
    const open = await registryOpener();
    rd = await open();
    const a = (await rd.tracking.createRun({})).info.run_id;
    const b = (await rd.tracking.createRun({})).info.run_id;
    const dbOf = (r: RegistryDirectory) =>
      (r.tracking as unknown as { ctx: RegistryContext }).ctx.database.db;
    const db = dbOf(rd);
    const keyOf = async (id: string) =>
      Number(
        (await sql<{ k: number }>`select run_key as k from runs where id = ${id}`.execute(db))
          .rows[0]!.k,
      );
    const keys = { a: await keyOf(a), b: await keyOf(b) };
    // Back to the tables of 0304: a point per row, folded history and pending points.
    await sql`drop table run_metric_batches`.execute(db);
    await sql`drop table run_metric_segments`.execute(db);
    await sql`create table run_metrics (run_key bigint not null references runs (run_key) on delete cascade,
      key text not null, step bigint not null, timestamp bigint not null,
      value double precision not null, is_nan integer not null,
      primary key (run_key, key, step, timestamp, value, is_nan))`.execute(db);
    await sql`create table run_pending_metrics (run_key bigint not null references runs (run_key) on delete cascade,
      seq bigint not null, key text not null, step bigint not null, timestamp bigint not null,
      value double precision not null, is_nan integer not null, primary key (run_key, seq))`.execute(
      db,
    );
    type Row = OldPoint;
    const specials = [
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      Number.MAX_VALUE,
      -Number.MIN_VALUE,
      0.1 + 0.2,
    ];
    // Run a: 'loss' has more points than a segment holds; -0 alone at its step (SQLite
    // stores it as 0, PostgreSQL keeps it).
    const folded: Row[] = [];
    for (let step = 0; step < 5000; step++) {
      const value = step % 9 === 0 ? specials[(step / 9) % specials.length]! : step / 3;
      folded.push(['loss', step, 10 + (step % 4), value]);
    }
    folded.push(['loss', 5000, 1, -0], ['loss', 5001, 1, 0]);
    folded.push(['ü/acc', 3, 1, 1], ['ü/acc', 3, 1, Number.NaN], ['ü/acc', 3, 1, 0.5]);
    // Pending: points also folded, a point twice, steps out of order and inside the
    // folded range, NaN, infinities.
    const pendingA: Row[] = [
      ...folded.slice(4990, 4995),
      ['loss', 7, 1, 2],
      ['loss', 7, 1, 2],
      ['loss', 6000, 1, Number.NaN],
      ['loss', -5, 1, Number.POSITIVE_INFINITY],
      ['ü/acc', 3, 1, Number.NaN],
      ['ü/acc', 2, 9, Number.NEGATIVE_INFINITY],
      ['new', 1, 1, 1],
    ];
    const pendingB: Row[] = [
      ['loss', 2, 1, 5],
      ['loss', 1, 1, 4],
      ['loss', 2, 1, 5],
    ];
    await insertOldPoints(db, 'run_metrics', keys.a, folded);
    await insertOldPoints(db, 'run_pending_metrics', keys.a, pendingA);
    await insertOldPoints(db, 'run_pending_metrics', keys.b, pendingB);
    // What get-history returned over these tables (its query before 0305).
    const old = async (runKey: number, key: string) =>
      (
        await sql<{ value: number; is_nan: number; timestamp: number; step: number }>`
        select key, value, is_nan, timestamp, step from run_metrics where run_key = ${runKey} and key = ${key}
        union select key, value, is_nan, timestamp, step from run_pending_metrics where run_key = ${runKey} and key = ${key}
        order by step, timestamp, is_nan desc, value`.execute(db)
      ).rows.map((r) => ({
        key,
        value: r.is_nan ? Number.NaN : r.value,
        timestamp: Number(r.timestamp),
        step: Number(r.step),
      }));
    const cases = [
      [a, keys.a, 'loss'],
      [a, keys.a, 'ü/acc'],
      [a, keys.a, 'new'],
      [b, keys.b, 'loss'],
    ] as const;
    const expected = new Map<string, Metric[]>();
    for (const [id, runKey, key] of cases) expected.set(`${id}/${key}`, await old(runKey, key));
    expect(expected.get(`${a}/loss`)).toHaveLength(5000 + 2 + 3);
    await sql`delete from kysely_migration where name = ${packedMetricHistoryMigration.name}`.execute(
      db,
    );
    await rd.close();

    rd = await open();
    const t = rd.tracking;
    for (const [id, , key] of cases) {
      const want = expected.get(`${id}/${key}`)!;
      // toEqual tells -0 from 0 and NaN from everything else.
      expect((await t.metricHistory(id, key)).items).toEqual(want);
      const pages: Metric[] = [];
      let pageToken: string | undefined;
      do {
        const page = await t.metricHistory(id, key, {
          maxResults: 999,
          ...(pageToken ? { pageToken } : {}),
        });
        pages.push(...page.items);
        pageToken = page.nextPageToken;
      } while (pageToken);
      expect(pages).toEqual(want);
    }
    const db2 = dbOf(rd);
    const segments = await sql<{ run_key: number; key: string; n: number }>`
      select run_key, key, n from run_metric_segments order by run_key, key, fold`.execute(db2);
    expect(segments.rows.map((r) => [Number(r.run_key), r.key, Number(r.n)])).toEqual([
      [keys.a, 'loss', 4096],
      [keys.a, 'loss', 5005 - 4096],
      [keys.a, 'new', 1],
      [keys.a, 'ü/acc', 4],
      [keys.b, 'loss', 2],
    ]);
    const count = async (table: string) =>
      Number(
        (await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(db2))
          .rows[0]!.n,
      );
    expect(await count('run_metric_batches')).toBe(0);
    // The segments go with their run (the foreign key cascades).
    await sql`delete from runs where id = ${b}`.execute(db2);
    expect(await count('run_metric_segments')).toBe(4);
  });

  it('orders segments written overlapping when migration 0306 runs at open', async () => {
    const open = await registryOpener();
    rd = await open();
    const id = (await rd.tracking.createRun({})).info.run_id;
    const db = (rd.tracking as unknown as { ctx: RegistryContext }).ctx.database.db;
    const runKey = Number(
      (await sql<{ k: number }>`select run_key as k from runs where id = ${id}`.execute(db))
        .rows[0]!.k,
    );
    // Three folds of 'loss' as the first fold of 0305 could append them: each sorted, the
    // later ones overlapping the earlier ones, one point in two of them.
    const folds: [step: number, value: number][][] = [
      [
        [10, 1],
        [11, 2],
      ],
      [
        [0, 3],
        [10, 1],
        [12, 4],
      ],
      [
        [5, 5],
        [6, 6],
      ],
    ];
    for (const [fold, points] of folds.entries()) {
      await db
        .insertInto('run_metric_segments')
        .values({
          run_key: runKey,
          key: 'loss',
          fold,
          ...segmentFields(
            'loss',
            {
              steps: points.map(([step]) => step),
              timestamps: points.map(() => 7),
              values: points.map(([, value]) => value),
              nans: points.map(() => 0),
            },
            0,
            points.length,
          ),
        })
        .execute();
    }
    await sql`delete from kysely_migration where name = ${orderedMetricSegmentsMigration.name}`.execute(
      db,
    );
    await rd.close();

    rd = await open();
    const db2 = (rd.tracking as unknown as { ctx: RegistryContext }).ctx.database.db;
    const applied = await sql<{ n: number }>`select count(*) as n from kysely_migration
      where name = ${orderedMetricSegmentsMigration.name}`.execute(db2);
    expect(Number(applied.rows[0]!.n)).toBe(1);
    // One ordered segment now, and the history each point once in step order.
    const segments = await db2
      .selectFrom('run_metric_segments')
      .select(['fold', 'first_step', 'last_step', 'n'])
      .where('run_key', '=', runKey)
      .orderBy('fold')
      .execute();
    expect(
      segments.map((r) => [Number(r.fold), Number(r.first_step), Number(r.last_step), r.n]),
    ).toEqual([[0, 0, 12, 6]]);
    const want = [0, 5, 6, 10, 11, 12].map((step) => ({
      key: 'loss',
      step,
      timestamp: 7,
      value: { 0: 3, 5: 5, 6: 6, 10: 1, 11: 2, 12: 4 }[step]!,
    }));
    expect((await rd.tracking.metricHistory(id, 'loss')).items).toEqual(want);
  });

  it('migration 0307 lets gc purge runs and experiments deleted before it was applied', async () => {
    let now = Date.UTC(2024, 0, 1);
    tmp = await mkdtemp(join(tmpdir(), 'mv-tracking-upgrade-'));
    fresh = dialect === 'sqlite' ? undefined : await freshDatabase(dialect);
    const dir = join(tmp, 'reg');
    const database = fresh?.config;
    const open = () =>
      openRegistryDirectory(dir, {
        create: true,
        defaultActor: 'alice',
        clock: () => now++,
        ...(database ? { database } : {}),
      });
    rd = await open();
    const exp = await rd.tracking.createExperiment({ name: 'old' });
    const run = (await rd.tracking.createRun({ experimentId: exp })).info.run_id;
    await rd.tracking.logBatch(run, {
      metrics: [{ key: 'loss', value: 1, timestamp: 1, step: 0 }],
    });
    await rd.tracking.deleteExperiment(exp);
    // Back to the schema before 0307.
    const db = (rd.tracking as unknown as { ctx: RegistryContext }).ctx.database.db;
    await sql`drop index runs_deleted`.execute(db);
    await sql`drop table tracking_sequences`.execute(db);
    await sql`delete from kysely_migration where name = ${trackingPurgeMigration.name}`.execute(db);
    await rd.close();

    now += DELETED_RETENTION_MS + 24 * 60 * 60 * 1000;
    rd = await open();
    expect(await rd.registry.gc({ graceMs: 0 })).toMatchObject({
      runsPurged: 1,
      experimentsPurged: 1,
    });
    await expect(rd.tracking.getRun(run)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(Number(await rd.tracking.createExperiment({ name: 'old' }))).toBe(Number(exp) + 1);
  });
});

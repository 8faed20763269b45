import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TEST_DIALECTS } from '../../test/support/dialects.js';
import {
  openTempRegistryDirectory,
  type TempRegistryDirectory,
} from '../../test/support/temp-registry.js';
import { runJson } from './mlflow-json.js';
import type { RegistryContext } from './registry-context.js';
import type { RegistryDirectory } from './registry-directory.js';
import {
  type Metric,
  PENDING_METRICS,
  type Run,
  type TrackingService,
} from './tracking-service.js';

/** `rand(n)`: 0 ≤ integer < n, a Park–Miller sequence from `seed` (every residue varies). */
function parkMiller(seed: number): (n: number) => number {
  let s = seed;
  return (n) => {
    s = (s * 48271) % 2147483647;
    return s % n;
  };
}

/** Doubles whose reading or writing a wrong path gets wrong (float4, text, JSON, -0). */
const AWKWARD_DOUBLES = [
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  -0,
  0,
  5e-324,
  -5e-324,
  1.7976931348623157e308,
  1e21,
  1e-7,
  123456789012345680000,
  0.1 + 0.2,
  -1.5,
  2 ** 53,
  1 / 3,
  42,
  0.5,
];

describe.each(TEST_DIALECTS)('%s', (dialect) => {
  let temp: TempRegistryDirectory;
  let rd: RegistryDirectory;
  let t: TrackingService;

  beforeEach(async () => {
    temp = await openTempRegistryDirectory(dialect, 'mv-tracking-');
    rd = temp.rd;
    t = rd.tracking;
  });
  afterEach(() => temp.cleanup());

  describe('TrackingService', () => {
    it('has the Default experiment 0', async () => {
      const e = await t.getExperiment('0');
      expect(e).toMatchObject({
        experiment_id: '0',
        name: 'Default',
        artifact_location: 'mlflow-artifacts:/0',
        lifecycle_stage: 'active',
      });
    });

    it('creates a run and returns it with its info, params, latest metrics and tags', async () => {
      const exp = await t.createExperiment({
        name: 'fraud',
        tags: [{ key: 'team', value: 'risk' }],
      });
      expect(exp).toBe('1');
      const created = await t.createRun({ experimentId: exp, runName: 'r1', startTime: 5 });
      const id = created.info.run_id;
      expect(id).toMatch(/^[0-9a-f]{32}$/);
      await t.logParam(id, { key: 'alpha', value: '0.5' });
      await t.logBatch(id, {
        metrics: [
          { key: 'loss', value: 2, timestamp: 10, step: 0 },
          { key: 'loss', value: 1, timestamp: 11, step: 1 },
          { key: 'loss', value: 9, timestamp: 9, step: 0 },
        ],
      });
      await t.setTag(id, { key: 'mlflow.user', value: 'bob' });
      const run = await t.getRun(id);
      expect(run.info).toEqual({
        run_id: id,
        run_uuid: id,
        run_name: 'r1',
        experiment_id: '1',
        user_id: 'alice',
        status: 'RUNNING',
        start_time: 5,
        artifact_uri: `mlflow-artifacts:/1/${id}/artifacts`,
        lifecycle_stage: 'active',
      });
      expect(run.data.metrics).toEqual([{ key: 'loss', value: 1, timestamp: 11, step: 1 }]);
      expect(run.data.params).toEqual([{ key: 'alpha', value: '0.5' }]);
      expect(run.data.tags).toEqual([
        { key: 'mlflow.runName', value: 'r1' },
        { key: 'mlflow.user', value: 'bob' },
      ]);
      const history = await t.metricHistory(id, 'loss');
      expect(history.items.map((m) => m.value)).toEqual([9, 2, 1]);
    });

    it('refuses to change a logged param and to log to a deleted run', async () => {
      const run = await t.createRun({});
      const id = run.info.run_id;
      await t.logParam(id, { key: 'a', value: '1' });
      await t.logParam(id, { key: 'a', value: '1' });
      await expect(t.logParam(id, { key: 'a', value: '2' })).rejects.toThrow(
        /Changing param values is not allowed/,
      );
      await t.deleteRun(id);
      await expect(t.logMetric(id, { key: 'm', value: 1, timestamp: 1, step: 0 })).rejects.toThrow(
        /must be in the 'active' state/,
      );
      expect((await t.getRun(id)).info.lifecycle_stage).toBe('deleted');
    });

    it('keeps the latest point by step, timestamp, then value (NaN lowest) across calls', async () => {
      const id = (await t.createRun({})).info.run_id;
      const log = (key: string, value: number, timestamp: number, step: number) =>
        t.logMetric(id, { key, value, timestamp, step });
      // Each call is compared with the stored latest point, not only within its batch.
      await log('steps', 1, 50, 5);
      await log('steps', 2, 99, 4); // an older step, however late: kept out
      await log('times', 1, 10, 0);
      await log('times', 2, 11, 0); // the same step, later: replaces
      await log('times', 3, 9, 0); // earlier: kept out
      await log('values', 5, 1, 0);
      await log('values', 4, 1, 0); // a tie on step and timestamp: the larger value stays
      await log('values', Number.NaN, 1, 0); // NaN ranks lowest
      await log('nan', Number.NaN, 1, 0);
      await log('nan', -1, 1, 0); // any number outranks NaN
      await log('negInf', Number.NEGATIVE_INFINITY, 1, 0);
      await log('negInf', Number.NaN, 1, 0); // NaN ties with -Infinity: the later one wins
      await t.logBatch(id, {
        metrics: [
          { key: 'batch', value: 7, timestamp: 1, step: 3 },
          { key: 'batch', value: 8, timestamp: 1, step: 2 },
        ],
      });
      await t.logBatch(id, { metrics: [{ key: 'batch', value: 9, timestamp: 1, step: 2 }] });
      const latest = Object.fromEntries(
        (await t.getRun(id)).data.metrics.map((m) => [m.key, [m.value, m.timestamp, m.step]]),
      );
      expect(latest).toEqual({
        batch: [7, 1, 3],
        nan: [-1, 1, 0],
        negInf: [Number.NaN, 1, 0],
        steps: [1, 50, 5],
        times: [2, 11, 0],
        values: [5, 1, 0],
      });
      expect((await t.metricHistory(id, 'batch')).items.map((m) => m.value)).toEqual([8, 9, 7]);
    });

    it('serves the history of batched points before and after they are folded', async () => {
      const { foldAt } = PENDING_METRICS;
      expect(foldAt).toBeGreaterThan(1000);
      const id = (await t.createRun({})).info.run_id;
      // What the history must hold: each distinct point once, by step, timestamp, NaN
      // first, then value.
      const model = new Map<string, Metric>();
      const remember = (m: Metric) =>
        model.set(
          `${m.key}/${m.step}/${m.timestamp}/${Number.isNaN(m.value) ? 'NaN' : m.value}`,
          m,
        );
      const expected = (key: string) =>
        [...model.values()]
          .filter((m) => m.key === key)
          .sort(
            (x, y) =>
              x.step - y.step ||
              x.timestamp - y.timestamp ||
              Number(Number.isNaN(y.value)) - Number(Number.isNaN(x.value)) ||
              (x.value < y.value ? -1 : x.value > y.value ? 1 : 0),
          );
      const history = async (key: string) => {
        const all: Metric[] = [];
        let pageToken: string | undefined;
        do {
          const page = await t.metricHistory(id, key, {
            maxResults: 700,
            ...(pageToken ? { pageToken } : {}),
          });
          all.push(...page.items);
          pageToken = page.nextPageToken;
        } while (pageToken);
        return all;
      };
      const check = async () => {
        for (const key of ['a', 'b']) expect(await history(key)).toEqual(expected(key));
      };
      const db = (t as unknown as { ctx: RegistryContext }).ctx.database.db;
      const pending = async () =>
        Number(
          (
            await db
              .selectFrom('run_metric_batches')
              .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('n'), eb.lit(0)).as('n'))
              .where('run_key', '=', db.selectFrom('runs').select('run_key').where('id', '=', id))
              .executeTakeFirstOrThrow()
          ).n,
        );
      // Single points are pending batches of one point.
      for (let step = 0; step < 10; step++) {
        const m = { key: 'a', value: step / 2, timestamp: 100 + step, step };
        await t.logMetric(id, m);
        remember(m);
      }
      expect(await pending()).toBe(10);
      let round = 0;
      const logBatch = async () => {
        // 1000 points: 'a' overlaps the single points and the previous batch (the same
        // points again), 'b' has NaN, infinities, a repeat within the batch and equal steps.
        const metrics: Metric[] = [];
        for (let i = 0; i < 600; i++) {
          const step = round * 300 + i;
          metrics.push({ key: 'a', value: step / 2, timestamp: 100 + step, step });
        }
        for (let i = 0; i < 400; i++) {
          const step = round * 200 + Math.floor(i / 2);
          const special = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0.25];
          const value = i % 7 === 0 ? special[(i / 7) % 4]! : i % 5 === 0 ? 1 : -i;
          metrics.push({ key: 'b', value, timestamp: i % 3, step });
        }
        await t.logBatch(id, { metrics });
        for (const m of metrics) remember(m);
        round++;
      };
      await logBatch();
      expect(await pending()).toBe(1010);
      await check();
      while ((round + 1) * 1000 + 10 < foldAt) await logBatch();
      expect(await pending()).toBe(round * 1000 + 10);
      await check();
      await logBatch(); // reaches foldAt: everything pending is folded into segments
      expect(await pending()).toBe(0);
      await check();
      await logBatch(); // points already folded, logged again, and new ones
      expect(await pending()).toBe(1000);
      await check();
      // The latest point is unaffected by where the points are.
      const a = expected('a');
      expect((await t.getRun(id)).data.metrics.find((m) => m.key === 'a')).toEqual(a[a.length - 1]);
    });

    it('stores batched points exactly as points logged a few at a time', async () => {
      // The same points logged a few at a time (batches of 7 points) and by batches of
      // 1000, folded at different points.
      // Every stored value must read back the same: NaN, ±Infinity, -0, the largest and
      // smallest doubles, unicode keys, a point repeated within a batch and across batches.
      const { foldAt } = PENDING_METRICS;
      const few = 7;
      const specials = [
        Number.NaN,
        Number.POSITIVE_INFINITY,
        Number.NEGATIVE_INFINITY,
        -0,
        0,
        Number.MAX_VALUE,
        -Number.MAX_VALUE,
        Number.MIN_VALUE,
        -Number.MIN_VALUE,
        2.2250738585072014e-308,
        0.1 + 0.2,
        1e21,
        -123456789.125,
        2 ** 53 + 2,
      ];
      const keys = ['loss', 'val/acc', 'ключ', '指标 μ', 'Ωmega-ü.x'];
      const points: Metric[] = [];
      for (let i = 0; points.length < foldAt + 1500; i++) {
        const key = keys[i % keys.length]!;
        const step = Math.floor(i / 7) - 3;
        const value = i % 3 === 0 ? specials[(i / 3) % specials.length]! : (i * 7919) / 13;
        const point = { key, value, timestamp: 1_700_000_000_000 + (i % 11), step };
        points.push(point);
        if (i % 97 === 0) points.push({ ...point }); // the same point twice in a row
      }
      // Each key's last step: points equal in step and timestamp, ordered by value (NaN
      // lowest), split across batches differently in the two runs.
      for (const key of keys) {
        for (const value of [3, Number.NaN, 7.5, Number.NEGATIVE_INFINITY, 7.5, -0]) {
          points.push({ key, value, timestamp: 5, step: 10_000 });
        }
      }
      const single = (await t.createRun({})).info.run_id;
      const batched = (await t.createRun({})).info.run_id;
      for (let i = 0; i < points.length; i += few) {
        await t.logBatch(single, { metrics: points.slice(i, i + few) });
      }
      for (let i = 0; i < points.length; i += 1000) {
        await t.logBatch(batched, { metrics: points.slice(i, i + 1000) });
      }
      // Points already stored (folded and pending), logged again.
      await t.logBatch(batched, { metrics: points.slice(foldAt - 500, foldAt + 500) });
      // Batches of distinct keys, whose points are their keys' latest-point candidates
      // themselves; steps and timestamps going back and forth between batches.
      const distinctKeys = Array.from({ length: 40 }, (_, i) => `d${i}/ü`);
      for (let round = 0; round < 12; round++) {
        const batch = distinctKeys.map((key, i) => ({
          key,
          value: specials[(round + i) % specials.length]!,
          timestamp: 1_700_000_000_000 + ((round * 3 + i) % 4),
          step: (round * 7 + i) % 5,
        }));
        await t.logBatch(batched, { metrics: batch });
        for (let i = 0; i < batch.length; i += few) {
          await t.logBatch(single, { metrics: batch.slice(i, i + few) });
        }
      }
      const db = (t as unknown as { ctx: RegistryContext }).ctx.database.db;
      const pending = await db
        .selectFrom('run_metric_batches')
        .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('n'), eb.lit(0)).as('n'))
        .where('run_key', '=', db.selectFrom('runs').select('run_key').where('id', '=', batched))
        .executeTakeFirstOrThrow();
      expect(Number(pending.n)).toBeGreaterThan(0); // some points pending, some folded
      const history = async (id: string, key: string) =>
        (await t.metricHistory(id, key, { maxResults: 25000 })).items;
      // toEqual tells -0 from 0 and NaN from everything else.
      for (const key of [...keys, ...distinctKeys]) {
        const expected = await history(single, key);
        expect(expected.length).toBeGreaterThanOrEqual(12);
        expect(await history(batched, key)).toEqual(expected);
      }
      const latest = (await t.getRun(batched)).data.metrics;
      expect(latest).toEqual((await t.getRun(single)).data.metrics);
      expect(latest.filter((m) => keys.includes(m.key))).toEqual(
        [...keys].sort().map((key) => ({ key, value: 7.5, timestamp: 5, step: 10_000 })),
      );
      // The latest points as stored (NaN as NULL), which search and order_by read.
      const stored = (id: string) =>
        db
          .selectFrom('run_latest_metrics')
          .select(['key', 'value', 'is_nan', 'step', 'timestamp'])
          .where('run_key', '=', db.selectFrom('runs').select('run_key').where('id', '=', id))
          .orderBy('key')
          .execute();
      const storedLatest = await stored(batched);
      expect(storedLatest).toHaveLength(keys.length + distinctKeys.length);
      expect(storedLatest).toEqual(await stored(single));
      expect(storedLatest.some((r) => r.value === null)).toBe(true);
      expect(JSON.parse(await t.getRunJson(batched)).data.metrics).toEqual(
        JSON.parse(await t.getRunJson(single)).data.metrics,
      );
    });

    it('keeps NaN and infinities', async () => {
      const id = (await t.createRun({})).info.run_id;
      await t.logBatch(id, {
        metrics: [
          { key: 'a', value: Number.NaN, timestamp: 1, step: 0 },
          { key: 'b', value: Number.POSITIVE_INFINITY, timestamp: 1, step: 0 },
        ],
      });
      const m = (await t.getRun(id)).data.metrics;
      expect(Number.isNaN(m[0]!.value)).toBe(true);
      expect(m[1]!.value).toBe(Number.POSITIVE_INFINITY);
    });

    it("getRunJson is getRun as MLflow's JSON, every optional part present or not", async () => {
      const same = async (id: string) =>
        expect(JSON.parse(await t.getRunJson(id))).toEqual(
          JSON.parse(JSON.stringify(runJson(await t.getRun(id)))),
        );
      // A bare run: no metrics, params or inputs, no end time.
      const bare = (await t.createRun({ runName: 'bare', startTime: 7 })).info.run_id;
      await same(bare);
      expect(JSON.parse(await t.getRunJson(bare))).toMatchObject({
        info: { run_name: 'bare', start_time: 7, experiment_id: '0' },
        data: { tags: [{ key: 'mlflow.runName', value: 'bare' }] },
        inputs: {},
      });
      expect(JSON.parse(await t.getRunJson(bare)).info).not.toHaveProperty('end_time');
      // Everything: special and awkward values, keys out of insertion order, inputs with
      // and without tags, an end time, a deleted run.
      const exp = await t.createExperiment({ name: 'json "quoted" \\ é' });
      const full = (
        await t.createRun({
          experimentId: exp,
          runName: 'full ✓',
          tags: [{ key: 'note', value: 'line\nbreak "q" \u0001 𝄞' }],
        })
      ).info.run_id;
      await t.logBatch(full, {
        metrics: [
          { key: 'z', value: 0.1 + 0.2, timestamp: 1_700_000_000_123, step: 3 },
          { key: 'nan', value: Number.NaN, timestamp: 1, step: 0 },
          { key: 'inf', value: Number.POSITIVE_INFINITY, timestamp: 1, step: 0 },
          { key: 'neg_inf', value: Number.NEGATIVE_INFINITY, timestamp: 1, step: -2 },
          { key: 'big', value: 1.7976931348623157e308, timestamp: 2, step: 2 ** 40 },
          { key: 'tiny', value: -5e-324, timestamp: 2, step: 0 },
          { key: 'int', value: 42, timestamp: 2, step: 0 },
          { key: 'A', value: -1.5, timestamp: 2, step: 0 },
        ],
        params: [
          { key: 'b', value: '' },
          { key: 'a', value: '{"json": [1, 2]}' },
        ],
      });
      await t.logInputs(full, [
        {
          tags: [{ key: 'mlflow.data.context', value: 'train' }],
          dataset: { name: 'd1', digest: 'x1', source_type: 'local', source: '{}', schema: 's' },
        },
        { tags: [], dataset: { name: 'd2', digest: 'x2', source_type: 'http', source: 'u' } },
      ]);
      await t.updateRun(full, { status: 'FINISHED', endTime: 99 });
      await same(full);
      const json = JSON.parse(await t.getRunJson(full));
      expect(json.info.end_time).toBe(99);
      expect(json.data.metrics.map((m: { value: unknown }) => m.value)).toEqual([
        -1.5,
        1.7976931348623157e308,
        'Infinity',
        42,
        'NaN',
        '-Infinity',
        -5e-324,
        0.30000000000000004,
      ]);
      expect(json.inputs.dataset_inputs[1]).toEqual({
        dataset: { name: 'd2', digest: 'x2', source_type: 'http', source: 'u' },
      });
      await t.deleteRun(full);
      await same(full);
      await expect(t.getRunJson('0'.repeat(32))).rejects.toThrow(/Run with id=0+ not found/);
      await expect(t.getRunJson('../x')).rejects.toThrow(/Invalid run ID/);
    });

    it('getRunJson on many runs is JSON.stringify(runJson(getRun)): byte for byte on PostgreSQL', async () => {
      // PostgreSQL reads the run in one statement (runInOneRead) where getRun takes five
      // reads; SQLite's one JSON statement writes some doubles differently (5.0), so there
      // the two are compared parsed.
      const rand = parkMiller(12345);
      const doubles = AWKWARD_DOUBLES;
      const steps = [0, -1, 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 40, -(2 ** 31), 7];
      const times = [0, 1, 2 ** 53 - 1, 1_700_000_000_123, 2 ** 31];
      const odd = [
        '',
        'plain',
        'q"uote',
        'back\\slash',
        'line\nbreak\ttab',
        '\u0001\u001f',
        'é 𝄞 ✓',
        '{"json": [1]}',
        '</script>',
      ];
      const keyChars = 'abAB09_- :.';
      const key = () =>
        `k${Array.from({ length: rand(6) }, () => keyChars[rand(keyChars.length)]).join('')}`;
      const ids: string[] = [];
      for (let i = 0; i < 24; i++) {
        const id = (
          await t.createRun({
            runName: `r${i} ${odd[i % odd.length]}`,
            startTime: [0, -5, 2 ** 53 - 1, 1_700_000_000_000][i % 4],
            tags: i % 3 === 0 ? [] : [{ key: `t ${key()}`, value: odd[rand(odd.length)]! }],
          })
        ).info.run_id;
        ids.push(id);
        if (i % 5 === 4) continue; // no lists at all
        const metrics = Array.from({ length: rand(12) }, () => ({
          key: key(),
          value: doubles[rand(doubles.length)]!,
          timestamp: times[rand(times.length)]!,
          step: steps[rand(steps.length)]!,
        }));
        const params = [...new Set(Array.from({ length: rand(6) }, () => key()))].map((k) => ({
          key: k,
          value: odd[rand(odd.length)]!,
        }));
        const tags = [...new Set(Array.from({ length: rand(4) }, () => key()))].map((k) => ({
          key: k,
          value: odd[rand(odd.length)]!,
        }));
        await t.logBatch(id, { metrics, params, tags });
        if (i % 2 === 0)
          await t.logBatch(id, {
            metrics: metrics.map((m) => ({ ...m, step: m.step + (m.step < 2 ** 40 ? 1 : -1) })),
          });
        if (i % 4 === 1) {
          await t.logInputs(id, [
            {
              tags: [{ key: 'mlflow.data.context', value: odd[rand(odd.length)]! }],
              dataset: {
                name: `d${i}`,
                digest: 'x1',
                source_type: 'local',
                source: odd[i % odd.length]!,
              },
            },
            {
              tags: [],
              dataset: { name: 'a', digest: 'x2', source_type: 'http', source: 'u', schema: 's' },
            },
          ]);
        }
        if (i % 3 === 2)
          await t.updateRun(id, { status: 'FINISHED', endTime: times[rand(times.length)]! });
        if (i % 6 === 5) await t.deleteRun(id);
      }
      for (const id of ids) {
        const reference = JSON.stringify(runJson(await t.getRun(id)));
        const fast = await t.getRunJson(id);
        if (dialect === 'postgres') expect(fast).toBe(reference);
        else expect(JSON.parse(fast)).toEqual(JSON.parse(reference));
      }
      // Missing and malformed ids: the same errors.
      for (const id of ['0'.repeat(32), 'f'.repeat(32), '../x']) {
        const error = await t.getRun(id).catch((e: Error) => e);
        expect(error).toBeInstanceOf(Error);
        await expect(t.getRunJson(id)).rejects.toEqual(error);
      }
    });

    it('searches runs by metrics, params and attributes', async () => {
      const a = (await t.createRun({ runName: 'a' })).info.run_id;
      const b = (await t.createRun({ runName: 'b' })).info.run_id;
      await t.logBatch(a, {
        metrics: [{ key: 'loss', value: 0.5, timestamp: 1, step: 0 }],
        params: [{ key: 'alpha', value: '0.5' }],
      });
      await t.logBatch(b, { metrics: [{ key: 'loss', value: 2, timestamp: 1, step: 0 }] });
      const found = await t.searchRuns({
        experimentIds: ['0'],
        filter: "metrics.loss < 1 and params.alpha = '0.5'",
      });
      expect(found.items.map((r) => r.info.run_id)).toEqual([a]);
      const ordered = await t.searchRuns({ experimentIds: ['0'], orderBy: ['metrics.loss DESC'] });
      expect(ordered.items.map((r) => r.info.run_name)).toEqual(['b', 'a']);
      const byName = await t.searchRuns({
        experimentIds: ['0'],
        filter: "attributes.run_name ILIKE 'B'",
      });
      expect(byName.items.map((r) => r.info.run_id)).toEqual([b]);
    });

    it("hydrates a search page's runs exactly as getRun, on every page and page size", async () => {
      // Every run's lists carry its index, so a grouping that hands a run another's rows
      // fails; keys are logged out of order, so a list in another order fails; -0, NaN and
      // ±Infinity are compared by their own text (`exact`), which JSON.stringify is not.
      const exp = await t.createExperiment({ name: 'page' });
      const other = await t.createExperiment({ name: 'other' });
      const specials = [
        -0,
        Number.NaN,
        Number.POSITIVE_INFINITY,
        Number.NEGATIVE_INFINITY,
        0.1 + 0.2,
        -5e-324,
        1.7976931348623157e308,
      ];
      const ids: string[] = [];
      for (let i = 0; i < 14; i++) {
        const experimentId = i % 7 === 3 ? other : exp;
        const id = (
          await t.createRun({ experimentId, runName: `run ${i}`, startTime: 100 + (i % 5) })
        ).info.run_id;
        ids.push(id);
        if (i % 4 === 0) await t.deleteTag(id, 'mlflow.runName'); // some runs have no tags
        if (i % 3 !== 2) {
          const keys = ['zeta', 'B', 'alpha', `m${i}`, '_u', 'b'].slice(0, 1 + (i % 6));
          await t.logBatch(id, {
            metrics: keys.flatMap((key, k) => [
              {
                key,
                value: specials[(i + k) % specials.length]!,
                timestamp: 1_700_000_000_000 + i,
                step: 2 ** 40 + k,
              },
              // Re-logged points: an older step, and the same step at an earlier time.
              { key, value: i * 100 + k, timestamp: 9, step: 0 },
              { key, value: -(i * 100 + k), timestamp: 4, step: 2 ** 40 + k },
            ]),
            params: keys.map((key, k) => ({ key: `p.${key}`, value: `${i}:${k}` })),
            tags: keys.map((key) => ({ key: `t.${key}`, value: `run ${i}` })),
          });
          // A later point of one key, in a later request.
          await t.logMetric(id, { key: keys[0]!, value: i + 0.5, timestamp: 1, step: 2 ** 41 });
        }
        if (i % 2 === 1) {
          await t.logInputs(id, [
            {
              tags: [{ key: 'mlflow.data.context', value: `train ${i}` }],
              dataset: { name: `z${i}`, digest: 'd1', source_type: 'local', source: '{}' },
            },
            {
              tags: [],
              dataset: { name: `a${i}`, digest: 'd2', source_type: 'http', source: 'u' },
            },
          ]);
          // The first again (skipped) and a third, in a later request.
          await t.logInputs(id, [
            {
              tags: [],
              dataset: { name: `z${i}`, digest: 'd1', source_type: 'local', source: '{}' },
            },
            { tags: [], dataset: { name: `m${i}`, digest: 'd3', source_type: 's3', source: 's' } },
          ]);
        }
        if (i % 5 === 4) await t.deleteRun(id);
      }
      const exact = (v: unknown) =>
        JSON.stringify(v, (_key, x) =>
          typeof x === 'number' && (Object.is(x, -0) || !Number.isFinite(x))
            ? `<${x}|${Object.is(x, -0)}>`
            : x,
        );
      // NaN and ±Infinity survive the round trip, so `exact` would see a change in them (-0
      // is logged too, but storage may keep it as 0; both reads then give 0).
      const all = await Promise.all(ids.map((id) => t.getRun(id)));
      const values = all.flatMap((r) => r.data.metrics.map((m) => m.value));
      expect(values.some((v) => Number.isNaN(v))).toBe(true);
      expect(values).toContain(Number.NEGATIVE_INFINITY);
      expect(all.some((r) => r.data.tags.length === 0 && r.data.metrics.length === 0)).toBe(true);
      for (const maxResults of [1, 3, 100]) {
        const seen: string[] = [];
        let pageToken: string | undefined;
        do {
          const page = await t.searchRuns({
            experimentIds: [exp, other],
            viewType: 'ALL',
            orderBy: ['params.`p.zeta` DESC'],
            maxResults,
            ...(pageToken ? { pageToken } : {}),
          });
          expect(page.items.length).toBeLessThanOrEqual(maxResults);
          for (const run of page.items) {
            expect(exact(run)).toBe(exact(await t.getRun(run.info.run_id)));
            seen.push(run.info.run_id);
          }
          pageToken = page.nextPageToken;
        } while (pageToken);
        expect([...seen].sort()).toEqual([...ids].sort());
      }
    });

    it('rejects get-history of an unknown run before a bad page token, as before', async () => {
      // On PostgreSQL the run is read with the history (one statement), after the token is
      // decoded: a bad token must still lose to an unknown run.
      const id = (await t.createRun({})).info.run_id;
      await t.logBatch(id, {
        metrics: Array.from({ length: 5 }, (_, s) => ({
          key: 'm',
          value: s,
          timestamp: 1,
          step: s,
        })),
      });
      const page = await t.metricHistory(id, 'm', { maxResults: 2 });
      const errorOf = (p: Promise<unknown>) =>
        p.then(
          () => undefined,
          (e: Error) => ({ name: e.name, message: e.message }),
        );
      const missing = 'f'.repeat(32);
      const notFound = { name: 'NotFoundError', message: `Run with id=${missing} not found` };
      expect(await errorOf(t.metricHistory(missing, 'm'))).toEqual(notFound);
      expect(await errorOf(t.metricHistory(missing, 'm', { pageToken: 'bogus!' }))).toEqual(
        notFound,
      );
      expect(
        await errorOf(t.metricHistory(missing, 'm', { pageToken: page.nextPageToken! })),
      ).toEqual(notFound);
      expect(await errorOf(t.metricHistory(id, 'm', { pageToken: 'bogus!' }))).toEqual({
        name: 'InvalidArgumentError',
        message: 'invalid page token: not a token from this registry',
      });
      // A token of another key is refused (its fingerprint), not read as an offset.
      expect(
        (await errorOf(t.metricHistory(id, 'other', { pageToken: page.nextPageToken! })))?.name,
      ).toBe('InvalidArgumentError');
      expect((await t.metricHistory(id, 'none')).items).toEqual([]);
      const second = await t.metricHistory(id, 'm', {
        maxResults: 2,
        pageToken: page.nextPageToken!,
      });
      expect(second.items.map((m) => m.step)).toEqual([2, 3]);
    });

    it('searches many generated runs: every page is getRun byte for byte, in the reference order', async () => {
      // On PostgreSQL a page and its runs' lists are one statement (searchRunsPage), on
      // SQLite the page then hydrateRuns: each page's runs must encode as getRun's (its own
      // five reads) do, byte for byte, so a value read as float4 or from another run fails,
      // and the pages, concatenated at every size, must follow a reference order computed
      // here from getRun's values (the terms with nulls last, NaN after numbers, then
      // start_time DESC, then run id), so an order the outer query changed fails.
      const rand = parkMiller(4242);
      const doubles = AWKWARD_DOUBLES;
      const strings = [
        '',
        'plain',
        'Plain',
        'q"uote',
        'back\\slash',
        'tab\tx',
        'é',
        '𝄞',
        '\uffff',
        'a b',
      ];
      const exps = [
        await t.createExperiment({ name: 'gen-a' }),
        await t.createExperiment({ name: 'gen-b' }),
      ];
      const ids: string[] = [];
      for (let i = 0; i < 48; i++) {
        const id = (
          await t.createRun({
            experimentId: exps[i % 2]!,
            runName: strings[rand(strings.length)]!,
            startTime: [0, 7, 7, 2 ** 53 - 1, -3][rand(5)]!,
            tags: rand(3) === 0 ? [] : [{ key: 't', value: strings[rand(strings.length)]! }],
          })
        ).info.run_id;
        ids.push(id);
        const keys = ['a', 'b', 'c d', 'e/f'].filter(() => rand(4) !== 0);
        const metrics = keys.flatMap((key) =>
          Array.from({ length: 1 + rand(3) }, () => ({
            key,
            value: doubles[rand(doubles.length)]!,
            timestamp: [1, 2, 2 ** 53 - 1][rand(3)]!,
            step: [0, 1, -(2 ** 40), 2 ** 53 - 1][rand(4)]!,
          })),
        );
        const params = ['p', 'q']
          .filter(() => rand(3) !== 0)
          .map((key) => ({
            key,
            value: strings[rand(strings.length)]!,
          }));
        await t.logBatch(id, { metrics, params });
        if (rand(4) === 0) {
          await t.logInputs(id, [
            {
              tags: rand(2) === 0 ? [] : [{ key: 'mlflow.data.context', value: 'train' }],
              dataset: { name: `d${i}`, digest: 'x', source_type: 'local', source: '{}' },
            },
          ]);
        }
        if (rand(3) === 0) {
          await t.updateRun(id, { status: 'FINISHED', endTime: [5, 9, 2 ** 53 - 1][rand(3)]! });
        }
        if (rand(6) === 0) await t.deleteRun(id);
      }
      const runs = new Map<string, Run>();
      for (const id of ids) runs.set(id, await t.getRun(id));
      const text = (run: Run) => JSON.stringify(runJson(run));
      type Sortable = number | string | undefined;
      const utf8 = (s: string) => Buffer.from(s, 'utf8');
      // One term's value; metrics: NaN as 'NaN' (after every number), none undefined.
      const sortValue = (run: Run, term: string): Sortable => {
        const [scope, key] = term.split(/\.(.*)/s) as [string, string];
        if (scope === 'metrics') {
          const m = run.data.metrics.find((x) => x.key === key);
          return m === undefined ? undefined : Number.isNaN(m.value) ? 'NaN' : m.value;
        }
        if (scope === 'params') return run.data.params.find((x) => x.key === key)?.value;
        if (scope === 'tags') return run.data.tags.find((x) => x.key === key)?.value;
        const info = run.info as unknown as Record<string, Sortable>;
        return info[key];
      };
      const compare = (a: Sortable, b: Sortable, dir: 'ASC' | 'DESC') => {
        if (a === undefined || b === undefined)
          return (a === undefined ? 1 : 0) - (b === undefined ? 1 : 0);
        if (a === 'NaN' || b === 'NaN') return (a === 'NaN' ? 1 : 0) - (b === 'NaN' ? 1 : 0);
        const c =
          typeof a === 'number' && typeof b === 'number'
            ? a < b
              ? -1
              : a > b
                ? 1
                : 0
            : Buffer.compare(utf8(String(a)), utf8(String(b)));
        return dir === 'ASC' ? c : -c;
      };
      const reference = (found: readonly string[], orderBy: readonly string[]) =>
        [...found].sort((x, y) => {
          const a = runs.get(x)!;
          const b = runs.get(y)!;
          for (const item of orderBy) {
            const cut = item.lastIndexOf(' ');
            const [term, dir] = [item.slice(0, cut), item.slice(cut + 1) as 'ASC' | 'DESC'];
            const c = compare(sortValue(a, term), sortValue(b, term), dir);
            if (c !== 0) return c;
          }
          if (a.info.start_time !== b.info.start_time) return b.info.start_time - a.info.start_time;
          return x < y ? -1 : x > y ? 1 : 0;
        });
      const orders = [
        [],
        ['metrics.a ASC'],
        ['metrics.a DESC', 'params.p ASC'],
        ['metrics.`c d` DESC', 'metrics.b ASC'],
        ['params.p DESC', 'tags.t ASC'],
        ['tags.t DESC'],
        ['attributes.run_name ASC'],
        ['attributes.end_time DESC', 'metrics.`e/f` ASC'],
        ['attributes.status DESC', 'attributes.start_time ASC'],
      ];
      const filters = [
        undefined,
        'metrics.a > 0',
        "params.p = 'plain'",
        "attributes.status = 'FINISHED'",
        'metrics.b < 1e300',
      ];
      let checked = 0;
      for (const viewType of ['ACTIVE_ONLY', 'ALL', 'DELETED_ONLY'] as const) {
        for (const [o, orderBy] of orders.entries()) {
          for (const filter of filters) {
            if ((o + filters.indexOf(filter)) % 2 === 1 && viewType !== 'ALL') continue;
            const pages: string[][] = [];
            for (const maxResults of [1000, 7, 2]) {
              const seen: string[] = [];
              let pageToken: string | undefined;
              do {
                const page = await t.searchRuns({
                  experimentIds: exps,
                  orderBy: orderBy.map((item) => item.replace('attributes.', 'attributes.')),
                  viewType,
                  maxResults,
                  ...(filter ? { filter } : {}),
                  ...(pageToken ? { pageToken } : {}),
                });
                expect(page.items.length).toBeLessThanOrEqual(maxResults);
                for (const run of page.items) {
                  expect(text(run)).toBe(text(runs.get(run.info.run_id)!));
                  seen.push(run.info.run_id);
                }
                pageToken = page.nextPageToken;
              } while (pageToken);
              pages.push(seen);
            }
            const [all, ...others] = pages as [string[], ...string[][]];
            for (const other of others) expect(other).toEqual(all);
            expect(all, `${viewType} ${filter} ${orderBy.join(', ')}`).toEqual(
              reference(
                all,
                orderBy.map((item) => item.replaceAll('`', '')),
              ),
            );
            if (filter === undefined) {
              const stage = {
                ACTIVE_ONLY: ['active'],
                DELETED_ONLY: ['deleted'],
                ALL: ['active', 'deleted'],
              }[viewType];
              expect([...all].sort()).toEqual(
                ids.filter((id) => stage.includes(runs.get(id)!.info.lifecycle_stage)).sort(),
              );
            }
            if (filter === "params.p = 'plain'") {
              expect(all.every((id) => sortValue(runs.get(id)!, 'params.p') === 'plain')).toBe(
                true,
              );
            }
            checked += all.length;
          }
        }
      }
      expect(checked).toBeGreaterThan(500);
    });

    it("orders runs by metrics as MLflow's SQL store: numbers, NaN, then none, each direction", async () => {
      const exp = await t.createExperiment({ name: 'order' });
      const none = 'none' as const;
      type Value = number | typeof none;
      // Each run: its metric m's points by step (the latest, the last, is what orders; none:
      // not logged), its metric k, its start time. NaN and no-m runs alternate in start
      // time, so an order that does not tell them apart interleaves them.
      const specs: { m: Value[]; k: Value; start: number }[] = [
        { m: [1], k: 0, start: 10 },
        { m: [1], k: 0, start: 10 },
        { m: [1], k: 5, start: 11 },
        { m: [Number.POSITIVE_INFINITY], k: none, start: 3 },
        { m: [Number.NEGATIVE_INFINITY], k: Number.NaN, start: 4 },
        { m: [Number.NaN], k: 1, start: 1 },
        { m: [Number.NaN], k: 1, start: 1 },
        { m: [none], k: 2, start: 20 },
        { m: [none], k: none, start: 20 },
        { m: [0], k: Number.POSITIVE_INFINITY, start: 5 },
        { m: [-2.5], k: Number.NEGATIVE_INFINITY, start: 12 },
        { m: [2.5], k: Number.NaN, start: 2 },
        { m: [Number.NaN], k: none, start: 30 },
        { m: [none], k: 1, start: 0 },
        { m: [7, Number.NaN], k: 0, start: 25 },
        { m: [Number.NaN, 3], k: 0, start: 6 },
      ];
      const runs: { id: string; m: Value; k: Value; start: number }[] = [];
      for (const [i, s] of specs.entries()) {
        const id = (await t.createRun({ experimentId: exp, runName: `r${i}`, startTime: s.start }))
          .info.run_id;
        const metrics = s.m.flatMap((value, step) =>
          value === none ? [] : [{ key: 'm', value, timestamp: 1, step }],
        );
        if (s.k !== none) metrics.push({ key: 'k', value: s.k, timestamp: 1, step: 0 });
        if (metrics.length > 0) await t.logBatch(id, { metrics });
        runs.push({ id, m: s.m.at(-1)!, k: s.k, start: s.start });
      }
      const rank = (v: Value) => (v === none ? 2 : Number.isNaN(v) ? 1 : 0);
      const byValue = (dir: 'ASC' | 'DESC') => (a: Value, b: Value) => {
        const r = rank(a) - rank(b);
        if (r !== 0 || rank(a) !== 0 || a === b) return r;
        return (a < b ? -1 : 1) * (dir === 'ASC' ? 1 : -1);
      };
      // The reference: the terms in order, then start_time DESC, then run id.
      const reference = (terms: ['m' | 'k', 'ASC' | 'DESC'][], keep = (_: Value) => true) =>
        runs
          .filter((r) => keep(r.m))
          .sort((a, b) => {
            for (const [key, dir] of terms) {
              const c = byValue(dir)(a[key], b[key]);
              if (c !== 0) return c;
            }
            if (a.start !== b.start) return b.start - a.start;
            return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
          })
          .map((r) => r.id);
      // Every page of `maxResults`, concatenated.
      const search = async (orderBy: string[], filter?: string, maxResults = 5) => {
        const ids: string[] = [];
        let pageToken: string | undefined;
        do {
          const page = await t.searchRuns({
            experimentIds: [exp],
            orderBy,
            maxResults,
            ...(filter ? { filter } : {}),
            ...(pageToken ? { pageToken } : {}),
          });
          ids.push(...page.items.map((r) => r.info.run_id));
          pageToken = page.nextPageToken;
        } while (pageToken);
        return ids;
      };
      for (const dir of ['ASC', 'DESC'] as const) {
        const other = dir === 'ASC' ? 'DESC' : 'ASC';
        expect(await search([`metrics.m ${dir}`], undefined, 100)).toEqual(reference([['m', dir]]));
        expect(await search([`metrics.m ${dir}`])).toEqual(reference([['m', dir]]));
        expect(await search([`metrics.m ${dir}`, `metrics.k ${other}`])).toEqual(
          reference([
            ['m', dir],
            ['k', other],
          ]),
        );
        expect(await search([`metrics.k ${dir}`, `metrics.m ${dir}`])).toEqual(
          reference([
            ['k', dir],
            ['m', dir],
          ]),
        );
        expect(await search([`metrics.m ${dir}`], 'metrics.m >= 0')).toEqual(
          reference([['m', dir]], (v) => rank(v) === 0 && (v as number) >= 0),
        );
      }
      // The reference itself puts NaN runs between numbers and runs without m.
      expect(reference([['m', 'DESC']]).map((id) => runs.find((r) => r.id === id)!.m)).toEqual([
        Number.POSITIVE_INFINITY,
        3,
        2.5,
        1,
        1,
        1,
        0,
        -2.5,
        Number.NEGATIVE_INFINITY,
        Number.NaN,
        Number.NaN,
        Number.NaN,
        Number.NaN,
        none,
        none,
        none,
      ]);
    });

    it('audits lifecycle changes of experiments and runs', async () => {
      const exp = await t.createExperiment({ name: 'e', actor: 'carol' });
      const run = (await t.createRun({ experimentId: exp, actor: 'dave' })).info.run_id;
      await t.renameExperiment(exp, 'e2');
      await t.deleteExperiment(exp);
      await t.restoreExperiment(exp);
      const log = await rd.registry.auditLog({ order: 'asc' });
      expect(log.items.map((e) => [e.action, e.subject, e.actor])).toEqual([
        ['experiment.created', 'experiment:1', 'carol'],
        ['run.created', `run:${run}`, 'dave'],
        ['experiment.renamed', 'experiment:1', 'alice'],
        ['experiment.deleted', 'experiment:1', 'alice'],
        ['experiment.restored', 'experiment:1', 'alice'],
      ]);
      expect((await t.getRun(run)).info.lifecycle_stage).toBe('active');
      expect((await rd.registry.auditVerify()).ok).toBe(true);
    });
  });
});

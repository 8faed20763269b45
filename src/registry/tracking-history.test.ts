import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TEST_DIALECTS } from '../../test/support/dialects.js';
import { comparableSegment } from '../../test/support/segment-rows.js';
import {
  openTempRegistryDirectory,
  type TempRegistryDirectory,
} from '../../test/support/temp-registry.js';
import { encodeMetricPoints } from '../metadata/metric-points-codec.js';
import { orderMetricSegments } from '../metadata/migrations/0306-ordered-metric-segments.js';
import type { AuditService } from './audit-service.js';
import type { RegistryContext } from './registry-context.js';
import { type Metric, TrackingService } from './tracking-service.js';

/** A small seeded generator (mulberry32), so that a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VALUES = [
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  -0,
  0,
  1,
  2,
  -1.5,
  0.1 + 0.2,
  Number.MAX_VALUE,
];
const KEYS = ['a', 'b', 'ü/c', 'd'];

/**
 * The documented history of a key (docs/design.md "Tracking"), computed from the logged
 * points alone: each point once — identical when step, timestamp and value are (NaN equals
 * NaN, -0 equals 0), the first logged kept — ordered by step, timestamp, NaN first, then
 * value. SQLite stores a double -0 as 0.
 */
function reference(logged: readonly Metric[], key: string, sqlite: boolean): Metric[] {
  const seen = new Set<string>();
  const out: Metric[] = [];
  for (const m of logged) {
    if (m.key !== key) continue;
    const id = `${m.step}/${m.timestamp}/${Number.isNaN(m.value) ? 'NaN' : m.value === 0 ? 0 : m.value}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(sqlite && m.value === 0 ? { ...m, value: 0 } : m);
  }
  const rank = (m: Metric) => (Number.isNaN(m.value) ? 0 : 1);
  return out.sort(
    (x, y) =>
      x.step - y.step ||
      x.timestamp - y.timestamp ||
      rank(x) - rank(y) ||
      (x.value < y.value ? -1 : x.value > y.value ? 1 : 0),
  );
}

describe.each(TEST_DIALECTS)('metric history on %s', (dialect) => {
  let temp: TempRegistryDirectory;
  let t: TrackingService;
  let ctx: RegistryContext;

  beforeEach(async () => {
    temp = await openTempRegistryDirectory(dialect, 'mv-history-');
    const inner = temp.rd.tracking as unknown as { ctx: RegistryContext; audit: AuditService };
    // Small fold thresholds (points and rows): many folds, segments that overlap, points
    // pending.
    ctx = inner.ctx;
    t = new TrackingService(inner.ctx, inner.audit, { foldAt: 53, foldRows: 9 });
  });
  afterEach(() => temp.cleanup());

  async function pages(id: string, key: string, maxResults: number, limit = Infinity) {
    const out: Metric[][] = [];
    let pageToken: string | undefined;
    do {
      const page = await t.metricHistory(id, key, {
        maxResults,
        ...(pageToken ? { pageToken } : {}),
      });
      out.push(page.items);
      pageToken = page.nextPageToken;
    } while (pageToken && out.length < limit);
    return out;
  }

  /** Every page of every key, for each page size, equals the reference's slices. */
  async function check(id: string, logged: readonly Metric[], sizes: readonly number[]) {
    for (const key of [...KEYS, 'never-logged']) {
      const want = reference(logged, key, dialect === 'sqlite');
      for (const size of sizes) {
        const got = await pages(id, key, size, size === 1 ? 12 : Infinity);
        got.forEach((page, i) => {
          // toEqual tells -0 from 0 and NaN from every number.
          expect(page).toEqual(want.slice(i * size, (i + 1) * size));
        });
        if (size !== 1) expect(got.flat()).toHaveLength(want.length);
      }
    }
  }

  it('equals the reference for a seeded random workload, on every page', async () => {
    const rnd = random(20261127);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
    // Run 0 logs steps in order (whole segments skipped); runs 1 and 2 go back and forth,
    // repeat points within and across batches and folds, and tie on step and timestamp.
    const runs = [0, 1, 2].map(() => ({ id: '', logged: [] as Metric[], next: 0 }));
    for (const r of runs) r.id = (await t.createRun({})).info.run_id;
    for (let round = 0; round < 90; round++) {
      for (let ri = 0; ri < runs.length; ri++) {
        const r = runs[ri]!;
        const size = pick([1, 1, 2, 3, 8, 17, 40, 60]);
        const batch: Metric[] = [];
        for (let i = 0; i < size; i++) {
          if (ri === 0) {
            const step = r.next++;
            batch.push({
              key: KEYS[step % KEYS.length]!,
              value: pick(VALUES),
              timestamp: step,
              step,
            });
            continue;
          }
          const u = rnd();
          if (u < 0.15 && r.logged.length > 0)
            batch.push({ ...pick(r.logged) }); // logged before
          else if (u < 0.2 && batch.length > 0)
            batch.push({ ...pick(batch) }); // twice in a batch
          else {
            const step = u < 0.35 ? Math.floor(rnd() * (r.next + 1)) : r.next++;
            batch.push({
              key: pick(KEYS),
              value: pick(VALUES),
              timestamp: 1000 + Math.floor(rnd() * 3),
              step: step - 5,
            });
          }
        }
        await t.logBatch(r.id, { metrics: batch });
        r.logged.push(...batch);
      }
      if (round % 15 === 14) {
        for (const r of runs) await check(r.id, r.logged, [25_000, 64]);
      }
    }
    for (const r of runs) await check(r.id, r.logged, [1, 7, 25_000]);
    // The latest points are still the newest logged ones (of -0 and 0 at the newest step
    // and timestamp, the latest point keeps the last logged, the history the first).
    for (const r of runs) {
      const latest = (await t.getRun(r.id)).data.metrics;
      expect(latest.map((m) => m.key)).toEqual([...KEYS].sort());
      for (const m of latest) {
        const want = reference(r.logged, m.key, dialect === 'sqlite').at(-1)!;
        expect({ ...m, value: m.value + 0 }).toEqual({ ...want, value: want.value + 0 });
      }
    }
  });

  async function runKeyOf(id: string): Promise<number> {
    const row = await ctx.database.db
      .selectFrom('runs')
      .select('run_key')
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    return Number(row.run_key);
  }

  /** The key's stored segments (ranges and counts), by fold. */
  async function segmentsOf(id: string, key: string) {
    const rows = await ctx.database.db
      .selectFrom('run_metric_segments')
      .select(['fold', 'n', 'first_step', 'first_timestamp', 'last_step', 'last_timestamp'])
      .where('run_key', '=', await runKeyOf(id))
      .where('key', '=', key)
      .orderBy('fold')
      .execute();
    return rows.map((r) => ({
      n: Number(r.n),
      first: [Number(r.first_step), Number(r.first_timestamp)] as const,
      last: [Number(r.last_step), Number(r.last_timestamp)] as const,
    }));
  }

  /**
   * Each key's segments are in fold order by (step, timestamp) and pairwise disjoint (each
   * starts strictly after the previous one's last point): get-history skips whole
   * segments. Points are never cut across segments here (no (step, timestamp) has more
   * than SEGMENT_MAX_POINTS points).
   */
  async function expectDisjoint(id: string) {
    for (const key of KEYS) {
      const segments = await segmentsOf(id, key);
      for (let i = 1; i < segments.length; i++) {
        const prev = segments[i - 1]!.last;
        const first = segments[i]!.first;
        expect(
          first[0] > prev[0] || (first[0] === prev[0] && first[1] > prev[1]),
          `${key}: segment ${i} starts at ${first} after ${prev}`,
        ).toBe(true);
      }
    }
  }

  it('keeps segments disjoint after a resumed job re-logs steps, on every page', async () => {
    const id = (await t.createRun({})).info.run_id;
    const logged: Metric[] = [];
    const log = async (step: number, timestamp: number, value: number) => {
      const batch = KEYS.map((key, i) => ({ key, value: value + i, timestamp, step }));
      await t.logBatch(id, { metrics: batch });
      logged.push(...batch);
    };
    // Steps 0..278 (a fold every 9 batches: 31 folds, none pending), then the job
    // restarts from its checkpoint at step 120 and logs 120..450 with new timestamps: its
    // first folds meet segments with later ones after them.
    for (let step = 0; step < 279; step++) await log(step, 1000 + step, step / 2);
    for (let step = 120; step <= 450; step++) {
      await log(step, 2000 + step, -step);
      await expectDisjoint(id); // after every fold: a merge heals segments out of order
    }
    await expectDisjoint(id);
    // Fewer segments than folds of the key: merged ones replaced the ones they met.
    expect((await segmentsOf(id, 'a')).length).toBeGreaterThan(3);
    await check(id, logged, [1, 7, 64, 25_000]);
  });

  it('cuts a merged tail into small segments while a resumed job re-logs, on every page', async () => {
    // Larger folds (400 points or 20 rows) than the other cases: a merge meets segments
    // of hundreds of points, whose points after the new ones (the tail) go into segments
    // of at most 64 (mergedEnds), met again by the next fold.
    const big = new TrackingService(ctx, (t as unknown as { audit: AuditService }).audit, {
      foldAt: 400,
      foldRows: 20,
    });
    const id = (await big.createRun({})).info.run_id;
    const logged: Metric[] = [];
    const log = async (from: number, to: number, time: (step: number) => number) => {
      for (let s = from; s < to; s += 20) {
        const batch: Metric[] = [];
        for (let step = s; step < Math.min(to, s + 20); step++) {
          const value = step % 97 === 0 ? Number.NaN : step % 89 === 0 ? -0 : step / 3;
          batch.push({ key: 'a', value, timestamp: time(step), step });
          // Every 50th step twice (an identical point) and every 70th with a second value.
          if (step % 50 === 0) batch.push({ key: 'a', value, timestamp: time(step), step });
          if (step % 70 === 0) batch.push({ key: 'a', value: 0, timestamp: time(step), step });
        }
        await big.logBatch(id, { metrics: batch });
        logged.push(...batch);
      }
    };
    await log(0, 3000, (step) => 1000 + step);
    const before = await segmentsOf(id, 'a');
    expect(Math.max(...before.map((s) => s.n))).toBeGreaterThan(300);
    // The job resumes at step 300: the steps logged again with new timestamps interleave
    // with the old ones.
    await log(300, 1100, (step) => 5000 + step);
    // Midway, the old points after the re-logged ones were cut off into segments of at
    // most 64 points (the next fold meets one of them, not a whole merged segment).
    const tails = (await segmentsOf(id, 'a')).filter(
      (s) => s.first[0] >= 1000 && s.last[1] < 5000 && s.n <= 64,
    );
    expect(tails.length).toBeGreaterThan(3);
    await log(1100, 3500, (step) => 5000 + step);
    await log(3500, 3700, (step) => 5000 + step); // after the last segment again
    // Single points after them until a fold leaves nothing pending.
    for (let step = 3700; (await pendingRows(id)) > 0; step++)
      await log(step, step + 1, () => 99_000);
    const after = await segmentsOf(id, 'a');
    for (let i = 1; i < after.length; i++) {
      const prev = after[i - 1]!.last;
      const first = after[i]!.first;
      expect(first[0] > prev[0] || (first[0] === prev[0] && first[1] > prev[1])).toBe(true);
    }
    // The segments hold every point once: their counts add up to the history's length.
    const want = reference(logged, 'a', dialect === 'sqlite');
    expect(after.reduce((sum, s) => sum + s.n, 0)).toBe(want.length);
    for (const size of [1, 7, 64, 25_000]) {
      let pageToken: string | undefined;
      const got: Metric[] = [];
      let pages = 0;
      do {
        const page = await big.metricHistory(id, 'a', {
          maxResults: size,
          ...(pageToken ? { pageToken } : {}),
        });
        expect(page.items).toEqual(want.slice(got.length, got.length + size));
        got.push(...page.items);
        pageToken = page.nextPageToken;
      } while (pageToken && ++pages < (size === 1 ? 40 : Infinity));
      if (size !== 1) expect(got).toHaveLength(want.length);
    }
  });

  /** How many pending batches the run has. */
  async function pendingRows(id: string): Promise<number> {
    const rows = await ctx.database.db
      .selectFrom('run_metric_batches')
      .select('seq')
      .where('run_key', '=', await runKeyOf(id))
      .execute();
    return rows.length;
  }

  it('merges points at a segment end into it, and fits points between segments', async () => {
    const id = (await t.createRun({})).info.run_id;
    const logged: Metric[] = [];
    const logAll = async (batch: Metric[]) => {
      await t.logBatch(id, { metrics: batch });
      logged.push(...batch);
    };
    // 22 folds of 9 batches, none pending.
    for (let step = 0; step < 198; step++) {
      await logAll(KEYS.map((key) => ({ key, value: step, timestamp: 10 * step, step })));
    }
    // Points at the first and last (step, timestamp) of every segment of key 'a' (other
    // values, identical points, NaN), each alone in its fold (8 batches of key 'b' after
    // the last point follow it).
    const ends = (await segmentsOf(id, 'a')).flatMap((s) => [s.first, s.last]);
    expect(ends.length).toBeGreaterThan(6);
    const values = [Number.NaN, 0.5, -0, 1e9];
    let next = 198;
    for (const [i, [step, timestamp]] of ends.entries()) {
      const value = i % 5 === 4 ? step : values[i % values.length]!;
      await logAll([{ key: 'a', value, timestamp, step }]);
      for (let b = 0; b < 8; b++) {
        await logAll([{ key: 'b', value: 3, timestamp: 10 * next, step: next }]);
        next++;
      }
      await expectDisjoint(id);
    }
    // A point between two segments (after one's last, before the next one's first), each
    // alone in its fold: it meets none, and takes a fold between theirs.
    const gaps = (await segmentsOf(id, 'a')).slice(0, -1);
    expect(gaps.length).toBeGreaterThan(3);
    for (const { last } of gaps) {
      await logAll([{ key: 'a', value: 7, timestamp: last[1] + 5, step: last[0] }]);
      for (let b = 0; b < 8; b++) {
        await logAll([{ key: 'b', value: 3, timestamp: 10 * next, step: next }]);
        next++;
      }
      await expectDisjoint(id);
    }
    for (let step = next; step < next + 60; step++) {
      await logAll(KEYS.map((key) => ({ key, value: -step, timestamp: 10 * step, step })));
    }
    await expectDisjoint(id);
    await check(id, logged, [1, 5, 25_000]);
  });

  // The fold reads every key's last segment and writes the appended segments in one
  // statement each on PostgreSQL (a seek and an insert a key on SQLite): both must equal
  // the per-key statements, for keys with and without segments, and store every column
  // (keys that need quoting in an array literal, large and negative steps, the packed
  // points) exactly as a row's own insert does.
  it("folds with one statement for all keys' last segments and one for their inserts", async () => {
    const id = (await t.createRun({})).info.run_id;
    for (let step = 0; step < 90; step++) {
      await t.logBatch(id, {
        metrics: KEYS.slice(0, 3).map((key, i) => ({ key, value: i, timestamp: step, step })),
      });
    }
    // A resumed job: merges as well as appends.
    for (let step = 40; step < 70; step++) {
      await t.logBatch(id, {
        metrics: KEYS.map((key, i) => ({ key, value: -i, timestamp: 500 + step, step })),
      });
    }
    const runKey = await runKeyOf(id);
    const folds = t as unknown as {
      lastSegments(
        trx: unknown,
        runKey: number,
        keys: readonly string[],
      ): Promise<Map<string, { fold: number; last_step: number; last_timestamp: number }>>;
      insertSegments(trx: unknown, rows: readonly object[]): Promise<void>;
    };
    const keys = [...KEYS, 'never-logged'];
    const one = new Map<string, { fold: number; last_step: number; last_timestamp: number }>();
    for (const key of keys) {
      const r = await ctx.database.db
        .selectFrom('run_metric_segments')
        .select(['fold', 'last_step', 'last_timestamp'])
        .where('run_key', '=', runKey)
        .where('key', '=', key)
        .orderBy('fold', 'desc')
        .limit(1)
        .executeTakeFirst();
      if (r) {
        one.set(key, {
          fold: Number(r.fold),
          last_step: Number(r.last_step),
          last_timestamp: Number(r.last_timestamp),
        });
      }
    }
    expect(one.size).toBe(KEYS.length);
    const all = await ctx.database.writeTransaction((trx) => folds.lastSegments(trx, runKey, keys));
    expect([...all.entries()].sort()).toEqual([...one.entries()].sort());
    expect(
      await ctx.database.writeTransaction((trx) => folds.lastSegments(trx, runKey, [])),
    ).toEqual(new Map());

    // Every stored segment of the run, copied to another run through insertSegments, and
    // rows with keys and numbers that an array literal must quote or keep exact.
    const other = (await t.createRun({})).info.run_id;
    const otherKey = await runKeyOf(other);
    const columns = [
      'key',
      'fold',
      'n',
      'first_step',
      'first_timestamp',
      'last_step',
      'last_timestamp',
      'points',
    ] as const;
    const stored = async (key: number) =>
      (
        await ctx.database.db
          .selectFrom('run_metric_segments')
          .select([...columns])
          .where('run_key', '=', key)
          .orderBy('key')
          .orderBy('fold')
          .execute()
      ).map(comparableSegment);
    const points = (step: number) =>
      Buffer.from(
        encodeMetricPoints({
          keys: ['x'],
          keyIndex: null,
          steps: [step],
          timestamps: [1],
          values: [0.5],
          nans: [0],
        }),
      );
    const odd = ['a,b', 'q"uote', 'back\\slash', 'NULL', '{br}', ' sp ', 'ü/é', ''].map(
      (key, i) => ({
        key,
        fold: i,
        n: 1,
        first_step: i % 2 ? -(2 ** 40) : 2 ** 53 - 1,
        first_timestamp: 2 ** 50 + i,
        last_step: i % 2 ? -(2 ** 40) : 2 ** 53 - 1,
        last_timestamp: 2 ** 50 + i,
        points: points(i),
      }),
    );
    const want = [...(await stored(runKey)), ...odd].sort((x, y) =>
      x.key < y.key ? -1 : x.key > y.key ? 1 : x.fold - y.fold,
    );
    await ctx.database.writeTransaction((trx) =>
      folds.insertSegments(
        trx,
        want.map((r) => ({ run_key: otherKey, ...r })),
      ),
    );
    expect(await stored(otherKey)).toEqual(want);
  });

  it('stays in order after random out-of-order logging', async () => {
    const rnd = random(4711);
    const id = (await t.createRun({})).info.run_id;
    const logged: Metric[] = [];
    let next = 0;
    for (let round = 0; round < 150; round++) {
      const batch: Metric[] = [];
      const size = 1 + Math.floor(rnd() * 30);
      for (let i = 0; i < size; i++) {
        const u = rnd();
        if (u < 0.1 && logged.length > 0)
          batch.push({ ...logged[Math.floor(rnd() * logged.length)]! });
        else {
          const step = u < 0.3 ? Math.floor(rnd() * (next + 1)) : next++;
          batch.push({
            key: KEYS[Math.floor(rnd() * KEYS.length)]!,
            value: VALUES[Math.floor(rnd() * VALUES.length)]!,
            timestamp: step + Math.floor(rnd() * 3),
            step,
          });
        }
      }
      await t.logBatch(id, { metrics: batch });
      logged.push(...batch);
      await expectDisjoint(id);
    }
    await expectDisjoint(id);
    await check(id, logged, [1, 13, 25_000]);
  });

  it('orders segments written overlapping (before segments were kept disjoint) in migration 0306', async () => {
    const id = (await t.createRun({})).info.run_id;
    const runKey = await runKeyOf(id);
    const logged: Metric[] = [];
    // Four folds of key 'a' as an earlier fold appended them: each sorted, the first
    // after the others, the later ones overlapping the earlier ones; one point twice (-0
    // first: the first logged is kept).
    const folds: [number, number, number][][] = [
      [
        [30, 5, 30], // logged again below (the first logged kept)
        [31, 5, 1],
      ],
      [
        [0, 5, 1],
        [2, 5, -0],
        [4, 5, 3],
      ],
      [
        [1, 5, 7],
        [2, 5, 0],
        [9, 5, 2],
      ],
      [
        [3, 5, 4],
        [9, 5, 2],
      ],
    ];
    for (const [fold, points] of folds.entries()) {
      await ctx.database.db
        .insertInto('run_metric_segments')
        .values({
          run_key: runKey,
          key: 'a',
          fold,
          n: points.length,
          first_step: points[0]![0],
          first_timestamp: points[0]![1],
          last_step: points.at(-1)![0],
          last_timestamp: points.at(-1)![1],
          points: encodeMetricPoints({
            keys: ['a'],
            keyIndex: null,
            steps: points.map((x) => x[0]),
            timestamps: points.map((x) => x[1]),
            values: points.map((x) => (dialect === 'sqlite' ? x[2] + 0 : x[2])),
            nans: points.map(() => 0),
          }),
        })
        .execute();
      logged.push(
        ...points.map(([step, timestamp, value]) => ({ key: 'a', value, timestamp, step })),
      );
    }
    // Key 'b' in order: left as it is.
    const inOrder = [
      [0, 0], // [step, value]
      [5, 2],
    ];
    for (const [fold, [step, value]] of inOrder.entries()) {
      await ctx.database.db
        .insertInto('run_metric_segments')
        .values({
          run_key: runKey,
          key: 'b',
          fold: 3 * fold,
          n: 1,
          first_step: step!,
          first_timestamp: 1,
          last_step: step!,
          last_timestamp: 1,
          points: encodeMetricPoints({
            keys: ['b'],
            keyIndex: null,
            steps: [step!],
            timestamps: [1],
            values: [value!],
            nans: [0],
          }),
        })
        .execute();
    }
    logged.push(
      { key: 'b', value: 0, timestamp: 1, step: 0 },
      { key: 'b', value: 2, timestamp: 1, step: 5 },
    );
    const bBefore = await segmentsOf(id, 'b');
    await check(id, logged, [1, 2, 25_000]);
    // What migration 0306 does to such a registry: key 'a' merged into disjoint segments,
    // whose history reads the same; key 'b' untouched.
    await orderMetricSegments(ctx.database.db);
    await expectDisjoint(id);
    expect(await segmentsOf(id, 'b')).toEqual(bBefore);
    await check(id, logged, [1, 2, 25_000]);
    // Points after the last segment: appended (3 folds, none pending).
    for (let step = 10; step < 37; step++) {
      const m = { key: 'a', value: step, timestamp: 5, step };
      await t.logBatch(id, { metrics: [m] });
      logged.push(m);
    }
    await check(id, logged, [1, 2, 25_000]);
    // Points among them: merged into the segments they meet.
    for (let step = 0; step < 40; step++) {
      const m = { key: 'a', value: -step, timestamp: 6, step };
      await t.logBatch(id, { metrics: [m] });
      logged.push(m);
      if (step >= 8) await expectDisjoint(id); // folded by then (9 rows a fold)
    }
    await expectDisjoint(id);
    await check(id, logged, [1, 2, 3, 25_000]);
  });
});

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TEST_DIALECTS } from '../../test/support/dialects.js';
import {
  openTempRegistryDirectory,
  type TempRegistryDirectory,
} from '../../test/support/temp-registry.js';
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

  beforeEach(async () => {
    temp = await openTempRegistryDirectory(dialect, 'mv-history-');
    const inner = temp.rd.tracking as unknown as { ctx: RegistryContext; audit: AuditService };
    // Small fold thresholds (points and rows): many folds, segments that overlap, points
    // pending.
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
});

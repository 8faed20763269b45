/**
 * What a resumed training job costs the packed metric history (docs/design.md "Tracking"):
 * in-process, `TrackingService` on SQLite (a fresh registry directory), one run, 100-key
 * log-batches. Pattern `relog` logs steps 0..N/2, then — the job resumed from a checkpoint
 * at 0.4·N — steps 0.4·N..N-1 again with new timestamps; pattern `inorder` logs 0..N-1.
 * Reports the CPU time (process.cpuUsage) per log-batch in each phase (first pass,
 * re-logged steps, steps after them), the most CPU one folding batch took, the segments
 * of one key, get-history of that key (the whole history as MLflow's client pages it,
 * `max_results` 25,000, and one page of 1,000 at offset N/2, medians), and a SHA-256 of
 * the whole history (equal across trees when their results are).
 *
 *   node --import tsx bench/metric-relog.ts [--steps 100000] [--pattern relog|inorder]
 *                                           [--keys 100] [--reps 7] [--postgres]
 *
 * `--postgres`: the metadata on a throwaway PostgreSQL server that the bench starts (as
 * the tests do) and removes; CPU time is then this process's only (the server's is not
 * counted), so wall time is the figure to compare there.
 * `--cpu-prof` on the node command line profiles it; the registry is removed afterwards.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import type { RegistryContext } from '../src/registry/registry-context.js';
import { openRegistryDirectory } from '../src/registry/registry-directory.js';
import { startPostgres } from '../test/support/postgres-server.js';
import { median } from './lib/util.js';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '100000' },
    pattern: { type: 'string', default: 'relog' },
    keys: { type: 'string', default: '100' },
    reps: { type: 'string', default: '7' },
    postgres: { type: 'boolean', default: false },
  },
});
const N = Number(values.steps);
const KEY_COUNT = Number(values.keys);
const REPS = Number(values.reps);
const pattern = values.pattern;
if (pattern !== 'relog' && pattern !== 'inorder') throw new Error('--pattern relog|inorder');

const T0 = 1_700_000_000_000;
const KEYS = Array.from({ length: KEY_COUNT }, (_, i) => `k${String(i).padStart(3, '0')}`);
const PROBE = KEYS[Math.min(42, KEY_COUNT - 1)]!;

const dir = await mkdtemp(join(tmpdir(), 'mv-relog-'));
const pgServer = values.postgres ? await startPostgres() : undefined;
const rd = await openRegistryDirectory(join(dir, 'registry'), {
  create: true,
  defaultActor: 'bench',
  ...(pgServer ? { database: { kind: 'postgres' as const, url: pgServer.url } } : {}),
});
const t = rd.tracking;
const ctx = (t as unknown as { ctx: RegistryContext }).ctx;
const runId = (await t.createRun({})).info.run_id;

/** The phases' (step, timestamp) lists. */
const phases: [string, [number, number][]][] = [];
if (pattern === 'inorder') {
  phases.push(['steps 0..N-1', Array.from({ length: N }, (_, s) => [s, T0 + s])]);
} else {
  const half = N / 2;
  const resume = 0.4 * N;
  phases.push(['first pass 0..N/2', Array.from({ length: half + 1 }, (_, s) => [s, T0 + s])]);
  const again = (s: number): [number, number] => [s, T0 + half + 1 + (s - resume)];
  phases.push([
    're-logged 0.4N..N/2',
    Array.from({ length: half - resume + 1 }, (_, i) => again(resume + i)),
  ]);
  phases.push([
    'after them N/2+1..N-1',
    Array.from({ length: N - half - 1 }, (_, i) => again(half + 1 + i)),
  ]);
}

const cpuMs = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000;
const rows: string[] = [];
for (const [name, steps] of phases) {
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  let worst = 0;
  for (const [step, timestamp] of steps) {
    const b0 = process.cpuUsage();
    await t.logBatch(runId, {
      metrics: KEYS.map((key, i) => ({ key, value: step * 0.5 + i, timestamp, step })),
    });
    worst = Math.max(worst, cpuMs(process.cpuUsage(b0)));
  }
  const per = cpuMs(process.cpuUsage(c0)) / steps.length;
  const wall = (performance.now() - w0) / 1000;
  rows.push(
    `| ${name} | ${steps.length} | ${per.toFixed(3)} | ${worst.toFixed(1)} | ${((1000 * wall) / steps.length).toFixed(3)} |`,
  );
}

const segs = await sql<{ n: number }>`select n from run_metric_segments
  where key = ${PROBE} order by fold`.execute(ctx.database.db);
const sizes = segs.rows.map((r) => Number(r.n)).sort((a, b) => a - b);

async function whole(): Promise<{ n: number; hash: string }> {
  const h = createHash('sha256');
  let n = 0;
  let pageToken: string | undefined;
  do {
    const page = await t.metricHistory(runId, PROBE, {
      maxResults: 25000,
      ...(pageToken ? { pageToken } : {}),
    });
    for (const m of page.items)
      h.update(`${m.step},${m.timestamp},${Object.is(m.value, -0) ? '-0' : m.value};`);
    n += page.items.length;
    pageToken = page.nextPageToken;
  } while (pageToken);
  return { n, hash: h.digest('hex').slice(0, 16) };
}
// The page token at offset N/2 (pages of at most 25,000: MLflow's limit).
let atHalf: string | undefined;
for (let at = 0; at < N / 2; ) {
  const size = Math.min(25000, N / 2 - at);
  atHalf = (
    await t.metricHistory(runId, PROBE, {
      maxResults: size,
      ...(atHalf ? { pageToken: atHalf } : {}),
    })
  ).nextPageToken;
  at += size;
}
const page = () => t.metricHistory(runId, PROBE, { maxResults: 1000, pageToken: atHalf });
const cpuOf = async (f: () => Promise<unknown>, reps: number) => {
  const out: number[] = [];
  for (let i = 0; i < reps; i++) {
    const c0 = process.cpuUsage();
    await f();
    out.push(cpuMs(process.cpuUsage(c0)));
  }
  return median(out);
};
const { n: total, hash } = await whole();
await cpuOf(whole, 2);
await cpuOf(page, 5);
const wholeMs = await cpuOf(whole, REPS);
const pageMs = await cpuOf(page, 3 * REPS);

console.log(
  `pattern ${pattern}, ${N} steps × ${KEY_COUNT} keys on ${pgServer ? 'PostgreSQL' : 'SQLite'}; load average at the end: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
console.log('| phase | batches | CPU ms/batch | most CPU ms, one batch | wall ms/batch |');
console.log('| --- | ---: | ---: | ---: | ---: |');
for (const r of rows) console.log(r);
console.log(
  `key ${PROBE}: ${total} points (sha256 ${hash}), ${sizes.length} segments ` +
    `(points: min ${sizes[0]}, median ${sizes[sizes.length >> 1]}, max ${sizes[sizes.length - 1]})`,
);
console.log(
  `get-history CPU ms: whole history ${wholeMs.toFixed(1)} (median of ${REPS}), ` +
    `page of 1,000 at offset N/2 ${pageMs.toFixed(2)} (median of ${3 * REPS})`,
);

await rd.close();
pgServer?.stop();
await rm(dir, { recursive: true, force: true });

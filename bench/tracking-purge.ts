/**
 * What gc's purge of deleted MLflow runs costs (registry/tracking-purge.ts) on SQLite: a
 * registry with --runs deleted runs, each with --keys metric keys × --steps steps of
 * history (folded into segments, as logged by log-batch), 20 params, 5 tags, a dataset
 * input and one unique artifact of --artifact-bytes, all deleted more than the retention
 * period ago. On copies of that directory, each measured once:
 *
 * - purge: TrackingPurge.purge alone (what gc does before reading its roots);
 * - gc: the whole `gc({graceMs: 0})` (purge, roots, the store's collection).
 *
 * Reports wall time, CPU (user + system, process.cpuUsage), the growth of peak RSS (which
 * counts the pages of SQLite's memory map of the file that the deletes touch) and of the
 * JS heap (sampled every 5 ms).
 *
 *   node --import tsx bench/tracking-purge.ts [--runs 1000] [--keys 10] [--steps 500]
 *     [--artifact-bytes 20000]
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ArtifactService } from '../src/registry/artifact-service.js';
import { AuditService } from '../src/registry/audit-service.js';
import type { RegistryContext } from '../src/registry/registry-context.js';
import { openRegistryDirectory } from '../src/registry/registry-directory.js';
import { DELETED_RETENTION_MS } from '../src/registry/retention.js';
import { TrackingPurge } from '../src/registry/tracking-purge.js';
import { pseudoRandomBytes } from '../test/fixtures/model-files.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '1000' },
    keys: { type: 'string', default: '10' },
    steps: { type: 'string', default: '500' },
    'artifact-bytes': { type: 'string', default: '20000' },
  },
});
const RUNS = Number(values.runs);
const KEYS = Number(values.keys);
const STEPS = Number(values.steps);
const ARTIFACT = Number(values['artifact-bytes']);
const DAY = 24 * 60 * 60 * 1000;

async function* once(bytes: Uint8Array) {
  yield bytes;
}

let now = Date.now();
const clock = () => now++;

async function build(root: string): Promise<void> {
  const rd = await openRegistryDirectory(root, { create: true, clock, defaultActor: 'bench' });
  try {
    const t = rd.tracking;
    const artifacts = new ArtifactService({ store: rd.store });
    const exp = await t.createExperiment({ name: 'bench' });
    const started = performance.now();
    for (let r = 0; r < RUNS; r++) {
      const id = (await t.createRun({ experimentId: exp })).info.run_id;
      const points = [];
      for (let s = 0; s < STEPS; s++) {
        for (let k = 0; k < KEYS; k++) {
          points.push({ key: `metric_${k}`, value: Math.sin(s + k), timestamp: s, step: s });
        }
      }
      for (let i = 0; i < points.length; i += 1000) {
        await t.logBatch(id, { metrics: points.slice(i, i + 1000) });
      }
      await t.logBatch(id, {
        params: Array.from({ length: 20 }, (_, i) => ({ key: `p${i}`, value: String(i) })),
        tags: Array.from({ length: 5 }, (_, i) => ({ key: `t${i}`, value: 'x' })),
      });
      await t.logInputs(id, [
        { tags: [], dataset: { name: 'd', digest: 'abc', source_type: 'local', source: '/d' } },
      ]);
      await artifacts.put(
        `${exp}/${id}/artifacts/model/weights.bin`,
        once(pseudoRandomBytes(r + 1, ARTIFACT)),
      );
      await t.deleteRun(id);
    }
    console.log(
      `built ${RUNS} runs × ${KEYS} keys × ${STEPS} steps in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
  } finally {
    await rd.close();
  }
}

async function measure(
  label: string,
  root: string,
  fn: (rd: Awaited<ReturnType<typeof openRegistryDirectory>>) => Promise<unknown>,
) {
  const rd = await openRegistryDirectory(root, { clock, defaultActor: 'bench' });
  try {
    const rssBefore = process.resourceUsage().maxRSS;
    // The JS heap's peak, sampled (RSS also counts SQLite's memory map of the file).
    const heapBefore = process.memoryUsage().heapUsed;
    let heapPeak = heapBefore;
    const sampler = setInterval(() => {
      heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
    }, 5);
    const cpu = process.cpuUsage();
    const wall = performance.now();
    const result = await fn(rd);
    const ms = performance.now() - wall;
    const used = process.cpuUsage(cpu);
    clearInterval(sampler);
    console.log(
      `${label}: wall ${ms.toFixed(0)} ms, CPU ${((used.user + used.system) / 1000).toFixed(0)} ms (user ${(used.user / 1000).toFixed(0)}, system ${(used.system / 1000).toFixed(0)}), peak RSS +${((process.resourceUsage().maxRSS - rssBefore) / 1024).toFixed(0)} MiB, peak heap +${((heapPeak - heapBefore) / 2 ** 20).toFixed(0)} MiB → ${JSON.stringify(result)}`,
    );
  } finally {
    await rd.close();
  }
}

const dir = await mkdtemp(join(tmpdir(), 'mv-bench-purge-'));
try {
  const template = join(dir, 'template');
  await build(template);
  now += DELETED_RETENTION_MS + DAY;
  console.log(
    `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  await cp(template, join(dir, 'purge'), { recursive: true });
  await measure('purge', join(dir, 'purge'), async (rd) => {
    const ctx = (rd.registry as unknown as { context: RegistryContext }).context;
    const purge = new TrackingPurge(
      ctx,
      new AuditService(ctx),
      new ArtifactService({ store: rd.store }),
    );
    return purge.purge(ctx.now() - ctx.retentionMs, 'bench');
  });
  await cp(template, join(dir, 'gc'), { recursive: true });
  await measure('gc', join(dir, 'gc'), (rd) => rd.registry.gc({ graceMs: 0 }));
} finally {
  await rm(dir, { recursive: true, force: true });
}

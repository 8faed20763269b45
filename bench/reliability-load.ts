/**
 * Load while writing (issue 10): a server process over a registry directory; autocannon
 * drives 100 connections for 30 s across read routes (native version, manifest, file
 * download, version list; MLflow registered-models/get) while 10 SDK clients push new
 * versions as fast as they can. Reported: requests, errors and non-2xx, latency p50 / p90 /
 * p99, pushes completed and failed, and the server's memory sampled every second: resident
 * size from /proc, V8 heap used, external and arrayBuffers from its /metrics. The pushers
 * may stop before the reads (`--push-seconds`), so a run shows whether memory that grew
 * while they pushed is retained (a leak grows with the work done and stays) or is a bound
 * (it plateaus while they push and stops growing, or falls, once they stop).
 *
 *   node --import tsx bench/reliability-load.ts [--seconds 30] [--push-seconds SECONDS]
 *        [--connections 100] [--pushers 10] [--out FILE] [--samples FILE]
 *
 * `--samples` writes the per-second memory series (CSV). The server process inherits the
 * environment (e.g. MALLOC_ARENA_MAX) and takes extra node flags from
 * BENCH_SERVER_NODE_ARGS (e.g. '--heapsnapshot-signal=SIGUSR2').
 *
 * Everything lives under bench/.work/reliability-load/ and is removed afterwards.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { RemoteRegistry } from '../src/client/remote-registry.js';
import { openRegistryDirectory } from '../src/registry/registry-directory.js';
import { pseudoRandomBytes } from '../test/fixtures/model-files.js';
import { startServerProcess } from './lib/server-process.js';
import { median } from './lib/util.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '30' },
    'push-seconds': { type: 'string' },
    connections: { type: 'string', default: '100' },
    pushers: { type: 'string', default: '10' },
    out: { type: 'string' },
    samples: { type: 'string' },
  },
});
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);
const PUSHERS = Number(values.pushers);
const PUSH_SECONDS = Math.min(SECONDS, Number(values['push-seconds'] ?? SECONDS));
const WORK = join(ROOT, 'bench', '.work', 'reliability-load');

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

interface MemorySample {
  /** Seconds since the load started. */
  readonly t: number;
  readonly pushing: boolean;
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
}

/** The server's memory now, in MiB: RSS from /proc, the rest from its /metrics. */
async function sampleMemory(
  pid: number,
  url: string,
): Promise<Omit<MemorySample, 't' | 'pushing'>> {
  const [rss, text] = await Promise.all([
    rssMiB(pid),
    fetch(`${url}/metrics`).then((r) => r.text()),
  ]);
  const gauge = (name: string) =>
    Number(new RegExp(`^modelvault_nodejs_${name} (\\d+)$`, 'm').exec(text)?.[1] ?? Number.NaN) /
    2 ** 20;
  return {
    rss,
    heapUsed: gauge('heap_used_bytes'),
    external: gauge('external_memory_bytes'),
    arrayBuffers: gauge('array_buffers_bytes'),
  };
}

type Series = Omit<MemorySample, 't' | 'pushing'>;
const KINDS = ['rss', 'heapUsed', 'external', 'arrayBuffers'] as const;

/** Per kind: median of the first and last quarter of `samples`, and the peak (MiB). */
function summarise(samples: readonly Series[]) {
  const quarter = Math.max(1, Math.floor(samples.length / 4));
  const out: Record<string, { firstQuarter: number; lastQuarter: number; peak: number }> = {};
  for (const k of KINDS) {
    const v = samples.map((s) => s[k]);
    out[k] = {
      firstQuarter: Math.round(median(v.slice(0, quarter))),
      lastQuarter: Math.round(median(v.slice(-quarter))),
      peak: Math.round(Math.max(...v)),
    };
  }
  return { samples: samples.length, ...out };
}

async function main() {
  await rm(WORK, { recursive: true, force: true });
  const registry = join(WORK, 'registry');
  const seed = join(WORK, 'seed');
  await mkdir(seed, { recursive: true });
  await writeFile(join(seed, 'weights.bin'), pseudoRandomBytes(1, 256 * 1024));
  await writeFile(join(seed, 'config.json'), '{"hidden": 64}');
  const dir = await openRegistryDirectory(registry, { create: true, defaultActor: 'bench' });
  await dir.registry.push(seed, { model: 'm', metrics: { auc: 0.9 } });
  await dir.close();

  const server = await startServerProcess(registry);
  const pid = server.child.pid!;
  const start = await sampleMemory(pid, server.url);
  const memory: MemorySample[] = [];
  let stop = false;
  const t0 = performance.now();
  const sampler = setInterval(() => {
    // Stamped when taken: under load a scrape of /metrics can take seconds to answer.
    const pushing = !stop;
    const t = Math.round((performance.now() - t0) / 1000);
    sampleMemory(pid, server.url).then(
      (m) => memory.push({ t, pushing, ...m }),
      () => undefined,
    );
  }, 1000);
  const pushTimer = setTimeout(() => {
    stop = true;
  }, PUSH_SECONDS * 1000);
  const pushes = { ok: 0, failed: 0, ms: [] as number[], errors: [] as string[] };
  const pusher = async (i: number) => {
    const client = new RemoteRegistry(server.url);
    const src = join(WORK, `push-${i}`);
    await mkdir(src, { recursive: true });
    await writeFile(join(src, 'base.bin'), pseudoRandomBytes(2, 128 * 1024));
    for (let n = 0; !stop; n++) {
      await writeFile(join(src, 'delta.bin'), pseudoRandomBytes(1000 * i + n + 10, 32 * 1024));
      const t0 = performance.now();
      try {
        await client.push(src, { model: `pushed-${i}` });
        pushes.ok++;
        pushes.ms.push(performance.now() - t0);
      } catch (e) {
        pushes.failed++;
        if (pushes.errors.length < 5) pushes.errors.push((e as Error).message);
      }
    }
  };
  const writers = Array.from({ length: PUSHERS }, (_, i) => pusher(i));

  const load = await autocannon({
    url: server.url,
    connections: CONNECTIONS,
    duration: SECONDS,
    requests: [
      { method: 'GET', path: '/api/v1/versions/m@1' },
      { method: 'GET', path: '/api/v1/versions/m@1/manifest' },
      { method: 'GET', path: '/api/v1/versions/m@1/files/weights.bin' },
      { method: 'GET', path: '/api/v1/models/m/versions' },
      { method: 'GET', path: '/api/2.0/mlflow/registered-models/get?name=m' },
    ],
  });
  clearTimeout(pushTimer);
  stop = true;
  await Promise.all(writers);
  clearInterval(sampler);
  await server.stop();
  await rm(WORK, { recursive: true, force: true });

  memory.sort((a, b) => a.t - b.t);
  const pushing = memory.filter((m) => m.pushing);
  const readsOnly = memory.filter((m) => !m.pushing);
  const result = {
    when: new Date().toISOString(),
    loadavg: loadavg().map((l) => Number(l.toFixed(2))),
    seconds: SECONDS,
    pushSeconds: PUSH_SECONDS,
    mallocArenaMax: process.env.MALLOC_ARENA_MAX ?? null,
    connections: CONNECTIONS,
    pushers: PUSHERS,
    reads: {
      requests: load.requests.total,
      perSecond: Math.round(load.requests.average),
      errors: load.errors,
      timeouts: load.timeouts,
      non2xx: load.non2xx,
      latencyMs: { p50: load.latency.p50, p90: load.latency.p90, p99: load.latency.p99 },
      throughputMiBps: Number((load.throughput.average / 2 ** 20).toFixed(1)),
    },
    pushes: {
      ok: pushes.ok,
      failed: pushes.failed,
      medianMs: Math.round(median(pushes.ms)),
      errors: pushes.errors,
    },
    serverMemoryMiB: {
      start: Object.fromEntries(KINDS.map((k) => [k, Math.round(start[k])])),
      whilePushing: pushing.length > 0 ? summarise(pushing) : null,
      readsOnly: readsOnly.length > 0 ? summarise(readsOnly) : null,
      end: Object.fromEntries(KINDS.map((k) => [k, Math.round(memory.at(-1)?.[k] ?? Number.NaN)])),
    },
  };
  if (values.samples) {
    const rows = memory.map((m) =>
      [m.t, m.pushing ? 1 : 0, ...KINDS.map((k) => m[k].toFixed(1))].join(','),
    );
    await writeFile(values.samples, `t,pushing,${KINDS.join(',')}\n${rows.join('\n')}\n`);
  }
  console.log(JSON.stringify(result, null, 2));
  if (values.out) await writeFile(values.out, `${JSON.stringify(result, null, 2)}\n`);
}

await main();

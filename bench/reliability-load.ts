/**
 * Load while writing (issue 10): a server process over a registry directory; autocannon
 * drives 100 connections for 30 s across read routes (native version, manifest, file
 * download, version list; MLflow registered-models/get) while 10 SDK clients push new
 * versions as fast as they can. Reported: requests, errors and non-2xx, latency p50 / p90 /
 * p99, pushes completed and failed, and the server's resident memory sampled every second
 * (first and last quarter of the run, and the peak), so that growth shows.
 *
 *   node --import tsx bench/reliability-load.ts [--seconds 30] [--connections 100]
 *                                               [--pushers 10] [--out FILE]
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
    connections: { type: 'string', default: '100' },
    pushers: { type: 'string', default: '10' },
    out: { type: 'string' },
  },
});
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);
const PUSHERS = Number(values.pushers);
const WORK = join(ROOT, 'bench', '.work', 'reliability-load');

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
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
  const memory: number[] = [];
  const sampler = setInterval(() => {
    rssMiB(pid).then(
      (m) => memory.push(m),
      () => undefined,
    );
  }, 1000);
  memory.push(await rssMiB(pid));

  let stop = false;
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
  stop = true;
  await Promise.all(writers);
  clearInterval(sampler);
  await server.stop();
  await rm(WORK, { recursive: true, force: true });

  const quarter = Math.max(1, Math.floor(memory.length / 4));
  const result = {
    when: new Date().toISOString(),
    loadavg: loadavg().map((l) => Number(l.toFixed(2))),
    seconds: SECONDS,
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
    serverRssMiB: {
      start: Math.round(memory[0]!),
      firstQuarter: Math.round(median(memory.slice(0, quarter))),
      lastQuarter: Math.round(median(memory.slice(-quarter))),
      peak: Math.round(Math.max(...memory)),
      samples: memory.length,
    },
  };
  console.log(JSON.stringify(result, null, 2));
  if (values.out) await writeFile(values.out, `${JSON.stringify(result, null, 2)}\n`);
}

await main();

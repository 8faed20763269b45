/**
 * The CPU time per pull of one version through a server process on loopback, client and
 * server separately, against a local materialize of the same version: the least noisy
 * measure of the download path on a shared machine (wall time swings with other jobs; the
 * CPU a pull costs much less).
 *
 *   node --import tsx bench/server-api.ts --scale 0.1 --transfer-only --keep-series  # the series
 *   node --import tsx bench/pull-cpu.ts [--runs 9] [--version v10]
 *
 * Pushes `bench/.work/server-api/series/<version>` to a fresh server (and into a local
 * registry directory), then `--runs` times: a local materialize and a pull, each into a
 * fresh directory. Prints the medians of the client's `process.cpuUsage()`, the server's
 * CPU (/proc, 10 ms resolution) and the wall times per pull. To compare two commits, run
 * it in a worktree of each, alternately.
 */
import { rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RemoteRegistry } from '../src/client/remote-registry.js';
import { openRegistryDirectory } from '../src/registry/registry-directory.js';
import { startServerProcess } from './lib/server-process.js';
import { median, processCpu } from './lib/util.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '9' },
    version: { type: 'string', default: 'v10' },
  },
});
const work = join(dirname(fileURLToPath(import.meta.url)), '.work', 'server-api');
const registry = join(work, 'pull-cpu-registry');
const localDir = join(work, 'pull-cpu-local');
await rm(registry, { recursive: true, force: true });
await rm(localDir, { recursive: true, force: true });
const server = await startServerProcess(registry);
const remote = new RemoteRegistry(server.url, { transfer: { cacheDir: false } });
const local = await openRegistryDirectory(localDir, { create: true });
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const load0 = loadavg()[0]!;
try {
  const source = join(work, 'series', values.version);
  await remote.push(source, { model: 'series', createModelIfMissing: true });
  await local.registry.push(source, { model: 'series', createModelIfMissing: true });
  const client: number[] = [];
  const serverMs: number[] = [];
  const pullMs: number[] = [];
  const localCpu: number[] = [];
  const localMs: number[] = [];
  for (let i = 0; i < Number(values.runs); i++) {
    const a = join(work, `pull-cpu-local-${i}`);
    let before = cpu();
    let t = performance.now();
    await local.registry.pull('series@1', a);
    localMs.push(performance.now() - t);
    localCpu.push(cpu() - before);
    await rm(a, { recursive: true, force: true });
    const dest = join(work, `pull-cpu-${i}`);
    const serverBefore = await processCpu(server.child.pid);
    before = cpu();
    t = performance.now();
    await remote.pull('series@1', dest);
    pullMs.push(performance.now() - t);
    client.push(cpu() - before);
    serverMs.push(((await processCpu(server.child.pid)) - serverBefore) * 1000);
    await rm(dest, { recursive: true, force: true });
  }
  const f = (xs: number[]) => median(xs).toFixed(0);
  console.log(
    `per pull (median of ${client.length}): client CPU ${f(client)} ms (min ${Math.min(...client).toFixed(0)}), server CPU ${f(serverMs)} ms, wall ${f(pullMs)} ms; local materialize: CPU ${f(localCpu)} ms, wall ${f(localMs)} ms; remote speed / local ${(median(localMs) / median(pullMs)).toFixed(2)}; load average ${load0.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}`,
  );
} finally {
  await server.stop();
  await local.close();
  await rm(registry, { recursive: true, force: true });
  await rm(localDir, { recursive: true, force: true });
}

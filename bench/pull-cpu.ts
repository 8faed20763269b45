/**
 * The client's CPU time per pull of one version through a server process on loopback: the
 * least noisy measure of the SDK's download path on a shared machine (wall time swings
 * with other jobs; the CPU a pull costs much less).
 *
 *   node --import tsx bench/server-api.ts --scale 0.1 --transfer-only --keep-series  # the series
 *   node --import tsx bench/pull-cpu.ts [--runs 9] [--version v10]
 *
 * Pushes `bench/.work/server-api/series/<version>` to a fresh server, pulls it `--runs`
 * times into fresh directories and prints the median and minimum of the client's
 * `process.cpuUsage()` per pull. To compare two commits, run it in a worktree of each,
 * alternately.
 */
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RemoteRegistry } from '../src/client/remote-registry.js';
import { startServerProcess } from './lib/server-process.js';
import { median } from './lib/util.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '9' },
    version: { type: 'string', default: 'v10' },
  },
});
const work = join(dirname(fileURLToPath(import.meta.url)), '.work', 'server-api');
const registry = join(work, 'pull-cpu-registry');
await rm(registry, { recursive: true, force: true });
const server = await startServerProcess(registry);
const remote = new RemoteRegistry(server.url, { transfer: { cacheDir: false } });
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
try {
  await remote.push(join(work, 'series', values.version), { model: 'series' });
  const ms: number[] = [];
  for (let i = 0; i < Number(values.runs); i++) {
    const dest = join(work, `pull-cpu-${i}`);
    const before = cpu();
    await remote.pull('series@1', dest);
    ms.push(cpu() - before);
    await rm(dest, { recursive: true, force: true });
  }
  console.log(
    `client CPU per pull: median ${median(ms).toFixed(0)} ms, min ${Math.min(...ms).toFixed(0)} ms (${ms.length} pulls)`,
  );
} finally {
  await server.stop();
  await rm(registry, { recursive: true, force: true });
}

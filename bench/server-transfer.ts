/**
 * Push and pull of one large file through a real server process, with the server's peak
 * resident memory: the check that a multi-GiB model moves with bounded memory and without
 * timeouts, and what it costs.
 *
 *   node --import tsx bench/server-transfer.ts [--gib 1] [--keep]
 *
 * Workload: one file of random bytes (nothing deduplicates), pushed with the SDK to
 * `src/server/main.ts` on a loopback port, then pulled into an empty directory (files of
 * 64 MiB or more are pulled as parallel chunk-aligned ranges). The server's RSS is sampled
 * from its /metrics every 200 ms. Everything lives under bench/.work/ and is removed after.
 */
import { randomFillSync } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RemoteRegistry } from '../src/client/remote-registry.js';
import { startServerProcess } from './lib/server-process.js';

const MiB = 1024 * 1024;
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

const { values } = parseArgs({
  options: { gib: { type: 'string', default: '1' }, keep: { type: 'boolean', default: false } },
});
const gib = Number(values.gib);
const work = join(ROOT, 'bench', '.work', 'server-transfer');

await rm(work, { recursive: true, force: true });
await mkdir(join(work, 'model'), { recursive: true });
const out = createWriteStream(join(work, 'model', 'weights.bin'));
const block = Buffer.alloc(16 * MiB);
for (let i = 0; i < gib * 64; i++) {
  randomFillSync(block);
  if (!out.write(block)) await new Promise<void>((r) => out.once('drain', () => r()));
}
await new Promise<void>((r) => out.end(() => r()));

const server = await startServerProcess(join(work, 'registry'));
const url = server.url;

let peak = 0;
const sample = async () => {
  const text = await (await fetch(`${url}/metrics`)).text();
  const rss = Number(/modelvault_process_resident_memory_bytes (\d+)/.exec(text)?.[1] ?? 0);
  peak = Math.max(peak, rss);
};
await sample();
const idle = peak;
const timer = setInterval(() => void sample().catch(() => undefined), 200);

try {
  const client = new RemoteRegistry(url);
  let t = performance.now();
  const { stats } = await client.push(join(work, 'model'), { model: 'big' });
  const push = (performance.now() - t) / 1000;
  const pushPeak = peak;
  t = performance.now();
  await client.pull('big@1', join(work, 'pulled'));
  const pull = (performance.now() - t) / 1000;
  const size = stats.bytes / MiB;
  console.log(
    `file: ${gib} GiB, ${stats.chunks} chunks; server idle RSS ${(idle / MiB).toFixed(0)} MiB`,
  );
  console.log(
    `push: ${push.toFixed(1)} s (${(size / push).toFixed(0)} MiB/s), server peak RSS ${(pushPeak / MiB).toFixed(0)} MiB`,
  );
  console.log(
    `pull: ${pull.toFixed(1)} s (${(size / pull).toFixed(0)} MiB/s), server peak RSS ${(peak / MiB).toFixed(0)} MiB`,
  );
  console.log(`client RSS at the end: ${(process.memoryUsage.rss() / MiB).toFixed(0)} MiB`);
} finally {
  clearInterval(timer);
  await server.stop();
  if (!values.keep) await rm(work, { recursive: true, force: true });
}

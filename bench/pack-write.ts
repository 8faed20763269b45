/**
 * How fast PackWriter stores chunks, against the machine's own `cp` + `sync` of the same
 * number of bytes, measured side by side in one run (machines are shared and noisy).
 *
 *   node --import tsx bench/pack-write.ts [--total-mib 512] [--runs 3] [--buffers 1m]
 *   node --import tsx bench/pack-write.ts --buffers 256k,1m,2m,4m,8m   # buffer size sweep
 *   node --import tsx bench/pack-write.ts --dir /dev/shm/x   # tmpfs: CPU cost only
 *
 * Workload: 512 MiB of distinct 64 KiB chunks (ids precomputed: hashing is the chunker's
 * cost, not the writer's) through PackWriter into 32 MiB packs, each sealed (fsynced).
 * Two ways to drive it: "sequential" awaits each seal before starting the next pack;
 * "pipelined" starts the next pack while the previous seal (its fsync) is in flight, at
 * most one at a time — what ingest should do.
 * Baseline: `cp` of a 512 MiB file (page-cached, like the chunks in memory) and `sync` of
 * the copy. Everything is written under bench/.work/ (or --dir) and removed afterwards.
 */
import { execFile } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { mkdir, open, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Sha256Hex } from '../src/core/digest.js';
import { DEFAULT_PACK_TARGET_SIZE } from '../src/storage/pack-format.js';
import { PackWriter } from '../src/storage/pack-writer.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

function parseSize(s: string): number {
  const m = /^(\d+)([km]?)$/i.exec(s.trim());
  if (!m) throw new Error(`bad size ${s}`);
  return (
    Number(m[1]) * (m[2]?.toLowerCase() === 'm' ? MiB : m[2]?.toLowerCase() === 'k' ? 1024 : 1)
  );
}

const totalBytes = Number(arg('total-mib', '512')) * MiB;
const runs = Number(arg('runs', '3'));
const buffers = arg('buffers', '1m').split(',').map(parseSize);
const work = arg('dir', join(dirname(fileURLToPath(import.meta.url)), '.work', 'pack-write'));

// Distinct chunks without holding 512 MiB: overlapping 64 KiB windows of a 64 MiB pool,
// 8 KiB apart, are all different.
const POOL = 64 * MiB;
const STEP = 8 * 1024;
const pool = randomFillSync(Buffer.allocUnsafe(POOL + CHUNK));
const chunkCount = totalBytes / CHUNK;
const chunkAt = (i: number) => pool.subarray((i * STEP) % POOL, ((i * STEP) % POOL) + CHUNK);
const ids: Sha256Hex[] = [];
for (let i = 0; i < chunkCount; i++) {
  ids.push(createHash('sha256').update(chunkAt(i)).digest('hex') as Sha256Hex);
}
if (new Set(ids).size !== chunkCount)
  throw new Error('chunks are not distinct; shrink --total-mib');

type Mode = 'sequential' | 'pipelined';

/** Wall seconds and this process's CPU seconds (user + system) for one pass. */
interface Timing {
  readonly wall: number;
  readonly cpu: number;
}

async function writePacks(bufferSize: number, mode: Mode): Promise<Timing> {
  const tmpDir = join(work, 'packs');
  await mkdir(tmpDir, { recursive: true });
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  let w = await PackWriter.create(tmpDir, { bufferSize });
  let packs = 0;
  let sealing: Promise<unknown> | undefined;
  const seal = async (writer: PackWriter) => {
    packs++;
    if (mode === 'sequential') return void (await writer.seal());
    await sealing; // at most one seal in flight
    sealing = writer.seal();
  };
  for (let i = 0; i < chunkCount; i++) {
    await w.add(ids[i]!, chunkAt(i));
    if (w.sealedSize >= DEFAULT_PACK_TARGET_SIZE) {
      await seal(w);
      w = await PackWriter.create(tmpDir, { bufferSize });
    }
  }
  if (w.entryCount > 0) await seal(w);
  else await w.abort();
  await sealing;
  const wall = (performance.now() - start) / 1000;
  const { user, system } = process.cpuUsage(cpuStart);
  await rm(tmpDir, { recursive: true, force: true });
  if (packs !== Math.ceil(totalBytes / DEFAULT_PACK_TARGET_SIZE)) {
    console.warn(`note: wrote ${packs} packs`);
  }
  return { wall, cpu: (user + system) / 1e6 };
}

async function makeSourceFile(path: string): Promise<void> {
  const fh = await open(path, 'w');
  for (let i = 0; i < chunkCount; i++) await fh.write(chunkAt(i));
  await fh.sync();
  await fh.close();
}

async function copyAndSync(src: string): Promise<number> {
  const dst = join(work, 'copy.bin');
  const start = performance.now();
  await run('cp', [src, dst]);
  await run('sync', [dst]); // fsync of the copy: what seal does for each pack
  const seconds = (performance.now() - start) / 1000;
  await rm(dst, { force: true });
  return seconds;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mbps = (s: number) => (totalBytes / 1e6 / s).toFixed(0);

async function main(): Promise<void> {
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const src = join(work, 'source.bin');
  await makeSourceFile(src);
  console.log(
    `pack-write: ${totalBytes / MiB} MiB of 64 KiB chunks into ${DEFAULT_PACK_TARGET_SIZE / MiB} MiB packs, ` +
      `median of ${runs}; node ${process.version}`,
  );

  const cpTimes: number[] = [];
  const variants = buffers.flatMap((b) =>
    (['sequential', 'pipelined'] as const).map((mode) => ({ b, mode, times: [] as Timing[] })),
  );
  for (let r = 0; r < runs; r++) {
    // Alternate the order so neither side always runs on a cache warmed by the other.
    const steps: (() => Promise<void>)[] = [
      async () => void cpTimes.push(await copyAndSync(src)),
      ...variants.map((v) => async () => void v.times.push(await writePacks(v.b, v.mode))),
    ];
    if (r % 2 === 1) steps.reverse();
    for (const step of steps) {
      await run('sync', []); // start each measurement with no dirty pages from the last one
      await step();
    }
  }

  const cp = median(cpTimes);
  console.log(
    `  ${'cp + sync'.padEnd(32)} ${cp.toFixed(3)} s  ${mbps(cp)} MB/s   runs: ${cpTimes.map((t) => t.toFixed(3)).join(' ')}`,
  );
  for (const { b, mode, times: timings } of variants) {
    const times = timings.map((t) => t.wall);
    const m = median(times);
    const cpu = median(timings.map((t) => t.cpu));
    const buf = b >= MiB ? `${b / MiB} MiB` : `${b / 1024} KiB`;
    const label = `PackWriter ${buf} ${mode}`.padEnd(32);
    console.log(
      `  ${label} ${m.toFixed(3)} s  ${mbps(m)} MB/s   runs: ${times.map((t) => t.toFixed(3)).join(' ')}   ` +
        `cpu ${cpu.toFixed(3)} s   time ratio vs cp+sync: ${(m / cp).toFixed(2)}`,
    );
  }
  await rm(work, { recursive: true, force: true });
}

await main();

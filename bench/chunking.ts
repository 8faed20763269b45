/**
 * Chunking throughput: FastCDC alone (whole buffer and streamed in 1 MiB blocks through
 * StreamChunker) and FastCDC + SHA-256 per chunk, against plain SHA-256 of the same bytes
 * in the same run. Random data in memory, so this measures CPU, not I/O.
 *
 *   node --import tsx bench/chunking.ts [sizeMiB=256] [runs=5]
 *
 * Prints the median and best of `runs` timed runs after one warm-up, in MB/s (1e6 bytes),
 * by wall clock and by CPU time, and each case's speed relative to plain SHA-256.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { DEFAULT_CHUNKING } from '../src/storage/chunking/chunking-params.js';
import { chunkEnds } from '../src/storage/chunking/fastcdc.js';
import { StreamChunker } from '../src/storage/chunking/stream-chunker.js';

const sizeMiB = Number(process.argv[2] ?? 256);
const runs = Number(process.argv[3] ?? 5);
const size = sizeMiB * 1024 * 1024;
const BLOCK = 1024 * 1024;

const data = new Uint8Array(size);
for (let at = 0; at < size; at += 1 << 30) randomFillSync(data, at, Math.min(1 << 30, size - at));

interface Timing {
  readonly wall: number;
  readonly cpu: number;
}

/**
 * Runs `fn` once to warm up, then `runs` times; returns the median and best wall-clock and
 * CPU (user + system) seconds. On a shared machine CPU time is the steadier figure: wall
 * time also counts the time other processes held the cores.
 */
function time(fn: () => unknown): { median: Timing; best: Timing } {
  fn();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    fn();
    wall.push(Number(process.hrtime.bigint() - t0) / 1e9);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1e6);
  }
  const sorted = (a: number[]) => [...a].sort((x, y) => x - y);
  const mid = Math.floor(runs / 2);
  return {
    median: { wall: sorted(wall)[mid]!, cpu: sorted(cpu)[mid]! },
    best: { wall: sorted(wall)[0]!, cpu: sorted(cpu)[0]! },
  };
}

let sink = 0;

const cases: [string, () => unknown][] = [
  ['sha256 (whole buffer)', () => createHash('sha256').update(data).digest()],
  ['fastcdc (whole buffer)', () => (sink += chunkEnds(data, DEFAULT_CHUNKING).length)],
  [
    'fastcdc (StreamChunker, 1 MiB blocks)',
    () => {
      const chunker = new StreamChunker(
        DEFAULT_CHUNKING,
        [{ offset: 0, length: size, kind: 'data' }],
        size,
      );
      for (let at = 0; at < size; at += BLOCK)
        sink += chunker.push(data.subarray(at, at + BLOCK)).length;
      sink += chunker.finish().length;
    },
  ],
  [
    'fastcdc + sha256 per chunk',
    () => {
      let start = 0;
      for (const end of chunkEnds(data, DEFAULT_CHUNKING)) {
        sink += createHash('sha256').update(data.subarray(start, end)).digest()[0]!;
        start = end;
      }
    },
  ],
];

const chunks = chunkEnds(data, DEFAULT_CHUNKING).length;
console.log(
  `${sizeMiB} MiB random data, ${chunks} chunks (mean ${(size / chunks / 1024).toFixed(1)} KiB), ` +
    `median of ${runs} runs, node ${process.version}`,
);
const mbs = (seconds: number) => size / 1e6 / seconds;
const results = cases.map(([name, fn]) => ({ name, ...time(fn) }));
const sha = results[0]!.median;
const col = (n: number) => n.toFixed(0).padStart(6);
console.log(
  `${''.padEnd(40)} ${'wall MB/s'.padStart(20)}   ${'CPU-time MB/s'.padStart(20)}   vs sha256`,
);
console.log(
  `${''.padEnd(40)} ${'median'.padStart(10)}${'best'.padStart(10)}   ${'median'.padStart(10)}${'best'.padStart(10)}   wall   cpu`,
);
for (const { name, median, best } of results) {
  console.log(
    `${name.padEnd(40)} ${col(mbs(median.wall)).padStart(10)}${col(mbs(best.wall)).padStart(10)}   ` +
      `${col(mbs(median.cpu)).padStart(10)}${col(mbs(best.cpu)).padStart(10)}   ` +
      `${(sha.wall / median.wall).toFixed(2)}× ${(sha.cpu / median.cpu).toFixed(2)}×`,
  );
}
if (sink === -1) console.log(sink);

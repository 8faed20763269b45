/**
 * Tensor-level diff benchmark (issue 9): `diffVersions(A, B, {tensors, stats})` on two
 * versions of a ~500 MB safetensors checkpoint whose last 20% of tensors changed (the
 * first two versions of the storage benchmark's `partial` series), against the time to
 * read just the changed tensors' bytes once — both sides, through the same store, which is
 * the least any diff with statistics must read. Target: diff ≤ 1.5× that baseline.
 *
 *   node --import tsx bench/tensor-diff.ts [--scale 1] [--runs 5] [--seed 1]
 *
 * Also reported: the same ranges read from the source files with plain positioned reads
 * (the page cache's speed, a floor no store reaches), and the diff without statistics
 * (which only compares chunk ids and reads no tensor data). Rounds interleave baseline and
 * diff so machine noise hits both; the report gives medians. Work in bench/.work/diff.
 */
import { open, rm } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Sha256Hex } from '../src/core/digest.js';
import { openRegistryDirectory } from '../src/registry/registry-directory.js';
import { generateSeries, MODEL_FILE } from './lib/safetensors-series.js';
import { fmtBytes, nowSeconds } from './lib/util.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    scale: { type: 'string', default: '1' },
    runs: { type: 'string', default: '5' },
    seed: { type: 'string', default: '1' },
  },
});
const scale = Number(values.scale);
const runs = Number(values.runs);
const log = (m: string) => process.stderr.write(`${m}\n`);

const work = join(ROOT, 'bench', '.work', 'diff');
const series = await generateSeries(
  { kind: 'partial', versions: 2, scale, seed: Number(values.seed) },
  join(work, 'series'),
  log,
);
await rm(join(work, 'registry'), { recursive: true, force: true });
const dir = await openRegistryDirectory(join(work, 'registry'), { create: true });
const { registry, store } = dir;

for (const v of series.versions) {
  await registry.push(join(work, 'series', v.dir), { model: 'bench' });
}

/** Tensor byte ranges (absolute offsets) of a safetensors file, from its header. */
async function tensorRanges(
  path: string,
): Promise<Map<string, { offset: number; length: number }>> {
  const fh = await open(path, 'r');
  try {
    const len = Buffer.alloc(8);
    await fh.read(len, 0, 8, 0);
    const n = Number(len.readBigUInt64LE(0));
    const header = Buffer.alloc(n);
    await fh.read(header, 0, n, 8);
    const parsed = JSON.parse(header.toString('utf8')) as Record<
      string,
      { data_offsets?: [number, number] }
    >;
    const out = new Map<string, { offset: number; length: number }>();
    for (const [name, t] of Object.entries(parsed)) {
      if (!t.data_offsets) continue;
      out.set(name, {
        offset: 8 + n + t.data_offsets[0],
        length: t.data_offsets[1] - t.data_offsets[0],
      });
    }
    return out;
  } finally {
    await fh.close();
  }
}

const [fa, fb] = series.versions.map((v) => join(work, 'series', v.file));
const ra = await tensorRanges(fa!);
const rb = await tensorRanges(fb!);
const probe = await registry.diffVersions('bench@1', 'bench@2', { tensors: true, stats: true });
const changed = (probe.tensors?.tensors ?? [])
  .filter((t) => t.status === 'changed')
  .map((t) => t.name);
const manifests = await Promise.all(
  [1, 2].map(async (n) =>
    store.getManifest((await registry.getVersion(`bench@${n}`)).digest as Sha256Hex),
  ),
);
const shaOf = (i: number) => manifests[i]!.entries.find((e) => e.path === MODEL_FILE)!.sha256;
const changedBytes = changed.reduce(
  (s, name) => s + ra.get(name)!.length + rb.get(name)!.length,
  0,
);

async function readThroughStore(): Promise<number> {
  let bytes = 0;
  for (const name of changed) {
    for (const [i, ranges] of [ra, rb].entries()) {
      for await (const part of store.readFile(shaOf(i), ranges.get(name)!)) bytes += part.length;
    }
  }
  return bytes;
}

async function readFromFiles(): Promise<number> {
  let bytes = 0;
  const buf = Buffer.alloc(4 * 1024 * 1024);
  for (const [path, ranges] of [
    [fa!, ra],
    [fb!, rb],
  ] as const) {
    const fh = await open(path, 'r');
    try {
      for (const name of changed) {
        const { offset, length } = ranges.get(name)!;
        for (let at = 0; at < length; ) {
          const { bytesRead } = await fh.read(
            buf,
            0,
            Math.min(buf.length, length - at),
            offset + at,
          );
          at += bytesRead;
          bytes += bytesRead;
        }
      }
    } finally {
      await fh.close();
    }
  }
  return bytes;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = nowSeconds();
  await fn();
  return nowSeconds() - t0;
}

const samples = {
  store: [] as number[],
  files: [] as number[],
  stats: [] as number[],
  ids: [] as number[],
};
let bytesRead = 0;
await readThroughStore(); // warm the page cache for both
for (let r = 0; r < runs; r++) {
  samples.store.push(await timed(readThroughStore));
  samples.files.push(await timed(readFromFiles));
  samples.stats.push(
    await timed(async () => {
      const d = await registry.diffVersions('bench@1', 'bench@2', { tensors: true, stats: true });
      bytesRead = d.tensors!.bytesRead;
    }),
  );
  samples.ids.push(
    await timed(() => registry.diffVersions('bench@1', 'bench@2', { tensors: true })),
  );
  log(
    `round ${r + 1}/${runs}: store ${samples.store.at(-1)!.toFixed(3)} s, diff ${samples.stats.at(-1)!.toFixed(3)} s`,
  );
}
await dir.close();

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const m = {
  store: median(samples.store),
  files: median(samples.files),
  stats: median(samples.stats),
  ids: median(samples.ids),
};
const tensors = probe.tensors!;
const lines = [
  `Two versions of ${fmtBytes(series.versions[0]!.bytes)} (${tensors.tensors.length} tensors; ${tensors.counts.changed} changed, ${tensors.counts.unchanged} unchanged); changed bytes, both sides: ${fmtBytes(changedBytes)}; the diff read ${fmtBytes(bytesRead)}.`,
  `${cpus().length} vCPUs, load average ${loadavg()[0]!.toFixed(1)} at the end; median of ${runs} rounds.`,
  '',
  '| measurement | seconds (median) | ratio to store read |',
  '| --- | ---: | ---: |',
  `| read the changed tensors once, through the store (baseline) | ${m.store.toFixed(3)} | 1.00 |`,
  `| read the same ranges from the source files (page cache) | ${m.files.toFixed(3)} | ${(m.files / m.store).toFixed(2)} |`,
  `| \`diffVersions --tensors --stats\` | ${m.stats.toFixed(3)} | ${(m.stats / m.store).toFixed(2)} |`,
  `| \`diffVersions --tensors\` (chunk ids only) | ${m.ids.toFixed(3)} | ${(m.ids / m.store).toFixed(2)} |`,
];
process.stdout.write(`${lines.join('\n')}\n`);

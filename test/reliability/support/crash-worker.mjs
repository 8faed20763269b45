/**
 * Child process of crash.test.ts (plain JS over the built dist/, so that each of the many
 * restarts is quick): opens the registry directory argv[2] and pushes, pulls, deletes and
 * collects garbage at random (seed argv[4]) until the parent SIGKILLs it. It reports on
 * stdout, one line per fact:
 *   READY                        the registry is open
 *   PUSHED <model> <n> <json>    version n is committed with these files ({path: sha256})
 *   DELETING <model> <n>         about to delete it (it may or may not survive a kill)
 *   DELETED <model> <n>          deleted
 *
 *   node crash-worker.mjs ROOT WORKDIR SEED
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openRegistryDirectory } from '../../../dist/registry/registry-directory.js';

const [root, work, seedArg] = process.argv.slice(2);
let state = Number(seedArg) >>> 0;
/** mulberry32: a small seeded PRNG, so a failing run can be replayed from its seed. */
function rng() {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (n) => Math.floor(rng() * n);

/** Deterministic bytes: a few shared labels, so versions deduplicate against each other. */
function bytes(label, size) {
  const out = Buffer.alloc(size);
  for (let off = 0, i = 0; off < size; off += 32, i++) {
    createHash('sha256').update(`${label}:${i}`).digest().copy(out, off);
  }
  return out;
}
const sha = (b) => createHash('sha256').update(b).digest('hex');
const say = (line) => process.stdout.write(`${line}\n`);

const dir = await openRegistryDirectory(root, {
  create: true,
  defaultActor: 'crash-worker',
  retentionMs: 0,
  packTargetSize: 96 * 1024,
  chunking: { minSize: 1024, avgSize: 4096, maxSize: 16 * 1024 },
});
const registry = dir.registry;
say('READY');

for (let step = 0; ; step++) {
  const r = rng();
  const model = `m${pick(3)}`;
  if (r < 0.5) {
    const src = join(work, `push-${seedArg}-${step}`);
    await mkdir(src, { recursive: true });
    const files = {};
    for (let f = 0, n = 1 + pick(3); f < n; f++) {
      const data = bytes(
        `${pick(4) === 0 ? `u${seedArg}-${step}-${f}` : `s${pick(5)}`}`,
        1 + pick(48 * 1024),
      );
      await writeFile(join(src, `f${f}.bin`), data);
      files[`f${f}.bin`] = sha(data);
    }
    const { version } = await registry.push(src, { model });
    say(`PUSHED ${model} ${version.version} ${JSON.stringify(files)}`);
    await rm(src, { recursive: true, force: true });
  } else if (r < 0.7) {
    const live = (await registry.listVersions(model).catch(() => ({ items: [] }))).items;
    if (live.length === 0) continue;
    const v = live[pick(live.length)];
    const dest = join(work, `pull-${seedArg}-${step}`);
    await registry.pull(`${model}@${v.version}`, dest);
    for (const f of (await registry.getManifest(`${model}@${v.version}`)).files) {
      if (sha(await readFile(join(dest, f.path))) !== f.sha256)
        throw new Error(`bad pull of ${f.path}`);
    }
    await rm(dest, { recursive: true, force: true });
  } else if (r < 0.9) {
    const live = (await registry.listVersions(model).catch(() => ({ items: [] }))).items;
    if (live.length < 2) continue;
    const v = live[pick(live.length)];
    say(`DELETING ${model} ${v.version}`);
    await registry.deleteVersion(`${model}@${v.version}`);
    say(`DELETED ${model} ${v.version}`);
  } else {
    await registry.gc({ graceMs: 0 });
  }
}

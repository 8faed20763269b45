/**
 * Child process for crash.test.ts: ingests generated model directories and runs GC in a
 * loop, printing what it has committed, until the parent kills it with SIGKILL.
 *   COMMITTED <digest>   the manifest is committed (must survive any later kill)
 *   DROPPED <digest>     about to be released to GC (may or may not survive)
 * Plain JavaScript over the build (dist/, which the tests' global setup keeps fresh), so
 * that each of the many children starts in a fraction of the time tsx would take.
 */
import { createHash } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openStoreDirectory } from '../../dist/registry/store-directory.js';
import { collectGarbage } from '../../dist/storage/garbage-collector.js';

const [root, work, seedArg] = process.argv.slice(2);
let seed = Number(seedArg);

/** Deterministic pseudo-random bytes (counter-mode SHA-256) so versions share content. */
function bytes(label, size) {
  const out = Buffer.alloc(size);
  for (let off = 0, i = 0; off < size; off += 32, i++) {
    createHash('sha256').update(`${label}:${i}`).digest().copy(out, off);
  }
  return out;
}

const sd = await openStoreDirectory(root, { create: true, packTargetSize: 512 * 1024 });
const live = [];
for (;;) {
  seed++;
  const dir = join(work, `v${seed}`);
  await mkdir(dir, { recursive: true });
  // Shared base content plus a little that is new in each version.
  await writeFile(join(dir, 'base.bin'), bytes(`base-${seed % 3}`, 700 * 1024));
  await writeFile(
    join(dir, `new-${seed}.bin`),
    bytes(`new-${seed}`, 200 * 1024 + (seed % 7) * 1000),
  );
  const { manifest } = await sd.store.ingestTree(dir);
  process.stdout.write(`COMMITTED ${manifest.digest}\n`);
  live.push(manifest.digest);
  await rm(dir, { recursive: true, force: true });
  if (seed % 3 === 0 && live.length > 2) {
    const dropped = live.shift();
    process.stdout.write(`DROPPED ${dropped}\n`);
    // Everything stored by earlier (killed) children stays live; only `dropped` goes.
    const all = await sd.database.db.selectFrom('manifests').select('digest').execute();
    const keep = all.map((r) => r.digest).filter((d) => d !== dropped);
    await collectGarbage(sd.store, { liveManifests: keep, graceMs: 0 });
  }
}

/**
 * Per-thread CPU of each version's ingest, in one process (so the workers' JIT is warm
 * after v01, as in a server or bench/storage.ts): the main thread, the libuv pool (reads,
 * pack writes, fdatasync) and the two hash workers, from /proc/self/task (Linux). Also
 * prints each version's process.hrtime window in µs, to cut a `--cpu-prof` profile to it.
 *
 *   node --import tsx bench/ingest-threads.ts TREE STORE_DIR SERIES_DIR N
 *
 * TREE is a checkout whose engine to run (say a frozen `git archive` of a commit with a
 * node_modules link); STORE_DIR is deleted and created; SERIES_DIR is made by
 * `bench/store-ab.ts --make-series`. Prints, per version: wall s, process CPU s, and the
 * CPU s of every thread that used at least 0.03 s (main thread first, workers last).
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const [tree, root, series, n] = process.argv.slice(2);
if (!tree || !root || !series || !n) {
  console.error('usage: bench/ingest-threads.ts TREE STORE_DIR SERIES_DIR N');
  process.exit(2);
}
rmSync(root, { recursive: true, force: true });
const { openStoreDirectory } = await import(join(tree, 'src/registry/store-directory.ts'));
const sd = await openStoreDirectory(root, { create: true });

function threads(): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of readdirSync('/proc/self/task')) {
    const st = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    out.set(t, (Number(f[11]) + Number(f[12])) / 100);
  }
  return out;
}

for (let i = 1; i <= Number(n); i++) {
  const dir = join(series, `v${String(i).padStart(2, '0')}`);
  const th0 = threads();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const from = process.hrtime.bigint() / 1000n;
  await sd.store.ingestTree(dir);
  const to = process.hrtime.bigint() / 1000n;
  const c = process.cpuUsage(c0);
  const per = [...threads()]
    .map(([t, v]) => v - (th0.get(t) ?? 0))
    .filter((v) => v >= 0.03)
    .map((v) => v.toFixed(2));
  const wall = ((performance.now() - t0) / 1000).toFixed(3);
  const cpu = ((c.user + c.system) / 1e6).toFixed(3);
  console.log(`v${i} ${wall} s, CPU ${cpu} s, threads [${per.join(' ')}], µs ${from}-${to}`);
}
await sd.close();

/**
 * Before/after comparison of the storage engine's ingest and materialize, for a change to
 * the engine: two checkouts (say a worktree of `main` and the branch) run the same series
 * alternately, each run measuring its own baselines on the same bytes, so a busy machine
 * disturbs both sides alike. Prints one JSON line per run (stdout).
 *
 *   node --import tsx bench/store-ab.ts --series DIR [--versions 4] [--dir STORES]
 *       [--trees /work/wt-base,/work/wt-new] [--rounds 3]
 *
 * `--series` is a directory written by bench/lib/safetensors-series.ts (v01/…); make one
 * with `--make-series partial|full --scale 0.4 --versions 4`. Every run is a child process
 * (`node --import tsx` in that tree, this file with `--child`) that opens a fresh store
 * under `--dir` (default bench/.work/store-ab; /dev/shm takes the disk out), ingests
 * v01…vN, each followed by `sync` and a SHA-256 of the same file (4 MiB reads, one core),
 * then materializes the last version (+ `sync`) and copies its file with `cp` (+ `sync`).
 * Reported: median over v02…vN of ingest seconds, process CPU seconds (all threads), the
 * busiest thread's CPU seconds (medMaxThread, Linux; see threadCpu), and
 * SHA-256 seconds ÷ ingest seconds (vsSha, higher is better); materialize seconds, CPU,
 * its main thread's and busiest thread's CPU (matMain, matMaxThread), `cp`'s own CPU
 * (cpCpu: `cp` and `sync` processes), the `sync` seconds after each (matSync, cpSync), and (cp + sync) ÷ (materialize + sync) (vsCp); (cp + sync) ÷ the median over v02…vN of
 * (ingest + sync) (ingVsCp: issue 2's full-series target is ≥ 0.8).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const here = dirname(fileURLToPath(import.meta.url));
const now = () => performance.now() / 1000;
const cpu = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
};
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
const sync = () => {
  const t = now();
  execFileSync('sync');
  return now() - t;
};

/**
 * CPU seconds of each thread of this process (Linux: /proc/self/task/<tid>/stat, utime +
 * stime at 100 ticks per second), by thread id; empty elsewhere. The busiest thread's
 * share of an ingest bounds its wall time from below on free cores, whatever the load:
 * the figure that shows how well the work is spread over the threads.
 */
function threadCpu(): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const t of readdirSync('/proc/self/task')) {
      const st = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      out.set(t, (Number(f[11]) + Number(f[12])) / 100);
    }
  } catch {
    // Not Linux: no per-thread figures.
  }
  return out;
}

/**
 * CPU seconds of this process's waited-for children (Linux: cutime + cstime in
 * /proc/self/stat, 100 ticks per second; includes `sync`); NaN elsewhere.
 */
function childCpu(): number {
  try {
    const st = readFileSync('/proc/self/stat', 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return (Number(f[13]) + Number(f[14])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds of the busiest thread between two threadCpu() samples. */
function busiest(before: Map<string, number>, after: Map<string, number>): number {
  let max = 0;
  for (const [t, c] of after) max = Math.max(max, c - (before.get(t) ?? 0));
  return max;
}

async function shaSeconds(path: string): Promise<number> {
  const fh = await open(path, 'r');
  const buf = Buffer.allocUnsafe(4 << 20);
  const h = createHash('sha256');
  const t0 = now();
  for (let n = 1; n > 0; ) {
    n = (await fh.read(buf, 0, buf.length, null)).bytesRead;
    h.update(buf.subarray(0, n));
  }
  await fh.close();
  return now() - t0;
}

/** One run, in the tree this file was started from. */
async function child(series: string, parent: string, versions: number): Promise<void> {
  const { openStoreDirectory } = await import(
    join(process.cwd(), 'src/registry/store-directory.ts')
  );
  const root = join(parent, `store-${process.pid}`);
  await rm(root, { recursive: true, force: true });
  const sd = await openStoreDirectory(root, { create: true });
  const runs: { s: number; cpu: number; vsSha: number; synced: number; maxThread: number }[] = [];
  let digest = '';
  let file = '';
  for (let i = 1; i <= versions; i++) {
    const dir = join(series, `v${String(i).padStart(2, '0')}`);
    const c0 = cpu();
    const th0 = threadCpu();
    const t0 = now();
    const { manifest } = await sd.store.ingestTree(dir);
    const s = now() - t0;
    const c = cpu() - c0;
    const maxThread = busiest(th0, threadCpu());
    const synced = s + sync();
    file = join(dir, 'model.safetensors');
    runs.push({ s, cpu: c, vsSha: (await shaSeconds(file)) / s, synced, maxThread });
    digest = manifest.digest;
  }
  const dest = join(parent, `mat-${process.pid}`);
  const copy = join(parent, `cp-${process.pid}`);
  const c0 = cpu();
  const th0 = threadCpu();
  const t0 = now();
  await sd.store.materialize(digest, dest);
  const ms = now() - t0;
  const mc = cpu() - c0;
  const th1 = threadCpu();
  const msync = sync();
  const cc0 = childCpu();
  const t1 = now();
  execFileSync('cp', [file, copy]);
  const cpOnly = now() - t1;
  const cps = cpOnly + sync();
  const cpCpu = childCpu() - cc0;
  await sd.close();
  for (const p of [root, dest, copy]) await rm(p, { recursive: true, force: true });
  const later = runs.slice(1);
  console.log(
    JSON.stringify({
      v1: runs[0]!.s,
      medS: median(later.map((r) => r.s)),
      medCpu: median(later.map((r) => r.cpu)),
      medMaxThread: median(later.map((r) => r.maxThread)),
      medVsSha: median(later.map((r) => r.vsSha)),
      matS: ms,
      matSync: msync,
      cpS: cpOnly,
      cpSync: cps - cpOnly,
      matCpu: mc,
      matMain: (th1.get(String(process.pid)) ?? 0) - (th0.get(String(process.pid)) ?? 0),
      matMaxThread: busiest(th0, th1),
      cpCpu,
      vsCp: cps / (ms + msync),
      ingVsCp: cps / median(later.map((r) => r.synced)),
      load: loadavg()[0],
    }),
  );
}

if (process.argv.includes('--child')) {
  await child(arg('series', ''), arg('dir', ''), Number(arg('versions', '4')));
} else if (process.argv.includes('--make-series')) {
  const { generateSeries } = await import('./lib/safetensors-series.js');
  const kind = arg('make-series', 'partial') as 'partial' | 'full';
  await generateSeries(
    { kind, versions: Number(arg('versions', '4')), scale: Number(arg('scale', '0.4')), seed: 1 },
    resolve(arg('series', join(here, '.work', `store-ab-${kind}`))),
    (m) => console.error(m),
  );
} else {
  const series = resolve(arg('series', ''));
  const dir = resolve(arg('dir', join(here, '.work', 'store-ab')));
  const trees = arg('trees', resolve(here, '..')).split(',');
  await mkdir(dir, { recursive: true });
  for (let r = 0; r < Number(arg('rounds', '3')); r++) {
    for (const tree of trees) {
      const args = ['--import', 'tsx', fileURLToPath(import.meta.url), '--child'];
      args.push('--series', series, '--dir', dir, '--versions', arg('versions', '4'));
      const p = spawnSync(process.execPath, args, { cwd: tree, encoding: 'utf8' });
      if (p.status !== 0) throw new Error(`${tree}: ${p.stderr}`);
      console.log(`${tree} ${p.stdout.trim()}`);
    }
  }
}

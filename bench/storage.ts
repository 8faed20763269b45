/**
 * Storage benchmark: Modelvault's content store against git-lfs, borg and restic on
 * generated safetensors checkpoint series, with physical baselines measured in the same
 * run. Markdown report on stdout, progress on stderr, full results as JSON.
 *
 *   npm run bench:storage -- [--scale 1] [--versions 10] [--series partial,full]
 *                            [--peers git-lfs,borg,borg-64k,restic | none] [--peers-only]
 *                            [--big] [--big-gib 10] [--runs 3] [--seed 1]
 *                            [--work bench/.work/storage] [--out FILE] [--keep-series]
 *                            [--no-install] [--force]
 *   npm run bench:storage -- --render RESULTS.json      (re-render, runs nothing)
 *
 * Order of work: generate (or reuse) the series → `sync` → physical sample → for each
 * series, each store in turn: init, ingest v1..vN (each followed by a timed `sync`),
 * measure stored bytes, materialize the last version `--runs` times (first copy verified
 * by SHA-256), delete the repository → physical sample after each series (so baselines
 * bracket the stores they are compared with) → optional big-file mode → report → cleanup.
 * See docs/benchmarks.md for definitions.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ModelvaultAdapter, modelvaultAvailable } from './lib/modelvault-adapter.js';
import {
  ensurePeerTools,
  measureCpSync,
  measurePhysical,
  PEER_NAMES,
  type PeerName,
  type PhysicalSample,
  peerFactories,
} from './lib/peers.js';
import {
  type BigRun,
  type Results,
  renderMarkdown,
  resummarize,
  type SeriesRun,
  type StoreRun,
  summarizePhysical,
  summarizeSeries,
} from './lib/report.js';
import {
  describeSeries,
  generateBigFile,
  generateSeries,
  MODEL_FILE,
  planSeries,
  type SeriesKind,
} from './lib/safetensors-series.js';
import type { StoreFactory, StoreUnderTest } from './lib/store-under-test.js';
import {
  directorySize,
  fmtBytes,
  GiB,
  listFiles,
  nowSeconds,
  run,
  sha256File,
  timedSync,
} from './lib/util.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const log = (msg: string) => process.stderr.write(`${msg}\n`);

interface Options {
  readonly scale: number;
  readonly versions: number;
  readonly series: SeriesKind[];
  readonly peers: PeerName[];
  readonly modelvault: boolean;
  readonly big: boolean;
  readonly bigGiB: number;
  readonly runs: number;
  readonly seed: number;
  readonly work: string;
  readonly out: string;
  readonly keepSeries: boolean;
  readonly install: boolean;
  readonly force: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      scale: { type: 'string', default: '1' },
      versions: { type: 'string', default: '10' },
      series: { type: 'string', default: 'partial,full' },
      peers: { type: 'string', default: PEER_NAMES.join(',') },
      'peers-only': { type: 'boolean', default: false },
      big: { type: 'boolean', default: false },
      'big-gib': { type: 'string', default: '10' },
      runs: { type: 'string', default: '3' },
      seed: { type: 'string', default: '1' },
      work: { type: 'string', default: join(REPO_ROOT, 'bench/.work/storage') },
      out: { type: 'string' },
      'keep-series': { type: 'boolean', default: false },
      'no-install': { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${fileHeaderUsage()}\n`);
    process.exit(0);
  }
  const num = (name: string, v: string, ok: (n: number) => boolean) => {
    const n = Number(v);
    if (!ok(n)) throw new Error(`--${name} ${v} is out of range`);
    return n;
  };
  const series = values.series.split(',').filter(Boolean) as SeriesKind[];
  for (const s of series)
    if (s !== 'partial' && s !== 'full') throw new Error(`unknown series '${s}'`);
  const peers = (
    values.peers === 'none' ? [] : values.peers.split(',').filter(Boolean)
  ) as PeerName[];
  for (const p of peers)
    if (!PEER_NAMES.includes(p)) throw new Error(`unknown peer '${p}' (${PEER_NAMES.join(', ')})`);
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\..*$/, '')
    .replace('T', '-');
  const scale = num('scale', values.scale, (n) => n > 0 && n <= 100);
  return {
    scale,
    versions: num('versions', values.versions, (n) => Number.isInteger(n) && n >= 2 && n <= 100),
    series,
    peers,
    modelvault: !values['peers-only'],
    big: values.big,
    bigGiB: num('big-gib', values['big-gib'], (n) => n > 0 && n <= 1024),
    runs: num('runs', values.runs, (n) => Number.isInteger(n) && n >= 1 && n <= 20),
    seed: num('seed', values.seed, Number.isInteger),
    work: resolve(values.work),
    out: resolve(values.out ?? join(REPO_ROOT, `bench/results/storage-${stamp}-s${scale}.json`)),
    keepSeries: values['keep-series'],
    install: !values['no-install'],
    force: values.force,
  };
}

function fileHeaderUsage(): string {
  return [
    'usage: npm run bench:storage -- [options]',
    '  --scale N          size factor; 1 = ~503 MB per version (default 1)',
    '  --versions N       versions per series (default 10)',
    '  --series LIST      partial,full (default both)',
    `  --peers LIST       ${PEER_NAMES.join(',')} (default all) or none`,
    '  --peers-only       do not run Modelvault (src/storage/store.ts not needed)',
    '  --big              also ingest one big file and measure peak RSS (takes minutes)',
    '  --big-gib N        size of the big file in GiB (default 10)',
    '  --runs N           samples of physical baselines and materialize runs (default 3)',
    '  --seed N           generator seed (default 1)',
    '  --work DIR         work directory (default bench/.work/storage; deleted afterwards)',
    '  --out FILE         results JSON (default bench/results/storage-<time>-s<scale>.json)',
    '  --keep-series      keep generated series in the work dir for the next run',
    '  --no-install       do not apt-get missing peer tools; skip those peers',
    '  --force            run even if the disk looks too small',
    'or:    npm run bench:storage -- --render RESULTS.json   (re-render a results file)',
  ].join('\n');
}

function reproduceCommand(argv: readonly string[]): string {
  const quoted = argv.map((a) =>
    /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`,
  );
  return ['npm run bench:storage', ...(quoted.length ? ['--', ...quoted] : [])].join(' ');
}

function harnessCommit(): string {
  try {
    const head = execFileSync('git', ['-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD'], {
      encoding: 'utf8',
    }).trim();
    const dirty = execFileSync('git', ['-C', REPO_ROOT, 'status', '--porcelain', '--', 'bench'], {
      encoding: 'utf8',
    }).trim();
    return dirty ? `${head} (bench/ modified)` : head;
  } catch {
    return 'unknown';
  }
}

async function machineInfo(workDir: string): Promise<Record<string, unknown>> {
  const fs = await run('findmnt', ['-no', 'FSTYPE', '-T', workDir], { check: false });
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    memBytes: totalmem(),
    kernel: release(),
    node: process.versions.node,
    fs: fs.stdout.trim() || 'unknown',
    workDir,
    loadAvg: loadavg(),
  };
}

/** Bytes the run needs on the work dir's filesystem at its peak, roughly. */
function diskNeeded(o: Options, seriesBytes: number, perSeriesRaw: number): number {
  const repo = perSeriesRaw * 1.1; // worst store on the full series keeps every version
  const big = o.big ? 2.1 * o.bigGiB * GiB : 0;
  return seriesBytes + Math.max(repo + perSeriesRaw / o.versions, big);
}

async function findRestored(destDir: string): Promise<Map<string, string>> {
  const byName = new Map<string, string>();
  for (const rel of await listFiles(destDir)) byName.set(basename(rel), join(destDir, rel));
  return byName;
}

class Hashes {
  private readonly known = new Map<string, string>();
  remember(path: string, hex: string): void {
    this.known.set(path, hex);
  }
  async of(path: string): Promise<string> {
    let h = this.known.get(path);
    if (!h) {
      h = (await sha256File(path)).hex;
      this.known.set(path, h);
    }
    return h;
  }
}

async function verifyRestore(
  versionDir: string,
  destDir: string,
  hashes: Hashes,
): Promise<true | string> {
  const restored = await findRestored(destDir);
  for (const rel of await listFiles(versionDir)) {
    const got = restored.get(basename(rel));
    if (!got) return `${rel} missing from the restored copy`;
    const [a, b] = await Promise.all([stat(join(versionDir, rel)), stat(got)]);
    if (a.size !== b.size) return `${rel}: ${b.size} bytes restored, ${a.size} expected`;
    if ((await hashes.of(join(versionDir, rel))) !== (await sha256File(got)).hex)
      return `${rel}: SHA-256 differs`;
  }
  return true;
}

async function runStoreOnSeries(
  name: string,
  factory: StoreFactory,
  series: { kind: SeriesKind; dir: string; labels: string[] },
  o: Options,
  hashes: Hashes,
): Promise<StoreRun> {
  const made = await factory();
  if ('skipped' in made) {
    log(`  ${name}: skipped — ${made.skipped}`);
    return { name, skipped: made.skipped, versions: [], materialize: [] };
  }
  const store: StoreUnderTest = made;
  const repoDir = join(o.work, 'repos', `${series.kind}-${name}`);
  await rm(repoDir, { recursive: true, force: true });
  await mkdir(dirname(repoDir), { recursive: true });
  const result: StoreRun = { name, versions: [], materialize: [] };
  let description: string | undefined;
  try {
    await store.init(repoDir);
    description = store.description;
    for (const label of series.labels) {
      const dir = join(series.dir, label);
      const bytes = (await stat(join(dir, MODEL_FILE))).size;
      const loadAvg1 = loadavg()[0]!;
      const r = await store.ingestVersion({ label, dir });
      const syncSeconds = await timedSync();
      const sha = await sha256File(join(dir, MODEL_FILE));
      hashes.remember(join(dir, MODEL_FILE), sha.hex);
      result.versions.push({
        label,
        bytes,
        ...r,
        syncSeconds,
        sha256Seconds: sha.seconds,
        loadAvg1,
      });
      log(
        `  ${name} ${label}: ${r.seconds.toFixed(2)} s (+ sync ${syncSeconds.toFixed(2)} s; ` +
          `sha256 ${sha.seconds.toFixed(2)} s; load ${loadAvg1.toFixed(1)})`,
      );
    }
    result.storedBytes = await store.storedBytes();
    log(`  ${name}: stored ${fmtBytes(result.storedBytes)}`);
    const last = series.labels[series.labels.length - 1]!;
    const versionDir = join(series.dir, last);
    const bytes = (await stat(join(versionDir, MODEL_FILE))).size;
    for (let i = 0; i < o.runs; i++) {
      const dest = join(o.work, 'restore', `${series.kind}-${name}-${i}`);
      await rm(dest, { recursive: true, force: true });
      await mkdir(dirname(dest), { recursive: true });
      const m = await store.materialize(last, dest);
      const syncSeconds = await timedSync();
      const cp = await measureCpSync(join(versionDir, MODEL_FILE), join(o.work, 'scratch'));
      result.materialize.push({
        cpSyncSeconds: cp.cpSyncSeconds,
        label: last,
        bytes,
        seconds: m.seconds,
        syncSeconds,
        cpuSeconds: m.cpuSeconds,
      });
      if (i === 0) result.verified = await verifyRestore(versionDir, dest, hashes);
      await rm(dest, { recursive: true, force: true });
      log(
        `  ${name} materialize ${last}: ${m.seconds.toFixed(2)} s (+ sync ${syncSeconds.toFixed(2)} s)`,
      );
    }
    if (result.verified !== true) log(`  ${name}: RESTORE CHECK FAILED: ${result.verified}`);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    log(`  ${name}: FAILED: ${msg}`);
    Object.assign(result, { error: msg });
  } finally {
    await store.close().catch(() => {});
    await rm(repoDir, { recursive: true, force: true });
    await run('sync', []);
  }
  return { ...result, ...(description ? { description } : {}) };
}

async function runBig(
  o: Options,
  factories: Map<string, StoreFactory>,
): Promise<{ bytes: number; generateSeconds: number; runs: BigRun[] }> {
  const bigDir = join(o.work, 'big');
  const versionDir = join(bigDir, 'v01');
  await rm(bigDir, { recursive: true, force: true });
  await mkdir(versionDir, { recursive: true });
  log(`generating a ${o.bigGiB} GiB safetensors file…`);
  const t0 = nowSeconds();
  const bytes = await generateBigFile(
    join(versionDir, MODEL_FILE),
    Math.round(o.bigGiB * GiB),
    o.seed,
  );
  const generateSeconds = nowSeconds() - t0;
  await run('sync', []);
  const runs: BigRun[] = [];
  const childArgs = ['--import', 'tsx', join(REPO_ROOT, 'bench/lib/ingest-child.ts')];
  try {
    for (const [name, factory] of factories) {
      const repoDir = join(o.work, 'repos', `big-${name}`);
      await rm(repoDir, { recursive: true, force: true });
      await mkdir(dirname(repoDir), { recursive: true });
      try {
        if (name === 'modelvault') {
          // In a child process, so the peak RSS is the engine's, not the harness's.
          const child = async (noop: boolean) => {
            await rm(repoDir, { recursive: true, force: true });
            const r = await run(
              process.execPath,
              [
                ...childArgs,
                '--store',
                repoDir,
                '--version',
                versionDir,
                ...(noop ? ['--noop'] : []),
              ],
              { cwd: REPO_ROOT, measure: true },
            );
            const lines = r.stdout.trim().split('\n');
            return {
              wrapper: r,
              child: JSON.parse(lines[lines.length - 1]!) as {
                seconds: number;
                maxRssBytes: number;
              },
            };
          };
          const floor = await child(true);
          const res = await child(false);
          const { apparentBytes } = await directorySize(repoDir);
          runs.push({
            name,
            description: 'Modelvault ContentStore in a child process',
            bytes,
            seconds: res.child.seconds,
            maxRssBytes: Math.max(res.child.maxRssBytes, res.wrapper.maxRssBytes ?? 0),
            floorRssBytes: Math.max(floor.child.maxRssBytes, floor.wrapper.maxRssBytes ?? 0),
            storedBytes: apparentBytes,
          });
        } else {
          const made = await factory();
          if ('skipped' in made) {
            runs.push({ name, skipped: made.skipped });
            continue;
          }
          try {
            await made.init(repoDir);
            const r = await made.ingestVersion({ label: 'v01', dir: versionDir });
            runs.push({
              name,
              description: made.description,
              bytes,
              seconds: r.seconds,
              ...(r.maxRssBytes !== undefined ? { maxRssBytes: r.maxRssBytes } : {}),
              storedBytes: await made.storedBytes(),
            });
          } finally {
            await made.close();
          }
        }
        const last = runs[runs.length - 1]!;
        log(
          `  big ${name}: ${last.seconds?.toFixed(1)} s, peak RSS ${fmtBytes(last.maxRssBytes ?? Number.NaN)}`,
        );
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        log(`  big ${name}: FAILED: ${msg}`);
        runs.push({ name, error: msg });
      } finally {
        await rm(repoDir, { recursive: true, force: true });
        await run('sync', []);
      }
    }
  } finally {
    await rm(bigDir, { recursive: true, force: true });
  }
  return { bytes, generateSeconds, runs };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--render') {
    // Re-render a results file with the current summary code; runs nothing.
    if (!argv[1]) throw new Error('usage: --render RESULTS.json');
    const r = resummarize(JSON.parse(await readFile(argv[1], 'utf8')) as Results);
    process.stdout.write(`${renderMarkdown(r)}\n`);
    return;
  }
  const o = parseOptions(argv);
  const startedAt = new Date().toISOString();
  await mkdir(o.work, { recursive: true });

  if (o.modelvault && !modelvaultAvailable()) {
    throw new Error(
      'src/storage/store.ts does not exist yet, so Modelvault cannot be benchmarked; ' +
        'run with --peers-only to measure the peers alone',
    );
  }

  const skipped = await ensurePeerTools(o.peers, o.install, log);
  const factories = new Map<string, StoreFactory>(peerFactories(o.peers, skipped));
  if (o.modelvault) factories.set('modelvault', async () => new ModelvaultAdapter());

  // Disk check before writing gigabytes.
  const perSeries = o.series.map((kind) =>
    describeSeries(planSeries({ kind, versions: o.versions, scale: o.scale, seed: o.seed })).reduce(
      (a, v) => a + v.bytes,
      0,
    ),
  );
  const fsStat = await statfs(o.work);
  const free = fsStat.bavail * fsStat.bsize;
  const need = diskNeeded(
    o,
    perSeries.reduce((a, b) => a + b, 0),
    Math.max(...perSeries),
  );
  log(`work dir ${o.work}: ${fmtBytes(free)} free, ~${fmtBytes(need)} needed`);
  if (need > free && !o.force)
    throw new Error(`not enough disk space in ${o.work} (use --force to try anyway)`);

  const series: { kind: SeriesKind; dir: string; labels: string[]; run: SeriesRun }[] = [];
  try {
    for (const kind of o.series) {
      const dir = join(o.work, `series-${kind}-s${o.scale}-seed${o.seed}`);
      log(`series ${kind} (scale ${o.scale}) in ${relative(process.cwd(), dir) || dir}`);
      const info = await generateSeries(
        { kind, versions: o.versions, scale: o.scale, seed: o.seed },
        dir,
        log,
      );
      series.push({
        kind,
        dir,
        labels: info.versions.map((v) => v.label),
        run: { kind, dir, info, stores: [] },
      });
    }
    await run('sync', []);

    // Physical baselines over the same files, sampled before, between and after the series.
    const files = new Map<string, string>();
    const fileBytes: Record<string, number> = {};
    for (const s of series) {
      for (const v of s.run.info.versions) {
        files.set(`${s.kind}/${v.label}`, join(s.dir, v.file));
        fileBytes[`${s.kind}/${v.label}`] = v.bytes;
      }
    }
    const refKey = `${series[0]!.kind}/${series[0]!.labels[series[0]!.labels.length - 1]}`;
    const reference = files.get(refKey)!;
    const scratch = join(o.work, 'scratch');
    await mkdir(scratch, { recursive: true });
    const physical: PhysicalSample[] = [];
    const sample = async (when: string) => {
      log(`physical baselines (${when})…`);
      physical.push(await measurePhysical(files, reference, scratch));
    };
    const hashes = new Hashes();
    // Spread the samples: one before, one after each series, the rest at the end.
    await sample('before');
    for (const s of series) {
      log(`== ${s.kind} series ==`);
      for (const [name, factory] of factories) {
        s.run.stores.push(await runStoreOnSeries(name, factory, s, o, hashes));
      }
      if (physical.length < o.runs) await sample(`after ${s.kind}`);
    }
    while (physical.length < o.runs) await sample('end');

    const big = o.big ? await runBig(o, factories) : undefined;

    const phys = summarizePhysical(physical, fileBytes, fileBytes[refKey]!);
    const results: Results = {
      benchmark: 'storage',
      startedAt,
      finishedAt: new Date().toISOString(),
      command: reproduceCommand(argv),
      argv,
      harnessCommit: harnessCommit(),
      machine: await machineInfo(o.work),
      options: { ...o },
      reference: { key: refKey, bytes: fileBytes[refKey]! },
      fileBytes,
      physical,
      series: series.map((s) => s.run),
      ...(big ? { big } : {}),
      summary: {
        physical: phys,
        series: Object.fromEntries(
          series.map((s) => [s.kind, summarizeSeries(s.run, physical, phys)]),
        ),
      },
    };
    await mkdir(dirname(o.out), { recursive: true });
    await writeFile(o.out, `${JSON.stringify(results, null, 2)}\n`);
    process.stdout.write(
      `${renderMarkdown(results)}\nResults JSON: ${relative(REPO_ROOT, o.out)}\n`,
    );
  } finally {
    await rm(join(o.work, 'repos'), { recursive: true, force: true });
    await rm(join(o.work, 'restore'), { recursive: true, force: true });
    await rm(join(o.work, 'scratch'), { recursive: true, force: true });
    if (!o.keepSeries) await rm(o.work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});

/**
 * Git LFS storage benchmark: the partial fine-tune series (bench/lib/safetensors-series.ts)
 * committed and pushed version by version with the real `git` and `git-lfs` clients to a
 * Modelvault server process as the repository's LFS server, against what a plain git-lfs
 * store holds for the same pushes (every version's whole file: the sum of object sizes
 * under the pushing clone's .git/lfs/objects, which is what any object-per-file LFS server
 * stores). Both are measured in the same run; stored bytes are deterministic, push times
 * are the median of `--runs` repetitions of the whole series.
 *
 *   node --import tsx bench/lfs-storage.ts [--scale 0.1] [--versions 10] [--runs 3]
 *                                          [--work bench/.work/lfs] [--seed 1]
 *
 * Markdown on stdout, progress on stderr. Needs git and git-lfs on PATH.
 */
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { generateSeries, MODEL_FILE } from './lib/safetensors-series.js';
import { startServerProcess } from './lib/server-process.js';
import { directorySize, fmtBytes, median, nowSeconds } from './lib/util.js';

const { values } = parseArgs({
  options: {
    scale: { type: 'string', default: '0.1' },
    versions: { type: 'string', default: '10' },
    runs: { type: 'string', default: '3' },
    seed: { type: 'string', default: '1' },
    work: { type: 'string', default: 'bench/.work/lfs' },
  },
});
const scale = Number(values.scale);
const versions = Number(values.versions);
const runs = Number(values.runs);
const work = resolve(values.work);
const log = (m: string) => process.stderr.write(`${m}\n`);

function gitEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GIT_')) env[k] = v;
  return {
    ...env,
    HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    NO_PROXY: '*',
    GIT_AUTHOR_NAME: 'bench',
    GIT_AUTHOR_EMAIL: 'bench@example.com',
    GIT_COMMITTER_NAME: 'bench',
    GIT_COMMITTER_EMAIL: 'bench@example.com',
  };
}

interface RunResult {
  readonly modelvaultPackBytes: number;
  readonly modelvaultDbBytes: number;
  readonly gitLfsBytes: number;
  readonly pushSeconds: number;
  readonly perVersion: { label: string; gitLfs: number; modelvault: number }[];
}

async function once(seriesDir: string, labels: readonly string[], n: number): Promise<RunResult> {
  const root = join(work, `run-${n}`);
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  const env = gitEnv(join(root, 'home'));
  await mkdir(join(root, 'home'), { recursive: true });
  const git = (cwd: string, ...args: string[]) =>
    execFileSync('git', args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  const registry = join(root, 'registry');
  const server = await startServerProcess(registry);
  try {
    git(root, 'lfs', 'install', '--skip-repo');
    git(root, 'init', '-q', '--bare', '-b', 'main', 'remote.git');
    git(root, 'init', '-q', '-b', 'main', 'work');
    const repo = join(root, 'work');
    git(repo, 'remote', 'add', 'origin', join(root, 'remote.git'));
    git(repo, 'config', '-f', '.lfsconfig', 'lfs.url', `${server.url}/lfs/bench/model`);
    git(repo, 'lfs', 'track', '*.safetensors');
    git(repo, 'add', '.gitattributes', '.lfsconfig');
    let pushSeconds = 0;
    const perVersion: RunResult['perVersion'] = [];
    for (const label of labels) {
      await copyFile(join(seriesDir, label, MODEL_FILE), join(repo, MODEL_FILE));
      git(repo, 'add', MODEL_FILE);
      git(repo, 'commit', '-q', '-m', label);
      const t0 = nowSeconds();
      git(repo, 'push', '-q', 'origin', 'main');
      pushSeconds += nowSeconds() - t0;
      perVersion.push({
        label,
        gitLfs: (await directorySize(join(repo, '.git', 'lfs', 'objects'))).apparentBytes,
        modelvault: (await directorySize(join(registry, 'objects'))).apparentBytes,
      });
      log(`  run ${n} ${label}: pushed`);
    }
    const last = perVersion[perVersion.length - 1]!;
    return {
      modelvaultPackBytes: last.modelvault,
      // The SQLite file and its write-ahead log (not yet checkpointed while the server runs).
      modelvaultDbBytes:
        (await directorySize(join(registry, 'metadata.db'))).apparentBytes +
        (await directorySize(join(registry, 'metadata.db-wal'))).apparentBytes,
      gitLfsBytes: last.gitLfs,
      pushSeconds,
      perVersion,
    };
  } finally {
    await server.stop();
    await rm(root, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const seriesDir = join(work, `series-partial-s${scale}`);
  const info = await generateSeries(
    { kind: 'partial', versions, scale, seed: Number(values.seed) },
    seriesDir,
    log,
  );
  const labels = info.versions.map((v) => v.dir);
  const results: RunResult[] = [];
  for (let n = 1; n <= runs; n++) results.push(await once(seriesDir, labels, n));
  const r = results[0]!;
  const stable = results.every(
    (x) => x.modelvaultPackBytes === r.modelvaultPackBytes && x.gitLfsBytes === r.gitLfsBytes,
  );
  const pushMedian = median(results.map((x) => x.pushSeconds));
  const out: string[] = [];
  out.push(
    `Partial fine-tune series, ${versions} versions at --scale ${scale} (${fmtBytes(info.totalBytes)} pushed in total, ${fmtBytes(info.uniqueBytes)} unique), ${runs} run(s); stored bytes ${stable ? 'identical in every run' : 'DIFFER between runs (first run shown)'}.`,
    '',
    '| after version | plain git-lfs store | Modelvault packs | ratio |',
    '| --- | --- | --- | --- |',
  );
  for (const v of r.perVersion) {
    out.push(
      `| ${v.label} | ${fmtBytes(v.gitLfs)} | ${fmtBytes(v.modelvault)} | ${(v.modelvault / v.gitLfs).toFixed(3)} |`,
    );
  }
  out.push(
    '',
    `Modelvault metadata database (chunk index, LFS rows, audit trail): ${fmtBytes(r.modelvaultDbBytes)}.`,
    `Total ratio Modelvault (packs + database) / plain git-lfs: ${((r.modelvaultPackBytes + r.modelvaultDbBytes) / r.gitLfsBytes).toFixed(3)}.`,
    `git push of the whole series (LFS upload included), median of ${runs}: ${pushMedian.toFixed(1)} s.`,
  );
  process.stdout.write(`${out.join('\n')}\n`);
}

await main();

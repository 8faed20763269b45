/**
 * Peers for the storage benchmark, run on the same series in the same run as Modelvault:
 * git + git-lfs, borg 1.2 (default chunker, and 64 KiB chunker params), restic. Each is a
 * StoreUnderTest driving the real command-line tool. Also the physical baselines the
 * results are expressed against: one core's SHA-256 (Node crypto), coreutils sha256sum,
 * and `cp` + `sync`.
 *
 * Tools missing on the machine are installed with apt-get when allowed (Debian packages
 * borgbackup, restic, git-lfs); a peer whose tool is still missing is skipped with a reason.
 */
import { copyFile, link, mkdir, rm, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { basename, join } from 'node:path';
import type {
  StoreFactory,
  StoreUnderTest,
  TimedResult,
  VersionInput,
} from './store-under-test.js';
import {
  commandExists,
  directorySize,
  listFiles,
  type RunResult,
  run,
  sha256File,
} from './util.js';

export type PeerName = 'git-lfs' | 'borg' | 'borg-64k' | 'restic';
export const PEER_NAMES: readonly PeerName[] = ['git-lfs', 'borg', 'borg-64k', 'restic'];

/** borg's chunker params for ~64 KiB chunks: min 16 KiB, max 256 KiB, 16-bit mask. */
export const BORG_64K_PARAMS = 'buzhash,14,18,16,4095';

const TOOL_PACKAGES: Readonly<Record<string, string>> = {
  git: 'git',
  'git-lfs': 'git-lfs',
  borg: 'borgbackup',
  restic: 'restic',
};

const PEER_TOOLS: Readonly<Record<PeerName, readonly string[]>> = {
  'git-lfs': ['git', 'git-lfs'],
  borg: ['borg'],
  'borg-64k': ['borg'],
  restic: ['restic'],
};

/**
 * Makes sure the tools the chosen peers need are on PATH, installing missing ones with
 * apt-get (as root, when `install`). Returns the peers that cannot run, with why.
 */
export async function ensurePeerTools(
  peers: readonly PeerName[],
  install: boolean,
  log: (msg: string) => void,
): Promise<Map<PeerName, string>> {
  const tools = [...new Set(peers.flatMap((p) => PEER_TOOLS[p]))];
  const missing: string[] = [];
  for (const t of tools) if (!(await commandExists(t))) missing.push(t);
  if (missing.length > 0 && install) {
    if (process.getuid?.() !== 0) {
      log(`missing ${missing.join(', ')}; not root, so not installing them`);
    } else {
      const pkgs = missing.map((t) => TOOL_PACKAGES[t] ?? t);
      log(`installing ${pkgs.join(' ')} with apt-get…`);
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      let r = await run('apt-get', ['install', '-y', '-qq', ...pkgs], { env, check: false });
      if (r.code !== 0) {
        await run('apt-get', ['update', '-qq'], { env, check: false });
        r = await run('apt-get', ['install', '-y', '-qq', ...pkgs], { env, check: false });
      }
      if (r.code !== 0)
        log(`apt-get install failed (exit ${r.code}): ${r.stderr.trim().slice(-300)}`);
    }
  }
  const stillMissing = new Set<string>();
  for (const t of missing) if (!(await commandExists(t))) stillMissing.add(t);
  const skipped = new Map<PeerName, string>();
  for (const p of peers) {
    const gone = PEER_TOOLS[p].filter((t) => stillMissing.has(t));
    if (gone.length > 0) {
      const how = install
        ? 'and could not be installed'
        : '(run without --no-install to apt-get it)';
      skipped.set(p, `${gone.join(', ')} not found ${how}`);
    }
  }
  return skipped;
}

function merge(results: readonly RunResult[], detail?: Record<string, unknown>): TimedResult {
  let seconds = 0;
  let cpu: number | undefined = 0;
  let rss: number | undefined = 0;
  for (const r of results) {
    seconds += r.seconds;
    cpu = cpu !== undefined && r.cpuSeconds !== undefined ? cpu + r.cpuSeconds : undefined;
    rss =
      rss !== undefined && r.maxRssBytes !== undefined ? Math.max(rss, r.maxRssBytes) : undefined;
  }
  return {
    seconds,
    ...(cpu !== undefined ? { cpuSeconds: cpu } : {}),
    ...(rss !== undefined ? { maxRssBytes: rss } : {}),
    ...(detail ? { detail } : {}),
  };
}

async function firstLine(cmd: string, args: string[]): Promise<string> {
  const r = await run(cmd, args, { check: false });
  return (r.stdout || r.stderr).trim().split('\n')[0] ?? cmd;
}

/**
 * git + git-lfs: a repository tracking `*.safetensors` with LFS; each version's files are
 * hard-linked into the work tree (not timed), then `git add -A` + `git commit` (timed).
 * Stored bytes = the whole `.git`, LFS objects included. Materialize = `git checkout
 * <tag> -- .` into another work tree, which smudges from the local LFS store.
 */
class GitLfsPeer implements StoreUnderTest {
  readonly name = 'git-lfs';
  description = 'git + git-lfs';
  private repo = '';
  private readonly env = {
    ...process.env,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    GIT_AUTHOR_NAME: 'bench',
    GIT_AUTHOR_EMAIL: 'bench@example.invalid',
    GIT_COMMITTER_NAME: 'bench',
    GIT_COMMITTER_EMAIL: 'bench@example.invalid',
  };

  async init(dir: string): Promise<void> {
    this.description = `${await firstLine('git', ['--version'])}, ${await firstLine('git', ['lfs', 'version'])}`;
    this.repo = join(dir, 'repo');
    await mkdir(this.repo, { recursive: true });
    const git = (...args: string[]) => run('git', ['-C', this.repo, ...args], { env: this.env });
    await git('init', '-q');
    await git('lfs', 'install', '--local');
    await writeFile(
      join(this.repo, '.gitattributes'),
      '*.safetensors filter=lfs diff=lfs merge=lfs -text\n',
    );
    await git('add', '.gitattributes');
    await git('commit', '-q', '-m', 'track safetensors with lfs');
  }

  async ingestVersion(v: VersionInput): Promise<TimedResult> {
    for (const rel of await listFiles(v.dir)) {
      const target = join(this.repo, rel);
      await mkdir(join(target, '..'), { recursive: true });
      await rm(target, { force: true });
      // A hard link costs nothing, so only git's own work is timed; git reads it normally.
      await link(join(v.dir, rel), target).catch(() => copyFile(join(v.dir, rel), target));
    }
    const opts = { env: this.env, measure: true, cwd: this.repo };
    const add = await run('git', ['add', '-A'], opts);
    const commit = await run('git', ['commit', '-q', '-m', v.label], opts);
    await run('git', ['tag', v.label], { env: this.env, cwd: this.repo });
    return merge([add, commit]);
  }

  async materialize(label: string, destDir: string): Promise<TimedResult> {
    await mkdir(destDir, { recursive: true });
    const r = await run(
      'git',
      ['--git-dir', join(this.repo, '.git'), '--work-tree', destDir, 'checkout', label, '--', '.'],
      { env: this.env, measure: true },
    );
    return merge([r]);
  }

  async storedBytes(): Promise<number> {
    return (await directorySize(join(this.repo, '.git'))).apparentBytes;
  }

  async close(): Promise<void> {}
}

/**
 * borg 1.2: `borg init -e none`, then `borg create repo::vNN <files>` per version, run in
 * the version directory so archive paths are the same across versions. Default compression
 * (lz4). Cache, config and security dirs live under the work dir (BORG_BASE_DIR), and are
 * not counted as stored bytes.
 */
class BorgPeer implements StoreUnderTest {
  description: string;
  private repo = '';
  private env: NodeJS.ProcessEnv = process.env;

  constructor(
    readonly name: string,
    private readonly chunkerParams?: string,
  ) {
    this.description = 'borg';
  }

  async init(dir: string): Promise<void> {
    const version = await firstLine('borg', ['--version']);
    this.description = this.chunkerParams
      ? `${version}, --chunker-params ${this.chunkerParams}, lz4`
      : `${version}, default chunker (buzhash,19,23,21,4095), lz4`;
    this.repo = join(dir, 'repo');
    this.env = {
      ...process.env,
      BORG_BASE_DIR: join(dir, 'home'),
      BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes',
      BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes',
    };
    await mkdir(join(dir, 'home'), { recursive: true });
    await run('borg', ['init', '-e', 'none', this.repo], { env: this.env });
  }

  async ingestVersion(v: VersionInput): Promise<TimedResult> {
    const chunker = this.chunkerParams ? ['--chunker-params', this.chunkerParams] : [];
    const files = await listFiles(v.dir);
    const r = await run(
      'borg',
      ['create', '--json', ...chunker, `${this.repo}::${v.label}`, ...files],
      {
        env: this.env,
        cwd: v.dir,
        measure: true,
      },
    );
    let detail: Record<string, unknown> | undefined;
    try {
      const stats = (JSON.parse(r.stdout) as { archive?: { stats?: Record<string, number> } })
        .archive?.stats;
      if (stats)
        detail = { newBytes: stats.deduplicated_size, compressedBytes: stats.compressed_size };
    } catch {
      // --json output is a nicety; timings stand without it.
    }
    return merge([r], detail);
  }

  async materialize(label: string, destDir: string): Promise<TimedResult> {
    await mkdir(destDir, { recursive: true });
    const r = await run('borg', ['extract', `${this.repo}::${label}`], {
      env: this.env,
      cwd: destDir,
      measure: true,
    });
    return merge([r]);
  }

  async storedBytes(): Promise<number> {
    return (await directorySize(this.repo)).apparentBytes;
  }

  async close(): Promise<void> {}
}

/**
 * restic: `restic init`, then `restic backup --json` per version (run in the version
 * directory; restic records absolute paths, so no earlier snapshot is used as parent and
 * every file is read). Repository format and compression are restic's defaults. The local
 * cache lives under the work dir and is not counted.
 */
class ResticPeer implements StoreUnderTest {
  readonly name = 'restic';
  description = 'restic';
  private env: NodeJS.ProcessEnv = process.env;
  private readonly snapshots = new Map<string, string>();

  async init(dir: string): Promise<void> {
    const repo = join(dir, 'repo');
    this.env = {
      ...process.env,
      RESTIC_REPOSITORY: repo,
      RESTIC_PASSWORD: 'modelvault-bench',
      RESTIC_CACHE_DIR: join(dir, 'cache'),
    };
    await run('restic', ['init', '--quiet'], { env: this.env });
    let format = '';
    try {
      const cfg = JSON.parse(
        (await run('restic', ['cat', 'config'], { env: this.env })).stdout,
      ) as {
        version?: number;
      };
      format =
        cfg.version === 2
          ? ', repo v2 (compression auto = zstd fastest)'
          : `, repo v${cfg.version}`;
    } catch {
      // Older restic without `cat config` JSON: describe it by version only.
    }
    this.description = `${(await firstLine('restic', ['version'])).split(' compiled')[0]}${format}`;
  }

  async ingestVersion(v: VersionInput): Promise<TimedResult> {
    const files = await listFiles(v.dir);
    const r = await run(
      'restic',
      ['backup', '--json', '--host', 'bench', '--tag', v.label, ...files],
      { env: this.env, cwd: v.dir, measure: true },
    );
    let detail: Record<string, unknown> | undefined;
    for (const line of r.stdout.split('\n')) {
      if (!line.includes('"summary"')) continue;
      const s = JSON.parse(line) as { snapshot_id?: string; data_added?: number };
      if (s.snapshot_id) this.snapshots.set(v.label, s.snapshot_id);
      detail = { newBytes: s.data_added };
    }
    if (!this.snapshots.has(v.label))
      throw new Error(`restic backup of ${v.label} reported no snapshot id`);
    return merge([r], detail);
  }

  async materialize(label: string, destDir: string): Promise<TimedResult> {
    const id = this.snapshots.get(label);
    if (!id) throw new Error(`restic: no snapshot for ${label}`);
    await mkdir(destDir, { recursive: true });
    const r = await run('restic', ['restore', id, '--target', destDir], {
      env: this.env,
      measure: true,
    });
    return merge([r]);
  }

  async storedBytes(): Promise<number> {
    return (await directorySize(this.env.RESTIC_REPOSITORY!)).apparentBytes;
  }

  async close(): Promise<void> {}
}

/** Factories for the chosen peers; a peer that cannot run yields `{ skipped }`. */
export function peerFactories(
  peers: readonly PeerName[],
  skipped: ReadonlyMap<PeerName, string>,
): Map<PeerName, StoreFactory> {
  const make: Record<PeerName, () => StoreUnderTest> = {
    'git-lfs': () => new GitLfsPeer(),
    borg: () => new BorgPeer('borg'),
    'borg-64k': () => new BorgPeer('borg-64k', BORG_64K_PARAMS),
    restic: () => new ResticPeer(),
  };
  const out = new Map<PeerName, StoreFactory>();
  for (const p of peers) {
    const reason = skipped.get(p);
    out.set(p, async () => (reason ? { skipped: reason } : make[p]()));
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Physical baselines

export interface PhysicalSample {
  /** Node crypto SHA-256 on one core over each file (page-cached read + hash), seconds. */
  readonly sha256NodeSeconds: Readonly<Record<string, number>>;
  /** coreutils `sha256sum` of the reference file, seconds. */
  readonly sha256sumSeconds: number;
  /** `cp` of the reference file + `sync`, seconds (pending writes flushed beforehand). */
  readonly cpSyncSeconds: number;
  /** `cp` alone (page cache), seconds. */
  readonly cpSeconds: number;
  /** 1-minute load average when the sample started: how contended the machine was. */
  readonly loadAvg1?: number;
}

/**
 * One sample of each physical baseline. `files` are hashed by Node (keyed by the given
 * names); `reference` is the file for sha256sum and cp + sync; `scratch` an existing dir.
 */
export async function measurePhysical(
  files: ReadonlyMap<string, string>,
  reference: string,
  scratch: string,
): Promise<PhysicalSample> {
  const loadAvg1 = loadavg()[0]!;
  const sha256NodeSeconds: Record<string, number> = {};
  for (const [key, path] of files) sha256NodeSeconds[key] = (await sha256File(path)).seconds;
  const sha256sumSeconds = (await run('sha256sum', [reference])).seconds;
  const cp = await measureCpSync(reference, scratch);
  return { sha256NodeSeconds, sha256sumSeconds, ...cp, loadAvg1 };
}

/**
 * `cp file scratch/` then `sync`, timed separately (pending writes are flushed first so
 * the sync is mostly this copy's); the copy is deleted afterwards.
 */
export async function measureCpSync(
  file: string,
  scratch: string,
): Promise<{ cpSeconds: number; cpSyncSeconds: number }> {
  const dest = join(scratch, `cp-${basename(file)}`);
  await rm(dest, { force: true });
  await run('sync', []);
  const cp = await run('cp', [file, dest]);
  const sync = await run('sync', []);
  await rm(dest, { force: true });
  await run('sync', []);
  return { cpSeconds: cp.seconds, cpSyncSeconds: cp.seconds + sync.seconds };
}

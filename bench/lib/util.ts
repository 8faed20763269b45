/**
 * Small measurement helpers shared by the storage benchmark: statistics, directory sizes,
 * streaming SHA-256 of files, and running external commands with wall time, CPU time and
 * peak RSS. Node built-ins only.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, mkdtemp, open, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const MB = 1e6;
export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

/** Median of a non-empty list (mean of the middle two for even lengths). NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function sum(values: readonly number[]): number {
  let t = 0;
  for (const v of values) t += v;
  return t;
}

/** CPU seconds (user + system) process `pid` has used, from /proc (Linux; NaN elsewhere). */
export async function processCpu(pid: number | undefined): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): utime and stime are 14 and 15.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return Number.NaN;
  }
}

/**
 * CPU seconds (user + system) of a PostgreSQL server so far: its postmaster (with the
 * children it has reaped: cutime + cstime) and every live child (backends, the WAL writer,
 * the checkpointer, autovacuum…), from /proc. `dataDirectory`'s `postmaster.pid` names
 * the postmaster. NaN when it cannot be read.
 */
export async function postgresCpu(dataDirectory: string): Promise<number> {
  try {
    const pid = Number(
      (await readFile(join(dataDirectory, 'postmaster.pid'), 'utf8')).split('\n')[0],
    );
    let total = 0;
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let stat: string;
      try {
        stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      } catch {
        continue; // exited meanwhile
      }
      // Fields after the command name: ppid 4, utime 14, stime 15, cutime 16, cstime 17.
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(entry) === pid)
        total += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
      else if (Number(f[1]) === pid) total += Number(f[11]) + Number(f[12]);
    }
    return total / 100; // USER_HZ is 100 on Linux
  } catch {
    return Number.NaN;
  }
}

export function nowSeconds(): number {
  return performance.now() / 1000;
}

export interface DirSize {
  /** Sum of file sizes (what `du -sb` reports), hard links counted once. */
  readonly apparentBytes: number;
  /** Allocated blocks (what `du -sB1` reports), hard links counted once. */
  readonly diskBytes: number;
  readonly files: number;
}

/** Walks `dir` without following symlinks; a missing directory is size 0. */
export async function directorySize(dir: string): Promise<DirSize> {
  const seen = new Set<string>();
  let apparentBytes = 0;
  let diskBytes = 0;
  let files = 0;
  const walk = async (p: string): Promise<void> => {
    let st: Awaited<ReturnType<typeof lstat>>;
    try {
      st = await lstat(p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const key = `${st.dev}:${st.ino}`;
    if (seen.has(key)) return;
    seen.add(key);
    if (st.isDirectory()) {
      diskBytes += st.blocks * 512;
      for (const name of await readdir(p)) await walk(join(p, name));
      return;
    }
    files += st.isFile() ? 1 : 0;
    apparentBytes += st.size;
    diskBytes += st.blocks * 512;
  };
  await walk(dir);
  return { apparentBytes, diskBytes, files };
}

/** Regular files under `dir`, recursively, as paths relative to `dir` with `/` separators. */
export async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(join(dir, prefix), { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(dir, rel)));
    else if (e.isFile()) out.push(rel);
  }
  return out;
}

const HASH_BLOCK = 4 * MiB;

/**
 * SHA-256 of a file on one core, read with one reused buffer (no stream machinery), so the
 * time is page-cache read + hash — the "one core's sha256" physical baseline.
 */
export async function sha256File(
  path: string,
): Promise<{ hex: string; bytes: number; seconds: number }> {
  const buf = Buffer.allocUnsafe(HASH_BLOCK);
  const h = createHash('sha256');
  const t0 = nowSeconds();
  const fh = await open(path, 'r');
  let bytes = 0;
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, HASH_BLOCK, null);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
      bytes += bytesRead;
    }
  } finally {
    await fh.close();
  }
  const hex = h.digest('hex');
  return { hex, bytes, seconds: nowSeconds() - t0 };
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time of the command itself (excluding the measuring wrapper's own start-up). */
  readonly seconds: number;
  /** user + system CPU seconds of the command and its waited-for descendants, when known. */
  readonly cpuSeconds?: number;
  /** Peak RSS of the largest process in the command's tree, when known. */
  readonly maxRssBytes?: number;
}

export interface RunOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Measure CPU time and peak RSS through a python3 wrapper (getrusage of children). */
  readonly measure?: boolean;
  /** Throw (with the command's stderr) on a non-zero exit code. Default true. */
  readonly check?: boolean;
  readonly stdin?: string;
}

/*
 * Node cannot getrusage() a child, so a tiny python3 wrapper runs the command, times it
 * with a monotonic clock and reports RUSAGE_CHILDREN (max RSS of the largest waited-for
 * descendant, CPU time of all of them) into a file. python3 is present wherever borg is.
 */
const RUSAGE_WRAPPER = [
  'import json,resource,subprocess,sys,time',
  't=time.monotonic()',
  'p=subprocess.run(sys.argv[2:])',
  'e=time.monotonic()-t',
  'r=resource.getrusage(resource.RUSAGE_CHILDREN)',
  "open(sys.argv[1],'w').write(json.dumps({'rc':p.returncode,'seconds':e,'maxrss':r.ru_maxrss,'cpu':r.ru_utime+r.ru_stime}))",
].join('\n');

let python: string | null | undefined;

async function findPython(): Promise<string | null> {
  if (python !== undefined) return python;
  const r = await run('sh', ['-c', 'command -v python3'], { check: false }).catch(() => null);
  python = r && r.code === 0 ? r.stdout.trim() : null;
  return python;
}

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly code: number,
    readonly stderr: string,
  ) {
    super(`command failed (exit ${code}): ${command}\n${stderr.slice(-2000)}`);
    this.name = 'CommandError';
  }
}

/** Runs a command, capturing stdout/stderr. See RunOptions for measuring. */
export async function run(
  cmd: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const check = options.check ?? true;
  let argv0 = cmd;
  let argv = [...args];
  let reportFile: string | undefined;
  let reportDir: string | undefined;
  if (options.measure) {
    const py = await findPython();
    if (py) {
      reportDir = await mkdtemp(join(tmpdir(), 'mv-bench-rusage-'));
      reportFile = join(reportDir, 'r.json');
      argv0 = py;
      argv = ['-c', RUSAGE_WRAPPER, reportFile, cmd, ...args];
    }
  }
  const t0 = nowSeconds();
  const { code, stdout, stderr } = await new Promise<{
    code: number;
    stdout: string;
    stderr: string;
  }>((resolve, reject) => {
    const child = spawn(argv0, argv, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let errLen = 0;
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => {
      // Keep only the tail: progress-chatty tools can write megabytes.
      err.push(b);
      errLen += b.length;
      while (errLen > 1 << 20 && err.length > 1) errLen -= err.shift()!.length;
    });
    child.on('error', reject);
    child.on('close', (c, signal) =>
      resolve({
        code: c ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
    child.stdin.on('error', () => {}); // a command may exit without reading its input
    child.stdin.end(options.stdin ?? '');
  });
  let seconds = nowSeconds() - t0;
  let result: RunResult = { code, stdout, stderr, seconds };
  if (reportFile && reportDir) {
    try {
      const r = JSON.parse(await readFile(reportFile, 'utf8')) as {
        rc: number;
        seconds: number;
        maxrss: number;
        cpu: number;
      };
      seconds = r.seconds;
      result = {
        code: r.rc,
        stdout,
        stderr,
        seconds,
        cpuSeconds: r.cpu,
        maxRssBytes: r.maxrss * 1024,
      };
    } catch {
      // The wrapper itself failed; keep the outer timing and exit code.
    }
    await rm(reportDir, { recursive: true, force: true });
  }
  if (check && result.code !== 0)
    throw new CommandError([cmd, ...args].join(' '), result.code, stderr);
  return result;
}

/** `sync` (all filesystems), timed: the cost of making just-written data durable. */
export async function timedSync(): Promise<number> {
  return (await run('sync', [])).seconds;
}

export async function commandExists(name: string): Promise<boolean> {
  const r = await run('sh', ['-c', `command -v ${name}`], { check: false });
  return r.code === 0;
}

export function fmtBytes(n: number): string {
  if (!Number.isFinite(n)) return '—';
  if (n >= 1e9) return `${(n / 1e9).toFixed(3)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}

export function fmtNum(n: number | undefined, digits = 2): string {
  return n === undefined || !Number.isFinite(n) ? '—' : n.toFixed(digits);
}

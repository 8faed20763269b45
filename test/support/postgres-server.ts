/**
 * A throwaway PostgreSQL server for tests: `initdb` + `pg_ctl` on a temp directory and a
 * free loopback port, run as the `postgres` system user when we are root (the server
 * refuses to run as root). Durability is switched off (fsync, full_page_writes): the data
 * is thrown away at the end. See ../../shared notes and docs/design.md.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, chownSync, constants, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

const BINARIES = ['initdb', 'pg_ctl', 'postgres'] as const;

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The directory holding initdb, pg_ctl and postgres (PATH first, then Debian's layout). */
export function findPostgresBin(): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  try {
    const versions = readdirSync('/usr/lib/postgresql').sort().reverse();
    for (const v of versions) dirs.push(join('/usr/lib/postgresql', v, 'bin'));
  } catch {
    // no Debian layout
  }
  return dirs.find((d) => BINARIES.every((b) => executable(join(d, b))));
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface PostgresServer {
  /** Superuser URL of the `postgres` database: `postgres://mv@127.0.0.1:PORT/postgres`. */
  readonly url: string;
  /** The cluster's data directory (its `postmaster.pid` names the server process). */
  readonly dataDirectory: string;
  stop(): void;
}

/**
 * Starts a server and waits until it accepts connections.
 * @throws when the binaries are missing or the server does not start (its log attached).
 */
export async function startPostgres(
  bin = findPostgresBin(),
  /** More `-c name=value` server settings (the benchmarks give it a larger cache). */
  extraSettings: readonly string[] = [],
): Promise<PostgresServer> {
  if (!bin) throw new Error('PostgreSQL binaries (initdb, pg_ctl, postgres) not found');
  const asRoot = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]) => {
    const full = join(bin, cmd);
    return asRoot
      ? execFileSync('runuser', ['-u', 'postgres', '--', full, ...args], { stdio: 'pipe' })
      : execFileSync(full, args, { stdio: 'pipe' });
  };
  const dir = mkdtempSync(join(tmpdir(), 'mv-pg-'));
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  let started = false;
  const stop = () => {
    if (started) {
      try {
        run('pg_ctl', ['-D', data, 'stop', '-m', 'immediate', '-w']);
      } catch {
        // already gone
      }
      started = false;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    run('initdb', ['-D', data, '-A', 'trust', '-U', 'mv', '-E', 'UTF8', '--no-sync']);
    const port = await freePort();
    const settings = [
      `-p ${port}`,
      `-k ${dir}`,
      '-c listen_addresses=127.0.0.1',
      '-c fsync=off',
      '-c full_page_writes=off',
      '-c max_connections=300',
      ...extraSettings.map((setting) => `-c ${setting}`),
    ].join(' ');
    started = true;
    run('pg_ctl', ['-D', data, '-l', log, '-o', settings, '-w', '-t', '60', 'start']);
    return { url: `postgres://mv@127.0.0.1:${port}/postgres`, dataDirectory: data, stop };
  } catch (e) {
    let serverLog = '';
    try {
      serverLog = execFileSync('cat', [log]).toString();
    } catch {
      // no log
    }
    stop();
    const err = e as Error & { stderr?: Buffer };
    throw new Error(
      `could not start PostgreSQL: ${err.message}\n${err.stderr?.toString() ?? ''}\n${serverLog}`,
    );
  }
}

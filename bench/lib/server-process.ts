/**
 * Starts a Modelvault server process for a benchmark: `node --import tsx src/server/main.ts
 * --port 0 --registry DIR` (the sources, so a benchmark never measures a stale build), and
 * resolves with its URL once it prints it. The server's stdout (its JSON request log) is
 * drained, never collected: under load it grows by megabytes a second.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ServerProcess {
  readonly url: string;
  readonly child: ChildProcessWithoutNullStreams;
  /** SIGTERM, then resolves when the process has exited. */
  stop(): Promise<void>;
}

/** `node src/server/main.ts --port 0 --registry DIR` from the sources (tsx). */
export function startServerProcess(registry: string): Promise<ServerProcess> {
  return startNodeServer([
    '--import',
    'tsx',
    'src/server/main.ts',
    '--port',
    '0',
    '--registry',
    registry,
  ]);
}

/**
 * Starts `node ARGV` (a server entry and its flags, after BENCH_SERVER_NODE_ARGS) in the
 * repository, with `env` over this process's environment; resolves with its URL once it
 * prints it.
 */
export async function startNodeServer(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<ServerProcess> {
  const child = spawn(
    process.execPath,
    [
      // e.g. BENCH_SERVER_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the server
      ...(process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
      ...argv,
    ],
    { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] },
  ) as unknown as ChildProcessWithoutNullStreams;
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let text = '';
    const onData = (d: Buffer) => {
      text += d.toString('utf8');
      const m = /serving .* at (http:\/\/[^\s]+) /.exec(text);
      if (m) {
        child.stdout.off('data', onData);
        child.stdout.resume(); // keep draining the request log
        resolve(m[1]!);
      }
    };
    child.stdout.on('data', onData);
    child.on('exit', (code) => reject(new Error(`server exited (${code})`)));
  });
  return {
    url,
    child,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A server in a child process, for tests that signal or kill it. */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface ChildServer {
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (or the signal's name). */
  readonly exited: Promise<number | string>;
}

/**
 * The built entry points, what `npm start` and `mvault serve` run (the tests' global setup
 * keeps dist/ fresh). Plain node starts them in a fraction of the time tsx takes.
 */
export const BUILT_MAIN = 'dist/server/main.js';
export const BUILT_CLI = 'dist/bin/mvault.js';

/** Node's flags to run `script`: tsx for TypeScript sources, none for built JavaScript. */
function loaderFor(script: string): string[] {
  return script.endsWith('.ts') ? ['--import', 'tsx'] : [];
}

/** Starts `script` (a file under the repository, .ts or built .js) with `args`; resolves once it listens. */
export function startChild(
  script: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<ChildServer> {
  return startNode([...loaderFor(script), script, ...args], env);
}

/** Starts node with `argv` (e.g. the built `dist/bin/mvault.js serve …`); resolves once it listens. */
export function startNode(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<ChildServer> {
  const child = spawn(process.execPath, argv, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString('utf8');
      const m = /serving .* at (http:\/\/[^\s]+) /.exec(out);
      if (m) {
        child.stdout?.off('data', onData);
        child.stdout?.on('data', (more: Buffer) => {
          out += more.toString('utf8');
        });
        resolve({ url: m[1]!, child, output: () => out, exited });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (d: Buffer) => {
      out += d.toString('utf8');
    });
    exited.then((code) => reject(new Error(`server exited (${code}) before listening:\n${out}`)));
  });
}

/** Runs `script` to completion; resolves its exit code and output. */
export function runChild(
  script: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | string; output: string }> {
  const child = spawn(process.execPath, [...loaderFor(script), script, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString('utf8');
  });
  child.stderr.on('data', (d: Buffer) => {
    out += d.toString('utf8');
  });
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => resolve({ code: code ?? signal ?? 'unknown', output: out }));
  });
}

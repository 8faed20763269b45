/**
 * Runs the real `mvault` binary (dist/bin/mvault.js, built by test/support/build-cli.ts)
 * in a child process, with a clean environment: no MODELVAULT_REGISTRY from the caller,
 * NO_COLOR set, and a fixed acting user.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const MVAULT = fileURLToPath(new URL('../../dist/bin/mvault.js', import.meta.url));

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout parsed as one JSON document. */
  json<T = Record<string, unknown>>(): T;
}

export interface CliOptions {
  readonly cwd: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export function mvault(args: readonly string[], options: CliOptions): Promise<CliResult> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    MODELVAULT_REGISTRY: undefined,
    MODELVAULT_USER: 'tester',
    NO_COLOR: '1',
    ...options.env,
  };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [MVAULT, ...args],
      { cwd: options.cwd, env, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (error as { code?: unknown }).code : 0;
        if (typeof code !== 'number') {
          reject(error ?? new Error('mvault did not exit'));
          return;
        }
        resolve({
          code,
          stdout,
          stderr,
          json: <T>() => {
            try {
              return JSON.parse(stdout) as T;
            } catch {
              throw new Error(
                `mvault ${args.join(' ')} printed no JSON document:\n${stdout}\n${stderr}`,
              );
            }
          },
        });
      },
    );
  });
}

/** Like mvault(), but fails the test with the output when the exit code is not `expected`. */
export async function mvaultOk(
  args: readonly string[],
  options: CliOptions,
  expected = 0,
): Promise<CliResult> {
  const r = await mvault(args, options);
  if (r.code !== expected) {
    throw new Error(
      `mvault ${args.join(' ')} exited with ${r.code}, expected ${expected}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`,
    );
  }
  return r;
}

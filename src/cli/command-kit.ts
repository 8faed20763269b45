/**
 * What command files need to declare themselves: a wrapper that turns a handler into a
 * commander action (one Run per invocation, always closed), and the examples block that
 * every command's help ends with.
 */
import type { Command } from 'commander';
import { type CliEnvironment, Run } from './run.js';

export interface CliState {
  /** The process exit code when no error escapes (a failed check sets it). */
  exitCode: number;
}

export interface CommandKit {
  readonly cli: CliEnvironment;
  /**
   * A commander action running `handler(run, ...arguments, options)`. The registry the
   * handler opened is closed afterwards, whatever happens; errors propagate to runCli.
   */
  action<A extends unknown[]>(
    handler: (run: Run, ...args: A) => Promise<void>,
  ): (...args: unknown[]) => Promise<void>;
}

export function commandKit(cli: CliEnvironment, state: CliState): CommandKit {
  return {
    cli,
    action:
      <A extends unknown[]>(handler: (run: Run, ...args: A) => Promise<void>) =>
      async (...args: unknown[]) => {
        const command = args[args.length - 1] as Command;
        const run = new Run(cli, command.optsWithGlobals());
        try {
          await handler(run, ...(args.slice(0, -1) as A));
        } finally {
          await run.close();
        }
        state.exitCode = run.exitCode;
      },
  };
}

/** The `Examples:` section of a command's help. */
export function examples(...lines: readonly string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}

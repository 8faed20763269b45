/**
 * `mvault serve` as the CLI will run it: a commander program with the serve command
 * registered. Used by the process tests until src/cli/main.ts wires it in.
 */
import { Command } from 'commander';
import { registerServe } from '../../../src/cli/commands/serve.js';

const program = new Command('mvault').exitOverride();
registerServe(program);
program.parseAsync(process.argv).catch((e: unknown) => {
  const err = e as { message?: string; exitCode?: number };
  process.stderr.write(`mvault serve: ${err.message ?? String(e)}\n`);
  process.exit(typeof err.exitCode === 'number' ? err.exitCode : 1);
});

import type { Command } from 'commander';
import { ERROR_CODES } from '../../core/errors.js';
import { type CommandKit, examples } from '../command-kit.js';
import { fsckText } from '../views.js';

export function registerFsck(program: Command, kit: CommandKit): void {
  program
    .command('fsck')
    .description('re-read and re-verify every pack, chunk, file, manifest and version')
    .addHelpText(
      'after',
      `${examples('mvault fsck', 'mvault fsck --json')}
Exit code 0 when everything is intact, 4 when damage was found (each problem is named).
`,
    )
    .action(
      kit.action(async (run) => {
        const result = await (await run.registry()).fsck();
        run.emit(result, () => fsckText(result));
        if (!result.ok) {
          const first = result.problems[0]!;
          run.fail(
            ERROR_CODES.CORRUPT.exit,
            `fsck found ${result.problems.length} problem(s), first: ${first.message}`,
          );
        }
      }),
    );
}

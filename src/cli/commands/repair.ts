import type { Command } from 'commander';
import { ERROR_CODES } from '../../core/errors.js';
import { type CommandKit, examples } from '../command-kit.js';
import { fsckText } from '../views.js';

export function registerRepair(program: Command, kit: CommandKit): void {
  program
    .command('repair')
    .description('rebuild the chunk index from the packs, then check everything again')
    .addHelpText(
      'after',
      `${examples('mvault repair')}
Never deletes a pack. Exit code 4 when damage remains that no pack can repair (the
files affected are named; push them again to heal the store).
`,
    )
    .action(
      kit.action(async (run) => {
        const result = await (await run.registry()).repair();
        run.emit(result, () =>
          [
            `indexed ${result.packsIndexed} pack(s); chunks: ${result.chunksAdded} added, ${result.chunksRepointed} repointed, ${result.chunksRemoved} removed`,
            fsckText(result.after),
          ].join('\n'),
        );
        if (!result.after.ok) {
          run.fail(
            ERROR_CODES.CORRUPT.exit,
            `damage remains after repair: ${result.after.problems[0]!.message}`,
          );
        }
      }),
    );
}

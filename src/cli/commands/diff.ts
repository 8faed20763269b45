import type { Command } from 'commander';
import { type CommandKit, examples } from '../command-kit.js';
import { diffText } from '../views.js';

export function registerDiff(program: Command, kit: CommandKit): void {
  program
    .command('diff')
    .description('compare two versions: metrics (with deltas), params, tags and files')
    .argument('<a>', 'the base version')
    .argument('<b>', 'the version compared with it')
    .addHelpText(
      'after',
      examples(
        'mvault diff fraud-detector@3 fraud-detector@4',
        'mvault diff fraud-detector@production fraud-detector@latest --json',
      ),
    )
    .action(
      kit.action(async (run, a: string, b: string) => {
        const diff = await (await run.registry()).diffVersions(a, b);
        run.emit(diff, () => diffText(diff));
      }),
    );
}

import type { Command } from 'commander';
import { type CommandKit, examples } from '../command-kit.js';
import { isVersionRef } from '../parse-args.js';

export function registerDescribe(program: Command, kit: CommandKit): void {
  program
    .command('describe')
    .description('set the description of a version (NAME@…) or a model (NAME); "" clears it')
    .argument('<target>', 'a version reference (NAME@4) or a model name')
    .argument('<text>', 'the description')
    .addHelpText(
      'after',
      examples(
        'mvault describe fraud-detector@4 "retrained on Q3 with the new features"',
        'mvault describe fraud-detector "card-fraud scoring model, owned by risk"',
        'mvault describe fraud-detector@4 ""',
      ),
    )
    .action(
      kit.action(async (run, target: string, text: string) => {
        const registry = await run.registry();
        const description = text === '' ? null : text;
        const updated = isVersionRef(target)
          ? await registry.updateVersion(target, { description })
          : await registry.updateModel(target, { description });
        run.emit(updated, () =>
          description === null ? `${target}: description cleared` : `${target}: description set`,
        );
      }),
    );
}

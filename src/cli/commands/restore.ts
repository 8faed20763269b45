import type { Command } from 'commander';
import { type CommandKit, examples } from '../command-kit.js';
import { isVersionRef } from '../parse-args.js';

export function registerRestore(program: Command, kit: CommandKit): void {
  program
    .command('restore')
    .description('bring back a deleted version (NAME@N) or model (NAME)')
    .argument('<target>', 'a version (NAME@4) or a model name')
    .addHelpText(
      'after',
      examples('mvault restore fraud-detector@2', 'mvault restore old-experiment'),
    )
    .action(
      kit.action(async (run, target: string) => {
        const registry = await run.registry();
        if (isVersionRef(target)) {
          const version = await registry.restoreVersion(target);
          run.emit(version, () => `restored ${version.model}@${version.version}`);
        } else {
          const model = await registry.restoreModel(target);
          run.emit(model, () => `restored model ${model.name}`);
        }
      }),
    );
}

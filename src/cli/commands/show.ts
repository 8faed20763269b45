import type { Command } from 'commander';
import { type CommandKit, examples } from '../command-kit.js';
import { versionDetails } from '../views.js';

export function registerShow(program: Command, kit: CommandKit): void {
  program
    .command('show')
    .description('show one version: digest, metrics, params, lineage, approval, model card')
    .argument('<ref>', 'version: NAME (the latest), NAME@4, NAME@ALIAS, models:/NAME/4, …')
    .option('--card', 'print the whole model card')
    .option('-a, --all', 'also find a deleted version (NAME@N)')
    .addHelpText(
      'after',
      examples('mvault show fraud-detector@4', 'mvault show fraud-detector@production --json'),
    )
    .action(
      kit.action(async (run, ref: string, opts: { card?: boolean; all?: boolean }) => {
        const registry = await run.registry();
        const version = await registry.getVersion(ref, opts.all ? { includeDeleted: true } : {});
        run.emit(version, () => versionDetails(version, opts.card === true));
      }),
    );
}

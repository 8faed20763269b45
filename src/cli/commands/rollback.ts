import type { Command } from 'commander';
import { type CommandKit, examples } from '../command-kit.js';

export function registerRollback(program: Command, kit: CommandKit): void {
  program
    .command('rollback')
    .description('move ALIAS back to its previous target (repeat to walk further back)')
    .argument('<name>', 'model name')
    .argument('<alias>', 'alias, e.g. production')
    .addHelpText('after', examples('mvault rollback fraud-detector production'))
    .action(
      kit.action(async (run, name: string, alias: string) => {
        const change = await (await run.registry()).rollback(name, alias);
        run.emit(
          change,
          () =>
            `${change.model}@${change.alias} rolled back: v${change.previousVersion} -> v${change.version}`,
        );
      }),
    );
}

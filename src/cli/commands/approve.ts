import type { Command } from 'commander';
import { type CommandKit, examples } from '../command-kit.js';

export function registerApprove(program: Command, kit: CommandKit): void {
  program
    .command('approve')
    .description('approve a version (you are the reviewer)')
    .argument('<ref>', 'version: NAME@4, NAME@ALIAS, …')
    .option('-c, --comment <text>', 'why')
    .addHelpText(
      'after',
      examples('mvault approve fraud-detector@4 -c "metrics and card reviewed"'),
    )
    .action(
      kit.action(async (run, ref: string, opts: { comment?: string }) => {
        const version = await (await run.registry()).approve(
          ref,
          opts.comment !== undefined ? { comment: opts.comment } : {},
        );
        run.emit(
          version,
          () => `${version.model} v${version.version} approved by ${version.approval.reviewer}`,
        );
      }),
    );
}

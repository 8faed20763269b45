import type { Command } from 'commander';
import { type CommandKit, examples } from '../command-kit.js';

export function registerReject(program: Command, kit: CommandKit): void {
  program
    .command('reject')
    .description('reject a version (you are the reviewer)')
    .argument('<ref>', 'version: NAME@4, NAME@ALIAS, …')
    .option('-c, --comment <text>', 'why')
    .addHelpText(
      'after',
      examples('mvault reject fraud-detector@5 -c "auc regressed on the holdout set"'),
    )
    .action(
      kit.action(async (run, ref: string, opts: { comment?: string }) => {
        const version = await (await run.registry()).reject(
          ref,
          opts.comment !== undefined ? { comment: opts.comment } : {},
        );
        run.emit(
          version,
          () => `${version.model} v${version.version} rejected by ${version.approval.reviewer}`,
        );
      }),
    );
}

import type { Command } from 'commander';
import { type CommandKit, examples } from '../command-kit.js';

export function registerStage(program: Command, kit: CommandKit): void {
  program
    .command('stage')
    .description("move a version to a stage (MLflow's None, Staging, Production, Archived)")
    .argument('<ref>', 'version: NAME@4, NAME@ALIAS, …')
    .argument('<stage>', 'None, Staging, Production or Archived (any case)')
    .option('--archive-existing', "archive the model's other versions in that stage")
    .addHelpText(
      'after',
      examples(
        'mvault stage fraud-detector@4 production --archive-existing',
        'mvault stage fraud-detector@2 archived',
      ),
    )
    .action(
      kit.action(async (run, ref: string, stage: string, opts: { archiveExisting?: boolean }) => {
        const version = await (await run.registry()).transitionStage(ref, stage, {
          archiveExisting: opts.archiveExisting === true,
        });
        run.emit(
          version,
          () => `${version.model} v${version.version} is in stage ${version.stage}`,
        );
      }),
    );
}

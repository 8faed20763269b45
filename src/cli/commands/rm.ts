import type { Command } from 'commander';
import { DELETED_RETENTION_MS, describePeriod } from '../../registry/retention.js';
import { type CommandKit, examples } from '../command-kit.js';
import { isVersionRef } from '../parse-args.js';

export function registerRm(program: Command, kit: CommandKit): void {
  program
    .command('rm')
    .description('soft-delete a version (NAME@N) or a whole model (NAME); restorable for 30 days')
    .argument('<target>', 'a version reference (NAME@4) or a model name')
    .addHelpText(
      'after',
      `${examples('mvault rm fraud-detector@2', 'mvault rm old-experiment')}
A version that an alias points to cannot be deleted: move or delete the alias first.
Deleted versions keep their number (never reused); 'mvault restore' brings them back
within the retention period, after which 'mvault gc' may reclaim their files.
`,
    )
    .action(
      kit.action(async (run, target: string) => {
        const registry = await run.registry();
        const period = describePeriod(DELETED_RETENTION_MS);
        if (isVersionRef(target)) {
          const version = await registry.getVersion(target);
          const label = `${version.model}@${version.version}`;
          await registry.deleteVersion(label);
          run.emit(
            { deleted: { model: version.model, version: version.version } },
            () => `deleted ${label} (restorable for ${period}: mvault restore ${label})`,
          );
        } else {
          await registry.deleteModel(target);
          run.emit(
            { deleted: { model: target } },
            () => `deleted model ${target} (restorable for ${period}: mvault restore ${target})`,
          );
        }
      }),
    );
}

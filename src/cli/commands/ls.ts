import type { Command } from 'commander';
import { type CommandKit, examples } from '../command-kit.js';
import { parseCount } from '../parse-args.js';
import { modelTable, versionTable } from '../views.js';

interface LsOptions {
  readonly all?: boolean;
  readonly max?: number;
  readonly pageToken?: string;
}

export function registerLs(program: Command, kit: CommandKit): void {
  program
    .command('ls')
    .alias('list')
    .description('list models, or the versions of one model with aliases and key metrics')
    .argument('[name]', 'a model: list its versions, newest first')
    .option('-a, --all', 'include deleted models or versions')
    .option('--max <n>', 'at most N results (default 100)', parseCount)
    .option('--page-token <token>', 'the next page of an earlier listing')
    .addHelpText('after', examples('mvault ls', 'mvault ls fraud-detector', 'mvault ls --json'))
    .action(
      kit.action(async (run, name: string | undefined, opts: LsOptions) => {
        const registry = await run.registry();
        const page = {
          ...(opts.all ? { includeDeleted: true } : {}),
          ...(opts.max !== undefined ? { maxResults: opts.max } : {}),
          ...(opts.pageToken !== undefined ? { pageToken: opts.pageToken } : {}),
        };
        if (name === undefined) {
          const models = await registry.listModels(page);
          run.emit(models, () => modelTable(models.items));
          run.morePages(models.nextPageToken, 'mvault ls');
        } else {
          const versions = await registry.listVersions(name, page);
          run.emit(versions, () => versionTable(versions.items));
          run.morePages(versions.nextPageToken, `mvault ls ${name}`);
        }
      }),
    );
}

import type { Command } from 'commander';
import { type CommandKit, examples } from '../command-kit.js';
import { collectList, parseCount } from '../parse-args.js';
import { modelTable, versionTable } from '../views.js';

interface SearchOptions {
  readonly orderBy?: string[];
  readonly models?: boolean;
  readonly max?: number;
  readonly pageToken?: string;
  readonly all?: boolean;
}

export function registerSearch(program: Command, kit: CommandKit): void {
  program
    .command('search')
    .description("find versions (or models) with MLflow's filter syntax, plus OR and parentheses")
    .argument(
      '[filter]',
      'e.g. "metrics.auc > 0.93 AND tags.team = \'risk\'" (default: everything)',
    )
    .option('--order-by <term>', 'e.g. "metrics.auc DESC"; repeatable', collectList)
    .option('--models', 'search models instead of versions')
    .option('--max <n>', 'at most N results (default 100)', parseCount)
    .option('--page-token <token>', 'the next page of an earlier search')
    .option('-a, --all', 'include deleted models and versions')
    .addHelpText(
      'after',
      `${examples(
        `mvault search "metrics.auc > 0.93 AND tags.team = 'risk'"`,
        `mvault search "name LIKE 'fraud%'" --order-by "metrics.auc DESC" --max 5`,
        `mvault search "tags.team = 'risk'" --models`,
      )}
Version fields: name, version_number, run_id, source, status, stage, created_at,
updated_at, user, digest, size, approval, metrics.K, params.K, tags.K, aliases.
Model fields: name, owner, created_at, updated_at, tags.K, aliases.
`,
    )
    .action(
      kit.action(async (run, filter: string | undefined, opts: SearchOptions) => {
        const registry = await run.registry();
        const query = {
          ...(filter !== undefined && filter.trim() !== '' ? { filter } : {}),
          ...(opts.orderBy ? { orderBy: opts.orderBy } : {}),
          ...(opts.max !== undefined ? { maxResults: opts.max } : {}),
          ...(opts.pageToken !== undefined ? { pageToken: opts.pageToken } : {}),
          ...(opts.all ? { includeDeleted: true } : {}),
        };
        const again = `mvault search${filter === undefined ? '' : ` ${JSON.stringify(filter)}`}${opts.models ? ' --models' : ''}`;
        if (opts.models) {
          const models = await registry.searchModels(query);
          run.emit(models, () => modelTable(models.items));
          run.morePages(models.nextPageToken, again);
        } else {
          const versions = await registry.searchVersions(query);
          run.emit(versions, () => versionTable(versions.items, { withModel: true }));
          run.morePages(versions.nextPageToken, again);
        }
      }),
    );
}

import type { Command } from 'commander';
import { InvalidArgumentError } from '../../core/errors.js';
import { type CommandKit, examples } from '../command-kit.js';
import { tensorDiffText } from '../inspect-views.js';
import { diffText } from '../views.js';

export function registerDiff(program: Command, kit: CommandKit): void {
  program
    .command('diff')
    .description('compare two versions: metrics (with deltas), params, tags, files and tensors')
    .argument('<a>', 'the base version')
    .argument('<b>', 'the version compared with it')
    .option(
      '--tensors',
      'compare tensor by tensor: added, removed, changed (shape/dtype/values), unchanged',
    )
    .option(
      '--stats',
      'with --tensors: max |Δ|, relative L2 and cosine of changed tensors (reads their bytes)',
    )
    .option('--unchanged', 'with --tensors: list unchanged tensors too')
    .addHelpText(
      'after',
      examples(
        'mvault diff fraud-detector@3 fraud-detector@4',
        'mvault diff fraud-detector@production fraud-detector@latest --json',
        'mvault diff llama-tiny@1 llama-tiny@2 --tensors --stats',
      ),
    )
    .action(
      kit.action(
        async (
          run,
          a: string,
          b: string,
          opts: { tensors?: boolean; stats?: boolean; unchanged?: boolean },
        ) => {
          if (opts.stats && !opts.tensors)
            throw new InvalidArgumentError('--stats needs --tensors');
          const registry = await run.registry();
          const diff = opts.tensors
            ? await registry.diffVersions(a, b, { tensors: true, stats: opts.stats === true })
            : await registry.diffVersions(a, b);
          run.emit(diff, () => {
            const text = diffText(diff);
            return diff.tensors ? text + tensorDiffText(diff.tensors, opts.unchanged) : text;
          });
        },
      ),
    );
}

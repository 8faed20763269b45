import { resolve } from 'node:path';
import type { Command } from 'commander';
import { type CommandKit, examples } from '../command-kit.js';
import { formatBytes, shortDigest } from '../format.js';
import {
  collectDatasets,
  collectList,
  collectMetrics,
  collectPairs,
  type DatasetArg,
} from '../parse-args.js';

interface PushOptions {
  readonly metric?: Record<string, number>;
  readonly param?: Record<string, string>;
  readonly tag?: Record<string, string>;
  readonly parent?: string[];
  readonly dataset?: DatasetArg[];
  readonly description?: string;
  readonly runId?: string;
}

/** The options every command creating a version takes: metrics, params, tags, parents. */
export function addVersionOptions(command: Command): Command {
  return command
    .option(
      '--metric <key=value>',
      'a metric of this version (a number); repeatable',
      collectMetrics,
    )
    .option('--param <key=value>', 'a parameter; repeatable', collectPairs)
    .option('--tag <key=value>', 'a tag; repeatable', collectPairs)
    .option('--parent <ref>', 'a version this one derives from; repeatable', collectList);
}

export function registerPush(program: Command, kit: CommandKit): void {
  addVersionOptions(
    program
      .command('push')
      .description('store a directory (or file) as a new version of a model, deduplicated')
      .argument('<name>', 'model name (the model is created if it is new)')
      .argument('<path>', 'directory or file to store'),
  )
    .option(
      '--dataset <name=uri[@digest]>',
      'a dataset it was trained on; repeatable',
      collectDatasets,
    )
    .option('-m, --description <text>', 'what this version is')
    .option('--run-id <id>', 'the training run that produced it')
    .addHelpText(
      'after',
      `${examples(
        'mvault push fraud-detector ./model --metric auc=0.941 --param lr=3e-4 --tag team=risk',
        'mvault push fraud-detector ./model --parent fraud-detector@3 --dataset train=s3://bucket/q3.parquet -m "retrained on Q3"',
      )}
A README.md at the root of PATH becomes the version's model card. Inside a git work
tree, the remote URL, HEAD commit and dirty flag are recorded as code lineage.
`,
    )
    .action(
      kit.action(async (run, name: string, path: string, opts: PushOptions) => {
        const registry = await run.registry();
        const bar = run.progress('pushing');
        const { version, stats } = await registry.push(resolve(run.cli.cwd, path), {
          model: name,
          ...(opts.metric ? { metrics: opts.metric } : {}),
          ...(opts.param ? { params: opts.param } : {}),
          ...(opts.tag ? { tags: opts.tag } : {}),
          ...(opts.description !== undefined ? { description: opts.description } : {}),
          ...(opts.runId !== undefined ? { runId: opts.runId } : {}),
          lineage: {
            ...(opts.parent ? { parents: opts.parent } : {}),
            ...(opts.dataset ? { datasets: opts.dataset } : {}),
          },
          ...(bar ? { onProgress: bar.onProgress } : {}),
          signal: run.signal(),
        });
        bar?.stop();
        run.emit({ version, stats }, () => {
          const saved =
            stats.bytes === 0 ? 0 : Math.round((1 - stats.newBytes / stats.bytes) * 100);
          return `${version.model} v${version.version}  ${shortDigest(version.digest)}  ${formatBytes(stats.bytes)}, ${formatBytes(stats.newBytes)} new (${saved}% deduplicated)`;
        });
      }),
    );
}

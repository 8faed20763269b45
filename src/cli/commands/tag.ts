import type { Command } from 'commander';
import { InvalidArgumentError } from '../../core/errors.js';
import { type CommandKit, examples } from '../command-kit.js';
import { formatPairs } from '../format.js';
import { collectList, isVersionRef, parseKeyValue } from '../parse-args.js';

export function registerTag(program: Command, kit: CommandKit): void {
  program
    .command('tag')
    .description('set or remove tags of a version (NAME@…) or of a model (NAME)')
    .argument('<target>', 'a version reference (NAME@4, NAME@ALIAS) or a model name')
    .argument('[pairs...]', 'KEY=VALUE tags to set')
    .option('--rm <key>', 'a tag to remove; repeatable', collectList)
    .addHelpText(
      'after',
      examples(
        'mvault tag fraud-detector@4 validated=true owner=risk-team',
        'mvault tag fraud-detector team=risk',
        'mvault tag fraud-detector@4 --rm owner',
      ),
    )
    .action(
      kit.action(async (run, target: string, pairs: string[], opts: { rm?: string[] }) => {
        const set = pairs.map(parseKeyValue);
        const removals = opts.rm ?? [];
        if (set.length === 0 && removals.length === 0) {
          throw new InvalidArgumentError('give at least one KEY=VALUE to set or --rm KEY');
        }
        const registry = await run.registry();
        const version = isVersionRef(target);
        // Validate the target before changing anything (a model name must exist, too).
        if (version) await registry.getVersion(target);
        else await registry.getModel(target);
        const removed: string[] = [];
        for (const [key, value] of set) {
          if (version) await registry.setVersionTag(target, key, value);
          else await registry.setModelTag(target, key, value);
        }
        for (const key of removals) {
          const gone = version
            ? await registry.deleteVersionTag(target, key)
            : await registry.deleteModelTag(target, key);
          if (gone) removed.push(key);
        }
        const tags = version
          ? (await registry.getVersion(target)).tags
          : (await registry.getModel(target)).tags;
        run.emit({ target, tags, removed }, () => `${target} tags: ${formatPairs(tags)}`);
      }),
    );
}

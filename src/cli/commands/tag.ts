import type { Command } from 'commander';
import { InvalidArgumentError } from '../../core/errors.js';
import { validateTagKey } from '../../core/names.js';
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
        // Check every key first, so a bad one changes nothing.
        for (const key of [...set.map(([k]) => k), ...removals]) validateTagKey(key);
        const registry = await run.registry();
        // Resolve the target once, before changing anything: an alias moving meanwhile
        // cannot split the tags over two versions, and a missing model fails up front.
        let label: string | undefined;
        if (isVersionRef(target)) {
          const v = await registry.getVersion(target);
          label = `${v.model}@${v.version}`;
        } else {
          await registry.getModel(target);
        }
        const removed: string[] = [];
        for (const [key, value] of set) {
          if (label) await registry.setVersionTag(label, key, value);
          else await registry.setModelTag(target, key, value);
        }
        for (const key of removals) {
          const gone = label
            ? await registry.deleteVersionTag(label, key)
            : await registry.deleteModelTag(target, key);
          if (gone) removed.push(key);
        }
        const tags = label
          ? (await registry.getVersion(label)).tags
          : (await registry.getModel(target)).tags;
        run.emit({ target, tags, removed }, () => `${target} tags: ${formatPairs(tags)}`);
      }),
    );
}

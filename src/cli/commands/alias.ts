import type { Command } from 'commander';
import type { AliasChange } from '../../core/registry-api.js';
import { type CommandKit, examples } from '../command-kit.js';
import { formatTime, table } from '../format.js';
import { parseVersionArg } from '../parse-args.js';

const v = (n: number | null) => (n === null ? 'none' : `v${n}`);

/** `fraud@production -> v4 (was v3)`, or that nothing changed. */
export function aliasChangeText(c: AliasChange): string {
  if (!c.changed) {
    return c.version === null
      ? `${c.model}@${c.alias} does not exist (nothing to do)`
      : `${c.model}@${c.alias} already points to v${c.version} (unchanged)`;
  }
  return c.version === null
    ? `${c.model}@${c.alias} deleted (was ${v(c.previousVersion)})`
    : `${c.model}@${c.alias} -> v${c.version} (was ${v(c.previousVersion)})`;
}

export function registerAlias(program: Command, kit: CommandKit): void {
  const alias = program
    .command('alias')
    .description('move, delete and trace aliases (named pointers such as production)')
    .addHelpText(
      'after',
      examples(
        'mvault alias set fraud-detector production 4',
        'mvault alias rm fraud-detector canary',
        'mvault alias history fraud-detector production',
      ),
    );

  alias
    .command('set')
    .description('point ALIAS of model NAME at VERSION')
    .argument('<name>', 'model name')
    .argument('<alias>', 'alias, e.g. production')
    .argument('<version>', 'version number (4 or v4)', parseVersionArg)
    .addHelpText('after', examples('mvault alias set fraud-detector production 4'))
    .action(
      kit.action(async (run, name: string, aliasName: string, version: number) => {
        const change = await (await run.registry()).setAlias(name, aliasName, version);
        run.emit(change, () => aliasChangeText(change));
      }),
    );

  alias
    .command('rm')
    .description('delete ALIAS of model NAME')
    .argument('<name>', 'model name')
    .argument('<alias>', 'alias')
    .addHelpText('after', examples('mvault alias rm fraud-detector canary'))
    .action(
      kit.action(async (run, name: string, aliasName: string) => {
        const change = await (await run.registry()).deleteAlias(name, aliasName);
        run.emit(change, () => aliasChangeText(change));
      }),
    );

  alias
    .command('history')
    .description("every move of the model's aliases (or of one), oldest first")
    .argument('<name>', 'model name')
    .argument('[alias]', 'only this alias')
    .addHelpText('after', examples('mvault alias history fraud-detector production'))
    .action(
      kit.action(async (run, name: string, aliasName: string | undefined) => {
        const items = await (await run.registry()).aliasHistory(name, aliasName);
        run.emit({ items }, () =>
          items.length === 0
            ? 'no alias changes'
            : table(
                ['SEQ', 'TIME', 'ACTOR', 'ALIAS', 'ACTION', 'VERSION', 'PREVIOUS'],
                items.map((h) => [
                  String(h.seq),
                  formatTime(h.time),
                  h.actor,
                  h.alias,
                  h.action,
                  v(h.version),
                  v(h.previousVersion),
                ]),
                { right: [0] },
              ),
        );
      }),
    );
}

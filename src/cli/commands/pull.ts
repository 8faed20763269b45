import { resolve } from 'node:path';
import type { Command } from 'commander';
import { type CommandKit, examples } from '../command-kit.js';
import { formatBytes } from '../format.js';

export function registerPull(program: Command, kit: CommandKit): void {
  program
    .command('pull')
    .description("write a version's files to a directory, every byte verified")
    .argument('<ref>', 'version: NAME, NAME@4, NAME@ALIAS, models:/NAME/4, …')
    .argument('[dest]', 'an empty or new directory (default: ./<name>-v<version>)')
    .addHelpText(
      'after',
      examples(
        'mvault pull fraud-detector@production ./deploy',
        'mvault pull fraud-detector@4',
        'mvault pull models:/fraud-detector/Production ./deploy',
      ),
    )
    .action(
      kit.action(async (run, ref: string, dest: string | undefined) => {
        const registry = await run.registry();
        // Pin the number first, so an alias moving meanwhile cannot change what is written.
        const target = await registry.getVersion(ref);
        const out = resolve(
          run.cli.cwd,
          dest ?? `${target.model.split('/').pop()}-v${target.version}`,
        );
        const bar = run.progress('pulling');
        const pulled = await registry.pull(`${target.model}@${target.version}`, out, {
          ...(bar ? { onProgress: bar.onProgress } : {}),
          signal: run.signal(),
        });
        bar?.stop();
        run.emit({ ...pulled, dest: out }, () => {
          const v = pulled.version;
          return `${v.model} v${v.version} -> ${out}  ${pulled.files} file${pulled.files === 1 ? '' : 's'}, ${formatBytes(pulled.bytes)} (verified)`;
        });
      }),
    );
}

import type { Command } from 'commander';
import { isRegistryDirectory } from '../../registry/registry-root.js';
import { type CommandKit, examples } from '../command-kit.js';
import { initLocation } from '../registry-location.js';

export function registerInit(program: Command, kit: CommandKit): void {
  program
    .command('init')
    .description('create an empty registry in PATH/.modelvault (default: ./.modelvault)')
    .argument('[path]', 'directory to create .modelvault in (default: the current directory)')
    .addHelpText(
      'after',
      examples('mvault init', 'mvault init ~/projects/fraud', 'mvault --registry /srv/models init'),
    )
    .action(
      kit.action(async (run, path: string | undefined) => {
        const root = initLocation(
          { flag: run.globals.registry, env: run.cli.env, cwd: run.cli.cwd },
          path,
        );
        const existed = await isRegistryDirectory(root);
        await run.createRegistry(root);
        run.emit({ path: root, created: !existed }, () =>
          existed ? `registry already exists at ${root}` : `created an empty registry at ${root}`,
        );
      }),
    );
}

import type { Command } from 'commander';
import { isRegistryDirectory } from '../../registry/registry-root.js';
import { type CommandKit, examples } from '../command-kit.js';
import { type BlobsFlags, blobsFromFlags, initLocation } from '../registry-location.js';

export function registerInit(program: Command, kit: CommandKit): void {
  program
    .command('init')
    .description('create an empty registry in PATH/.modelvault (default: ./.modelvault)')
    .argument('[path]', 'directory to create .modelvault in (default: the current directory)')
    .option('--blobs <s3-url>', 'keep the packs in s3://bucket/prefix (metadata stays local)')
    .option('--s3-endpoint <url>', 'S3-compatible server for --blobs (default: AWS)')
    .option('--s3-region <region>', 'region for --blobs (default: $AWS_REGION or us-east-1)')
    .addHelpText(
      'after',
      examples(
        'mvault init',
        'mvault init ~/projects/fraud',
        'mvault --registry /srv/models init',
        'mvault init --blobs s3://models/team-a --s3-endpoint http://minio:9000',
      ),
    )
    .action(
      kit.action(async (run, path: string | undefined, flags: BlobsFlags) => {
        const blobs = blobsFromFlags(flags);
        const root = initLocation(
          { flag: run.globals.registry, env: run.cli.env, cwd: run.cli.cwd },
          path,
        );
        const existed = await isRegistryDirectory(root);
        await run.createRegistry(root, blobs);
        run.emit({ path: root, created: !existed }, () =>
          existed ? `registry already exists at ${root}` : `created an empty registry at ${root}`,
        );
      }),
    );
}

import { resolve } from 'node:path';
import type { Command } from 'commander';
import { VerificationError } from '../../core/errors.js';
import { type CommandKit, examples } from '../command-kit.js';
import { formatBytes } from '../format.js';
import { collect, verificationText, verifyRef } from './verify.js';

export function registerPull(program: Command, kit: CommandKit): void {
  program
    .command('pull')
    .description("write a version's files to a directory, every byte verified")
    .argument('<ref>', 'version: NAME, NAME@4, NAME@ALIAS, models:/NAME/4, …')
    .argument('[dest]', 'an empty or new directory (default: ./<name>-v<version>)')
    .option('--verify', 'refuse an unsigned or mismatching version (before writing anything)')
    .option('--key <file>', 'with --verify: trusted ed25519 public key, PEM (repeatable)', collect)
    .addHelpText(
      'after',
      examples(
        'mvault pull fraud-detector@production ./deploy',
        'mvault pull fraud-detector@4',
        'mvault pull models:/fraud-detector/Production ./deploy',
        'mvault pull fraud-detector@production ./deploy --verify --key release.pub',
      ),
    )
    .action(
      kit.action(
        async (
          run,
          ref: string,
          dest: string | undefined,
          opts: { verify?: boolean; key?: string[] },
        ) => {
          const registry = await run.registry();
          // Pin the number first, so an alias moving meanwhile cannot change what is written.
          const target = await registry.getVersion(ref);
          if (opts.verify || opts.key) {
            const checked = await verifyRef(
              run,
              `${target.model}@${target.version}`,
              opts.key ?? [],
            );
            if (!checked.ok) {
              throw new VerificationError(
                `refusing to pull ${target.model}@${target.version}: ${checked.problems.join('; ')}`,
                { version: `${target.model}@${target.version}` },
              );
            }
            run.note(verificationText(checked));
          }
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
        },
      ),
    );
}

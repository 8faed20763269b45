import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { InvalidArgumentError } from '../../core/errors.js';
import {
  generateSigningKeyPair,
  keyIdOf,
  loadPrivateKey,
  loadPublicKey,
  signVersion,
} from '../../core/model-signing.js';
import { type CommandKit, examples } from '../command-kit.js';
import type { Run } from '../run.js';

/** Reads a key file relative to the working directory. @throws InvalidArgumentError */
export function readKeyFile(run: Run, path: string): string {
  try {
    return readFileSync(resolve(run.cli.cwd, path), 'utf8');
  } catch (e) {
    throw new InvalidArgumentError(`cannot read key file '${path}': ${(e as Error).message}`);
  }
}

export function registerKeygen(program: Command, kit: CommandKit): void {
  program
    .command('keygen')
    .description('write a new ed25519 signing key pair (PEM): PREFIX.key and PREFIX.pub')
    .argument('[prefix]', 'file name prefix', 'mvault-signing')
    .addHelpText(
      'after',
      examples('mvault keygen release', 'mvault sign fraud@4 --key release.key'),
    )
    .action(
      kit.action(async (run, prefix: string) => {
        const privatePath = resolve(run.cli.cwd, `${prefix}.key`);
        const publicPath = resolve(run.cli.cwd, `${prefix}.pub`);
        for (const p of [privatePath, publicPath]) {
          if (existsSync(p)) throw new InvalidArgumentError(`'${p}' exists: not overwriting it`);
        }
        const pair = generateSigningKeyPair();
        writeFileSync(privatePath, pair.privateKey, { mode: 0o600, flag: 'wx' });
        writeFileSync(publicPath, pair.publicKey, { mode: 0o644, flag: 'wx' });
        const keyId = keyIdOf(loadPublicKey(pair.publicKey));
        run.emit(
          { keyId, privateKey: privatePath, publicKey: publicPath },
          () => `key ${keyId}\n  private ${privatePath} (keep it secret)\n  public  ${publicPath}`,
        );
      }),
    );
}

export function registerSign(program: Command, kit: CommandKit): void {
  program
    .command('sign')
    .description(
      'sign a version (ed25519; in-toto statement in a DSSE envelope, OpenSSF model-signing format) and attach the signature',
    )
    .argument('<ref>', 'version: NAME@4, NAME@ALIAS, models:/NAME/4, …')
    .requiredOption('--key <file>', 'ed25519 private key, PEM (see mvault keygen)')
    .option('--output <file>', 'also write the signature bundle (JSON) to this file')
    .addHelpText(
      'after',
      examples('mvault sign fraud-detector@4 --key release.key', 'mvault verify fraud-detector@4'),
    )
    .action(
      kit.action(async (run, ref: string, opts: { key: string; output?: string }) => {
        const key = loadPrivateKey(readKeyFile(run, opts.key));
        const registry = await run.registry();
        const version = await registry.getVersion(ref);
        const pinned = `${version.model}@${version.version}`;
        const manifest = await registry.getManifest(pinned);
        const bundle = signVersion(
          {
            model: version.model,
            version: version.version,
            digest: version.digest,
            files: manifest.files,
          },
          key,
        );
        const publicKey = loadPublicKey(readKeyFile(run, opts.key));
        const signature = await registry.addSignature(pinned, {
          bundle,
          publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        });
        if (opts.output) {
          writeFileSync(resolve(run.cli.cwd, opts.output), `${JSON.stringify(bundle, null, 2)}\n`);
        }
        run.emit(
          signature,
          () => `signed ${pinned} sha256:${version.digest}\n  key ${signature.keyId}`,
        );
      }),
    );
}

import type { Command } from 'commander';
import { ERROR_CODES } from '../../core/errors.js';
import { loadPublicKey } from '../../core/model-signing.js';
import { type VersionVerification, verifyVersion } from '../../core/verify-version.js';
import { type CommandKit, examples } from '../command-kit.js';
import { formatTime } from '../format.js';
import type { Run } from '../run.js';
import { readKeyFile } from './sign.js';

/** Commander's accumulator for a repeatable option. */
export const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Checks `ref`'s signatures with the given public key files (see core/verify-version). */
export async function verifyRef(
  run: Run,
  ref: string,
  keyFiles: readonly string[],
): Promise<VersionVerification> {
  const trustedKeys = keyFiles.map((f) => loadPublicKey(readKeyFile(run, f)));
  return verifyVersion(await run.registry(), ref, { trustedKeys });
}

export function verificationText(r: VersionVerification): string {
  const lines = [
    `${r.model} v${r.version} sha256:${r.digest}: ${r.ok ? 'verified' : 'NOT verified'}`,
    ...r.signatures.map(
      (s) =>
        `  ${s.status.padEnd(9)} key ${s.keyId}  by ${s.signedBy} at ${formatTime(s.createdAt)}${s.problems.length ? `\n            ${s.problems.join('; ')}` : ''}`,
    ),
  ];
  if (!r.trustedKeysGiven && r.signatures.length > 0) {
    lines.push('  (no --key given: checked with each signature’s own public key)');
  }
  return lines.join('\n');
}

export function registerVerify(program: Command, kit: CommandKit): void {
  program
    .command('verify')
    .description("check a version's signatures against its files and digest")
    .argument('<ref>', 'version: NAME@4, NAME@ALIAS, models:/NAME/4, …')
    .option('--key <file>', 'trusted ed25519 public key, PEM (repeatable)', collect)
    .addHelpText(
      'after',
      `${examples(
        'mvault verify fraud-detector@production --key release.pub',
        'mvault verify fraud-detector@4 --json',
      )}
Exit code 0 when the version has a valid signature (by a --key when given) and no invalid
one; 4 otherwise (unsigned, tampered, over other files, or by an untrusted key only).
`,
    )
    .action(
      kit.action(async (run, ref: string, opts: { key?: string[] }) => {
        const result = await verifyRef(run, ref, opts.key ?? []);
        run.emit(result, () => verificationText(result));
        if (!result.ok) run.fail(ERROR_CODES.VERIFICATION_FAILED.exit, result.problems.join('; '));
      }),
    );
}

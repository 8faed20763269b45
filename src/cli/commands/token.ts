/**
 * `mvault token create|ls|revoke|revoke-capabilities`: API tokens, for CI jobs
 * (MODELVAULT_TOKEN) and MLflow clients (MLFLOW_TRACKING_TOKEN). create prints the secret
 * once; it cannot be shown again. revoke-capabilities kills the signed request capabilities
 * (signed URLs, LFS action headers) minted until now.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from '../../core/errors.js';
import { type CommandKit, examples } from '../command-kit.js';
import { formatTime, table } from '../format.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** `--expires-in DAYS` as milliseconds. @throws InvalidArgumentError */
export function parseDays(text: string): number {
  if (!/^[0-9]{1,5}(\.[0-9]+)?$/.test(text) || Number(text) <= 0) {
    throw new InvalidArgumentError(`invalid --expires-in '${text.slice(0, 40)}': a number of days`);
  }
  return Math.round(Number(text) * DAY_MS);
}

const when = (ms: number | null, none: string) => (ms === null ? none : formatTime(ms));

export function registerToken(program: Command, kit: CommandKit): void {
  const token = program
    .command('token')
    .description('manage API tokens (Bearer credentials for scripts and MLflow clients)')
    .addHelpText(
      'after',
      examples(
        'mvault token create ci --expires-in 90',
        'mvault token ls',
        'mvault token revoke mvt_AbCd1234',
      ),
    );

  token
    .command('create')
    .description('create a token and print it once')
    .argument('<name>', 'what the token is for (shown in listings)')
    .option('--user <name>', 'owner (an admin may create tokens for others; local: required)')
    .option('--expires-in <days>', 'the token stops working after this many days')
    .addHelpText(
      'after',
      examples(
        'mvault token create laptop',
        'mvault token create ci-bot --user ci-bot --expires-in 30',
        'export MLFLOW_TRACKING_TOKEN=$(mvault --json token create mlflow | jq -r .token)',
      ),
    )
    .action(
      kit.action(async (run, name: string, opts: { user?: string; expiresIn?: string }) => {
        const created = await (await run.access()).createToken({
          name,
          ...(opts.user !== undefined ? { user: opts.user } : {}),
          ...(opts.expiresIn !== undefined ? { expiresInMs: parseDays(opts.expiresIn) } : {}),
        });
        run.emit(created, () => {
          run.note(`Created token ${created.id} for ${created.user}; it is shown only this once:`);
          return created.token;
        });
      }),
    );

  token
    .command('ls')
    .description('list tokens (yours; an admin may name a user)')
    .option('--user <name>', "another user's tokens (admin)")
    .addHelpText('after', examples('mvault token ls', 'mvault token ls --user ci-bot'))
    .action(
      kit.action(async (run, opts: { user?: string }) => {
        const tokens = await (await run.access()).listTokens(opts.user);
        run.emit({ tokens }, () =>
          tokens.length === 0
            ? 'No tokens'
            : table(
                ['ID', 'NAME', 'USER', 'CREATED', 'EXPIRES', 'LAST USED', 'STATUS'],
                tokens.map((t) => [
                  t.id,
                  t.name,
                  t.user,
                  formatTime(t.createdAt),
                  when(t.expiresAt, 'never'),
                  when(t.lastUsedAt, '-'),
                  t.revokedAt !== null ? 'revoked' : 'active',
                ]),
              ),
        );
      }),
    );

  token
    .command('revoke')
    .description('revoke a token by its id (idempotent)')
    .argument('<id>', 'the id from token ls (mvt_ + 8 characters)')
    .addHelpText('after', examples('mvault token revoke mvt_AbCd1234'))
    .action(
      kit.action(async (run, id: string) => {
        const t = await (await run.access()).revokeToken(id);
        run.emit(t, () => `Revoked token ${t.id} (${t.name}) of ${t.user}`);
      }),
    );

  token
    .command('revoke-capabilities')
    .description(
      'revoke every signed download URL and Git LFS action header minted until now (yours; an admin may name a user); tokens keep working',
    )
    .option('--user <name>', "another user's (admin; local: required)")
    .addHelpText(
      'after',
      examples(
        'mvault token revoke-capabilities',
        'mvault token revoke-capabilities --user ci-bot',
      ),
    )
    .action(
      kit.action(async (run, opts: { user?: string }) => {
        const r = await (await run.access()).revokeCapabilities(opts.user);
        run.emit(
          r,
          () => `Revoked the signed URLs and LFS action headers of ${r.user} minted until now`,
        );
      }),
    );
}

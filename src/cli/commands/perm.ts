/**
 * `mvault perm grant|revoke|ls|default`: who may READ, EDIT or MANAGE a model, an
 * experiment or a Git LFS repository (MLflow's levels; MANAGE ⊇ EDIT ⊇ READ), and the level of users without a
 * grant. Over a server: MANAGE on the resource (or admin) for grants, admin for the rest.
 */
import type { Command } from 'commander';
import {
  checkPermissionLevel,
  type PermissionLevel,
  type ResourceKind,
} from '../../core/auth-api.js';
import { InvalidArgumentError } from '../../core/errors.js';
import { type CommandKit, examples } from '../command-kit.js';
import { table } from '../format.js';

interface Target {
  readonly model?: string;
  readonly experiment?: string;
  readonly lfs?: string;
}

function target(opts: Target, required: true): { kind: ResourceKind; resource: string };
function target(
  opts: Target,
  required: false,
): { kind: ResourceKind; resource: string } | undefined;
function target(opts: Target, required: boolean) {
  const given = [
    opts.model !== undefined && { kind: 'registered_model' as const, resource: opts.model },
    opts.experiment !== undefined && { kind: 'experiment' as const, resource: opts.experiment },
    opts.lfs !== undefined && { kind: 'lfs_repo' as const, resource: opts.lfs },
  ].filter((t) => t !== false);
  if (given.length > 1) {
    throw new InvalidArgumentError('give one of --model, --experiment or --lfs');
  }
  if (given[0]) return given[0];
  if (required) {
    throw new InvalidArgumentError(
      'name the resource: --model NAME, --experiment ID or --lfs NAMESPACE/REPO',
    );
  }
  return undefined;
}

const KIND_WORD: Record<ResourceKind, string> = {
  registered_model: 'model',
  experiment: 'experiment',
  lfs_repo: 'LFS repository',
};

function level(text: string): PermissionLevel {
  return checkPermissionLevel(text.toUpperCase());
}

export function registerPerm(program: Command, kit: CommandKit): void {
  const perm = program
    .command('perm')
    .description(
      'manage permissions on models, experiments and LFS repositories (READ, EDIT, MANAGE)',
    )
    .addHelpText(
      'after',
      examples(
        'mvault perm grant bob READ --model fraud-detector',
        'mvault perm revoke bob --model fraud-detector',
        'mvault perm ls --model fraud-detector',
        'mvault perm default NO_PERMISSIONS',
      ),
    );
  const resourceOptions = (c: Command) =>
    c
      .option('--model <name>', 'a registered model')
      .option('--experiment <id>', 'an MLflow experiment id')
      .option('--lfs <namespace/repo>', 'a Git LFS repository (its endpoint /lfs/NAMESPACE/REPO)');

  resourceOptions(
    perm
      .command('grant')
      .description("set a user's level on a model or experiment (replaces an earlier grant)")
      .argument('<user>', 'user name')
      .argument('<level>', 'NO_PERMISSIONS, READ, EDIT or MANAGE'),
  )
    .addHelpText(
      'after',
      examples(
        'mvault perm grant bob EDIT --model fraud-detector',
        'mvault perm grant ci MANAGE --experiment 3',
        'mvault perm grant bob READ --lfs team/llama-ft',
      ),
    )
    .action(
      kit.action(async (run, user: string, lvl: string, opts: Target) => {
        const t = target(opts, true);
        const p = await (await run.access()).grant({ user, ...t, level: level(lvl) });
        run.emit(p, () => `${p.user} has ${p.level} on ${KIND_WORD[p.kind]} ${p.resource}`);
      }),
    );

  resourceOptions(
    perm
      .command('revoke')
      .description("remove a user's grant (the default level applies again)")
      .argument('<user>', 'user name'),
  )
    .addHelpText('after', examples('mvault perm revoke bob --model fraud-detector'))
    .action(
      kit.action(async (run, user: string, opts: Target) => {
        const t = target(opts, true);
        const deleted = await (await run.access()).revoke(user, t.kind, t.resource);
        run.emit({ user, ...t, deleted }, () =>
          deleted
            ? `Removed ${user}'s grant on ${t.resource}`
            : `${user} had no grant on ${t.resource}`,
        );
      }),
    );

  resourceOptions(
    perm
      .command('ls')
      .description('list explicit grants (of a resource, of a user, or all)')
      .option('--user <name>', "one user's grants"),
  )
    .addHelpText(
      'after',
      examples(
        'mvault perm ls --model fraud-detector',
        'mvault perm ls --user bob',
        'mvault --json perm ls',
      ),
    )
    .action(
      kit.action(async (run, opts: Target & { user?: string }) => {
        const t = target(opts, false);
        const access = await run.access();
        const permissions = await access.listPermissions({
          ...(t ?? {}),
          ...(opts.user !== undefined ? { user: opts.user } : {}),
        });
        run.emit({ permissions }, () =>
          permissions.length === 0
            ? 'No grants'
            : table(
                ['USER', 'KIND', 'RESOURCE', 'LEVEL'],
                permissions.map((p) => [p.user, p.kind, p.resource, p.level]),
              ),
        );
      }),
    );

  perm
    .command('default')
    .description('show or set the level of users on resources they have no grant for')
    .argument('[level]', 'NO_PERMISSIONS, READ (the default), EDIT or MANAGE')
    .addHelpText('after', examples('mvault perm default', 'mvault perm default NO_PERMISSIONS'))
    .action(
      kit.action(async (run, lvl: string | undefined) => {
        const access = await run.access();
        const now =
          lvl === undefined
            ? await access.defaultPermission()
            : await access.setDefaultPermission(level(lvl));
        run.emit({ default: now }, () => `Default permission: ${now}`);
      }),
    );
}

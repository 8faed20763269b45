/**
 * `mvault perm grant|revoke|ls|default`: who may READ, EDIT or MANAGE a model or an
 * experiment (MLflow's levels; MANAGE ⊇ EDIT ⊇ READ), and the level of users without a
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
}

function target(opts: Target, required: true): { kind: ResourceKind; resource: string };
function target(
  opts: Target,
  required: false,
): { kind: ResourceKind; resource: string } | undefined;
function target(opts: Target, required: boolean) {
  if (opts.model !== undefined && opts.experiment !== undefined) {
    throw new InvalidArgumentError('give --model or --experiment, not both');
  }
  if (opts.model !== undefined) return { kind: 'registered_model' as const, resource: opts.model };
  if (opts.experiment !== undefined) {
    return { kind: 'experiment' as const, resource: opts.experiment };
  }
  if (required)
    throw new InvalidArgumentError('name the resource: --model NAME or --experiment ID');
  return undefined;
}

function level(text: string): PermissionLevel {
  return checkPermissionLevel(text.toUpperCase());
}

export function registerPerm(program: Command, kit: CommandKit): void {
  const perm = program
    .command('perm')
    .description('manage permissions on models and experiments (READ, EDIT, MANAGE)')
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
      .option('--experiment <id>', 'an MLflow experiment id');

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
      ),
    )
    .action(
      kit.action(async (run, user: string, lvl: string, opts: Target) => {
        const t = target(opts, true);
        const p = await (await run.access()).grant({ user, ...t, level: level(lvl) });
        run.emit(
          p,
          () =>
            `${p.user} has ${p.level} on ${p.kind === 'experiment' ? 'experiment' : 'model'} ${p.resource}`,
        );
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

/**
 * Permissions on registered models, experiments and Git LFS repositories (MLflow's READ ⊂ EDIT ⊂ MANAGE, plus
 * NO_PERMISSIONS). A user's level on a resource is, in order:
 *   1. MANAGE for an admin;
 *   2. the explicit grant for (user, resource), if any — it may be lower than the default;
 *   3. the registry-wide default (`auth_settings.default_permission`, READ unless set).
 * The creator of a model or experiment gets an explicit MANAGE grant in the creating
 * transaction (`grantCreator`, called by ModelService and TrackingService), when the
 * creator is a registered user (LfsService for an LFS repository's first upload or lock).
 *
 * Grants are stored by resource id (models.id, experiments.id), so a renamed model keeps
 * them and a new model reusing a deleted model's name does not inherit them. Changes append
 * audit events: permission.granted, permission.revoked (subject: the model name,
 * `experiment:<id>`, or `lfs:<namespace>/<repo>`), permission.default_set (subject `registry`).
 */
import type { Kysely } from 'kysely';
import {
  checkPermissionLevel,
  checkResourceKind,
  levelIncludes,
  type Permission,
  type PermissionLevel,
  type ResourceKind,
} from '../core/auth-api.js';
import { InvalidArgumentError, NotFoundError } from '../core/errors.js';
import { validateUserName } from '../core/names.js';
import type { LfsTables } from '../metadata/lfs-schema.js';
import type { RegistryDB } from '../metadata/schema.js';
import type { ReadScope } from '../metadata/search/read-scope.js';
import type { AuditService } from './audit-service.js';
import type { RegistryContext } from './registry-context.js';
import type { Principal } from './user-service.js';

const DEFAULT_KEY = 'default_permission';
export const BUILTIN_DEFAULT_PERMISSION: PermissionLevel = 'READ';

/** A resource as the routes name it: a model by name, an experiment by id or via a run. */
export type ResourceRef =
  | { readonly kind: 'registered_model'; readonly name: string }
  | { readonly kind: 'experiment'; readonly id: string }
  | { readonly kind: 'experiment_name'; readonly name: string }
  | { readonly kind: 'run'; readonly id: string }
  /** `name` is `<namespace>/<repo>`. */
  | { readonly kind: 'lfs_repo'; readonly name: string };

/** A resource found in the database: its kind, id and the name to show in errors. */
export interface ResolvedResource {
  readonly kind: ResourceKind;
  readonly id: number;
  readonly label: string;
}

function auditSubject(kind: ResourceKind, label: string, id: number): string {
  if (kind === 'registered_model') return label;
  return kind === 'lfs_repo' ? `lfs:${label}` : `experiment:${id}`;
}

/** What errors call a kind of resource. */
export function resourceWord(kind: ResourceKind): string {
  return { registered_model: 'model', experiment: 'experiment', lfs_repo: 'LFS repository' }[kind];
}

/**
 * Grants MANAGE to `actor` on a resource it just created, when `actor` is a registered
 * user (embedded use acts as OS users, who get no rows). Runs inside the creating
 * write transaction.
 */
export async function grantCreator(
  trx: Kysely<RegistryDB>,
  audit: AuditService,
  created: { kind: ResourceKind; id: number; label: string },
  actor: string,
  now: number,
): Promise<void> {
  const user = await trx
    .selectFrom('users')
    .select('name')
    .where('name', '=', actor)
    .executeTakeFirst();
  if (!user) return;
  await trx
    .insertInto('permissions')
    .values({
      user_name: user.name,
      resource_kind: created.kind,
      resource_id: created.id,
      level: 'MANAGE',
      granted_at: now,
    })
    .onConflict((oc) => oc.columns(['user_name', 'resource_kind', 'resource_id']).doNothing())
    .execute();
  await audit.append(trx, {
    actor,
    action: 'permission.granted',
    subject: auditSubject(created.kind, created.label, created.id),
    data: { user: user.name, kind: created.kind, level: 'MANAGE', creator: true },
    time: now,
  });
}

export class PermissionService {
  constructor(
    private readonly ctx: RegistryContext,
    private readonly audit: AuditService,
  ) {}

  /** The registry's tables, and the LFS repositories (present where the LFS migrations ran). */
  private get db(): Kysely<RegistryDB & LfsTables> {
    return this.ctx.database.db as unknown as Kysely<RegistryDB & LfsTables>;
  }

  /** The level of users on resources they have no grant for. */
  async defaultLevel(): Promise<PermissionLevel> {
    const row = await this.db
      .selectFrom('auth_settings')
      .select('value')
      .where('key', '=', DEFAULT_KEY)
      .executeTakeFirst();
    return row ? checkPermissionLevel(JSON.parse(row.value)) : BUILTIN_DEFAULT_PERMISSION;
  }

  async setDefaultLevel(level: unknown, actor: string): Promise<PermissionLevel> {
    const valid = checkPermissionLevel(level);
    await this.ctx.database.writeTransaction(async (trx) => {
      await trx
        .insertInto('auth_settings')
        .values({ key: DEFAULT_KEY, value: JSON.stringify(valid) })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value: JSON.stringify(valid) }))
        .execute();
      await this.audit.append(trx, {
        actor,
        action: 'permission.default_set',
        subject: 'registry',
        data: { level: valid },
      });
    });
    return valid;
  }

  /** The resource a reference names, or undefined when it does not exist (deleted ones do). */
  async resolve(ref: ResourceRef): Promise<ResolvedResource | undefined> {
    switch (ref.kind) {
      case 'registered_model': {
        const row = await this.db
          .selectFrom('registered_models')
          .select(['id', 'name'])
          .where('name', '=', ref.name)
          .executeTakeFirst();
        return row && { kind: 'registered_model', id: Number(row.id), label: row.name };
      }
      case 'experiment': {
        if (!/^[0-9]{1,15}$/.test(ref.id)) return undefined;
        const row = await this.db
          .selectFrom('experiments')
          .select('id')
          .where('id', '=', Number(ref.id))
          .executeTakeFirst();
        return row && { kind: 'experiment', id: Number(row.id), label: String(row.id) };
      }
      case 'experiment_name': {
        const row = await this.db
          .selectFrom('experiments')
          .select('id')
          .where('name', '=', ref.name)
          .executeTakeFirst();
        return row && { kind: 'experiment', id: Number(row.id), label: String(row.id) };
      }
      case 'lfs_repo': {
        const slash = ref.name.indexOf('/');
        if (slash < 0) return undefined;
        const row = await this.db
          .selectFrom('lfs_repos')
          .select(['id', 'namespace', 'repo'])
          .where('namespace', '=', ref.name.slice(0, slash))
          .where('repo', '=', ref.name.slice(slash + 1))
          .executeTakeFirst();
        return (
          row && { kind: 'lfs_repo', id: Number(row.id), label: `${row.namespace}/${row.repo}` }
        );
      }
      case 'run': {
        const row = await this.db
          .selectFrom('runs')
          .select('experiment_id')
          .where('id', '=', ref.id)
          .executeTakeFirst();
        if (!row) return undefined;
        const id = Number(row.experiment_id);
        return { kind: 'experiment', id, label: String(id) };
      }
    }
  }

  /** `principal`'s level on one resource. */
  async levelOf(principal: Principal, resource: ResolvedResource): Promise<PermissionLevel> {
    return (await this.levelsOf(principal, resource.kind, [resource.id])).get(resource.id)!;
  }

  /** `principal`'s level on each of `ids` (of one kind). */
  async levelsOf(
    principal: Principal,
    kind: ResourceKind,
    ids: readonly number[],
  ): Promise<Map<number, PermissionLevel>> {
    const out = new Map<number, PermissionLevel>();
    if (principal.admin) {
      for (const id of ids) out.set(id, 'MANAGE');
      return out;
    }
    const fallback = await this.defaultLevel();
    for (const id of ids) out.set(id, fallback);
    const unique = [...new Set(ids)];
    for (let i = 0; i < unique.length; i += 500) {
      const rows = await this.db
        .selectFrom('permissions')
        .select(['resource_id', 'level'])
        .where('user_name', '=', principal.name)
        .where('resource_kind', '=', kind)
        .where('resource_id', 'in', unique.slice(i, i + 500))
        .execute();
      for (const r of rows) out.set(Number(r.resource_id), checkPermissionLevel(r.level));
    }
    return out;
  }

  /**
   * What lists and searches for `principal` are scoped to (metadata/search/read-scope.ts),
   * or undefined for an admin, who reads everything. Pass it to the searches so their pages
   * hold only readable rows and are full.
   */
  async readScope(principal: Principal): Promise<ReadScope | undefined> {
    if (principal.admin) return undefined;
    return {
      user: principal.name,
      defaultReadable: levelIncludes(await this.defaultLevel(), 'READ'),
    };
  }

  /** The names among `names` of models `principal` may READ (missing ones are left out). */
  async readableModels(principal: Principal, names: readonly string[]): Promise<Set<string>> {
    if (names.length === 0) return new Set();
    const byId = new Map<number, string>();
    const unique = [...new Set(names)];
    for (let i = 0; i < unique.length; i += 500) {
      const rows = await this.db
        .selectFrom('registered_models')
        .select(['id', 'name'])
        .where('name', 'in', unique.slice(i, i + 500))
        .execute();
      for (const r of rows) byId.set(Number(r.id), r.name);
    }
    const levels = await this.levelsOf(principal, 'registered_model', [...byId.keys()]);
    const out = new Set<string>();
    for (const [id, name] of byId) if (levels.get(id) !== 'NO_PERMISSIONS') out.add(name);
    return out;
  }

  /** The ids among `ids` of experiments `principal` may READ. */
  async readableExperiments(principal: Principal, ids: readonly string[]): Promise<Set<string>> {
    const numeric = ids.filter((id) => /^[0-9]{1,15}$/.test(id)).map(Number);
    const levels = await this.levelsOf(principal, 'experiment', numeric);
    return new Set(
      [...levels].filter(([, level]) => level !== 'NO_PERMISSIONS').map(([id]) => String(id)),
    );
  }

  private async mustResolve(kind: ResourceKind, resource: unknown): Promise<ResolvedResource> {
    if (typeof resource !== 'string' || resource === '' || resource.length > 1000) {
      throw new InvalidArgumentError(
        'resource must be a model name, an experiment id or an LFS <namespace>/<repo>',
      );
    }
    const ref: ResourceRef =
      kind === 'experiment' ? { kind, id: resource } : { kind, name: resource };
    const found = await this.resolve(ref);
    if (!found) {
      throw new NotFoundError(`${resourceWord(kind)} '${resource}' not found`, {
        kind,
        resource,
      });
    }
    return found;
  }

  /** Sets `user`'s level on a resource (replacing any earlier grant). */
  async grant(permission: Permission, actor: string): Promise<Permission> {
    const kind = checkResourceKind(permission.kind);
    const level = checkPermissionLevel(permission.level);
    const user = validateUserName(permission.user);
    const found = await this.mustResolve(kind, permission.resource);
    return this.ctx.database.writeTransaction(async (trx) => {
      const exists = await trx
        .selectFrom('users')
        .select('name')
        .where('name', '=', user)
        .executeTakeFirst();
      if (!exists) throw new NotFoundError(`user '${user}' not found`, { user });
      const now = this.ctx.now();
      await trx
        .insertInto('permissions')
        .values({
          user_name: user,
          resource_kind: kind,
          resource_id: found.id,
          level,
          granted_at: now,
        })
        .onConflict((oc) =>
          oc
            .columns(['user_name', 'resource_kind', 'resource_id'])
            .doUpdateSet({ level, granted_at: now }),
        )
        .execute();
      await this.audit.append(trx, {
        actor,
        action: 'permission.granted',
        subject: auditSubject(kind, found.label, found.id),
        data: { user, kind, level },
        time: now,
      });
      return { user, kind, resource: found.label, level };
    });
  }

  /** Removes an explicit grant. @returns whether there was one. */
  async revoke(
    user: string,
    kind: ResourceKind,
    resource: string,
    actor: string,
  ): Promise<boolean> {
    const valid = validateUserName(user);
    const found = await this.mustResolve(checkResourceKind(kind), resource);
    return this.ctx.database.writeTransaction(async (trx) => {
      const result = await trx
        .deleteFrom('permissions')
        .where('user_name', '=', valid)
        .where('resource_kind', '=', found.kind)
        .where('resource_id', '=', found.id)
        .executeTakeFirst();
      if (Number(result.numDeletedRows) === 0) return false;
      await this.audit.append(trx, {
        actor,
        action: 'permission.revoked',
        subject: auditSubject(found.kind, found.label, found.id),
        data: { user: valid, kind: found.kind },
      });
      return true;
    });
  }

  /** Explicit grants, filtered by resource and/or user. */
  async list(query: {
    kind?: ResourceKind;
    resource?: string;
    user?: string;
  }): Promise<Permission[]> {
    let q = this.db
      .selectFrom('permissions')
      .leftJoin('registered_models', (j) =>
        j
          .onRef('registered_models.id', '=', 'permissions.resource_id')
          .on('permissions.resource_kind', '=', 'registered_model'),
      )
      .select([
        'permissions.user_name',
        'permissions.resource_kind',
        'permissions.resource_id',
        'permissions.level',
        'registered_models.name as model_name',
      ]);
    if (query.user !== undefined) {
      q = q.where('permissions.user_name', '=', validateUserName(query.user));
    }
    if (query.kind !== undefined) {
      const kind = checkResourceKind(query.kind);
      q = q.where('permissions.resource_kind', '=', kind);
      if (query.resource !== undefined) {
        const found = await this.mustResolve(kind, query.resource);
        q = q.where('permissions.resource_id', '=', found.id);
      }
    }
    const rows = await q
      .orderBy('permissions.resource_kind')
      .orderBy('permissions.resource_id')
      .orderBy('permissions.user_name')
      .execute();
    // LFS repositories' names in a second query: their table belongs to the LFS
    // migrations, which a registry without the LFS server does not run (and then has no
    // such grants).
    const lfsIds = rows.filter((r) => r.resource_kind === 'lfs_repo').map((r) => r.resource_id);
    const lfsNames = new Map<number, string>();
    for (let i = 0; i < lfsIds.length; i += 500) {
      const repos = await this.db
        .selectFrom('lfs_repos')
        .select(['id', 'namespace', 'repo'])
        .where('id', 'in', lfsIds.slice(i, i + 500).map(Number))
        .execute();
      for (const r of repos) lfsNames.set(Number(r.id), `${r.namespace}/${r.repo}`);
    }
    return rows.map((r) => ({
      user: r.user_name,
      kind: r.resource_kind as ResourceKind,
      resource:
        r.resource_kind === 'registered_model'
          ? (r.model_name ?? String(r.resource_id))
          : (lfsNames.get(Number(r.resource_id)) ?? String(r.resource_id)),
      level: checkPermissionLevel(r.level),
    }));
  }
}

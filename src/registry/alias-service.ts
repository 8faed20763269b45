/**
 * Aliases: mutable named pointers to one version of a model. Every move is an audit
 * event (`alias.set`, `alias.deleted`, `alias.rolled_back`, subject `model@alias`), and the
 * audit trail is the alias's history: `aliasHistory` reads it and `rollback` replays it.
 *
 * Rollback is an undo: replaying the history as a stack (a set or delete pushes its
 * target, a rollback pops), the previous target is the nearest live entry below the top.
 * So set 3, set 4, set 5, rollback, rollback moves 5 → 4 → 3, and a third rollback fails.
 *
 * Setting and rolling back obey the alias's promotion policy (policy-service.ts), checked
 * in the same transaction; deleting an alias moves it to no version and is not guarded.
 */
import type { Kysely } from 'kysely';
import { ConflictError, NotFoundError } from '../core/errors.js';
import { validateAlias } from '../core/names.js';
import type { AliasChange, AliasHistoryEntry, MutationOptions } from '../core/registry-api.js';
import type { ModelVersionRow, RegisteredModelRow, RegistryDB } from '../metadata/schema.js';
import type { AuditService } from './audit-service.js';
import { checkCount } from './input-checks.js';
import { findModel, versionLabel } from './lookups.js';
import type { PolicyService } from './policy-service.js';
import { actorOf, type RegistryContext } from './registry-context.js';

const ACTIONS = {
  'alias.set': 'set',
  'alias.deleted': 'deleted',
  'alias.rolled_back': 'rolled_back',
} as const;

type AliasAction = keyof typeof ACTIONS;

interface AliasEventData {
  readonly alias: string;
  readonly version: number | null;
  readonly previousVersion: number | null;
}

export class AliasService {
  constructor(
    private readonly ctx: RegistryContext,
    private readonly audit: AuditService,
    private readonly policies: PolicyService,
  ) {}

  /**
   * @throws NotFoundError (model; version `model@N`, also when deleted),
   *   PolicyViolationError (the alias's promotion policy refuses the version).
   */
  async set(
    model: string,
    alias: string,
    version: number,
    options?: MutationOptions,
  ): Promise<AliasChange> {
    validateAlias(alias);
    checkCount(version, 'version');
    const actor = actorOf(this.ctx, options);
    return this.ctx.database.writeTransaction(async (trx) => {
      const m = await findModel(trx, model);
      const target = await this.liveVersion(trx, m, version);
      if (target === undefined) {
        throw new NotFoundError(`version '${versionLabel(m.name, version)}' not found`, {
          version: versionLabel(m.name, version),
        });
      }
      const current = await this.current(trx, m, alias);
      if (current?.version === version) {
        return { model: m.name, alias, version, previousVersion: version, changed: false };
      }
      await this.policies.enforce(trx, m, target, { kind: 'alias', name: alias });
      return this.move(
        trx,
        m,
        alias,
        { id: target.id, version },
        current?.version ?? null,
        actor,
        'alias.set',
      );
    });
  }

  /** Idempotent: `changed` is false when the alias did not exist. */
  async delete(model: string, alias: string, options?: MutationOptions): Promise<AliasChange> {
    validateAlias(alias);
    const actor = actorOf(this.ctx, options);
    return this.ctx.database.writeTransaction(async (trx) => {
      const m = await findModel(trx, model);
      const current = await this.current(trx, m, alias);
      if (!current) {
        return { model: m.name, alias, version: null, previousVersion: null, changed: false };
      }
      return this.move(trx, m, alias, null, current.version, actor, 'alias.deleted');
    });
  }

  /** Moves of one alias (or all of the model's), oldest first. */
  async history(model: string, alias?: string): Promise<AliasHistoryEntry[]> {
    if (alias !== undefined) validateAlias(alias);
    const db = this.ctx.database.db;
    const m = await findModel(db, model, { includeDeleted: true });
    return this.readHistory(db, m, alias);
  }

  /**
   * @throws ConflictError when there is no previous target or it was deleted;
   *   PolicyViolationError when the alias's policy refuses the previous target now.
   */
  async rollback(model: string, alias: string, options?: MutationOptions): Promise<AliasChange> {
    validateAlias(alias);
    const actor = actorOf(this.ctx, options);
    return this.ctx.database.writeTransaction(async (trx) => {
      const m = await findModel(trx, model);
      const stack: (number | null)[] = [];
      for (const e of await this.readHistory(trx, m, alias)) {
        if (e.action === 'rolled_back') popToPrevious(stack);
        else stack.push(e.version);
      }
      popToPrevious(stack);
      const target = stack[stack.length - 1];
      const subject = `${m.name}@${alias}`;
      if (target === undefined || target === null) {
        throw new ConflictError(`alias '${subject}' has no previous target to roll back to`, {
          model: m.name,
          alias,
        });
      }
      const row = await this.liveVersion(trx, m, target);
      if (row === undefined) {
        throw new ConflictError(
          `cannot roll back alias '${subject}': its previous target '${versionLabel(m.name, target)}' is deleted`,
          { model: m.name, alias, version: target },
        );
      }
      await this.policies.enforce(trx, m, row, { kind: 'alias', name: alias });
      const current = await this.current(trx, m, alias);
      return this.move(
        trx,
        m,
        alias,
        { id: row.id, version: target },
        current?.version ?? null,
        actor,
        'alias.rolled_back',
      );
    });
  }

  private async move(
    trx: Kysely<RegistryDB>,
    m: RegisteredModelRow,
    alias: string,
    target: { id: number; version: number } | null,
    previousVersion: number | null,
    actor: string,
    action: AliasAction,
  ): Promise<AliasChange> {
    const now = this.ctx.now();
    await trx
      .deleteFrom('aliases')
      .where('model_id', '=', m.id)
      .where('alias', '=', alias)
      .execute();
    if (target) {
      await trx
        .insertInto('aliases')
        .values({ model_id: m.id, alias, version_id: target.id, updated_at: now })
        .execute();
    }
    const data: AliasEventData = { alias, version: target?.version ?? null, previousVersion };
    await this.audit.append(trx, {
      actor,
      action,
      subject: `${m.name}@${alias}`,
      time: now,
      data: { ...data },
    });
    return { model: m.name, ...data, changed: true };
  }

  private async current(trx: Kysely<RegistryDB>, m: RegisteredModelRow, alias: string) {
    return trx
      .selectFrom('aliases as a')
      .innerJoin('model_versions as v', 'v.id', 'a.version_id')
      .select(['v.version'])
      .where('a.model_id', '=', m.id)
      .where('a.alias', '=', alias)
      .executeTakeFirst();
  }

  private liveVersion(
    trx: Kysely<RegistryDB>,
    m: RegisteredModelRow,
    version: number,
  ): Promise<ModelVersionRow | undefined> {
    return trx
      .selectFrom('model_versions')
      .selectAll()
      .where('model_id', '=', m.id)
      .where('version', '=', version)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
  }

  private async readHistory(
    db: Kysely<RegistryDB>,
    m: RegisteredModelRow,
    alias: string | undefined,
  ): Promise<AliasHistoryEntry[]> {
    const events = await this.audit.read(db, {
      actions: Object.keys(ACTIONS),
      ...(alias === undefined ? { model: m.name } : { subject: `${m.name}@${alias}` }),
    });
    return events.map((e) => {
      const data = e.data as AliasEventData;
      return {
        seq: e.seq,
        time: e.time,
        actor: e.actor,
        alias: data.alias,
        action: ACTIONS[e.action as AliasAction],
        version: data.version,
        previousVersion: data.previousVersion,
      };
    });
  }
}

/** Pops the current target, then any deletions beneath it: the top is the previous target. */
function popToPrevious(stack: (number | null)[]): void {
  stack.pop();
  while (stack.length > 0 && stack[stack.length - 1] === null) stack.pop();
}

/**
 * Registered models: create, read, describe, tag, soft-delete and restore. Every
 * mutation runs in one write transaction with its audit event.
 */
import type { Kysely } from 'kysely';
import {
  AlreadyExistsError,
  ConflictError,
  InvalidArgumentError,
  NotFoundError,
} from '../core/errors.js';
import { validateModelName, validateTagKey } from '../core/names.js';
import type {
  CreateModelInput,
  MutationOptions,
  PageOptions,
  RegisteredModel,
  SearchResult,
} from '../core/registry-api.js';
import type { RegisteredModelRow, RegistryDB } from '../metadata/schema.js';
import type { ReadScope } from '../metadata/search/read-scope.js';
import type { AuditService } from './audit-service.js';
import { hydrateModels } from './hydrate.js';
import { checkOptionalText, checkText, LIMITS, stringEntries } from './input-checks.js';
import { findModel } from './lookups.js';
import { grantCreator } from './permission-service.js';
import { actorOf, type RegistryContext } from './registry-context.js';
import { checkRestorable } from './retention.js';
import type { SearchService } from './search-service.js';

export interface NewModel {
  readonly name: string;
  readonly description: string | null;
  readonly owner: string | null;
  readonly tags: readonly [string, string][];
}

/** Validates createModel's input. @throws InvalidArgumentError */
export function checkNewModel(input: CreateModelInput, actor: string): NewModel {
  if (input === null || typeof input !== 'object') {
    throw new InvalidArgumentError('model input must be an object');
  }
  return {
    name: validateModelName(input.name),
    description: checkOptionalText(input.description, 'description', LIMITS.description),
    owner: checkOptionalText(input.owner ?? actor, 'owner', LIMITS.actor),
    tags: stringEntries(input.tags, 'tag').map(([k, v]) => [
      validateTagKey(k),
      checkText(v, `tag '${k}'`, LIMITS.tagValue),
    ]),
  };
}

export class ModelService {
  constructor(
    private readonly ctx: RegistryContext,
    private readonly audit: AuditService,
    private readonly search: SearchService,
  ) {}

  /**
   * Inserts a model and its `model.created` event. For use inside a write transaction.
   * @throws AlreadyExistsError, ConflictError (the name belongs to a deleted model).
   */
  async insert(
    trx: Kysely<RegistryDB>,
    model: NewModel,
    actor: string,
    now: number,
  ): Promise<RegisteredModelRow> {
    const existing = await trx
      .selectFrom('registered_models')
      .select(['deleted_at'])
      .where('name', '=', model.name)
      .executeTakeFirst();
    if (existing) {
      if (existing.deleted_at !== null) {
        throw new ConflictError(
          `model '${model.name}' is deleted: restore it or choose another name`,
          { model: model.name },
        );
      }
      throw new AlreadyExistsError(`model '${model.name}' already exists`, { model: model.name });
    }
    const row = await trx
      .insertInto('registered_models')
      .values({
        name: model.name,
        description: model.description,
        owner: model.owner,
        created_at: now,
        updated_at: now,
        deleted_at: null,
        next_version: 1,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    if (model.tags.length > 0) {
      await trx
        .insertInto('model_tags')
        .values(model.tags.map(([key, value]) => ({ model_id: row.id, key, value })))
        .execute();
    }
    await this.audit.append(trx, {
      actor,
      action: 'model.created',
      subject: model.name,
      time: now,
      data: {
        description: model.description,
        owner: model.owner,
        tags: Object.fromEntries(model.tags),
      },
    });
    await grantCreator(
      trx,
      this.audit,
      { kind: 'registered_model', id: Number(row.id), label: row.name },
      actor,
      now,
    );
    return row;
  }

  async create(input: CreateModelInput): Promise<RegisteredModel> {
    const actor = actorOf(this.ctx, input);
    const model = checkNewModel(input, actor);
    return this.ctx.database.writeTransaction(async (trx) => {
      const row = await this.insert(trx, model, actor, this.ctx.now());
      return this.one(trx, row);
    });
  }

  async get(name: string, options: { includeDeleted?: boolean } = {}): Promise<RegisteredModel> {
    const db = this.ctx.database.db;
    return this.one(db, await findModel(db, name, options));
  }

  /** Resolves when `name` is a live model, reading its row only; throws as `get` does. */
  async require(name: string): Promise<void> {
    await findModel(this.ctx.database.db, name);
  }

  list(
    options: PageOptions & { includeDeleted?: boolean } = {},
    scope?: ReadScope,
  ): Promise<SearchResult<RegisteredModel>> {
    return this.search.searchModels(options, scope);
  }

  async update(
    name: string,
    changes: { description?: string | null },
    options?: MutationOptions,
  ): Promise<RegisteredModel> {
    const description =
      changes.description === undefined
        ? undefined
        : checkOptionalText(changes.description, 'description', LIMITS.description);
    return this.mutate(name, options, {}, async (trx, row, actor, now) => {
      if (description !== undefined && description !== row.description) {
        await trx
          .updateTable('registered_models')
          .set({ description, updated_at: now })
          .where('id', '=', row.id)
          .execute();
        await this.event(trx, row, actor, now, 'model.updated', {
          description: { from: row.description, to: description },
        });
      }
      return this.one(trx, await findModel(trx, row.name));
    });
  }

  /**
   * Renames the model (versions, aliases and tags are keyed by its id, so they follow).
   * @throws NotFoundError, AlreadyExistsError, ConflictError (see RegistryApi.renameModel).
   */
  async rename(name: string, newName: string, options?: MutationOptions): Promise<RegisteredModel> {
    const target = validateModelName(newName);
    return this.mutate(name, options, {}, async (trx, row, actor, now) => {
      if (target === row.name) return this.one(trx, row);
      const taken = await trx
        .selectFrom('registered_models')
        .select(['deleted_at'])
        .where('name', '=', target)
        .executeTakeFirst();
      if (taken) {
        if (taken.deleted_at !== null) {
          throw new ConflictError(
            `model '${target}' is deleted: restore it or choose another name`,
            {
              model: target,
            },
          );
        }
        throw new AlreadyExistsError(`model '${target}' already exists`, { model: target });
      }
      await trx
        .updateTable('registered_models')
        .set({ name: target, updated_at: now })
        .where('id', '=', row.id)
        .execute();
      await this.audit.append(trx, {
        actor,
        action: 'model.renamed',
        subject: target,
        time: now,
        data: { from: row.name, to: target },
      });
      return this.one(trx, await findModel(trx, target));
    });
  }

  /** Soft delete. @throws NotFoundError (also when already deleted). */
  async delete(name: string, options?: MutationOptions): Promise<void> {
    await this.mutate(name, options, {}, async (trx, row, actor, now) => {
      await trx
        .updateTable('registered_models')
        .set({ deleted_at: now, updated_at: now })
        .where('id', '=', row.id)
        .execute();
      await this.event(trx, row, actor, now, 'model.deleted', {});
    });
  }

  /**
   * @throws NotFoundError (no such model), ConflictError (not deleted, or deleted longer
   *   than the retention period ago).
   */
  async restore(name: string, options?: MutationOptions): Promise<RegisteredModel> {
    return this.mutate(name, options, { includeDeleted: true }, async (trx, row, actor, now) => {
      if (row.deleted_at === null) {
        throw new ConflictError(`model '${row.name}' is not deleted`, { model: row.name });
      }
      checkRestorable(`model '${row.name}'`, row.deleted_at, now, this.ctx.retentionMs);
      await trx
        .updateTable('registered_models')
        .set({ deleted_at: null, updated_at: now })
        .where('id', '=', row.id)
        .execute();
      await this.event(trx, row, actor, now, 'model.restored', { deletedAt: row.deleted_at });
      return this.one(trx, await findModel(trx, row.name));
    });
  }

  async setTag(name: string, key: string, value: string, options?: MutationOptions): Promise<void> {
    validateTagKey(key);
    checkText(value, `tag '${key}'`, LIMITS.tagValue);
    await this.mutate(name, options, {}, async (trx, row, actor, now) => {
      const previous = await this.tagValue(trx, row.id, key);
      if (previous === value) return;
      if (previous === undefined) {
        await trx.insertInto('model_tags').values({ model_id: row.id, key, value }).execute();
      } else {
        await trx
          .updateTable('model_tags')
          .set({ value })
          .where('model_id', '=', row.id)
          .where('key', '=', key)
          .execute();
      }
      await this.touch(trx, row.id, now);
      await this.event(trx, row, actor, now, 'model.tag_set', {
        key,
        value,
        previous: previous ?? null,
      });
    });
  }

  async deleteTag(name: string, key: string, options?: MutationOptions): Promise<boolean> {
    validateTagKey(key);
    return this.mutate(name, options, {}, async (trx, row, actor, now) => {
      const previous = await this.tagValue(trx, row.id, key);
      if (previous === undefined) return false;
      await trx
        .deleteFrom('model_tags')
        .where('model_id', '=', row.id)
        .where('key', '=', key)
        .execute();
      await this.touch(trx, row.id, now);
      await this.event(trx, row, actor, now, 'model.tag_deleted', { key, previous });
      return true;
    });
  }

  /** Runs `fn` in a write transaction with the model's row, the actor and the time. */
  private async mutate<T>(
    name: string,
    options: MutationOptions | undefined,
    lookup: { includeDeleted?: boolean },
    fn: (
      trx: Kysely<RegistryDB>,
      row: RegisteredModelRow,
      actor: string,
      now: number,
    ) => Promise<T>,
  ): Promise<T> {
    const actor = actorOf(this.ctx, options);
    return this.ctx.database.writeTransaction(async (trx) =>
      fn(trx, await findModel(trx, name, lookup), actor, this.ctx.now()),
    );
  }

  private async event(
    trx: Kysely<RegistryDB>,
    row: RegisteredModelRow,
    actor: string,
    now: number,
    action: string,
    data: Record<string, unknown>,
  ): Promise<void> {
    await this.audit.append(trx, { actor, action, subject: row.name, time: now, data });
  }

  private async tagValue(trx: Kysely<RegistryDB>, modelId: number, key: string) {
    const row = await trx
      .selectFrom('model_tags')
      .select('value')
      .where('model_id', '=', modelId)
      .where('key', '=', key)
      .executeTakeFirst();
    return row?.value;
  }

  private async touch(trx: Kysely<RegistryDB>, modelId: number, now: number): Promise<void> {
    await trx
      .updateTable('registered_models')
      .set({ updated_at: now })
      .where('id', '=', modelId)
      .execute();
  }

  private async one(db: Kysely<RegistryDB>, row: RegisteredModelRow): Promise<RegisteredModel> {
    const [model] = await hydrateModels(db, [row]);
    if (!model) throw new NotFoundError(`model '${row.name}' not found`, { model: row.name });
    return model;
  }
}

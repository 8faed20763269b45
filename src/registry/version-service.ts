/**
 * Model versions: registration (numbers allocated from the model's counter inside the
 * write transaction, so they are unique and consecutive under concurrent writers and
 * never reused), reads, description, tags, metrics, soft delete/restore, stage
 * transitions and approval. Every mutation writes its audit event in its transaction.
 */
import type { Insertable, Kysely } from 'kysely';
import { parseSha256 } from '../core/digest.js';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../core/errors.js';
import type { VersionSummary } from '../core/model-inspection.js';
import {
  validateMetricKey,
  validateModelName,
  validateParamKey,
  validateTagKey,
} from '../core/names.js';
import type {
  ApprovalState,
  CreateVersionInput,
  ListVersionsOptions,
  MetricInput,
  MetricPoint,
  ModelVersion,
  MutationOptions,
  ScanSummary,
  SearchResult,
  Stage,
} from '../core/registry-api.js';
import { findStage, STAGES } from '../core/registry-api.js';
import { isWellFormedText } from '../core/text.js';
import type { VersionRef } from '../core/version-ref.js';
import { PreparedQueryFamily, prepareQuery, rowsOf } from '../metadata/prepared-query.js';
import type {
  AuditEventsTable,
  ModelVersionsTable,
  RegisteredModelRow,
  RegistryDB,
} from '../metadata/schema.js';
import type { AuditHead, AuditService, NewAuditEvent } from './audit-service.js';
import { readVersion, recordInKeyOrder, writtenVersion } from './hydrate.js';
import {
  checkCount,
  checkMetricValue,
  checkOptionalText,
  checkText,
  LIMITS,
  objectItems,
  plainEntries,
  stringEntries,
} from './input-checks.js';
import {
  findModel,
  parseRef,
  type ResolvedVersion,
  resolveVersion,
  versionLabel,
} from './lookups.js';
import type { ModelService } from './model-service.js';
import type { PolicyService } from './policy-service.js';
import { actorOf, type RegistryContext } from './registry-context.js';
import { checkRestorable } from './retention.js';
import type { SearchService } from './search-service.js';
import { insertVersionRows, modelWithAuditHead } from './version-create-statement.js';

/** Rows per statement when reading or writing latest metrics (well under SQL parameter limits). */
const LATEST_BATCH = 200;

type Db = Kysely<RegistryDB>;
type KeyValue = { readonly key: string; readonly value: string };
type MetricRow = {
  readonly key: string;
  readonly value: number;
  readonly step: number;
  readonly timestamp: number;
};
/** What a new version's row takes from its input (the rest starts the same for all). */
type NewVersionRow = Pick<
  ModelVersionsTable,
  | 'model_id'
  | 'version'
  | 'manifest_digest'
  | 'size'
  | 'file_count'
  | 'description'
  | 'model_card'
  | 'summary'
  | 'created_by'
  | 'run_id'
  | 'source'
> & { readonly now: number };
/** The columns every new version starts with (inserted, and returned without a read). */
const NEW_VERSION_STATE = {
  status: 'READY',
  status_message: null,
  stage: 'None',
  approval: 'pending',
  approval_reviewer: null,
  approval_comment: null,
  approval_time: null,
  deleted_at: null,
} as const satisfies Partial<ModelVersionsTable>;
/** A list of rows and the version they belong to, for Q's multi-row statements. */
type Rows<T> = { version_id: number; rows: readonly T[] };

/**
 * The creation's and the metric log's statements, compiled once (prepared-query.ts):
 * built with Kysely they cost more to compile than SQLite spends running them (a version
 * created with 100 metrics compiled two 100-row inserts per call). Multi-row statements
 * are one per row count, at most LATEST_BATCH rows each.
 */

/** `n` metric points of one version into its history or its latest points (same columns). */
function insertMetricRows(table: 'version_metrics' | 'version_latest_metrics') {
  return new PreparedQueryFamily((n: number) =>
    prepareQuery((db: Db, p: Rows<MetricRow>) =>
      db.insertInto(table).values(
        rowsOf(p.rows, n).map((r) => ({
          version_id: p.version_id,
          key: r.key,
          value: r.value,
          step: r.step,
          timestamp: r.timestamp,
        })),
      ),
    ),
  );
}
const Q = {
  modelByName: prepareQuery((db: Db, p: { name: string }) =>
    db.selectFrom('registered_models').selectAll().where('name', '=', p.name),
  ),
  bumpNextVersion: prepareQuery((db: Db, p: { id: number; next: number; now: number }) =>
    db
      .updateTable('registered_models')
      .set({ next_version: p.next, updated_at: p.now })
      .where('id', '=', p.id),
  ),
  insertVersion: prepareQuery((db: Db, p: NewVersionRow) =>
    db
      .insertInto('model_versions')
      .values({
        model_id: p.model_id,
        version: p.version,
        manifest_digest: p.manifest_digest,
        size: p.size,
        file_count: p.file_count,
        description: p.description,
        model_card: p.model_card,
        summary: p.summary,
        created_by: p.created_by,
        created_at: p.now,
        updated_at: p.now,
        status: NEW_VERSION_STATE.status,
        status_message: NEW_VERSION_STATE.status_message,
        stage: NEW_VERSION_STATE.stage,
        approval: NEW_VERSION_STATE.approval,
        approval_reviewer: NEW_VERSION_STATE.approval_reviewer,
        approval_comment: NEW_VERSION_STATE.approval_comment,
        approval_time: NEW_VERSION_STATE.approval_time,
        run_id: p.run_id,
        source: p.source,
        deleted_at: NEW_VERSION_STATE.deleted_at,
      })
      .returning('id'),
  ),
  versionById: prepareQuery((db: Db, p: { id: number }) =>
    db.selectFrom('model_versions').selectAll().where('id', '=', p.id),
  ),
  insertHistory: insertMetricRows('version_metrics'),
  insertLatest: insertMetricRows('version_latest_metrics'),
  latestOf: new PreparedQueryFamily((n: number) =>
    prepareQuery((db: Db, p: Rows<{ key: string }>) =>
      db
        .selectFrom('version_latest_metrics')
        .select(['key', 'value', 'step', 'timestamp'])
        .where('version_id', '=', p.version_id)
        .where(
          'key',
          'in',
          rowsOf(p.rows, n).map((r) => r.key),
        ),
    ),
  ),
  updateLatest: prepareQuery((db: Db, p: { version_id: number } & MetricRow) =>
    db
      .updateTable('version_latest_metrics')
      .set({ value: p.value, step: p.step, timestamp: p.timestamp })
      .where('version_id', '=', p.version_id)
      .where('key', '=', p.key),
  ),
  insertParams: new PreparedQueryFamily((n: number) =>
    prepareQuery((db: Db, p: Rows<KeyValue>) =>
      db
        .insertInto('version_params')
        .values(
          rowsOf(p.rows, n).map((r) => ({ version_id: p.version_id, key: r.key, value: r.value })),
        ),
    ),
  ),
  insertTags: new PreparedQueryFamily((n: number) =>
    prepareQuery((db: Db, p: Rows<KeyValue>) =>
      db
        .insertInto('version_tags')
        .values(
          rowsOf(p.rows, n).map((r) => ({ version_id: p.version_id, key: r.key, value: r.value })),
        ),
    ),
  ),
};

/** Runs `family`'s statement over `rows` in slices of at most LATEST_BATCH rows, in order. */
async function insertRows<T>(
  trx: Db,
  family: PreparedQueryFamily<number, { run(db: Db, p: Rows<T>): Promise<unknown> }>,
  versionId: number,
  rows: readonly T[],
): Promise<void> {
  for (let i = 0; i < rows.length; i += LATEST_BATCH) {
    const slice = rows.slice(i, i + LATEST_BATCH);
    await family.for(slice.length).run(trx, { version_id: versionId, rows: slice });
  }
}

/** `production` → `Production`. @throws InvalidArgumentError */
export function parseStage(stage: string): Stage {
  const found = findStage(stage);
  if (!found) {
    throw new InvalidArgumentError(
      `invalid stage '${String(stage).slice(0, 40)}': expected one of ${STAGES.join(', ')}`,
    );
  }
  return found;
}

/** A checked metric point; an absent timestamp becomes the mutation's time. */
interface Point {
  readonly key: string;
  readonly value: number;
  readonly step: number;
  readonly timestamp: number | undefined;
}

function checkPoint(m: MetricInput): Point {
  const key = validateMetricKey(m.key);
  const step = m.step ?? 0;
  if (!Number.isSafeInteger(step)) {
    throw new InvalidArgumentError(`metric '${key}' step must be an integer`, { key });
  }
  return {
    key,
    // -0 as 0 on every dialect (SQLite stores it as 0, PostgreSQL would keep it): what a
    // version read gives back is then what was written (VersionService.create relies on it).
    value: checkMetricValue(m.value, key) || 0,
    step,
    timestamp:
      m.timestamp === undefined ? undefined : checkCount(m.timestamp, `metric '${key}' timestamp`),
  };
}

interface NewVersion {
  readonly model: string;
  readonly digest: string;
  readonly size: number;
  readonly fileCount: number;
  readonly description: string | null;
  readonly modelCard: string | null;
  readonly metrics: readonly Point[];
  readonly params: readonly [string, string][];
  readonly tags: readonly [string, string][];
  readonly runId: string | null;
  readonly source: string | null;
  readonly parents: readonly VersionRef[];
  readonly datasets: readonly { name: string; uri: string | null; digest: string | null }[];
  readonly code: {
    gitRemote: string | null;
    gitCommit: string | null;
    gitDirty: number | null;
  } | null;
}

/**
 * Validates everything about a new version except its manifest: what `push` checks before
 * it spends time ingesting files. @throws InvalidArgumentError
 */
export function checkVersionFields(
  input: Omit<CreateVersionInput, 'manifest'>,
): Omit<NewVersion, 'digest' | 'size' | 'fileCount'> {
  if (input === null || typeof input !== 'object') {
    throw new InvalidArgumentError('version input must be an object');
  }
  const lineage = input.lineage ?? {};
  if (lineage === null || typeof lineage !== 'object') {
    throw new InvalidArgumentError('lineage must be an object');
  }
  if (lineage.parents !== undefined && !Array.isArray(lineage.parents)) {
    throw new InvalidArgumentError('lineage parents must be an array of version references');
  }
  const datasets = objectItems(lineage.datasets, 'lineage datasets').map((d) => ({
    name: checkText(d.name, 'dataset name', LIMITS.datasetName),
    uri: checkOptionalText(d.uri, 'dataset uri', LIMITS.uri),
    digest: checkOptionalText(d.digest, 'dataset digest', LIMITS.uri),
  }));
  const names = new Set<string>();
  for (const d of datasets) {
    if (d.name.trim() === '') throw new InvalidArgumentError('dataset name must not be empty');
    if (names.has(d.name)) {
      throw new InvalidArgumentError(`dataset '${d.name}' is listed twice`, { dataset: d.name });
    }
    names.add(d.name);
  }
  const code = lineage.code;
  if (code !== undefined && (code === null || typeof code !== 'object')) {
    throw new InvalidArgumentError('lineage code must be an object');
  }
  if (code?.gitDirty !== undefined && typeof code.gitDirty !== 'boolean') {
    throw new InvalidArgumentError('code gitDirty must be a boolean');
  }
  return {
    model: validateModelName(input.model),
    description: checkOptionalText(input.description, 'description', LIMITS.description),
    modelCard: checkOptionalText(input.modelCard, 'model card', LIMITS.modelCard),
    metrics: plainEntries(input.metrics, 'metrics').map(([key, value]) =>
      checkPoint({ key, value: value as number }),
    ),
    params: stringEntries(input.params, 'param').map(([k, v]) => [
      validateParamKey(k),
      checkText(v, `param '${k}'`, LIMITS.paramValue),
    ]),
    tags: stringEntries(input.tags, 'tag').map(([k, v]) => [
      validateTagKey(k),
      checkText(v, `tag '${k}'`, LIMITS.tagValue),
    ]),
    runId: checkOptionalText(input.runId, 'runId', LIMITS.runId),
    source: checkOptionalText(input.source, 'source', LIMITS.source),
    parents: (lineage.parents ?? []).map((p) => parseRef(p)),
    datasets,
    code: code
      ? {
          gitRemote: checkOptionalText(code.gitRemote, 'code gitRemote', LIMITS.gitField),
          gitCommit: checkOptionalText(code.gitCommit, 'code gitCommit', LIMITS.gitField),
          gitDirty: code.gitDirty === undefined ? null : code.gitDirty ? 1 : 0,
        }
      : null,
  };
}

/** Validates everything that can be checked before taking the write lock. */
function checkNewVersion(input: CreateVersionInput): NewVersion {
  const fields = checkVersionFields(input);
  const manifest = input.manifest;
  if (manifest === null || typeof manifest !== 'object') {
    throw new InvalidArgumentError('manifest {digest, size, fileCount} is required');
  }
  return {
    ...fields,
    digest: parseSha256(String(manifest.digest), 'manifest digest'),
    size: checkCount(manifest.size, 'manifest size'),
    fileCount: checkCount(manifest.fileCount, 'manifest fileCount'),
  };
}

type Mutation<T> = (
  trx: Kysely<RegistryDB>,
  r: ResolvedVersion,
  actor: string,
  now: number,
) => Promise<T>;

export class VersionService {
  constructor(
    private readonly ctx: RegistryContext,
    private readonly audit: AuditService,
    private readonly models: ModelService,
    private readonly search: SearchService,
    private readonly policies: PolicyService,
  ) {}

  /**
   * Registers a version. The number is read from and bumped on the model row inside the
   * write transaction, so concurrent writers get consecutive, unique numbers.
   * @throws NotFoundError (model without createModelIfMissing; a parent), ConflictError
   *   (createModelIfMissing on a deleted model's name), InvalidArgumentError.
   */
  async create(
    input: CreateVersionInput,
    derived: {
      readonly summary?: VersionSummary | null;
      /**
       * Runs in the creation transaction after the version row exists; resolves with the
       * scan it recorded for the version, if any (what a read of the version shows).
       */
      readonly afterInsert?: (
        trx: Kysely<RegistryDB>,
        versionId: number,
        now: number,
      ) => Promise<{ readonly scan: ScanSummary | null } | undefined>;
    } = {},
  ): Promise<ModelVersion> {
    const actor = actorOf(this.ctx, input);
    const v = checkNewVersion(input);
    return this.ctx.database.writeTransaction(async (trx) => {
      const now = this.ctx.now();
      // On PostgreSQL the audit chain's head is read with the model (then known: `pgHead`),
      // so that the version's rows and its event can go in one statement (below).
      const postgres = this.ctx.dialect === 'postgres';
      let pgHead: { head: AuditHead | undefined } | undefined;
      let model: RegisteredModelRow | undefined;
      if (postgres) {
        const found = await modelWithAuditHead(trx, v.model);
        model = found?.model;
        if (found) pgHead = { head: found.head };
      } else {
        model = await Q.modelByName.executeTakeFirst(trx, { name: v.model });
      }
      if (!model || model.deleted_at !== null) {
        // Without createModelIfMissing this throws NotFound; with it, insert throws
        // Conflict for the name of a deleted model.
        if (!input.createModelIfMissing) await findModel(trx, v.model);
        model = await this.models.insert(
          trx,
          { name: v.model, description: null, owner: actor, tags: [] },
          actor,
          now,
        );
        // The model's creation appended an event.
        if (postgres) pgHead = { head: await this.audit.head(trx) };
      }
      const parentIds = new Map<number, string>();
      const parents = new Map<number, { model: string; version: number }>();
      for (const ref of v.parents) {
        const p = await resolveVersion(trx, ref);
        parentIds.set(p.version.id, p.label);
        parents.set(p.version.id, { model: p.model.name, version: p.version.version });
      }
      const number = model.next_version;
      const columns = {
        model_id: model.id,
        version: number,
        manifest_digest: v.digest,
        size: v.size,
        file_count: v.fileCount,
        description: v.description,
        model_card: v.modelCard,
        summary: derived.summary ? JSON.stringify(derived.summary) : null,
        created_by: actor,
        run_id: v.runId,
        source: v.source,
      };
      const event: NewAuditEvent = {
        actor,
        action: 'version.created',
        subject: versionLabel(model.name, number),
        time: now,
        data: {
          digest: v.digest,
          size: v.size,
          fileCount: v.fileCount,
          runId: v.runId,
          source: v.source,
          parents: [...parentIds.values()],
          metrics: Object.fromEntries(v.metrics.map((m) => [m.key, m.value])),
          params: Object.fromEntries(v.params),
          tags: Object.fromEntries(v.tags),
        },
      };
      // PostgreSQL: one statement (version-create-statement.ts) when its event can be built
      // now. Otherwise — SQLite, or data the audit's canonical JSON refuses — the statements
      // one by one, the event appended last (where such data fails, as it always did).
      let audit: Insertable<AuditEventsTable> | undefined;
      if (pgHead && new Set(v.metrics.map((m) => m.key)).size === v.metrics.length) {
        try {
          audit = this.audit.eventAfter(pgHead.head, event).row;
        } catch {
          audit = undefined;
        }
      }
      let id: number;
      if (audit) {
        id = await insertVersionRows(trx, {
          model: { id: model.id, nextVersion: number + 1, now },
          version: { ...columns, created_at: now, updated_at: now, ...NEW_VERSION_STATE },
          metrics: v.metrics.map((p) => ({ ...p, timestamp: p.timestamp ?? now })),
          params: v.params,
          tags: v.tags,
          audit,
        });
      } else {
        await Q.bumpNextVersion.run(trx, { id: model.id, next: number + 1, now });
        const inserted = await Q.insertVersion.executeTakeFirst(trx, { ...columns, now });
        id = inserted!.id;
        await this.insertPoints(trx, id, v.metrics, now, { newVersion: true });
        await insertRows(
          trx,
          Q.insertParams,
          id,
          v.params.map(([key, value]) => ({ key, value })),
        );
        await insertRows(
          trx,
          Q.insertTags,
          id,
          v.tags.map(([key, value]) => ({ key, value })),
        );
      }
      if (parentIds.size > 0) {
        await trx
          .insertInto('version_parents')
          .values([...parentIds.keys()].map((pid) => ({ version_id: id, parent_version_id: pid })))
          .execute();
      }
      if (v.datasets.length > 0) {
        await trx
          .insertInto('version_datasets')
          .values(v.datasets.map((d) => ({ version_id: id, ...d })))
          .execute();
      }
      if (v.code) {
        await trx
          .insertInto('version_code')
          .values({
            version_id: id,
            git_remote: v.code.gitRemote,
            git_commit: v.code.gitCommit,
            git_dirty: v.code.gitDirty,
          })
          .execute();
      }
      const recorded = await derived.afterInsert?.(trx, id, now);
      if (!audit) await this.audit.append(trx, event);
      const metrics = v.metrics.map((m) => [m.key, m.value] as const);
      // The version is what was just written, not read back (two statements and the
      // parsing of their rows, ~0.04 ms of a ~0.5 ms create): the row as inserted, the
      // input's metrics (one point a key, the latest, stored as is: checkPoint normalises
      // -0, which SQLite would store as 0), params, tags and lineage, the scan recorded.
      // Texts that would not read back the same (lone surrogates: writtenVersion) are
      // read back. Names, keys, params and tags cannot hold one (checked, or refused by
      // the audit event's canonical JSON); the actor and runId neither (audit event).
      if (
        [
          v.description,
          v.modelCard,
          v.code?.gitRemote,
          v.code?.gitCommit,
          ...v.datasets.flatMap((d) => [d.name, d.uri, d.digest]),
        ].every((s) => typeof s !== 'string' || isWellFormedText(s))
      ) {
        return writtenVersion(
          {
            id,
            ...columns,
            created_at: now,
            updated_at: now,
            ...NEW_VERSION_STATE,
            model_name: model.name,
          },
          {
            metrics,
            params: v.params,
            tags: v.tags,
            parents: [...parents.values()],
            datasets: v.datasets,
            code: v.code,
            scan: recorded?.scan ?? null,
          },
        );
      }
      const row = await Q.versionById.executeTakeFirst(trx, { id });
      const created = await readVersion(trx, row!, model.name, this.ctx.dialect, {
        runData: false,
      });
      return {
        ...created,
        metrics: recordInKeyOrder(metrics),
        params: recordInKeyOrder(v.params),
      };
    });
  }

  async get(ref: string, options: { includeDeleted?: boolean } = {}): Promise<ModelVersion> {
    return this.ctx.database.reads(async (db) => {
      const r = await resolveVersion(db, ref, options);
      return readVersion(db, r.version, r.model.name, this.ctx.dialect);
    });
  }

  /** Newest first. @throws NotFoundError for the model. */
  async list(
    model: string,
    options: ListVersionsOptions = {},
  ): Promise<SearchResult<ModelVersion>> {
    const row = await findModel(this.ctx.database.db, model);
    return this.search.searchVersions({
      modelId: row.id,
      defaultOrder: 'newest',
      ...(options.includeDeleted !== undefined ? { includeDeleted: options.includeDeleted } : {}),
      ...(options.pageToken !== undefined ? { pageToken: options.pageToken } : {}),
      ...(options.maxResults !== undefined ? { maxResults: options.maxResults } : {}),
    });
  }

  async update(
    ref: string,
    changes: { description?: string | null },
    options?: MutationOptions,
  ): Promise<ModelVersion> {
    const description =
      changes.description === undefined
        ? undefined
        : checkOptionalText(changes.description, 'description', LIMITS.description);
    return this.mutate(ref, options, async (trx, r, actor, now) => {
      if (description !== undefined && description !== r.version.description) {
        await trx
          .updateTable('model_versions')
          .set({ description, updated_at: now })
          .where('id', '=', r.version.id)
          .execute();
        await this.event(trx, r, actor, now, 'version.updated', {
          description: { from: r.version.description, to: description },
        });
      }
      return this.reload(trx, r);
    });
  }

  async setTag(ref: string, key: string, value: string, options?: MutationOptions): Promise<void> {
    validateTagKey(key);
    checkText(value, `tag '${key}'`, LIMITS.tagValue);
    await this.mutate(ref, options, async (trx, r, actor, now) => {
      const previous = await this.tagValue(trx, r.version.id, key);
      if (previous === value) return;
      if (previous === undefined) {
        await trx
          .insertInto('version_tags')
          .values({ version_id: r.version.id, key, value })
          .execute();
      } else {
        await trx
          .updateTable('version_tags')
          .set({ value })
          .where('version_id', '=', r.version.id)
          .where('key', '=', key)
          .execute();
      }
      await this.touch(trx, r.version.id, now);
      await this.event(trx, r, actor, now, 'version.tag_set', {
        key,
        value,
        previous: previous ?? null,
      });
    });
  }

  async deleteTag(ref: string, key: string, options?: MutationOptions): Promise<boolean> {
    validateTagKey(key);
    return this.mutate(ref, options, async (trx, r, actor, now) => {
      const previous = await this.tagValue(trx, r.version.id, key);
      if (previous === undefined) return false;
      await trx
        .deleteFrom('version_tags')
        .where('version_id', '=', r.version.id)
        .where('key', '=', key)
        .execute();
      await this.touch(trx, r.version.id, now);
      await this.event(trx, r, actor, now, 'version.tag_deleted', { key, previous });
      return true;
    });
  }

  async logMetrics(
    ref: string,
    metrics: readonly MetricInput[],
    options?: MutationOptions,
  ): Promise<ModelVersion> {
    const points = objectItems(metrics, 'metrics').map((m) => checkPoint(m));
    return this.mutate(ref, options, async (trx, r, actor, now) => {
      if (points.length > 0) {
        const logged = await this.insertPoints(trx, r.version.id, points, now);
        await this.touch(trx, r.version.id, now);
        await this.event(trx, r, actor, now, 'version.metrics_logged', { metrics: logged });
      }
      return this.reload(trx, r);
    });
  }

  async metricHistory(ref: string, key: string): Promise<MetricPoint[]> {
    validateMetricKey(key);
    const db = this.ctx.database.db;
    const r = await resolveVersion(db, ref);
    return db
      .selectFrom('version_metrics')
      .select(['key', 'value', 'step', 'timestamp'])
      .where('version_id', '=', r.version.id)
      .where('key', '=', key)
      .orderBy('step')
      .orderBy('timestamp')
      .orderBy('id')
      .execute();
  }

  /** Soft delete. @throws ConflictError while aliases point at the version. */
  async delete(ref: string, options?: MutationOptions): Promise<void> {
    await this.mutate(ref, options, async (trx, r, actor, now) => {
      const aliases = await trx
        .selectFrom('aliases')
        .select('alias')
        .where('version_id', '=', r.version.id)
        .orderBy('alias')
        .execute();
      if (aliases.length > 0) {
        const names = aliases.map((a) => a.alias);
        throw new ConflictError(
          `version '${r.label}' is the target of alias ${names.map((n) => `'${n}'`).join(', ')}: move or delete the aliases first`,
          { version: r.label, aliases: names },
        );
      }
      await trx
        .updateTable('model_versions')
        .set({ deleted_at: now, updated_at: now })
        .where('id', '=', r.version.id)
        .execute();
      await this.event(trx, r, actor, now, 'version.deleted', {
        digest: r.version.manifest_digest,
      });
    });
  }

  /**
   * @throws InvalidArgumentError (ref is not a number), NotFoundError, ConflictError (not
   *   deleted, or deleted longer than the retention period ago).
   */
  async restore(ref: string, options?: MutationOptions): Promise<ModelVersion> {
    const parsed = parseRef(ref);
    if (parsed.kind !== 'number') {
      throw new InvalidArgumentError(`restore needs a version number, like '${parsed.model}@3'`);
    }
    const actor = actorOf(this.ctx, options);
    return this.ctx.database.writeTransaction(async (trx) => {
      await findModel(trx, parsed.model);
      const r = await resolveVersion(trx, parsed, { includeDeleted: true });
      if (r.version.deleted_at === null) {
        throw new ConflictError(`version '${r.label}' is not deleted`, { version: r.label });
      }
      const now = this.ctx.now();
      checkRestorable(`version '${r.label}'`, r.version.deleted_at, now, this.ctx.retentionMs);
      await trx
        .updateTable('model_versions')
        .set({ deleted_at: null, updated_at: now })
        .where('id', '=', r.version.id)
        .execute();
      await this.event(trx, r, actor, now, 'version.restored', { deletedAt: r.version.deleted_at });
      return this.reload(trx, r);
    });
  }

  /**
   * Obeys the promotion policies of the target stage (for the version) and of Archived
   * (for the versions archiveExisting moves), checked in the same transaction.
   * @throws InvalidArgumentError for an unknown stage, or archiveExisting with a target
   *   stage other than Staging or Production; PolicyViolationError.
   */
  async transitionStage(
    ref: string,
    stage: string,
    options: MutationOptions & { archiveExisting?: boolean } = {},
  ): Promise<ModelVersion> {
    const to = parseStage(stage);
    const archiveExisting = options.archiveExisting ?? false;
    if (archiveExisting && to !== 'Staging' && to !== 'Production') {
      throw new InvalidArgumentError(
        `archiveExisting applies to Staging and Production, not '${to}'`,
      );
    }
    return this.mutate(ref, options, async (trx, r, actor, now) => {
      const others = archiveExisting
        ? await trx
            .selectFrom('model_versions')
            .select(['id', 'version'])
            .where('model_id', '=', r.model.id)
            .where('stage', '=', to)
            .where('id', '!=', r.version.id)
            .where('deleted_at', 'is', null)
            .orderBy('version')
            .execute()
        : [];
      if (r.version.stage === to && others.length === 0) return this.reload(trx, r);
      if (r.version.stage !== to) {
        await this.policies.enforce(trx, r.model, r.version, { kind: 'stage', name: to });
      }
      for (const o of others) {
        const row = await trx
          .selectFrom('model_versions')
          .selectAll()
          .where('id', '=', o.id)
          .executeTakeFirstOrThrow();
        await this.policies.enforce(trx, r.model, row, { kind: 'stage', name: 'Archived' });
      }
      await trx
        .updateTable('model_versions')
        .set({ stage: to, updated_at: now })
        .where('id', '=', r.version.id)
        .execute();
      if (others.length > 0) {
        await trx
          .updateTable('model_versions')
          .set({ stage: 'Archived', updated_at: now })
          .where(
            'id',
            'in',
            others.map((o) => o.id),
          )
          .execute();
      }
      await this.event(trx, r, actor, now, 'stage.transitioned', {
        from: r.version.stage,
        to,
        archived: others.map((o) => o.version),
      });
      return this.reload(trx, r);
    });
  }

  /** Records a review by the actor; a later review replaces an earlier one. */
  async review(
    ref: string,
    state: Exclude<ApprovalState, 'pending'>,
    options: MutationOptions & { comment?: string } = {},
  ): Promise<ModelVersion> {
    const comment = checkOptionalText(options.comment, 'comment', LIMITS.comment);
    return this.mutate(ref, options, async (trx, r, actor, now) => {
      await trx
        .updateTable('model_versions')
        .set({
          approval: state,
          approval_reviewer: actor,
          approval_comment: comment,
          approval_time: now,
          updated_at: now,
        })
        .where('id', '=', r.version.id)
        .execute();
      await this.event(trx, r, actor, now, `version.${state}`, {
        comment,
        previous: {
          state: r.version.approval,
          reviewer: r.version.approval_reviewer,
        },
      });
      return this.reload(trx, r);
    });
  }

  /**
   * Appends points to the history and moves each key's latest when the point is not
   * older. Returns the points as stored (timestamps filled in). `newVersion`: the version
   * was inserted in this transaction, so it has no latest points to read yet.
   */
  private async insertPoints(
    trx: Kysely<RegistryDB>,
    versionId: number,
    input: readonly Point[],
    now: number,
    { newVersion = false }: { newVersion?: boolean } = {},
  ): Promise<MetricPoint[]> {
    if (input.length === 0) return [];
    const points = input.map((p) => ({ ...p, timestamp: p.timestamp ?? now }));
    await insertRows(trx, Q.insertHistory, versionId, points);
    // The current latest of every key in a few queries, the new latest computed in memory
    // (input order decides between points of one key), then one insert per batch of new
    // keys and one update per moved key: a version created with 100 metrics costs a few
    // statements, not two per metric.
    type Latest = { value: number; step: number; timestamp: number };
    const current = new Map<string, Latest>();
    const keys = [...new Set(points.map((p) => p.key))];
    for (let i = 0; !newVersion && i < keys.length; i += LATEST_BATCH) {
      const slice = keys.slice(i, i + LATEST_BATCH).map((key) => ({ key }));
      const rows = await Q.latestOf
        .for(slice.length)
        .execute(trx, { version_id: versionId, rows: slice });
      for (const r of rows) current.set(r.key, r);
    }
    const inserts = new Map<string, Latest>();
    const updates = new Map<string, Latest>();
    for (const p of points) {
      const latest = inserts.get(p.key) ?? updates.get(p.key) ?? current.get(p.key);
      const point = { value: p.value, step: p.step, timestamp: p.timestamp };
      if (!latest) inserts.set(p.key, point);
      else if (
        p.step > latest.step ||
        (p.step === latest.step && p.timestamp >= latest.timestamp)
      ) {
        (inserts.has(p.key) ? inserts : updates).set(p.key, point);
      }
    }
    await insertRows(
      trx,
      Q.insertLatest,
      versionId,
      [...inserts].map(([key, l]) => ({ key, ...l })),
    );
    for (const [key, l] of updates) {
      await Q.updateLatest.run(trx, { version_id: versionId, key, ...l });
    }
    return points;
  }

  private async mutate<T>(
    ref: string,
    options: MutationOptions | undefined,
    fn: Mutation<T>,
  ): Promise<T> {
    const actor = actorOf(this.ctx, options);
    parseRef(ref);
    return this.ctx.database.writeTransaction(async (trx) => {
      const r = await resolveVersion(trx, ref);
      return fn(trx, r, actor, this.ctx.now());
    });
  }

  private async event(
    trx: Kysely<RegistryDB>,
    r: ResolvedVersion,
    actor: string,
    now: number,
    action: string,
    data: Record<string, unknown>,
  ): Promise<void> {
    await this.audit.append(trx, { actor, action, subject: r.label, time: now, data });
  }

  private async tagValue(trx: Kysely<RegistryDB>, versionId: number, key: string) {
    const row = await trx
      .selectFrom('version_tags')
      .select('value')
      .where('version_id', '=', versionId)
      .where('key', '=', key)
      .executeTakeFirst();
    return row?.value;
  }

  private async touch(trx: Kysely<RegistryDB>, versionId: number, now: number): Promise<void> {
    await trx
      .updateTable('model_versions')
      .set({ updated_at: now })
      .where('id', '=', versionId)
      .execute();
  }

  private async reload(trx: Kysely<RegistryDB>, r: ResolvedVersion): Promise<ModelVersion> {
    const row = await Q.versionById.executeTakeFirst(trx, { id: r.version.id });
    if (!row) throw new NotFoundError(`version '${r.label}' not found`, { version: r.label });
    return readVersion(trx, row, r.model.name, this.ctx.dialect);
  }
}

/**
 * The registry over a local metadata database: composes the model, version, alias,
 * search, diff and audit services into the RegistryApi that the CLI and the server use.
 * push/pull need the storage engine and are not wired yet (UNSUPPORTED).
 */
import { userInfo } from 'node:os';
import { ModelvaultError } from '../core/errors.js';
import type {
  AliasChange,
  AliasHistoryEntry,
  AuditEvent,
  AuditQuery,
  AuditVerifyResult,
  CreateModelInput,
  CreateVersionInput,
  ListVersionsOptions,
  MetricInput,
  MetricPoint,
  ModelVersion,
  MutationOptions,
  PageOptions,
  PullOptions,
  PushOptions,
  RegisteredModel,
  RegistryApi,
  SearchQuery,
  SearchResult,
  TransferStats,
  VersionDiff,
} from '../core/registry-api.js';
import { type Database, type NamedMigration, openDatabase } from '../metadata/database.js';
import { registryMigration } from '../metadata/migrations/0100-registry.js';
import { modelCardMigration } from '../metadata/migrations/0101-model-card.js';
import type { RegistryDB } from '../metadata/schema.js';
import { AliasService } from './alias-service.js';
import { AuditService } from './audit-service.js';
import { diffVersions, type ManifestEntriesReader } from './diff-service.js';
import { ModelService } from './model-service.js';
import type { RegistryContext } from './registry-context.js';
import { SearchService } from './search-service.js';
import { VersionService } from './version-service.js';

export interface LocalRegistryOptions {
  readonly database: Database<RegistryDB>;
  /** Reads manifest entries for file diffs; without it, diffs of different content have `files: null`. */
  readonly manifests?: ManifestEntriesReader;
  /** Actor of mutations whose options name none. Default: the OS user name. */
  readonly defaultActor?: string;
  /** Default Date.now. */
  readonly clock?: () => number;
  /** Close the database in close(). Default true. */
  readonly ownsDatabase?: boolean;
}

function osUser(): string {
  try {
    return userInfo().username || 'unknown';
  } catch {
    return 'unknown';
  }
}

export class LocalRegistry implements RegistryApi {
  private readonly audit: AuditService;
  private readonly models: ModelService;
  private readonly versions: VersionService;
  private readonly aliases: AliasService;
  private readonly search: SearchService;
  private closed = false;

  constructor(private readonly options: LocalRegistryOptions) {
    const ctx: RegistryContext = {
      database: options.database,
      now: options.clock ?? Date.now,
      defaultActor: options.defaultActor ?? osUser(),
      dialect: options.database.kind,
    };
    this.audit = new AuditService(ctx);
    this.search = new SearchService(ctx);
    this.models = new ModelService(ctx, this.audit, this.search);
    this.versions = new VersionService(ctx, this.audit, this.models, this.search);
    this.aliases = new AliasService(ctx, this.audit);
  }

  createModel(input: CreateModelInput): Promise<RegisteredModel> {
    return this.models.create(input);
  }
  getModel(name: string, options?: { includeDeleted?: boolean }): Promise<RegisteredModel> {
    return this.models.get(name, options);
  }
  listModels(
    options?: PageOptions & { includeDeleted?: boolean },
  ): Promise<SearchResult<RegisteredModel>> {
    return this.models.list(options);
  }
  searchModels(query?: SearchQuery): Promise<SearchResult<RegisteredModel>> {
    return this.search.searchModels(query);
  }
  updateModel(
    name: string,
    changes: { description?: string | null },
    options?: MutationOptions,
  ): Promise<RegisteredModel> {
    return this.models.update(name, changes, options);
  }
  deleteModel(name: string, options?: MutationOptions): Promise<void> {
    return this.models.delete(name, options);
  }
  restoreModel(name: string, options?: MutationOptions): Promise<RegisteredModel> {
    return this.models.restore(name, options);
  }
  setModelTag(name: string, key: string, value: string, options?: MutationOptions): Promise<void> {
    return this.models.setTag(name, key, value, options);
  }
  deleteModelTag(name: string, key: string, options?: MutationOptions): Promise<boolean> {
    return this.models.deleteTag(name, key, options);
  }

  createVersion(input: CreateVersionInput): Promise<ModelVersion> {
    return this.versions.create(input);
  }
  getVersion(ref: string, options?: { includeDeleted?: boolean }): Promise<ModelVersion> {
    return this.versions.get(ref, options);
  }
  listVersions(model: string, options?: ListVersionsOptions): Promise<SearchResult<ModelVersion>> {
    return this.versions.list(model, options);
  }
  searchVersions(query?: SearchQuery): Promise<SearchResult<ModelVersion>> {
    return this.search.searchVersions(query);
  }
  updateVersion(
    ref: string,
    changes: { description?: string | null },
    options?: MutationOptions,
  ): Promise<ModelVersion> {
    return this.versions.update(ref, changes, options);
  }
  setVersionTag(ref: string, key: string, value: string, options?: MutationOptions): Promise<void> {
    return this.versions.setTag(ref, key, value, options);
  }
  deleteVersionTag(ref: string, key: string, options?: MutationOptions): Promise<boolean> {
    return this.versions.deleteTag(ref, key, options);
  }
  logVersionMetrics(
    ref: string,
    metrics: readonly MetricInput[],
    options?: MutationOptions,
  ): Promise<ModelVersion> {
    return this.versions.logMetrics(ref, metrics, options);
  }
  getMetricHistory(ref: string, key: string): Promise<readonly MetricPoint[]> {
    return this.versions.metricHistory(ref, key);
  }
  deleteVersion(ref: string, options?: MutationOptions): Promise<void> {
    return this.versions.delete(ref, options);
  }
  restoreVersion(ref: string, options?: MutationOptions): Promise<ModelVersion> {
    return this.versions.restore(ref, options);
  }
  transitionStage(
    ref: string,
    stage: string,
    options?: MutationOptions & { archiveExisting?: boolean },
  ): Promise<ModelVersion> {
    return this.versions.transitionStage(ref, stage, options);
  }
  approve(ref: string, options?: MutationOptions & { comment?: string }): Promise<ModelVersion> {
    return this.versions.review(ref, 'approved', options);
  }
  reject(ref: string, options?: MutationOptions & { comment?: string }): Promise<ModelVersion> {
    return this.versions.review(ref, 'rejected', options);
  }

  setAlias(
    model: string,
    alias: string,
    version: number,
    options?: MutationOptions,
  ): Promise<AliasChange> {
    return this.aliases.set(model, alias, version, options);
  }
  deleteAlias(model: string, alias: string, options?: MutationOptions): Promise<AliasChange> {
    return this.aliases.delete(model, alias, options);
  }
  aliasHistory(model: string, alias?: string): Promise<readonly AliasHistoryEntry[]> {
    return this.aliases.history(model, alias);
  }
  rollback(model: string, alias: string, options?: MutationOptions): Promise<AliasChange> {
    return this.aliases.rollback(model, alias, options);
  }

  async diffVersions(a: string, b: string): Promise<VersionDiff> {
    const [va, vb] = await Promise.all([this.versions.get(a), this.versions.get(b)]);
    return diffVersions(va, vb, this.options.manifests);
  }

  auditLog(query?: AuditQuery): Promise<SearchResult<AuditEvent>> {
    return this.audit.log(query);
  }
  auditVerify(): Promise<AuditVerifyResult> {
    return this.audit.verify();
  }
  auditExport(
    query?: Omit<AuditQuery, 'pageToken' | 'maxResults' | 'order'>,
  ): AsyncIterable<AuditEvent> {
    return this.audit.export(query);
  }

  /** Not wired yet: needs the storage engine. @throws ModelvaultError('UNSUPPORTED') */
  async push(
    _source: string,
    _options: PushOptions,
  ): Promise<{ version: ModelVersion; stats: TransferStats }> {
    throw new ModelvaultError(
      'UNSUPPORTED',
      'push is not available: no content store is configured',
    );
  }
  /** Not wired yet: needs the storage engine. @throws ModelvaultError('UNSUPPORTED') */
  async pull(
    _ref: string,
    _dest: string,
    _options?: PullOptions,
  ): Promise<{ version: ModelVersion; files: number; bytes: number }> {
    throw new ModelvaultError(
      'UNSUPPORTED',
      'pull is not available: no content store is configured',
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.options.ownsDatabase ?? true) await this.options.database.close();
  }
}

/** The registry's migrations, in order: run by whoever opens the metadata database. */
export const REGISTRY_MIGRATIONS: readonly NamedMigration[] = [
  registryMigration,
  modelCardMigration,
];

/**
 * Opens (creating and migrating if needed) the SQLite database at `path` and a registry
 * over it. `migrations` adds other subsystems' migrations to the registry's.
 */
export async function openLocalRegistry(
  options: Omit<LocalRegistryOptions, 'database' | 'ownsDatabase'> & {
    readonly path: string;
    readonly migrations?: readonly NamedMigration[];
  },
): Promise<LocalRegistry> {
  const { path, migrations = [], ...rest } = options;
  const database = await openDatabase<RegistryDB>({ kind: 'sqlite', path }, [
    ...REGISTRY_MIGRATIONS,
    ...migrations,
  ]);
  return new LocalRegistry({ ...rest, database, ownsDatabase: true });
}

/**
 * The registry over a local metadata database: composes the model, version, alias,
 * search, diff and audit services into the RegistryApi that the CLI and the server use.
 * push and pull go through a ContentStore (the storage engine); without one they are
 * UNSUPPORTED. `registry-directory.ts` opens both over one embedded store directory.
 */
import type { KeyObject } from 'node:crypto';
import { userInfo } from 'node:os';
import type { Kysely } from 'kysely';
import { isSha256Hex, type Sha256Hex } from '../core/digest.js';
import { ConflictError, ModelvaultError, NotFoundError } from '../core/errors.js';
import type { VersionInspection, VersionSummary } from '../core/model-inspection.js';
import type { SignatureBundle } from '../core/model-signing.js';
import type {
  AliasChange,
  AliasHistoryEntry,
  AuditCheckpoint,
  AuditEvent,
  AuditQuery,
  AuditVerifyResult,
  CreatedWebhook,
  CreateModelInput,
  CreateVersionInput,
  CreateWebhookInput,
  DiffOptions,
  ListVersionsOptions,
  MetricInput,
  MetricPoint,
  ModelVersion,
  MutationOptions,
  PageOptions,
  PolicyCheck,
  PromotionPolicy,
  PromotionTarget,
  PullOptions,
  PushOptions,
  RegisteredModel,
  RegistryApi,
  SearchQuery,
  SearchResult,
  SetPolicyInput,
  TransferStats,
  VersionDiff,
  VersionManifest,
  VersionScan,
  VersionSignature,
  Webhook,
  WebhookDelivery,
} from '../core/registry-api.js';
import {
  type Database,
  type DatabaseConfig,
  type NamedMigration,
  openDatabase,
} from '../metadata/database.js';
import { registryMigration } from '../metadata/migrations/0100-registry.js';
import { modelCardMigration } from '../metadata/migrations/0101-model-card.js';
import { versionSummaryMigration } from '../metadata/migrations/0102-version-summary.js';
import { searchIndexesMigration } from '../metadata/migrations/0103-search-indexes.js';
import { signaturesMigration } from '../metadata/migrations/0104-signatures.js';
import { scansMigration } from '../metadata/migrations/0105-scans.js';
import { versionKeyedRowsMigration } from '../metadata/migrations/0106-version-keyed-rows.js';
import { policiesMigration } from '../metadata/migrations/0110-policies.js';
import { webhooksMigration } from '../metadata/migrations/0111-webhooks.js';
import { auditCheckpointsMigration } from '../metadata/migrations/0112-audit-checkpoints.js';
import { trackingMigration } from '../metadata/migrations/0300-tracking.js';
import { metricHistoryMigration } from '../metadata/migrations/0302-metric-history.js';
import { pendingMetricsMigration } from '../metadata/migrations/0303-pending-metrics.js';
import { runKeysMigration } from '../metadata/migrations/0304-run-keys.js';
import { packedMetricHistoryMigration } from '../metadata/migrations/0305-packed-metric-history.js';
import { orderedMetricSegmentsMigration } from '../metadata/migrations/0306-ordered-metric-segments.js';
import { trackingPurgeMigration } from '../metadata/migrations/0307-tracking-purge.js';
import { authMigration } from '../metadata/migrations/0400-auth.js';
import { capabilityEpochMigration } from '../metadata/migrations/0401-capability-epoch.js';
import { prepareQuery } from '../metadata/prepared-query.js';
import type { RegistryDB } from '../metadata/schema.js';
import type { ReadScope } from '../metadata/search/read-scope.js';
import type { ContentStore, Manifest } from '../storage/content-store.js';
import type { StorageTables } from '../storage/index/storage-schema.js';
import { AccessControl } from './access-control.js';
import { AliasService } from './alias-service.js';
import { AuditService } from './audit-service.js';
import { diffVersions, type ManifestEntriesReader } from './diff-service.js';
import { detectGitCode } from './git-lineage.js';
import { InspectionService } from './inspection-service.js';
import { readModelCard } from './model-card.js';
import { ModelService } from './model-service.js';
import { PolicyService } from './policy-service.js';
import type { RegistryContext } from './registry-context.js';
import { DELETED_RETENTION_MS } from './retention.js';
import { type PendingScan, ScanService } from './scan-service.js';
import { SearchService, type VersionSearch } from './search-service.js';
import { SignatureService } from './signature-service.js';
import { checkVersionFields, VersionService } from './version-service.js';
import { WebhookService, type WebhookServiceOptions } from './webhook-service.js';

export interface LocalRegistryOptions {
  readonly database: Database<RegistryDB>;
  /** The storage engine for push, pull and file diffs. Without it, push/pull are UNSUPPORTED. */
  readonly content?: ContentStore;
  /**
   * Reads manifest entries for file diffs. Default: from `content`; without either, diffs
   * of different content have `files: null`.
   */
  readonly manifests?: ManifestEntriesReader;
  /**
   * How long a soft-deleted version or model can be restored (garbage collection keeps its
   * files that long). Default DELETED_RETENTION_MS, 30 days.
   */
  readonly retentionMs?: number;
  /** Actor of mutations whose options name none. Default: the OS user name. */
  readonly defaultActor?: string;
  /** Default Date.now. */
  readonly clock?: () => number;
  /**
   * The ed25519 private key that signs audit checkpoints (createAuditCheckpoint); without
   * one, checkpoints can be read but not made.
   */
  readonly checkpointKey?: KeyObject;
  /** Retry and timeout settings of webhook deliveries. */
  readonly webhooks?: WebhookServiceOptions;
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

/**
 * Inside a version's transaction: its manifest is still stored. GC re-checks versions under
 * the same write lock before deleting a manifest (registry-directory.ts), so one of the two
 * wins cleanly: the version keeps the manifest, or this refuses the version.
 * @throws ConflictError when the manifest was collected meanwhile.
 */
async function requireStoredManifest(trx: Kysely<RegistryDB>, digest: string): Promise<void> {
  const hex = manifestHex(digest);
  const row = await storedManifest.executeTakeFirst(trx as unknown as Kysely<StorageTables>, {
    digest: hex,
  });
  if (!row) throw collectedManifest(hex);
}

/** A version's manifest digest as the store keys it (lower-case hex, no `sha256:`). */
function manifestHex(digest: string): string {
  return digest.replace(/^sha256:/i, '').toLowerCase();
}

/** requireStoredManifest's error: the manifest `hex` is not stored. */
function collectedManifest(hex: string): ConflictError {
  return new ConflictError(
    `manifest ${hex} is not in the store: it was garbage-collected while the version was being created; push again`,
    // `collected`: the SDK pushes again by itself, as when the server lost chunks.
    { digest: hex, collected: true },
  );
}

/** requireStoredManifest's statement, compiled once (it runs in every version's creation). */
const storedManifest = prepareQuery((db: Kysely<StorageTables>, p: { digest: string }) =>
  db.selectFrom('manifests').select('digest').where('digest', '=', p.digest),
);

/**
 * createVersion's optional second argument: the version's manifest as its caller has just
 * read it from this registry's store (the server's route reads it to check the size and
 * file count it was given). The registry then does not read and parse it again; the
 * version's transaction still checks that it is stored (requireStoredManifest). A manifest
 * of another digest is ignored.
 */
export interface ManifestAlreadyRead {
  readonly manifest: Manifest;
}

/** A registry whose createVersion takes the manifest its caller has read (LocalRegistry). */
export interface CreatesVersionFromReadManifest {
  createVersion(input: CreateVersionInput, read?: ManifestAlreadyRead): Promise<ModelVersion>;
}

/**
 * A registry that checks that a model exists without reading its details (LocalRegistry):
 * what a caller needs before work that only makes sense for an existing model.
 */
export interface ChecksModels {
  /** Resolves when `name` is a live model; otherwise throws what `getModel(name)` throws. */
  requireModel(name: string): Promise<void>;
}

export class LocalRegistry implements RegistryApi, CreatesVersionFromReadManifest, ChecksModels {
  private readonly audit: AuditService;
  private readonly models: ModelService;
  private readonly versions: VersionService;
  private readonly aliases: AliasService;
  private readonly search: SearchService;
  private readonly scans: ScanService;
  private readonly signatures: SignatureService;
  private readonly policies: PolicyService;
  /** Webhook subscriptions, the outbox and deliveries (the server's dispatcher drives it). */
  readonly webhooks: WebhookService;
  private readonly content: ContentStore | undefined;
  private readonly manifests: ManifestEntriesReader | undefined;
  private readonly inspector: InspectionService | undefined;
  private closed = false;
  /** Users, tokens and permissions of this registry. */
  readonly access: AccessControl;
  private checkpointKey: KeyObject | undefined;

  /** What the services share: clock, retention, default actor (for subclasses too). */
  protected readonly context: RegistryContext;

  constructor(private readonly options: LocalRegistryOptions) {
    const ctx: RegistryContext = {
      database: options.database,
      now: options.clock ?? Date.now,
      defaultActor: options.defaultActor ?? osUser(),
      dialect: options.database.kind,
      retentionMs: options.retentionMs ?? DELETED_RETENTION_MS,
    };
    this.context = ctx;
    this.checkpointKey = options.checkpointKey;
    const content = options.content;
    this.content = content;
    this.manifests =
      options.manifests ??
      (content && (async (digest) => (await content.getManifest(digest)).entries));
    this.inspector = content && new InspectionService(content);
    this.audit = new AuditService(ctx);
    this.access = new AccessControl(ctx, this.audit);
    this.search = new SearchService(ctx);
    this.models = new ModelService(ctx, this.audit, this.search);
    this.policies = new PolicyService(ctx, this.audit);
    this.webhooks = new WebhookService(ctx, this.audit, options.webhooks);
    this.versions = new VersionService(ctx, this.audit, this.models, this.search, this.policies);
    this.aliases = new AliasService(ctx, this.audit, this.policies);
    this.scans = new ScanService(ctx);
    this.signatures = new SignatureService(ctx, this.audit, (digest) =>
      this.manifestEntries(digest),
    );
  }

  createModel(input: CreateModelInput): Promise<RegisteredModel> {
    return this.models.create(input);
  }
  getModel(name: string, options?: { includeDeleted?: boolean }): Promise<RegisteredModel> {
    return this.models.get(name, options);
  }
  requireModel(name: string): Promise<void> {
    return this.models.require(name);
  }
  /** `scope` (not part of RegistryApi): only models its user may READ, in full pages. */
  listModels(
    options?: PageOptions & { includeDeleted?: boolean },
    scope?: ReadScope,
  ): Promise<SearchResult<RegisteredModel>> {
    return this.models.list(options, scope);
  }
  /** `scope` (not part of RegistryApi): only models its user may READ, in full pages. */
  searchModels(query?: SearchQuery, scope?: ReadScope): Promise<SearchResult<RegisteredModel>> {
    return this.search.searchModels(query, scope);
  }
  updateModel(
    name: string,
    changes: { description?: string | null },
    options?: MutationOptions,
  ): Promise<RegisteredModel> {
    return this.models.update(name, changes, options);
  }
  renameModel(name: string, newName: string, options?: MutationOptions): Promise<RegisteredModel> {
    return this.models.rename(name, newName, options);
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

  /**
   * Registers the version; with a content store, its manifest must be in it when the
   * version commits, and its pickle-based files are scanned first and the result stored
   * with it (see ScanService).
   * @throws NotFoundError (`details.manifest`) when the manifest is not in the store;
   *   ConflictError (`details.collected`) when it was a moment ago but is not when the
   *   version commits — a GC with no grace period may collect a manifest between its
   *   commit and the version's. A caller that has just stored the manifest may read both
   *   as "collected" and store it again (UploadService, MlflowVersionService).
   */
  async createVersion(
    input: CreateVersionInput,
    read?: ManifestAlreadyRead,
  ): Promise<ModelVersion> {
    const digest = input?.manifest?.digest;
    let scan: PendingScan | undefined;
    let summary: VersionSummary | null = null;
    if (this.content && typeof digest === 'string') {
      const hex = digest.replace(/^sha256:/i, '').toLowerCase();
      if (isSha256Hex(hex)) {
        summary = await this.summaryOf(hex);
        const manifest =
          read?.manifest.digest === hex
            ? read.manifest
            : await this.content.getManifest(hex).catch((e: unknown) => {
                if (!(e instanceof NotFoundError)) throw e;
                throw new NotFoundError(
                  `manifest ${hex} is not in this registry's store: store the version's files first (push), then create it`,
                  { manifest: hex },
                );
              });
        try {
          scan = await this.scans.scan(this.content, manifest.entries);
        } catch (e) {
          // A file the scan reads is gone (a racing GC): the version's transaction decides.
          if (!(e instanceof NotFoundError)) throw e;
        }
      }
    }
    return this.createDerived(input, summary, scan);
  }

  /** Creates the version with what was derived from its files: summary and scan. */
  private createDerived(
    input: CreateVersionInput,
    summary: VersionSummary | null,
    scan: PendingScan | undefined,
  ) {
    // With a content store the manifest must still be there when the version commits,
    // whether or not it was there a moment ago: checked in the version's transaction, under
    // the write lock GC's manifest deletion also takes.
    const checked = this.content !== undefined;
    return this.versions.create(input, {
      summary,
      ...(checked || scan
        ? {
            afterInsert: async (trx, id, now) => {
              if (checked && scan && this.context.dialect === 'postgres') {
                // The check and the scan's rows in one round trip.
                const hex = manifestHex(input.manifest.digest);
                const recorded = await this.scans.recordIfStored(trx, id, scan, now, hex);
                if (!recorded) throw collectedManifest(hex);
                return { scan: recorded };
              }
              if (checked) await requireStoredManifest(trx, input.manifest.digest);
              return { scan: scan ? await this.scans.record(trx, id, scan, now) : null };
            },
          }
        : {}),
    });
  }
  getVersion(ref: string, options?: { includeDeleted?: boolean }): Promise<ModelVersion> {
    return this.versions.get(ref, options);
  }
  listVersions(model: string, options?: ListVersionsOptions): Promise<SearchResult<ModelVersion>> {
    return this.versions.list(model, options);
  }
  /** `scope` (not part of RegistryApi): only versions of models its user may READ. */
  searchVersions(
    query?: SearchQuery & Pick<VersionSearch, 'runData' | 'listing'>,
    scope?: ReadScope,
  ): Promise<SearchResult<ModelVersion>> {
    return this.search.searchVersions(query, scope);
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

  async getManifest(ref: string): Promise<VersionManifest> {
    const content = this.requireContent('getManifest');
    const version = await this.versions.get(ref);
    const m = await content.getManifest(version.digest as Sha256Hex);
    return { digest: m.digest, totalSize: m.totalSize, files: m.entries };
  }
  getScan(ref: string): Promise<VersionScan | null> {
    return this.scans.get(ref);
  }
  addSignature(
    ref: string,
    input: { bundle: SignatureBundle; publicKey: string },
    options?: MutationOptions,
  ): Promise<VersionSignature> {
    return this.signatures.add(ref, input, options);
  }
  listSignatures(ref: string): Promise<readonly VersionSignature[]> {
    return this.signatures.list(ref);
  }

  private async manifestEntries(digest: string) {
    if (!this.manifests) {
      throw new ModelvaultError(
        'UNSUPPORTED',
        'signatures are not available: no content store is configured',
      );
    }
    return this.manifests(digest as Sha256Hex);
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

  setPolicy(input: SetPolicyInput): Promise<PromotionPolicy> {
    return this.policies.set(input);
  }
  listPolicies(options?: { model?: string }): Promise<readonly PromotionPolicy[]> {
    return this.policies.list(options);
  }
  deletePolicy(
    target: PromotionTarget & { model?: string | null },
    options?: MutationOptions,
  ): Promise<boolean> {
    return this.policies.delete(target, options);
  }
  checkPolicy(ref: string, target: PromotionTarget): Promise<PolicyCheck> {
    return this.policies.check(ref, target);
  }

  createWebhook(input: CreateWebhookInput): Promise<CreatedWebhook> {
    return this.webhooks.create(input);
  }
  listWebhooks(): Promise<readonly Webhook[]> {
    return this.webhooks.list();
  }
  deleteWebhook(id: string, options?: MutationOptions): Promise<boolean> {
    return this.webhooks.delete(id, options);
  }
  webhookDeliveries(
    id: string,
    options?: { maxResults?: number },
  ): Promise<readonly WebhookDelivery[]> {
    return this.webhooks.deliveries(id, options);
  }
  testWebhook(id: string): Promise<WebhookDelivery> {
    return this.webhooks.test(id);
  }

  async diffVersions(a: string, b: string, options: DiffOptions = {}): Promise<VersionDiff> {
    const [va, vb] = await Promise.all([this.versions.get(a), this.versions.get(b)]);
    const diff = await diffVersions(va, vb, this.manifests);
    if (!options.tensors) return diff;
    const inspector = this.requireInspector('tensor diff');
    return {
      ...diff,
      tensors: await inspector.diffTensors(va, vb, { stats: options.stats === true }),
    };
  }

  async inspectVersion(ref: string, options: { path?: string } = {}): Promise<VersionInspection> {
    const inspector = this.requireInspector('inspect');
    const version = await this.versions.get(ref);
    return inspector.inspect(version, options.path);
  }

  private requireInspector(operation: string): InspectionService {
    if (!this.inspector) {
      throw new ModelvaultError(
        'UNSUPPORTED',
        `${operation} is not available: no content store is configured`,
      );
    }
    return this.inspector;
  }

  /**
   * The summary of a committed manifest, or null when it cannot be computed (no store, the
   * manifest is not stored, a read fails): the summary is derived data and never stops a
   * version from being registered.
   */
  private async summaryOf(digest: string): Promise<VersionSummary | null> {
    if (!this.inspector) return null;
    try {
      return await this.inspector.summarize(digest);
    } catch {
      return null;
    }
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
  auditCheckpoints(): Promise<readonly AuditCheckpoint[]> {
    return this.audit.checkpoints();
  }
  /** Signs checkpoints with `key` from now on (a server's key, made after opening). */
  useCheckpointKey(key: KeyObject): void {
    this.checkpointKey = key;
  }
  async createAuditCheckpoint(): Promise<AuditCheckpoint | null> {
    const key = this.checkpointKey;
    if (!key) {
      throw new ModelvaultError(
        'UNSUPPORTED',
        'this registry has no checkpoint key: checkpoints are signed by a server (mvault serve) or with mvault audit checkpoint --key',
      );
    }
    return this.audit.checkpoint(key);
  }

  /**
   * Ingests `source`, then registers it (see RegistryApi.push). Everything that can be
   * checked without the files — names, keys, parents — is checked before ingesting. When
   * no code lineage is given and `source` is in a git work tree, its remote, HEAD commit
   * and dirty flag are recorded; a README.md at the root becomes the model card unless
   * `modelCard` is given.
   * @throws ModelvaultError('UNSUPPORTED') without a content store.
   */
  async push(
    source: string,
    options: PushOptions,
  ): Promise<{ version: ModelVersion; stats: TransferStats }> {
    const content = this.requireContent('push');
    const { onProgress, signal, ...input } = options;
    checkVersionFields(input);
    const createModelIfMissing = input.createModelIfMissing ?? true;
    if (!createModelIfMissing) await this.models.get(input.model);
    for (const parent of input.lineage?.parents ?? []) await this.versions.get(parent);
    const code =
      input.lineage?.code === undefined ? detectGitCode(source) : Promise.resolve(undefined);
    const detected = await code;
    // A GC with no grace period may collect the manifest before the version commits
    // (requireStoredManifest refuses the version then): ingest again, which re-commits the
    // file records and manifest (re-storing any chunk already swept), and retry.
    for (let attempt = 1; ; attempt++) {
      // The version's durable commit below makes the file and manifest records durable too.
      const { manifest, stats } = await content.ingestTree(source, {
        ...(onProgress ? { onProgress } : {}),
        ...(signal ? { signal } : {}),
        durable: false,
      });
      const modelCard = input.modelCard ?? (await readModelCard(content, manifest.entries));
      const summary = await this.summaryOf(manifest.digest);
      const scan = await this.scans.scan(content, manifest.entries);
      try {
        const version = await this.createDerived(
          {
            ...input,
            ...(modelCard === null ? {} : { modelCard }),
            manifest: {
              digest: manifest.digest,
              size: manifest.totalSize,
              fileCount: manifest.entries.length,
            },
            lineage: { ...input.lineage, ...(detected ? { code: detected } : {}) },
            createModelIfMissing,
          },
          summary,
          scan,
        );
        return { version, stats };
      } catch (e) {
        if (!(e instanceof ConflictError && e.details?.collected === true) || attempt >= 3) {
          throw e;
        }
      }
    }
  }

  /**
   * Writes the version's files under `dest`, every chunk and file digest verified.
   * @throws ModelvaultError('UNSUPPORTED') without a content store; CorruptionError naming
   *   the damaged file and chunk; InvalidArgumentError when `dest` is not empty.
   */
  async pull(
    ref: string,
    dest: string,
    options: PullOptions = {},
  ): Promise<{ version: ModelVersion; files: number; bytes: number }> {
    const content = this.requireContent('pull');
    const version = await this.versions.get(ref);
    await content.materialize(version.digest as Sha256Hex, dest, {
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return { version, files: version.fileCount, bytes: version.size };
  }

  private requireContent(operation: string): ContentStore {
    if (!this.content) {
      throw new ModelvaultError(
        'UNSUPPORTED',
        `${operation} is not available: no content store is configured`,
      );
    }
    return this.content;
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
  versionSummaryMigration,
  searchIndexesMigration,
  signaturesMigration,
  scansMigration,
  versionKeyedRowsMigration,
  policiesMigration,
  webhooksMigration,
  auditCheckpointsMigration,
  trackingMigration,
  metricHistoryMigration,
  pendingMetricsMigration,
  runKeysMigration,
  packedMetricHistoryMigration,
  orderedMetricSegmentsMigration,
  trackingPurgeMigration,
  authMigration,
  capabilityEpochMigration,
];

/**
 * Opens (creating and migrating if needed) the database — the SQLite file at `path`, or
 * `db` — and a registry over it. `migrations` adds other subsystems' migrations to the
 * registry's.
 */
export async function openLocalRegistry(
  options: Omit<LocalRegistryOptions, 'database' | 'ownsDatabase'> &
    ({ readonly path: string } | { readonly db: DatabaseConfig }) & {
      readonly migrations?: readonly NamedMigration[];
    },
): Promise<LocalRegistry> {
  const {
    migrations = [],
    path,
    db,
    ...rest
  } = options as typeof options & { path?: string; db?: DatabaseConfig };
  const config: DatabaseConfig = db ?? { kind: 'sqlite', path: path ?? '' };
  const database = await openDatabase<RegistryDB>(config, [...REGISTRY_MIGRATIONS, ...migrations]);
  return new LocalRegistry({ ...rest, database, ownsDatabase: true });
}

/**
 * The registry's operations: the ONE interface that the local services
 * (`src/registry/local-registry.ts`) implement over the metadata database and the store,
 * and that the HTTP SDK (`src/client`) will implement over the REST API. The CLI and the
 * server's route handlers are written against it, so "local or remote" is decided in one
 * place.
 *
 * Every type here is plain JSON (numbers, strings, booleans, null, arrays, objects) except
 * the callbacks and signals in options, which a remote implementation handles locally.
 * Timestamps are integer milliseconds since the epoch. Digests are 64 lowercase hex chars.
 *
 * Errors are the typed errors of `errors.ts`:
 * - InvalidArgumentError: a bad name, key, value, reference, filter, order or page token;
 * - NotFoundError naming the thing: `model 'x' not found`, `version 'x@7' not found`,
 *   `alias 'x@prod' not found`;
 * - AlreadyExistsError: creating a model whose name is taken;
 * - ConflictError: an operation the current state forbids (deleting an aliased version,
 *   rolling back an alias with no earlier target, creating a model whose name is deleted…);
 * - ModelvaultError('UNSUPPORTED'): an operation this implementation does not provide.
 *
 * References to versions (`ref`) are strings: `NAME@3`, `NAME@alias`, `NAME@latest`,
 * `NAME@sha256:<hex>`, and MLflow's `models:/NAME/3`, `models:/NAME@alias`,
 * `models:/NAME/<Stage>`. `latest`, a digest and a stage resolve to the highest-numbered
 * live version that matches.
 *
 * Every mutation is atomic and writes its audit event in the same transaction. A mutation
 * that changes nothing (setting a tag to its current value, moving an alias to where it
 * already points, deleting a tag that is not there) writes no event. `actor` in options
 * is who is acting: the local registry defaults it to its configured user; a server
 * ignores the client's value and uses the authenticated identity.
 */

import type { TensorDiff, VersionInspection, VersionSummary } from './model-inspection.js';
import type { SignatureBundle } from './model-signing.js';

export type { SignatureBundle };

export type VersionStatus = 'READY' | 'PENDING' | 'FAILED';
/** MLflow's legacy stages. Inputs are matched case-insensitively (`production` → `Production`). */
export type Stage = 'None' | 'Staging' | 'Production' | 'Archived';
export const STAGES: readonly Stage[] = ['None', 'Staging', 'Production', 'Archived'];

/** The stage named `text` in any case (`production` → `Production`), or undefined. */
export function findStage(text: string): Stage | undefined {
  const lower = String(text).toLowerCase();
  return STAGES.find((s) => s.toLowerCase() === lower);
}
export type ApprovalState = 'pending' | 'approved' | 'rejected';

/** Identifies one version in results (lineage, diffs). */
export interface VersionKey {
  readonly model: string;
  readonly version: number;
}

export interface RegisteredModel {
  readonly name: string;
  readonly description: string | null;
  readonly owner: string | null;
  readonly tags: Readonly<Record<string, string>>;
  /** alias → version number. */
  readonly aliases: Readonly<Record<string, number>>;
  /** Highest live version number, null when the model has none. */
  readonly latestVersion: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** Set when soft-deleted (only visible with `includeDeleted`). */
  readonly deletedAt: number | null;
}

export interface MetricPoint {
  readonly key: string;
  readonly value: number;
  readonly step: number;
  readonly timestamp: number;
}

export interface DatasetRef {
  /** A name unique within the version, e.g. `train`. */
  readonly name: string;
  readonly uri: string | null;
  readonly digest: string | null;
}

export interface CodeRef {
  readonly gitRemote: string | null;
  readonly gitCommit: string | null;
  readonly gitDirty: boolean | null;
}

export interface Lineage {
  readonly parents: readonly VersionKey[];
  readonly datasets: readonly DatasetRef[];
  readonly code: CodeRef | null;
}

export interface Approval {
  readonly state: ApprovalState;
  readonly reviewer: string | null;
  readonly comment: string | null;
  readonly time: number | null;
}

/** A pickle scan's verdict (see docs/security.md): worst first is dangerous. */
export type ScanVerdict = 'safe' | 'suspicious' | 'dangerous' | 'unreadable';

/** One pickle inside a scanned file (`archive/data.pkl`; `` for a bare pickle file). */
export interface PickleMemberScan {
  readonly name: string;
  readonly verdict: ScanVerdict;
  readonly globals: readonly string[];
  readonly reason: string | null;
}

/** The scan of one pickle-based file: verdict and the globals its pickles import. */
export interface FileScanReport {
  readonly format: 'pickle' | 'zip';
  /** The worst verdict of its pickles. */
  readonly verdict: ScanVerdict;
  /** Every `module.name` imported, first-seen order (at most 1000). */
  readonly globals: readonly string[];
  /** The imported globals on the deny-list (`<computed>` for a dynamic import). */
  readonly dangerous: readonly string[];
  /** The imported globals on neither list. */
  readonly suspicious: readonly string[];
  /** Why (part of) the file could not be followed, else null. */
  readonly reason: string | null;
  readonly members: readonly PickleMemberScan[];
}

export interface FileScan extends FileScanReport {
  readonly path: string;
  readonly sha256: string;
}

/** On a version: its scan's verdict (`none`: no pickle-based file) and the flagged paths. */
export interface ScanSummary {
  readonly verdict: ScanVerdict | 'none';
  /** Pickle-based files scanned. */
  readonly files: number;
  /** Paths whose verdict is `dangerous`. */
  readonly dangerous: readonly string[];
}

export interface VersionScan extends ScanSummary {
  readonly model: string;
  readonly version: number;
  /** Scanner id and rules version, e.g. `modelvault-pickle-scan/1`. */
  readonly scanner: string;
  readonly scannedAt: number;
  /** Every pickle-based file, by path. */
  readonly fileScans: readonly FileScan[];
}

/** A signature attached to a version (format: core/model-signing.ts, docs/security.md). */
export interface VersionSignature {
  /** SHA-256 hex of the signer's public key PEM. */
  readonly keyId: string;
  /** The signer's ed25519 public key, PEM (SPKI). */
  readonly publicKey: string;
  /** Who attached it. */
  readonly signedBy: string;
  readonly createdAt: number;
  /** The Sigstore bundle: a DSSE envelope over an in-toto statement. */
  readonly bundle: SignatureBundle;
}

/** A version's files (its manifest). */
export interface VersionManifest {
  /** The version digest: SHA-256 of the manifest's canonical JSON. */
  readonly digest: string;
  readonly totalSize: number;
  /** Sorted by path (UTF-8 byte order). */
  readonly files: readonly FileEntry[];
}

export interface ModelVersion {
  readonly model: string;
  readonly version: number;
  /** SHA-256 of the manifest's canonical JSON: the version's content identity. */
  readonly digest: string;
  readonly size: number;
  readonly fileCount: number;
  readonly description: string | null;
  /** The model card: text of the README.md at the root of the version's files, if any. */
  readonly modelCard: string | null;
  /**
   * What the files are (format, framework, parameter count, dtype mix, architecture), read
   * from their headers when the version was created; null when it was not computed.
   */
  readonly summary: VersionSummary | null;
  readonly createdBy: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly status: VersionStatus;
  readonly statusMessage: string | null;
  readonly stage: Stage;
  readonly approval: Approval;
  readonly runId: string | null;
  readonly source: string | null;
  /** Latest value per metric key. */
  readonly metrics: Readonly<Record<string, number>>;
  readonly params: Readonly<Record<string, string>>;
  readonly tags: Readonly<Record<string, string>>;
  /** Aliases of the model that point at this version, sorted. */
  readonly aliases: readonly string[];
  readonly lineage: Lineage;
  readonly deletedAt: number | null;
  /** The unsafe-pickle scan taken at creation; null when the version was not scanned. */
  readonly scan: ScanSummary | null;
  /** Key ids of the signatures attached, sorted. */
  readonly signatures: readonly string[];
}

export interface AliasChange {
  readonly model: string;
  readonly alias: string;
  /** The alias's target after the operation (null after a delete). */
  readonly version: number | null;
  readonly previousVersion: number | null;
  /** False when the operation changed nothing (and wrote no audit event). */
  readonly changed: boolean;
}

export interface AliasHistoryEntry {
  readonly seq: number;
  readonly time: number;
  readonly actor: string;
  readonly alias: string;
  readonly action: 'set' | 'deleted' | 'rolled_back';
  readonly version: number | null;
  readonly previousVersion: number | null;
}

export interface MetricDelta {
  readonly key: string;
  readonly a: number | null;
  readonly b: number | null;
  /** b − a, when both exist. */
  readonly delta: number | null;
}

export interface KeyValueDiff {
  readonly added: readonly { readonly key: string; readonly value: string }[];
  readonly removed: readonly { readonly key: string; readonly value: string }[];
  readonly changed: readonly { readonly key: string; readonly a: string; readonly b: string }[];
}

export interface FileEntry {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
}

export interface FilesDiff {
  readonly added: readonly FileEntry[];
  readonly removed: readonly FileEntry[];
  readonly changed: readonly {
    readonly path: string;
    readonly a: FileEntry;
    readonly b: FileEntry;
  }[];
  readonly unchanged: number;
}

/** Compares version `a` (the base) with `b`. Lists are sorted by key / path. */
export interface VersionDiff {
  readonly a: VersionKey & { readonly digest: string; readonly size: number };
  readonly b: VersionKey & { readonly digest: string; readonly size: number };
  /** Same manifest digest: byte-for-byte the same files. */
  readonly sameContent: boolean;
  /** Every metric key of either side, with the delta. */
  readonly metrics: readonly MetricDelta[];
  readonly params: KeyValueDiff;
  readonly tags: KeyValueDiff;
  /** Null when this implementation cannot read manifests (and the digests differ). */
  readonly files: FilesDiff | null;
  /** Tensor-level comparison, only when asked for (`tensors: true`). */
  readonly tensors?: TensorDiff;
}

export interface DiffOptions {
  /** Compare tensor by tensor (reads headers; unchanged tensors are known from chunk ids). */
  readonly tensors?: boolean;
  /** With `tensors`: numeric statistics of changed tensors (reads their bytes). */
  readonly stats?: boolean;
}

/** One page of results. `nextPageToken` is absent on the last page; it is opaque. */
export interface SearchResult<T> {
  readonly items: readonly T[];
  readonly nextPageToken?: string;
}

export interface PageOptions {
  /** From a previous page of the same query; any other value is InvalidArgumentError. */
  readonly pageToken?: string;
  /** 1..10000, default 100. */
  readonly maxResults?: number;
}

export interface SearchQuery extends PageOptions {
  /**
   * MLflow filter syntax with OR and parentheses: `name LIKE 'fraud%' AND
   * (metrics.auc > 0.9 OR tags.team = 'risk')`. Versions: attributes name,
   * version_number, run_id, source, status, stage (current_stage), created_at
   * (creation_timestamp), updated_at (last_updated_timestamp), user (created_by, user_id),
   * digest, size, approval; `metrics.K`, `params.K`, `tags.K`, `aliases`. Models: name,
   * owner, created_at, updated_at, `tags.K`, `aliases`. LIKE is case-sensitive, ILIKE not.
   */
  readonly filter?: string;
  /** Terms such as `metrics.auc DESC`, `name`; nulls sort last either way. */
  readonly orderBy?: readonly string[];
  readonly includeDeleted?: boolean;
}

export interface MutationOptions {
  readonly actor?: string;
}

export interface CreateModelInput extends MutationOptions {
  readonly name: string;
  readonly description?: string;
  /** Defaults to the actor. */
  readonly owner?: string;
  readonly tags?: Readonly<Record<string, string>>;
}

export interface MetricInput {
  readonly key: string;
  /** Finite numbers only (JSON cannot carry NaN or infinities). */
  readonly value: number;
  /** Default 0. */
  readonly step?: number;
  /** Default now. */
  readonly timestamp?: number;
}

export interface LineageInput {
  /** Version references, resolved when the version is created (must exist, not deleted). */
  readonly parents?: readonly string[];
  readonly datasets?: readonly {
    readonly name: string;
    readonly uri?: string;
    readonly digest?: string;
  }[];
  readonly code?: {
    readonly gitRemote?: string;
    readonly gitCommit?: string;
    readonly gitDirty?: boolean;
  };
}

/** Version content: a manifest already committed to the store, and its summary. */
export interface ManifestSummary {
  /** Manifest digest (`sha256:` prefix accepted). */
  readonly digest: string;
  readonly size: number;
  readonly fileCount: number;
}

export interface CreateVersionInput extends MutationOptions {
  readonly model: string;
  readonly manifest: ManifestSummary;
  readonly description?: string;
  /** Markdown describing the model; push reads it from the version's root README.md. */
  readonly modelCard?: string;
  /** Logged at step 0 at creation time. */
  readonly metrics?: Readonly<Record<string, number>>;
  readonly params?: Readonly<Record<string, string>>;
  readonly tags?: Readonly<Record<string, string>>;
  readonly runId?: string;
  readonly source?: string;
  readonly lineage?: LineageInput;
  /** Create the model (owner = actor) if there is none with this name. Default false. */
  readonly createModelIfMissing?: boolean;
}

export interface ListVersionsOptions extends PageOptions {
  readonly includeDeleted?: boolean;
}

export interface AuditEvent {
  /** 1, 2, 3…: the position in the chain. */
  readonly seq: number;
  readonly time: number;
  readonly actor: string;
  /** `model.created`, `version.created`, `alias.set`, `stage.transitioned`, … */
  readonly action: string;
  /** `model`, `model@3` or `model@alias`. */
  readonly subject: string;
  readonly data: unknown;
  readonly prevHash: string;
  readonly hash: string;
}

export interface AuditQuery extends PageOptions {
  /** Events about this model, its versions and its aliases. */
  readonly model?: string;
  readonly actor?: string;
  readonly actions?: readonly string[];
  /** Inclusive lower bound on `time`. */
  readonly since?: number;
  /** Exclusive upper bound on `time`. */
  readonly until?: number;
  /** Default `desc` (newest first). */
  readonly order?: 'asc' | 'desc';
}

export interface AuditProblem {
  /** The event at fault; for a gap, the first missing seq. */
  readonly seq: number;
  readonly kind: 'gap' | 'hash_mismatch' | 'prev_hash_mismatch' | 'unreadable';
  readonly message: string;
}

export interface AuditVerifyResult {
  readonly ok: boolean;
  /** Events read. */
  readonly checked: number;
  readonly lastSeq: number | null;
  /** Hash of the last event: compare with a previously exported head to detect truncation. */
  readonly headHash: string | null;
  /** In seq order; the first one is the first broken link. At most 100. */
  readonly problems: readonly AuditProblem[];
}

// ------------------------------------------------------------ promotion policies

/**
 * What a promotion policy guards: pointing an alias at a version, or moving a version to
 * a stage. Exactly one of the two is given.
 */
export interface PromotionTarget {
  readonly alias?: string;
  /** Matched case-insensitively (`production` → `Production`). */
  readonly stage?: string;
}

/** The rules of a promotion policy: every rule given must hold (docs/security.md). */
export interface PolicyRules {
  /**
   * A filter in the search syntax that the version must match, e.g.
   * `metrics.auc >= 0.9 AND tags.validated = 'true'`. Its top-level AND terms are
   * checked and reported one by one.
   */
  readonly require?: string;
  /** Key ids (SHA-256 of the public key PEM): one of them must have a valid signature. */
  readonly signedBy?: readonly string[];
  /**
   * `no-dangerous`: the version was scanned and no file is dangerous or unreadable;
   * `safe`: every pickle-based file is safe (no suspicious import either).
   */
  readonly scan?: 'no-dangerous' | 'safe';
  /** `approved`: the version is approved; `other-than-creator`: by someone else than its creator. */
  readonly approval?: 'approved' | 'other-than-creator';
}

export interface PromotionPolicy {
  /** The model it applies to; null for the registry-wide default. */
  readonly model: string | null;
  /** The alias guarded, or null when it guards a stage. */
  readonly alias: string | null;
  readonly stage: Stage | null;
  readonly rules: PolicyRules;
  readonly updatedBy: string;
  readonly updatedAt: number;
}

export interface SetPolicyInput extends PromotionTarget, MutationOptions {
  /** The model; absent or null for the registry-wide default of this target. */
  readonly model?: string | null;
  readonly rules: PolicyRules;
}

export interface PolicyRuleResult {
  /** `require: metrics.auc >= 0.9`, `signedBy`, `scan`, `approval`. */
  readonly rule: string;
  readonly ok: boolean;
  /** What was found: `metrics.auc is 0.85`, `signed by key 3f2a…`. */
  readonly message: string;
}

/** Whether a version may be promoted to a target now, rule by rule. */
export interface PolicyCheck {
  readonly model: string;
  readonly version: number;
  readonly alias: string | null;
  readonly stage: Stage | null;
  /** The policy that applies: the model's own, else the registry-wide default; null if none. */
  readonly policy: PromotionPolicy | null;
  /** True when there is no policy or every rule holds. */
  readonly ok: boolean;
  readonly results: readonly PolicyRuleResult[];
}

// ------------------------------------------------------------------ webhooks

/**
 * Webhook events: MLflow's names where MLflow has the event, else the audit action's
 * name (docs/api.md lists them). `*` subscribes to every event.
 */
export const WEBHOOK_EVENTS = [
  'registered_model.created',
  'registered_model.updated',
  'registered_model.renamed',
  'registered_model.deleted',
  'registered_model.restored',
  'registered_model_tag.set',
  'registered_model_tag.deleted',
  'model_version.created',
  'model_version.updated',
  'model_version.deleted',
  'model_version.restored',
  'model_version_tag.set',
  'model_version_tag.deleted',
  'model_version_alias.created',
  'model_version_alias.deleted',
  'alias.rolled_back',
  'stage.transitioned',
  'version.approved',
  'version.rejected',
  'version.signed',
  'version.metrics_logged',
  'policy.set',
  'policy.deleted',
  'webhook.test',
] as const;

export interface Webhook {
  /** `wh_` and 24 hex digits. */
  readonly id: string;
  readonly url: string;
  /** The model whose events it gets; null for every model (and registry-wide events). */
  readonly model: string | null;
  /** Event names, or `['*']`. */
  readonly events: readonly string[];
  readonly description: string | null;
  readonly createdBy: string;
  readonly createdAt: number;
}

/** The answer to creating a webhook: the only time its secret is shown. */
export interface CreatedWebhook extends Webhook {
  /** The HMAC-SHA256 key of its signatures (`whsec_…`). */
  readonly secret: string;
}

export interface CreateWebhookInput extends MutationOptions {
  /** http:// or https:// (docs/security.md: what the server may reach). */
  readonly url: string;
  readonly events: readonly string[];
  readonly model?: string | null;
  readonly description?: string;
}

export interface WebhookDelivery {
  readonly id: number;
  readonly webhookId: string;
  readonly event: string;
  /** The audit event delivered; null for a test delivery. */
  readonly auditSeq: number | null;
  /** `pending` (to be tried at nextAttemptAt), `delivered`, or `failed` (attempts exhausted). */
  readonly state: 'pending' | 'delivered' | 'failed';
  readonly attempts: number;
  readonly nextAttemptAt: number | null;
  /** HTTP status of the last attempt; null when it got no answer. */
  readonly lastStatus: number | null;
  readonly lastError: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/**
 * A signed checkpoint of the audit chain: the server's ed25519 signature over the head
 * (seq, hash) at `time` (format: metadata/audit-chain.ts). In an export it is a line
 * `{"type": "checkpoint", …}` after the event it signs.
 */
export interface AuditCheckpoint {
  readonly seq: number;
  /** The hash of event `seq`. */
  readonly hash: string;
  /** ISO-8601 UTC with milliseconds: what the signature covers. */
  readonly time: string;
  /** `sha256:` + hex SHA-256 of the signing public key (SPKI DER). */
  readonly keyId: string;
  /** Base64 ed25519 signature. */
  readonly signature: string;
}

/** Byte counts of a push: how much was new versus already stored. */
export interface TransferStats {
  readonly files: number;
  readonly bytes: number;
  readonly newBytes: number;
  readonly chunks: number;
  readonly newChunks: number;
}

export type ProgressCallback = (p: {
  readonly bytesDone: number;
  readonly bytesTotal: number;
  readonly path?: string;
}) => void;

export interface PushOptions extends Omit<CreateVersionInput, 'manifest' | 'createModelIfMissing'> {
  /** Default true for push. */
  readonly createModelIfMissing?: boolean;
  readonly onProgress?: ProgressCallback;
  readonly signal?: AbortSignal;
}

export interface PullOptions {
  readonly onProgress?: ProgressCallback;
  readonly signal?: AbortSignal;
}

export interface RegistryApi {
  // ------------------------------------------------------------------ models

  /** @throws AlreadyExistsError (name taken), ConflictError (name held by a deleted model). */
  createModel(input: CreateModelInput): Promise<RegisteredModel>;
  /** @throws NotFoundError `model 'x' not found` (also when deleted, unless includeDeleted). */
  getModel(name: string, options?: { readonly includeDeleted?: boolean }): Promise<RegisteredModel>;
  /** All models by name. */
  listModels(
    options?: PageOptions & { readonly includeDeleted?: boolean },
  ): Promise<SearchResult<RegisteredModel>>;
  searchModels(query?: SearchQuery): Promise<SearchResult<RegisteredModel>>;
  /** Sets the description (null clears it). */
  updateModel(
    name: string,
    changes: { readonly description?: string | null },
    options?: MutationOptions,
  ): Promise<RegisteredModel>;
  /**
   * Renames a model; its versions, aliases and tags follow it. Audited as `model.renamed`
   * (subject: the new name; data: the old one).
   * @throws NotFoundError (no such model), AlreadyExistsError (the new name is taken),
   *   ConflictError (the new name belongs to a deleted model).
   */
  renameModel(name: string, newName: string, options?: MutationOptions): Promise<RegisteredModel>;
  /** Soft delete: hides the model, its versions and aliases; restorable. Not idempotent. */
  deleteModel(name: string, options?: MutationOptions): Promise<void>;
  /**
   * @throws NotFoundError (no such model), ConflictError (it is not deleted, or was deleted
   *   longer ago than the retention period).
   */
  restoreModel(name: string, options?: MutationOptions): Promise<RegisteredModel>;
  setModelTag(name: string, key: string, value: string, options?: MutationOptions): Promise<void>;
  /** Idempotent: resolves false when the tag was not there. */
  deleteModelTag(name: string, key: string, options?: MutationOptions): Promise<boolean>;

  // ---------------------------------------------------------------- versions

  /**
   * Registers a new immutable version; its number is the model's next (never reused).
   * The manifest must already be committed to the store (this does not check the store).
   * @throws NotFoundError (model, unless createModelIfMissing; a parent reference).
   */
  createVersion(input: CreateVersionInput): Promise<ModelVersion>;
  getVersion(ref: string, options?: { readonly includeDeleted?: boolean }): Promise<ModelVersion>;
  /** Versions of one model, newest first. */
  listVersions(model: string, options?: ListVersionsOptions): Promise<SearchResult<ModelVersion>>;
  /** Default order: name ascending, version descending. */
  searchVersions(query?: SearchQuery): Promise<SearchResult<ModelVersion>>;
  updateVersion(
    ref: string,
    changes: { readonly description?: string | null },
    options?: MutationOptions,
  ): Promise<ModelVersion>;
  setVersionTag(ref: string, key: string, value: string, options?: MutationOptions): Promise<void>;
  /** Idempotent: resolves false when the tag was not there. */
  deleteVersionTag(ref: string, key: string, options?: MutationOptions): Promise<boolean>;
  /** Appends metric points; a point becomes the latest when its (step, timestamp) is not older. */
  logVersionMetrics(
    ref: string,
    metrics: readonly MetricInput[],
    options?: MutationOptions,
  ): Promise<ModelVersion>;
  /** Every point logged for `key`, by step then timestamp. */
  getMetricHistory(ref: string, key: string): Promise<readonly MetricPoint[]>;
  /**
   * Soft delete: the version disappears from get/list/search; its number is never reused.
   * @throws ConflictError while aliases point at it (move or delete them first).
   */
  deleteVersion(ref: string, options?: MutationOptions): Promise<void>;
  /**
   * `ref` must name a number: `NAME@N` or `models:/NAME/N`.
   * @throws NotFoundError (no such version), ConflictError (it is not deleted, or was
   *   deleted longer ago than the retention period, so its files may be collected).
   */
  restoreVersion(ref: string, options?: MutationOptions): Promise<ModelVersion>;
  /**
   * Moves the version to `stage`. With archiveExisting, the model's other versions in that
   * stage move to Archived in the same transaction (one event lists them).
   */
  transitionStage(
    ref: string,
    stage: string,
    options?: MutationOptions & { readonly archiveExisting?: boolean },
  ): Promise<ModelVersion>;
  /** Records approval; the reviewer is the actor. May overturn an earlier review. */
  approve(
    ref: string,
    options?: MutationOptions & { readonly comment?: string },
  ): Promise<ModelVersion>;
  reject(
    ref: string,
    options?: MutationOptions & { readonly comment?: string },
  ): Promise<ModelVersion>;

  // ---------------------------------------------------- files, scans, signatures

  /** The version's files. @throws ModelvaultError('UNSUPPORTED') without a content store. */
  getManifest(ref: string): Promise<VersionManifest>;
  /** The unsafe-pickle scan taken when the version was created; null if none was taken. */
  getScan(ref: string): Promise<VersionScan | null>;
  /**
   * Attaches a signature (made by the caller with its private key, see
   * core/model-signing.ts). The registry checks it before storing it: the bundle's
   * signature must verify with `publicKey` and its statement must describe exactly this
   * version's files and digest. One signature per key: signing again with the same key
   * replaces it. Audited as `version.signed`.
   * @throws VerificationError (the bundle does not verify, or is over other content),
   *   InvalidArgumentError (not an ed25519 public key, bundle too large).
   */
  addSignature(
    ref: string,
    input: { readonly bundle: SignatureBundle; readonly publicKey: string },
    options?: MutationOptions,
  ): Promise<VersionSignature>;
  /** The version's signatures, by key id. */
  listSignatures(ref: string): Promise<readonly VersionSignature[]>;

  // ----------------------------------------------------------------- aliases

  /** Points `alias` at `version` (which must be live). Resolves the change. */
  setAlias(
    model: string,
    alias: string,
    version: number,
    options?: MutationOptions,
  ): Promise<AliasChange>;
  /** Idempotent: `changed` is false when there was no such alias. */
  deleteAlias(model: string, alias: string, options?: MutationOptions): Promise<AliasChange>;
  /** Every move of the model's aliases (or of one alias), oldest first, from the audit trail. */
  aliasHistory(model: string, alias?: string): Promise<readonly AliasHistoryEntry[]>;
  /**
   * Moves `alias` back to its previous target. Repeated rollbacks walk further back (each
   * undoes one earlier `setAlias`).
   * @throws ConflictError when there is no previous target, or it has been deleted.
   */
  rollback(model: string, alias: string, options?: MutationOptions): Promise<AliasChange>;

  // ------------------------------------------------------- promotion policies

  /**
   * Creates or replaces the policy of a target, for one model or (model absent) for every
   * model without its own. Audited as `policy.set`. The rules are checked: an unparsable
   * `require` filter, a malformed key id or an unknown mode is InvalidArgumentError.
   * @throws NotFoundError (model).
   */
  setPolicy(input: SetPolicyInput): Promise<PromotionPolicy>;
  /** Policies by model (defaults first), then alias/stage. With `model`, only that model's. */
  listPolicies(options?: { readonly model?: string }): Promise<readonly PromotionPolicy[]>;
  /** Idempotent: resolves false when there was no such policy. Audited as `policy.deleted`. */
  deletePolicy(
    target: PromotionTarget & { readonly model?: string | null },
    options?: MutationOptions,
  ): Promise<boolean>;
  /**
   * Evaluates the policy that would guard promoting `ref` to `target`, changing nothing.
   * setAlias, rollback and transitionStage run the same check inside their transaction
   * and throw PolicyViolationError (POLICY_VIOLATION) listing the failed rules.
   */
  checkPolicy(ref: string, target: PromotionTarget): Promise<PolicyCheck>;

  // ----------------------------------------------------------------- webhooks

  /**
   * Subscribes `url` to events (of one model, or of all). Audited as `webhook.created`
   * (without the secret). Deliveries start with the events after this call.
   * @throws InvalidArgumentError (url not http(s), unknown event), NotFoundError (model).
   */
  createWebhook(input: CreateWebhookInput): Promise<CreatedWebhook>;
  listWebhooks(): Promise<readonly Webhook[]>;
  /** Stops deliveries (pending ones are dropped). Idempotent. Audited as `webhook.deleted`. */
  deleteWebhook(id: string, options?: MutationOptions): Promise<boolean>;
  /** The webhook's deliveries, newest first. @throws NotFoundError */
  webhookDeliveries(
    id: string,
    options?: { readonly maxResults?: number },
  ): Promise<readonly WebhookDelivery[]>;
  /** Sends a `webhook.test` event now, once, and logs it. @throws NotFoundError */
  testWebhook(id: string): Promise<WebhookDelivery>;

  // -------------------------------------------------------------- comparison

  /**
   * @throws ModelvaultError('UNSUPPORTED') for `tensors` without access to the files.
   */
  diffVersions(a: string, b: string, options?: DiffOptions): Promise<VersionDiff>;
  /**
   * What the version's files are, read from their headers: every recognised file, or with
   * `path` that one file with its tensor list.
   * @throws NotFoundError (version; no such file), ModelvaultError('UNSUPPORTED').
   */
  inspectVersion(ref: string, options?: { readonly path?: string }): Promise<VersionInspection>;

  // ------------------------------------------------------------------- audit

  auditLog(query?: AuditQuery): Promise<SearchResult<AuditEvent>>;
  /** Recomputes the whole chain in seq order. Never throws for a broken chain: reports it. */
  auditVerify(): Promise<AuditVerifyResult>;
  /** Every event matching the query (paging options ignored), oldest first, streamed. */
  auditExport(query?: Omit<AuditQuery, keyof PageOptions | 'order'>): AsyncIterable<AuditEvent>;
  /** The signed checkpoints of the chain, oldest first. */
  auditCheckpoints(): Promise<readonly AuditCheckpoint[]>;
  /**
   * Signs the current head with the registry's checkpoint key, unless the newest
   * checkpoint already covers it (then returns that one); null for an empty trail.
   * @throws ModelvaultError('UNSUPPORTED') when this registry has no checkpoint key.
   */
  createAuditCheckpoint(): Promise<AuditCheckpoint | null>;

  // -------------------------------------------------------------- data plane

  /**
   * Ingests the directory (or single file) `source` into the store, deduplicated, and
   * registers it as a new version of `options.model` in one step. Nothing is registered
   * if ingesting fails or is aborted (stored chunks are reclaimed by GC).
   */
  push(
    source: string,
    options: PushOptions,
  ): Promise<{
    readonly version: ModelVersion;
    readonly stats: TransferStats;
  }>;
  /**
   * Writes the version's files under `dest` (created; must be empty or absent), every
   * byte verified against the manifest.
   */
  pull(
    ref: string,
    dest: string,
    options?: PullOptions,
  ): Promise<{
    readonly version: ModelVersion;
    readonly files: number;
    readonly bytes: number;
  }>;

  /** Releases the database and store. Idempotent. */
  close(): Promise<void>;
}

// ------------------------------------------------------------------ maintenance

export interface GcRequest extends MutationOptions {
  /** Report what would be collected and purged, change nothing. */
  readonly dryRun?: boolean;
  /** Nothing stored more recently than this is collected (default 1 hour). */
  readonly graceMs?: number;
}

/** What one garbage collection did (or, in a dry run, would do). */
export interface GcResult {
  readonly dryRun: boolean;
  /** Soft-deleted versions and models keep their files this long (see retentionMs). */
  readonly retentionMs: number;
  readonly graceMs: number;
  /**
   * MLflow runs deleted more than retention + grace ago, deleted for good with their
   * metric history, params, tags, inputs and artifacts before the collection (in a dry
   * run: those that would be; their artifacts' bytes are then counted as kept).
   */
  readonly runsPurged: number;
  /** MLflow experiments deleted that long ago with no run left, deleted for good (likewise). */
  readonly experimentsPurged: number;
  /**
   * MLflow multipart uploads that received no part for their time to live (24 hours),
   * dropped with their parts before the collection (in a dry run: those that would be).
   */
  readonly uploadsExpired: number;
  /**
   * Distinct manifests kept: those of live or still-restorable versions, of MLflow
   * artifacts, multipart parts and Git LFS objects.
   */
  readonly liveManifests: number;
  readonly manifestsDeleted: number;
  readonly filesDeleted: number;
  readonly chunksTombstoned: number;
  readonly chunksRevived: number;
  readonly packsDeleted: number;
  readonly packsRepacked: number;
  readonly bytesFreed: number;
}

/** What compacting the metadata database did (`RegistryMaintenance.compact`). */
export interface CompactResult {
  /** `sqlite` or `postgres`. */
  readonly dialect: string;
  /** The SQLite file, or the PostgreSQL URL without its password. */
  readonly location: string;
  /** SQLite: the file's size (its pages); PostgreSQL: the schema's tables and indexes. */
  readonly bytesBefore: number;
  readonly bytesAfter: number;
  /** SQLite: the free pages' bytes before, what compaction can return. */
  readonly freeBytesBefore?: number;
  readonly durationMs: number;
}

export interface IntegrityProblem {
  /**
   * pack-unreadable, pack-missing, pack-unindexed, chunk-damaged, chunk-missing,
   * index-mismatch, file-damaged, manifest-damaged, version-content-missing.
   */
  readonly kind: string;
  /** The damaged object: pack id, chunk id, file sha256, manifest digest or `model@N`. */
  readonly id: string;
  readonly message: string;
}

export interface FsckResult {
  /** True when no problem was found. */
  readonly ok: boolean;
  readonly packs: number;
  readonly chunks: number;
  readonly files: number;
  readonly manifests: number;
  /** Versions checked: live ones and soft-deleted ones that can still be restored. */
  readonly versions: number;
  readonly problems: readonly IntegrityProblem[];
  /** `model@N` of every checked version whose files cannot all be read back intact. */
  readonly damagedVersions: readonly string[];
}

export interface RepairResult {
  readonly packsIndexed: number;
  readonly chunksAdded: number;
  readonly chunksRepointed: number;
  readonly chunksRemoved: number;
  /** A full check after repairing: what is still damaged (bytes no pack holds intact). */
  readonly after: FsckResult;
}

/**
 * Operations on the store behind a registry (its owner's tools: `mvault gc`, `fsck`,
 * `repair`). A remote implementation would expose them to administrators only.
 */
export interface RegistryMaintenance {
  /**
   * Mark-and-sweep of stored bytes. Live: the files of every version that is not deleted,
   * or was soft-deleted (itself or its model) less than `retentionMs` + grace ago. First
   * purges MLflow runs (and then experiments) deleted longer ago than that, so their
   * artifacts' bytes are collected by the same gc; each purge is audited, by the actor.
   * @throws LockedError while another collection runs.
   */
  gc(request?: GcRequest): Promise<GcResult>;
  /** Re-reads and re-verifies every pack, chunk, file and manifest; never modifies. */
  fsck(): Promise<FsckResult>;
  /** Rebuilds the chunk index from the packs, then checks again. Never deletes a pack. */
  repair(): Promise<RepairResult>;
  /**
   * Gives the metadata database's free space back to the file system (Database.compact):
   * on SQLite, the pages of dropped tables and deleted rows, e.g. after a migration
   * rewrote a table or after gc. Holds SQLite's write lock while it runs.
   * @throws LockedError when another process keeps the write lock.
   */
  compact(): Promise<CompactResult>;
}

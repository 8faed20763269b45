/**
 * Kysely table types of the registry's metadata tables (migrations `0100-registry`,
 * `0101-model-card`, `0104-signatures`, `0105-scans`, `0110-policies`, `0111-webhooks`, `0112-audit-checkpoints`; tracking's tables, migration
 * `0300-tracking`, are in tracking-schema.ts).
 *
 * Conventions, chosen so the same schema runs on SQLite and PostgreSQL:
 * - timestamps are integer milliseconds since the epoch (`bigint` columns);
 * - booleans are integers 0/1;
 * - soft deletes set `deleted_at`; rows of the registry are never removed through the API;
 * - JSON is stored as text (`audit_events.data`), in canonical form.
 *
 * PostgreSQL's driver returns `bigint` as strings: the postgres dialect must install a
 * type parser (int8 → number) so these types hold there too.
 */
import type { Generated, Insertable, Selectable } from 'kysely';
import type { ApprovalState, Stage, VersionStatus } from '../core/registry-api.js';
import type { AuthTables } from './auth-schema.js';
import type { TrackingTables } from './tracking-schema.js';

export interface RegisteredModelsTable {
  id: Generated<number>;
  /** Unique, case-sensitive; a soft-deleted model keeps its name (restore brings it back). */
  name: string;
  description: string | null;
  owner: string | null;
  created_at: number;
  updated_at: number;
  deleted_at: number | null;
  /** The next version number to allocate: numbers are never reused, even after deletion. */
  next_version: number;
}

export interface ModelTagsTable {
  model_id: number;
  key: string;
  value: string;
}

export interface ModelVersionsTable {
  id: Generated<number>;
  model_id: number;
  /** 1, 2, 3… per model, allocated from registered_models.next_version. */
  version: number;
  /** SHA-256 (64 lowercase hex) of the manifest's canonical JSON. */
  manifest_digest: string;
  size: number;
  file_count: number;
  description: string | null;
  created_by: string | null;
  created_at: number;
  updated_at: number;
  status: VersionStatus;
  status_message: string | null;
  stage: Stage;
  approval: ApprovalState;
  approval_reviewer: string | null;
  approval_comment: string | null;
  approval_time: number | null;
  run_id: string | null;
  source: string | null;
  deleted_at: number | null;
  /** Text of the README.md at the root of the version's files (migration 0101); null if none. */
  model_card: string | null;
  /** JSON of the VersionSummary computed from the files' headers (migration 0102); null if none. */
  summary: string | null;
}

export interface VersionTagsTable {
  version_id: number;
  key: string;
  value: string;
}

/** Every logged metric point (the history). */
export interface VersionMetricsTable {
  id: Generated<number>;
  version_id: number;
  key: string;
  value: number;
  step: number;
  timestamp: number;
}

/**
 * The latest point per (version, key): what search, ORDER BY and `ModelVersion.metrics` read.
 * On SQLite this table, version_params and version_tags are `WITHOUT ROWID`, keyed
 * (version_id, key) (migration 0106).
 */
export interface VersionLatestMetricsTable {
  version_id: number;
  key: string;
  value: number;
  step: number;
  timestamp: number;
}

export interface VersionParamsTable {
  version_id: number;
  key: string;
  value: string;
}

export interface VersionParentsTable {
  version_id: number;
  parent_version_id: number;
}

export interface VersionDatasetsTable {
  version_id: number;
  name: string;
  uri: string | null;
  digest: string | null;
}

export interface VersionCodeTable {
  version_id: number;
  git_remote: string | null;
  git_commit: string | null;
  /** 0/1; null when unknown. */
  git_dirty: number | null;
}

export interface AliasesTable {
  model_id: number;
  alias: string;
  version_id: number;
  updated_at: number;
}

/**
 * The hash-chained audit trail. `seq` is allocated by the writer (last + 1) inside the
 * mutation's write transaction, because it is part of the hashed content.
 */
export interface AuditEventsTable {
  seq: number;
  time: number;
  actor: string;
  action: string;
  /** `model`, `model@3` (a version) or `model@alias`. */
  subject: string;
  /** Canonical JSON text. */
  data: string;
  prev_hash: string;
  hash: string;
}

/** Migration 0104: signatures attached to a version, one per signing key. */
export interface VersionSignaturesTable {
  version_id: number;
  /** SHA-256 hex of the signer's public key PEM (the bundle's `publicKey.hint`). */
  key_id: string;
  /** PEM (SPKI) of the ed25519 public key. */
  public_key: string;
  /** The Sigstore bundle, canonical JSON text. */
  bundle: string;
  created_by: string;
  created_at: number;
}

/** Migration 0105: the version's pickle scan (verdict `none`: no pickle-based file). */
export interface VersionScansTable {
  version_id: number;
  verdict: string;
  /** Scanner id and rules version (`modelvault-pickle-scan/1`): reports are reused only within one. */
  scanner: string;
  scanned_at: number;
  /** Pickle-based files scanned. */
  files: number;
}

/** Migration 0105: one pickle-based file's scan report (JSON text). */
export interface VersionScanFilesTable {
  version_id: number;
  path: string;
  sha256: string;
  verdict: string;
  scanner: string;
  report: string;
}

/** Migration 0110: a promotion policy; `model_id` 0 is the registry-wide default. */
export interface PromotionPoliciesTable {
  model_id: number;
  /** `alias` or `stage`. */
  target_kind: string;
  /** The alias, or the canonical stage name. */
  target_name: string;
  /** Canonical JSON of PolicyRules. */
  rules: string;
  updated_by: string;
  updated_at: number;
}

/** Migration 0111: a webhook subscription; `model_id` 0 is every model. */
export interface WebhooksTable {
  id: string;
  url: string;
  model_id: number;
  /** JSON array of event names; `["*"]` for every event. */
  events: string;
  /** The HMAC key, shown once at creation. */
  secret: string;
  description: string | null;
  /** Audit seq at creation: only later events are delivered. */
  after_seq: number;
  created_by: string;
  created_at: number;
  deleted_at: number | null;
}

/** Migration 0111: the outbox and delivery log. */
export interface WebhookDeliveriesTable {
  id: Generated<number>;
  webhook_id: string;
  event: string;
  /** The audit event delivered; null for a test delivery. */
  audit_seq: number | null;
  /** The JSON body sent. */
  payload: string;
  /** `pending`, `delivered` or `failed` (attempts exhausted). */
  state: string;
  attempts: number;
  next_attempt_at: number;
  /** A dispatcher's lease while it sends; null when free. */
  claimed_until: number | null;
  last_status: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

/** Migration 0111: the last audit seq turned into deliveries (one row, id 1). */
export interface WebhookCursorTable {
  id: number;
  seq: number;
}

/** Migration 0112: a signed checkpoint of the audit chain's head at `seq`. */
export interface AuditCheckpointsTable {
  seq: number;
  hash: string;
  /** When it was signed (ms); the signature covers `new Date(time).toISOString()`. */
  time: number;
  key_id: string;
  signature: string;
}

/** Every table of the registry's database, MLflow tracking's included (0300-tracking). */
export interface RegistryDB extends TrackingTables, AuthTables {
  registered_models: RegisteredModelsTable;
  model_tags: ModelTagsTable;
  model_versions: ModelVersionsTable;
  version_tags: VersionTagsTable;
  version_metrics: VersionMetricsTable;
  version_latest_metrics: VersionLatestMetricsTable;
  version_params: VersionParamsTable;
  version_parents: VersionParentsTable;
  version_datasets: VersionDatasetsTable;
  version_code: VersionCodeTable;
  aliases: AliasesTable;
  audit_events: AuditEventsTable;
  version_signatures: VersionSignaturesTable;
  version_scans: VersionScansTable;
  version_scan_files: VersionScanFilesTable;
  promotion_policies: PromotionPoliciesTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_cursor: WebhookCursorTable;
  audit_checkpoints: AuditCheckpointsTable;
}

export type RegisteredModelRow = Selectable<RegisteredModelsTable>;
export type ModelVersionRow = Selectable<ModelVersionsTable>;
export type NewModelVersionRow = Insertable<ModelVersionsTable>;
export type AuditEventRow = Selectable<AuditEventsTable>;

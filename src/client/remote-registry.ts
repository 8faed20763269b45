/**
 * RegistryApi over the native REST API: the second implementation of the one interface
 * (the first is LocalRegistry). Every method maps to one endpoint of docs/api.md; errors
 * come back as the same typed errors the local registry throws. `actor` options are not
 * sent: the server acts as the authenticated identity.
 *
 * Works in Node and in browsers, except push and pull, which read and write local files
 * and load their Node-only code on first use.
 */
import type { VersionInspection } from '../core/model-inspection.js';
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
  SignatureBundle,
  TransferStats,
  VersionDiff,
  VersionManifest,
  VersionScan,
  VersionSignature,
  Webhook,
  WebhookDelivery,
} from '../core/registry-api.js';
import type {
  CreateUploadRequest,
  FileChunksResponse,
  ManifestResponse,
  ServerInfo,
  UploadSession,
} from '../core/upload-protocol.js';
import { parseVersionRef } from '../core/version-ref.js';
import { type ClientOptions, HttpClient, type Query } from './http-client.js';
import type { TransferTuning } from './node-transfer.js';

const enc = encodeURIComponent;

function page(options?: PageOptions): Query {
  return { pageToken: options?.pageToken, maxResults: options?.maxResults };
}

function auditFilters(q: Omit<AuditQuery, keyof PageOptions | 'order'> | undefined): Query {
  return {
    model: q?.model,
    actor: q?.actor,
    actions: q?.actions?.join(','),
    since: q?.since,
    until: q?.until,
  };
}

export interface RemoteRegistryOptions extends ClientOptions {
  /** Batch sizes and parallelism of push and pull. */
  readonly transfer?: TransferTuning;
}

export class RemoteRegistry implements RegistryApi {
  /** The transport, for the few endpoints outside RegistryApi (info, uploads, files). */
  readonly http: HttpClient;
  private readonly tuning: TransferTuning;

  /** @param url the server, e.g. `http://registry:5000` */
  constructor(url: string, options: RemoteRegistryOptions = {}) {
    this.http = new HttpClient(url, options);
    this.tuning = options.transfer ?? {};
  }

  // ------------------------------------------------------------------ models

  createModel(input: CreateModelInput): Promise<RegisteredModel> {
    const { actor: _actor, ...body } = input;
    return this.http.json('POST', '/api/v1/models', { json: body });
  }
  getModel(name: string, options?: { includeDeleted?: boolean }): Promise<RegisteredModel> {
    return this.http.json('GET', `/api/v1/models/${enc(name)}`, {
      query: { includeDeleted: options?.includeDeleted },
    });
  }
  listModels(
    options?: PageOptions & { includeDeleted?: boolean },
  ): Promise<SearchResult<RegisteredModel>> {
    return this.http.json('GET', '/api/v1/models', {
      query: { ...page(options), includeDeleted: options?.includeDeleted },
    });
  }
  searchModels(query?: SearchQuery): Promise<SearchResult<RegisteredModel>> {
    return this.http.json('POST', '/api/v1/search/models', { json: query ?? {}, idempotent: true });
  }
  updateModel(
    name: string,
    changes: { description?: string | null },
    _options?: MutationOptions,
  ): Promise<RegisteredModel> {
    return this.http.json('PATCH', `/api/v1/models/${enc(name)}`, { json: changes });
  }
  renameModel(name: string, newName: string, _options?: MutationOptions): Promise<RegisteredModel> {
    return this.http.json('POST', `/api/v1/models/${enc(name)}/rename`, { json: { newName } });
  }
  async deleteModel(name: string, _options?: MutationOptions): Promise<void> {
    await this.http.json('DELETE', `/api/v1/models/${enc(name)}`);
  }
  restoreModel(name: string, _options?: MutationOptions): Promise<RegisteredModel> {
    return this.http.json('POST', `/api/v1/models/${enc(name)}/restore`);
  }
  async setModelTag(
    name: string,
    key: string,
    value: string,
    _options?: MutationOptions,
  ): Promise<void> {
    await this.http.json('PUT', `/api/v1/models/${enc(name)}/tags/${enc(key)}`, {
      json: { value },
      idempotent: true,
    });
  }
  async deleteModelTag(name: string, key: string, _options?: MutationOptions): Promise<boolean> {
    const r = await this.http.json<{ deleted: boolean }>(
      'DELETE',
      `/api/v1/models/${enc(name)}/tags/${enc(key)}`,
    );
    return r.deleted;
  }

  // ---------------------------------------------------------------- versions

  createVersion(input: CreateVersionInput): Promise<ModelVersion> {
    const { actor: _actor, model, ...body } = input;
    return this.http.json('POST', `/api/v1/models/${enc(model)}/versions`, { json: body });
  }
  getVersion(ref: string, options?: { includeDeleted?: boolean }): Promise<ModelVersion> {
    return this.http.json('GET', `/api/v1/versions/${enc(ref)}`, {
      query: { includeDeleted: options?.includeDeleted },
    });
  }
  listVersions(model: string, options?: ListVersionsOptions): Promise<SearchResult<ModelVersion>> {
    return this.http.json('GET', `/api/v1/models/${enc(model)}/versions`, {
      query: { ...page(options), includeDeleted: options?.includeDeleted },
    });
  }
  searchVersions(query?: SearchQuery): Promise<SearchResult<ModelVersion>> {
    return this.http.json('POST', '/api/v1/search/versions', {
      json: query ?? {},
      idempotent: true,
    });
  }
  updateVersion(
    ref: string,
    changes: { description?: string | null },
    _options?: MutationOptions,
  ): Promise<ModelVersion> {
    return this.http.json('PATCH', `/api/v1/versions/${enc(ref)}`, { json: changes });
  }
  async setVersionTag(
    ref: string,
    key: string,
    value: string,
    _options?: MutationOptions,
  ): Promise<void> {
    await this.http.json('PUT', `/api/v1/versions/${enc(ref)}/tags/${enc(key)}`, {
      json: { value },
      idempotent: true,
    });
  }
  async deleteVersionTag(ref: string, key: string, _options?: MutationOptions): Promise<boolean> {
    const r = await this.http.json<{ deleted: boolean }>(
      'DELETE',
      `/api/v1/versions/${enc(ref)}/tags/${enc(key)}`,
    );
    return r.deleted;
  }
  logVersionMetrics(
    ref: string,
    metrics: readonly MetricInput[],
    _options?: MutationOptions,
  ): Promise<ModelVersion> {
    return this.http.json('POST', `/api/v1/versions/${enc(ref)}/metrics`, { json: { metrics } });
  }
  async getMetricHistory(ref: string, key: string): Promise<readonly MetricPoint[]> {
    const r = await this.http.json<{ points: MetricPoint[] }>(
      'GET',
      `/api/v1/versions/${enc(ref)}/metrics/${enc(key)}`,
    );
    return r.points;
  }
  async deleteVersion(ref: string, _options?: MutationOptions): Promise<void> {
    await this.http.json('DELETE', `/api/v1/versions/${enc(ref)}`);
  }
  restoreVersion(ref: string, _options?: MutationOptions): Promise<ModelVersion> {
    return this.http.json('POST', `/api/v1/versions/${enc(ref)}/restore`);
  }
  transitionStage(
    ref: string,
    stage: string,
    options?: MutationOptions & { archiveExisting?: boolean },
  ): Promise<ModelVersion> {
    return this.http.json('POST', `/api/v1/versions/${enc(ref)}/stage`, {
      json: {
        stage,
        ...(options?.archiveExisting !== undefined
          ? { archiveExisting: options.archiveExisting }
          : {}),
      },
    });
  }
  approve(ref: string, options?: MutationOptions & { comment?: string }): Promise<ModelVersion> {
    return this.review('approve', ref, options?.comment);
  }
  reject(ref: string, options?: MutationOptions & { comment?: string }): Promise<ModelVersion> {
    return this.review('reject', ref, options?.comment);
  }
  private review(action: string, ref: string, comment?: string): Promise<ModelVersion> {
    return this.http.json('POST', `/api/v1/versions/${enc(ref)}/${action}`, {
      json: comment !== undefined ? { comment } : {},
    });
  }

  // ----------------------------------------------------------------- aliases

  setAlias(
    model: string,
    alias: string,
    version: number,
    _options?: MutationOptions,
  ): Promise<AliasChange> {
    return this.http.json('PUT', `/api/v1/models/${enc(model)}/aliases/${enc(alias)}`, {
      json: { version },
      idempotent: true,
    });
  }
  deleteAlias(model: string, alias: string, _options?: MutationOptions): Promise<AliasChange> {
    return this.http.json('DELETE', `/api/v1/models/${enc(model)}/aliases/${enc(alias)}`);
  }
  async aliasHistory(model: string, alias?: string): Promise<readonly AliasHistoryEntry[]> {
    const r = await this.http.json<{ entries: AliasHistoryEntry[] }>(
      'GET',
      `/api/v1/models/${enc(model)}/alias-history`,
      { query: { alias } },
    );
    return r.entries;
  }
  rollback(model: string, alias: string, _options?: MutationOptions): Promise<AliasChange> {
    return this.http.json('POST', `/api/v1/models/${enc(model)}/aliases/${enc(alias)}/rollback`);
  }

  // ------------------------------------------------------- promotion policies

  setPolicy(input: SetPolicyInput): Promise<PromotionPolicy> {
    const { actor: _actor, ...body } = input;
    return this.http.json('PUT', '/api/v1/policies', { json: body, idempotent: true });
  }
  async listPolicies(options?: { model?: string }): Promise<readonly PromotionPolicy[]> {
    const r = await this.http.json<{ policies: PromotionPolicy[] }>('GET', '/api/v1/policies', {
      query: { model: options?.model },
    });
    return r.policies;
  }
  async deletePolicy(
    target: PromotionTarget & { model?: string | null },
    _options?: MutationOptions,
  ): Promise<boolean> {
    const r = await this.http.json<{ deleted: boolean }>('DELETE', '/api/v1/policies', {
      query: { model: target.model ?? undefined, alias: target.alias, stage: target.stage },
    });
    return r.deleted;
  }
  checkPolicy(ref: string, target: PromotionTarget): Promise<PolicyCheck> {
    return this.http.json('POST', '/api/v1/policies/check', {
      json: { ref, ...target },
      idempotent: true,
    });
  }

  // ----------------------------------------------------------------- webhooks

  createWebhook(input: CreateWebhookInput): Promise<CreatedWebhook> {
    const { actor: _actor, ...body } = input;
    return this.http.json('POST', '/api/v1/webhooks', { json: body });
  }
  async listWebhooks(): Promise<readonly Webhook[]> {
    const r = await this.http.json<{ webhooks: Webhook[] }>('GET', '/api/v1/webhooks');
    return r.webhooks;
  }
  async deleteWebhook(id: string, _options?: MutationOptions): Promise<boolean> {
    const r = await this.http.json<{ deleted: boolean }>('DELETE', `/api/v1/webhooks/${enc(id)}`);
    return r.deleted;
  }
  async webhookDeliveries(
    id: string,
    options?: { maxResults?: number },
  ): Promise<readonly WebhookDelivery[]> {
    const r = await this.http.json<{ deliveries: WebhookDelivery[] }>(
      'GET',
      `/api/v1/webhooks/${enc(id)}/deliveries`,
      { query: { maxResults: options?.maxResults } },
    );
    return r.deliveries;
  }
  testWebhook(id: string): Promise<WebhookDelivery> {
    return this.http.json('POST', `/api/v1/webhooks/${enc(id)}/test`);
  }

  // -------------------------------------------------------------- comparison

  diffVersions(a: string, b: string, options: DiffOptions = {}): Promise<VersionDiff> {
    const extra = options.tensors ? { tensors: true, stats: options.stats === true } : {};
    return this.http.json('GET', '/api/v1/diff', { query: { a, b, ...extra } });
  }

  inspectVersion(ref: string, options: { path?: string } = {}): Promise<VersionInspection> {
    return this.http.json('GET', `/api/v1/versions/${enc(ref)}/inspect`, {
      query: { path: options.path },
    });
  }

  // ------------------------------------------------------------------- audit

  auditLog(query?: AuditQuery): Promise<SearchResult<AuditEvent>> {
    return this.http.json('GET', '/api/v1/audit', {
      query: { ...auditFilters(query), ...page(query), order: query?.order },
    });
  }
  auditVerify(): Promise<AuditVerifyResult> {
    return this.http.json('GET', '/api/v1/audit/verify');
  }
  async auditCheckpoints(): Promise<readonly AuditCheckpoint[]> {
    const r = await this.http.json<{ checkpoints: AuditCheckpoint[] }>(
      'GET',
      '/api/v1/audit/checkpoints',
    );
    return r.checkpoints;
  }
  async createAuditCheckpoint(): Promise<AuditCheckpoint | null> {
    const r = await this.http.json<{ checkpoint: AuditCheckpoint | null }>(
      'POST',
      '/api/v1/audit/checkpoints',
    );
    return r.checkpoint;
  }
  async *auditExport(
    query?: Omit<AuditQuery, keyof PageOptions | 'order'>,
  ): AsyncIterable<AuditEvent> {
    const res = await this.http.request('GET', '/api/v1/audit/export', {
      query: auditFilters(query),
      idempotent: true,
    });
    if (!res.body) return;
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let pending = '';
    let finished = false;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        pending += done ? decoder.decode() : decoder.decode(value, { stream: true });
        let nl = pending.indexOf('\n');
        while (nl >= 0) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          if (line.trim() !== '') yield JSON.parse(line) as AuditEvent;
          nl = pending.indexOf('\n');
        }
        if (done) {
          finished = true;
          if (pending.trim() !== '') yield JSON.parse(pending) as AuditEvent;
          return;
        }
      }
    } finally {
      if (!finished) await reader.cancel().catch(() => undefined);
    }
  }

  // -------------------------------------------------------------- data plane

  /**
   * Chunks `source` locally, uploads only the chunks the server lacks, and commits the
   * version (see node-transfer.ts). `stats.newBytes`/`newChunks` count what was sent.
   * `onProgress` reports hashing (with `path`, over all bytes) and then sending (without
   * `path`, over the bytes to send). Node only.
   */
  async push(
    source: string,
    options: PushOptions,
  ): Promise<{ version: ModelVersion; stats: TransferStats }> {
    const { pushTree } = await import('./node-transfer.js');
    return pushTree(this.http, source, options, this.tuning);
  }

  /** Downloads and verifies the version's files into `dest` (empty or absent). Node only. */
  async pull(
    ref: string,
    dest: string,
    options?: PullOptions,
  ): Promise<{ version: ModelVersion; files: number; bytes: number }> {
    const { pullVersion } = await import('./node-transfer.js');
    return pullVersion(this.http, ref, dest, options, this.tuning);
  }

  async close(): Promise<void> {
    // Nothing to release: fetch pools its own connections.
  }

  // ---------------------------------------------------- files, scans, signatures

  async getManifest(ref: string): Promise<VersionManifest> {
    const m = await this.manifest(ref);
    return { digest: m.digest, totalSize: m.totalSize, files: m.files };
  }
  async getScan(ref: string): Promise<VersionScan | null> {
    const r = await this.http.json<{ scan: VersionScan | null }>(
      'GET',
      `${await this.versionPath(ref)}/scan`,
    );
    return r.scan;
  }
  async addSignature(
    ref: string,
    input: { bundle: SignatureBundle; publicKey: string },
    _options?: MutationOptions,
  ): Promise<VersionSignature> {
    return this.http.json('POST', `${await this.versionPath(ref)}/signatures`, {
      json: { bundle: input.bundle, publicKey: input.publicKey },
      idempotent: true,
    });
  }
  async listSignatures(ref: string): Promise<readonly VersionSignature[]> {
    const r = await this.http.json<{ signatures: VersionSignature[] }>(
      'GET',
      `${await this.versionPath(ref)}/signatures`,
    );
    return r.signatures;
  }

  /** `/api/v1/models/NAME/versions/SELECTOR` for a reference (a stage is resolved first). */
  private async versionPath(ref: string): Promise<string> {
    const parsed = parseVersionRef(ref);
    const selector =
      parsed.kind === 'number'
        ? String(parsed.number)
        : parsed.kind === 'alias'
          ? parsed.alias
          : parsed.kind === 'latest'
            ? 'latest'
            : parsed.kind === 'digest'
              ? `sha256:${parsed.digest}`
              : String((await this.getVersion(ref)).version);
    return `/api/v1/models/${enc(parsed.model)}/versions/${enc(selector)}`;
  }

  // ------------------------------------------------- protocol (outside RegistryApi)

  /** Server version, chunking parameters and upload limits. */
  info(): Promise<ServerInfo> {
    return this.http.json('GET', '/api/v1/info');
  }
  /** A version's manifest (paths, sizes, SHA-256s). */
  manifest(ref: string): Promise<ManifestResponse> {
    return this.http.json('GET', `/api/v1/versions/${enc(ref)}/manifest`);
  }
  /** A stored file's chunks with offsets. */
  fileChunks(sha256: string): Promise<FileChunksResponse> {
    return this.http.json('GET', `/api/v1/files/${enc(sha256)}/chunks`);
  }
  /** Starts or resumes an upload session (the low-level protocol; push() does it all). */
  createUpload(request: CreateUploadRequest): Promise<UploadSession> {
    return this.http.json('POST', '/api/v1/uploads', { json: request, idempotent: true });
  }
  /** An upload session and the chunks it still lacks. */
  uploadStatus(id: string): Promise<UploadSession> {
    return this.http.json('GET', `/api/v1/uploads/${enc(id)}`);
  }
}

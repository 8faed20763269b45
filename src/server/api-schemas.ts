/**
 * Shared response schemas of the native API: the JSON shapes of `core/registry-api.ts` and
 * `core/upload-protocol.ts`, registered with `app.addSchema` so the OpenAPI document lists
 * them once under `components.schemas` and routes refer to them by name (`S.ref('…')`).
 * Responses are serialised with JSON.stringify: these schemas document, they do not filter.
 */
import { S, type TSchema } from './schema.js';

const digest = S.string({ pattern: '^[0-9a-f]{64}$', description: 'SHA-256, 64 lowercase hex' });
const stringMap = S.record(S.string());
const millis = S.integer({ description: 'milliseconds since the epoch' });
const nullableString = S.nullable(S.string());

const SCAN_VERDICTS = ['safe', 'suspicious', 'dangerous', 'unreadable'] as const;
const versionKey = { model: S.string(), version: S.integer({ minimum: 1 }) };

export const SHARED_SCHEMAS: readonly TSchema[] = [
  S.object(
    {
      error: S.object({
        code: S.string({ description: 'stable error code (see docs/api.md)' }),
        message: S.string(),
        details: S.optional(S.record(S.unknown())),
      }),
    },
    { $id: 'Error', description: 'Every error response.' },
  ),
  S.object(
    {
      name: S.string(),
      description: nullableString,
      owner: nullableString,
      tags: stringMap,
      aliases: S.record(S.integer(), { description: 'alias → version number' }),
      latestVersion: S.nullable(S.integer()),
      createdAt: millis,
      updatedAt: millis,
      deletedAt: S.nullable(millis),
    },
    { $id: 'RegisteredModel' },
  ),
  S.object(
    {
      ...versionKey,
      digest,
      size: S.integer(),
      fileCount: S.integer(),
      description: nullableString,
      createdBy: nullableString,
      createdAt: millis,
      updatedAt: millis,
      status: S.enum(['READY', 'PENDING', 'FAILED']),
      statusMessage: nullableString,
      stage: S.enum(['None', 'Staging', 'Production', 'Archived']),
      approval: S.object({
        state: S.enum(['pending', 'approved', 'rejected']),
        reviewer: nullableString,
        comment: nullableString,
        time: S.nullable(millis),
      }),
      runId: nullableString,
      source: nullableString,
      metrics: S.record(S.number()),
      params: stringMap,
      tags: stringMap,
      aliases: S.array(S.string()),
      lineage: S.object({
        parents: S.array(S.object(versionKey)),
        datasets: S.array(
          S.object({ name: S.string(), uri: nullableString, digest: nullableString }),
        ),
        code: S.nullable(
          S.object({
            gitRemote: nullableString,
            gitCommit: nullableString,
            gitDirty: S.nullable(S.boolean()),
          }),
        ),
      }),
      deletedAt: S.nullable(millis),
      summary: S.nullable(S.ref('VersionSummary')),
      scan: S.nullable(
        S.object({
          verdict: S.enum(['none', ...SCAN_VERDICTS]),
          files: S.integer(),
          dangerous: S.array(S.string(), { description: 'paths of dangerous files' }),
        }),
      ),
      signatures: S.array(S.string(), { description: 'key ids of attached signatures' }),
    },
    { $id: 'ModelVersion' },
  ),
  S.object(
    {
      keyId: digest,
      publicKey: S.string({ description: 'ed25519 public key, PEM (SPKI)' }),
      signedBy: S.string(),
      createdAt: millis,
      bundle: S.unknown({ description: 'Sigstore bundle v0.3: DSSE envelope, in-toto statement' }),
    },
    { $id: 'VersionSignature' },
  ),
  S.object(
    {
      ...versionKey,
      verdict: S.enum(['none', ...SCAN_VERDICTS]),
      files: S.integer(),
      dangerous: S.array(S.string()),
      scanner: S.string(),
      scannedAt: millis,
      fileScans: S.array(
        S.object({
          path: S.string(),
          sha256: digest,
          format: S.enum(['pickle', 'zip']),
          verdict: S.enum(SCAN_VERDICTS),
          globals: S.array(S.string()),
          dangerous: S.array(S.string()),
          suspicious: S.array(S.string()),
          reason: nullableString,
          members: S.array(
            S.object({
              name: S.string(),
              verdict: S.enum(SCAN_VERDICTS),
              globals: S.array(S.string()),
              reason: nullableString,
            }),
          ),
        }),
      ),
    },
    { $id: 'VersionScan' },
  ),
  S.object(
    {
      items: S.array(S.ref('RegisteredModel')),
      nextPageToken: S.optional(S.string()),
    },
    { $id: 'ModelPage' },
  ),
  S.object(
    {
      items: S.array(S.ref('ModelVersion')),
      nextPageToken: S.optional(S.string()),
    },
    { $id: 'VersionPage' },
  ),
  S.object(
    {
      model: S.string(),
      alias: S.string(),
      version: S.nullable(S.integer()),
      previousVersion: S.nullable(S.integer()),
      changed: S.boolean(),
    },
    { $id: 'AliasChange' },
  ),
  S.object(
    {
      seq: S.integer(),
      time: millis,
      actor: S.string(),
      alias: S.string(),
      action: S.enum(['set', 'deleted', 'rolled_back']),
      version: S.nullable(S.integer()),
      previousVersion: S.nullable(S.integer()),
    },
    { $id: 'AliasHistoryEntry' },
  ),
  S.object(
    { key: S.string(), value: S.number(), step: S.integer(), timestamp: millis },
    { $id: 'MetricPoint' },
  ),
  S.object(
    {
      a: S.object({ ...versionKey, digest, size: S.integer() }),
      b: S.object({ ...versionKey, digest, size: S.integer() }),
      sameContent: S.boolean(),
      metrics: S.array(
        S.object({
          key: S.string(),
          a: S.nullable(S.number()),
          b: S.nullable(S.number()),
          delta: S.nullable(S.number()),
        }),
      ),
      params: S.ref('KeyValueDiff'),
      tags: S.ref('KeyValueDiff'),
      files: S.nullable(
        S.unknown({ description: 'added/removed/changed files and unchanged count' }),
      ),
      tensors: S.optional(S.ref('TensorDiff')),
    },
    { $id: 'VersionDiff' },
  ),
  S.object(
    {
      format: nullableString,
      framework: nullableString,
      parameterCount: S.nullable(S.integer()),
      dtypes: S.record(S.integer(), { description: 'parameters per dtype' }),
      architecture: nullableString,
      tensorCount: S.nullable(S.integer()),
      files: S.array(
        S.object({
          path: S.string(),
          format: S.string(),
          readable: S.boolean(),
          reason: S.optional(S.string()),
        }),
      ),
    },
    { $id: 'VersionSummary', description: "What a version is, from its files' headers." },
  ),
  S.object(
    {
      ...versionKey,
      digest,
      summary: S.ref('VersionSummary'),
      files: S.array(
        S.unknown({
          description:
            'FileInspection: path, size, format, readable, reason, parameterCount, dtypes, tensorCount, architecture, details, tensors (with a path)',
        }),
      ),
    },
    { $id: 'VersionInspection' },
  ),
  S.object(
    {
      tensors: S.array(
        S.unknown({
          description:
            'name, status (added/removed/changed/unchanged), a, b, dtypeChanged, shapeChanged, stats',
        }),
      ),
      counts: S.object({
        added: S.integer(),
        removed: S.integer(),
        changed: S.integer(),
        unchanged: S.integer(),
      }),
      parameterCount: S.object({ a: S.integer(), b: S.integer(), delta: S.integer() }),
      groups: S.array(S.unknown({ description: 'per layer prefix counts' })),
      bytesRead: S.integer(),
      skipped: S.array(S.object({ path: S.string(), reason: S.string() })),
    },
    { $id: 'TensorDiff' },
  ),
  S.object(
    {
      added: S.array(S.object({ key: S.string(), value: S.string() })),
      removed: S.array(S.object({ key: S.string(), value: S.string() })),
      changed: S.array(S.object({ key: S.string(), a: S.string(), b: S.string() })),
    },
    { $id: 'KeyValueDiff' },
  ),
  S.object(
    {
      seq: S.integer(),
      time: millis,
      actor: S.string(),
      action: S.string(),
      subject: S.string(),
      data: S.unknown(),
      prevHash: S.string(),
      hash: S.string(),
    },
    { $id: 'AuditEvent' },
  ),
  S.object(
    { items: S.array(S.ref('AuditEvent')), nextPageToken: S.optional(S.string()) },
    { $id: 'AuditPage' },
  ),
  S.object(
    {
      ok: S.boolean(),
      checked: S.integer(),
      lastSeq: S.nullable(S.integer()),
      headHash: nullableString,
      problems: S.array(
        S.object({
          seq: S.integer(),
          kind: S.enum(['gap', 'hash_mismatch', 'prev_hash_mismatch', 'unreadable']),
          message: S.string(),
        }),
      ),
    },
    { $id: 'AuditVerifyResult' },
  ),
  S.object(
    {
      digest,
      totalSize: S.integer(),
      files: S.array(S.object({ path: S.string(), size: S.integer(), sha256: digest })),
    },
    { $id: 'Manifest' },
  ),
  S.object(
    {
      sha256: digest,
      size: S.integer(),
      chunks: S.array(S.object({ id: digest, offset: S.integer(), length: S.integer() })),
    },
    { $id: 'FileChunks' },
  ),
  S.object(
    {
      id: S.string(),
      state: S.enum(['open', 'committing', 'committed']),
      resumed: S.boolean(),
      createdAt: millis,
      expiresAt: millis,
      fileCount: S.integer(),
      totalBytes: S.integer(),
      chunkCount: S.integer(),
      newFiles: S.integer(),
      missing: S.array(digest, { description: 'chunk ids to send, unique, in file order' }),
      missingBytes: S.integer(),
    },
    { $id: 'UploadSession' },
  ),
  S.object(
    { received: S.integer(), stored: S.integer(), bytes: S.integer() },
    { $id: 'ChunkBatchResult' },
  ),
  S.object(
    {
      state: S.enum(['committed', 'committing']),
      version: S.optional(S.ref('ModelVersion')),
      stats: S.optional(
        S.object({
          files: S.integer(),
          bytes: S.integer(),
          newBytes: S.integer(),
          chunks: S.integer(),
          newChunks: S.integer(),
        }),
      ),
    },
    { $id: 'CommitResult' },
  ),
  S.object(
    {
      name: S.enum(['modelvault']),
      version: S.string(),
      apiVersion: S.integer(),
      chunking: S.object({ minSize: S.integer(), avgSize: S.integer(), maxSize: S.integer() }),
      uploads: S.object({
        maxBatchBytes: S.integer(),
        maxChunkBytes: S.integer(),
        maxFiles: S.integer(),
        maxChunks: S.integer(),
      }),
    },
    { $id: 'ServerInfo' },
  ),
  S.object(
    {
      require: S.optional(S.string({ maxLength: 10_000, description: 'search filter' })),
      signedBy: S.optional(
        S.array(S.string({ pattern: '^[0-9a-f]{64}$' }), { minItems: 1, maxItems: 100 }),
      ),
      scan: S.optional(S.enum(['no-dangerous', 'safe'])),
      approval: S.optional(S.enum(['approved', 'other-than-creator'])),
    },
    { $id: 'PolicyRules' },
  ),
  S.object(
    {
      model: nullableString,
      alias: nullableString,
      stage: S.nullable(S.enum(['None', 'Staging', 'Production', 'Archived'])),
      rules: S.ref('PolicyRules'),
      updatedBy: S.string(),
      updatedAt: millis,
    },
    { $id: 'PromotionPolicy' },
  ),
  S.object(
    {
      model: S.string(),
      version: S.integer(),
      alias: nullableString,
      stage: S.nullable(S.enum(['None', 'Staging', 'Production', 'Archived'])),
      policy: S.nullable(S.ref('PromotionPolicy')),
      ok: S.boolean(),
      results: S.array(S.object({ rule: S.string(), ok: S.boolean(), message: S.string() })),
    },
    { $id: 'PolicyCheck' },
  ),
  S.object(
    {
      id: S.string(),
      url: S.string(),
      model: nullableString,
      events: S.array(S.string()),
      description: nullableString,
      createdBy: S.string(),
      createdAt: millis,
    },
    { $id: 'Webhook' },
  ),
  S.object(
    {
      id: S.string(),
      url: S.string(),
      model: nullableString,
      events: S.array(S.string()),
      description: nullableString,
      createdBy: S.string(),
      createdAt: millis,
      secret: S.string({ description: 'HMAC-SHA256 key; shown only here' }),
    },
    { $id: 'CreatedWebhook' },
  ),
  S.object(
    {
      id: S.integer(),
      webhookId: S.string(),
      event: S.string(),
      auditSeq: S.nullable(S.integer()),
      state: S.enum(['pending', 'delivered', 'failed']),
      attempts: S.integer(),
      nextAttemptAt: S.nullable(millis),
      lastStatus: S.nullable(S.integer()),
      lastError: nullableString,
      createdAt: millis,
      updatedAt: millis,
    },
    { $id: 'WebhookDelivery' },
  ),
  S.object(
    {
      seq: S.integer(),
      hash: S.string(),
      time: S.string({ description: 'ISO-8601 UTC, what the signature covers' }),
      keyId: S.string(),
      signature: S.string({ description: 'base64 ed25519' }),
    },
    { $id: 'AuditCheckpoint' },
  ),
];

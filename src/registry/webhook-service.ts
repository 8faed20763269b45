/**
 * Webhooks: subscriptions, the outbox derived from the audit trail, and delivery with
 * retries (docs/api.md "Webhooks", docs/security.md).
 *
 * Events come from ONE place, the audit trail: every mutation appends its audit event in
 * its own transaction, and `derive` turns the events after a cursor into delivery rows
 * and moves the cursor, in one transaction. So an event is delivered if and only if its
 * change committed, and none is lost when a server dies between the two. Several servers
 * (replicas) may run dispatchers over one database: deriving is serialised by the write
 * lock, and a delivery is claimed with a lease before it is sent, so each attempt is made
 * by one of them. Delivery is at least once (a crash after sending, before recording,
 * sends again): receivers deduplicate on the delivery id or on `seq`.
 *
 * Retries: a failed attempt (no answer, a non-2xx status, a redirect, a timeout) is tried
 * again after baseDelayMs·2^(attempts−1), capped at maxDelayMs, until maxAttempts; then
 * the delivery is `failed`. Deliveries of one webhook may arrive out of order when some
 * are retried: `seq` gives the order.
 */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { InvalidArgumentError, ModelvaultError, NotFoundError } from '../core/errors.js';
import type {
  AuditEvent,
  CreatedWebhook,
  CreateWebhookInput,
  MutationOptions,
  Webhook,
  WebhookDelivery,
} from '../core/registry-api.js';
import { WEBHOOK_EVENTS } from '../core/registry-api.js';
import type { RegistryDB } from '../metadata/schema.js';
import { type AuditService, toAuditEvent } from './audit-service.js';
import { checkOptionalText, LIMITS } from './input-checks.js';
import { findModel } from './lookups.js';
import { actorOf, type RegistryContext } from './registry-context.js';
import { isSealed, SecretBox } from './secret-box.js';
import { sendWebhook } from './webhook-sender.js';

/** How often and how soon a failed delivery is tried again. */
export interface RetryPolicy {
  /** Attempts per delivery before it is `failed`. Default 8. */
  readonly maxAttempts?: number;
  /** Delay before the first retry; doubled for each later one. Default 1 s. */
  readonly baseDelayMs?: number;
  /** Longest delay between attempts. Default 10 minutes. */
  readonly maxDelayMs?: number;
}

export interface WebhookServiceOptions extends RetryPolicy {
  /** One attempt's time limit. Default 10 s. */
  readonly timeoutMs?: number;
  /** How long a claimed delivery is reserved for the dispatcher sending it. Default 60 s. */
  readonly leaseMs?: number;
}

/** Audit actions → webhook events (MLflow's names where it has the event). */
const EVENT_NAMES: Readonly<Record<string, readonly string[]>> = {
  'model.created': ['registered_model.created'],
  'model.updated': ['registered_model.updated'],
  'model.renamed': ['registered_model.renamed'],
  'model.deleted': ['registered_model.deleted'],
  'model.restored': ['registered_model.restored'],
  'model.tag_set': ['registered_model_tag.set'],
  'model.tag_deleted': ['registered_model_tag.deleted'],
  'version.created': ['model_version.created'],
  'version.updated': ['model_version.updated'],
  'version.deleted': ['model_version.deleted'],
  'version.restored': ['model_version.restored'],
  'version.tag_set': ['model_version_tag.set'],
  'version.tag_deleted': ['model_version_tag.deleted'],
  'alias.set': ['model_version_alias.created'],
  'alias.deleted': ['model_version_alias.deleted'],
  // A rollback points the alias at a version, as a set does: both names are sent.
  'alias.rolled_back': ['model_version_alias.created', 'alias.rolled_back'],
};

/** The webhook events an audit action raises (its own name when MLflow has none). */
export function webhookEventsOf(action: string): readonly string[] {
  return EVENT_NAMES[action] ?? (WEBHOOK_EVENTS.includes(action as never) ? [action] : []);
}

const MAX_URL = 2048;
const BATCH = 500;
const CURSOR_ID = 1;

/**
 * Checks a webhook URL: absolute http(s), no credentials, at most 2048 characters.
 * The server will POST to whatever host it names — see docs/security.md on SSRF.
 * @throws InvalidArgumentError
 */
export function checkWebhookUrl(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_URL) {
    throw new InvalidArgumentError(`webhook url must be 1 to ${MAX_URL} characters`);
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError(`webhook url '${value.slice(0, 200)}' is not an absolute URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidArgumentError(
      `webhook url must be http:// or https://, not ${url.protocol.slice(0, 20)}`,
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw new InvalidArgumentError('webhook url must not carry credentials');
  }
  return url.toString();
}

function checkEvents(value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > WEBHOOK_EVENTS.length) {
    throw new InvalidArgumentError(`webhook events must list 1 to ${WEBHOOK_EVENTS.length} events`);
  }
  const events = [...new Set(value as unknown[])];
  if (events.includes('*')) {
    if (events.length > 1) throw new InvalidArgumentError("'*' stands alone in webhook events");
    return ['*'];
  }
  for (const e of events) {
    if (typeof e !== 'string' || !WEBHOOK_EVENTS.includes(e as never)) {
      throw new InvalidArgumentError(
        `unknown webhook event '${String(e).slice(0, 80)}' (see docs/api.md; '*' for all)`,
      );
    }
  }
  return (events as string[]).sort();
}

interface WebhookRow {
  id: string;
  url: string;
  model_id: number;
  events: string;
  secret: string;
  description: string | null;
  after_seq: number;
  created_by: string;
  created_at: number;
  deleted_at: number | null;
}

/** A claimed delivery, with what sending it needs. */
export interface ClaimedDelivery {
  readonly id: number;
  readonly event: string;
  readonly payload: string;
  readonly attempts: number;
  readonly url: string;
  readonly secret: string;
}

export class WebhookService {
  /** Encrypts secrets at rest once a server secret is known (secret-box.ts). */
  private box: SecretBox | undefined;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly timeoutMs: number;
  private readonly leaseMs: number;

  constructor(
    private readonly ctx: RegistryContext,
    private readonly audit: AuditService,
    options: WebhookServiceOptions = {},
  ) {
    this.maxAttempts = options.maxAttempts ?? 8;
    this.baseDelayMs = options.baseDelayMs ?? 1000;
    this.maxDelayMs = options.maxDelayMs ?? 10 * 60 * 1000;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.leaseMs = options.leaseMs ?? 60_000;
  }

  /**
   * From now on, new secrets are stored encrypted with a key derived from `serverSecret`,
   * and encrypted ones can be read.
   */
  useServerSecret(serverSecret: Uint8Array): void {
    this.box = new SecretBox(serverSecret, 'webhook secrets');
  }

  /** A stored secret in clear (legacy plaintext rows as they are). */
  private reveal(stored: string): string {
    if (this.box) return this.box.open(stored);
    if (isSealed(stored)) {
      throw new ModelvaultError(
        'UNSUPPORTED',
        "this webhook's secret is encrypted with the server secret (server-secret.key in the registry directory, or serve --server-secret), which this process does not have",
      );
    }
    return stored;
  }

  /**
   * Encrypts every secret still stored in plaintext (rows from before encryption, or made
   * by an embedded registry without the server secret), in one transaction.
   * @returns how many were sealed (0 without a server secret).
   */
  async sealStoredSecrets(): Promise<number> {
    const box = this.box;
    if (!box) return 0;
    return this.ctx.database.writeTransaction(async (trx) => {
      const rows = await trx
        .selectFrom('webhooks')
        .select(['id', 'secret'])
        .where('secret', 'not like', 'enc1:%')
        .execute();
      for (const r of rows) {
        await trx
          .updateTable('webhooks')
          .set({ secret: box.seal(r.secret) })
          .where('id', '=', r.id)
          .execute();
      }
      return rows.length;
    });
  }

  /** See RegistryApi.createWebhook. */
  async create(input: CreateWebhookInput): Promise<CreatedWebhook> {
    if (input === null || typeof input !== 'object') {
      throw new InvalidArgumentError('webhook input {url, events} is required');
    }
    const actor = actorOf(this.ctx, input);
    const url = checkWebhookUrl(input.url);
    const events = checkEvents(input.events);
    const description = checkOptionalText(input.description, 'description', LIMITS.comment);
    const id = `wh_${randomBytes(12).toString('hex')}`;
    const secret = `whsec_${randomBytes(32).toString('base64url')}`;
    return this.ctx.database.writeTransaction(async (trx) => {
      const m =
        input.model === undefined || input.model === null
          ? undefined
          : await findModel(trx, input.model);
      const now = this.ctx.now();
      const event = await this.audit.append(trx, {
        actor,
        action: 'webhook.created',
        subject: m?.name ?? '*',
        time: now,
        data: { id, url, events, model: m?.name ?? null },
      });
      const row: WebhookRow = {
        id,
        url,
        model_id: m?.id ?? 0,
        events: JSON.stringify(events),
        secret: this.box ? this.box.seal(secret) : secret,
        description,
        after_seq: event.seq,
        created_by: actor,
        created_at: now,
        deleted_at: null,
      };
      await trx.insertInto('webhooks').values(row).execute();
      return { ...toWebhook(row, m?.name ?? null), secret };
    });
  }

  /** See RegistryApi.listWebhooks. */
  async list(): Promise<Webhook[]> {
    const rows = await this.ctx.database.db
      .selectFrom('webhooks as w')
      .leftJoin('registered_models as m', 'm.id', 'w.model_id')
      .selectAll('w')
      .select('m.name as model_name')
      .where('w.deleted_at', 'is', null)
      .orderBy('w.created_at')
      .orderBy('w.id')
      .execute();
    return rows.map((r) => toWebhook(r, r.model_name ?? null));
  }

  /** See RegistryApi.deleteWebhook. */
  async delete(id: string, options?: MutationOptions): Promise<boolean> {
    const actor = actorOf(this.ctx, options);
    return this.ctx.database.writeTransaction(async (trx) => {
      const row = await this.live(trx, id);
      if (!row) return false;
      const now = this.ctx.now();
      await trx.updateTable('webhooks').set({ deleted_at: now }).where('id', '=', id).execute();
      await trx
        .updateTable('webhook_deliveries')
        .set({ state: 'failed', last_error: 'webhook deleted', updated_at: now })
        .where('webhook_id', '=', id)
        .where('state', '=', 'pending')
        .execute();
      await this.audit.append(trx, {
        actor,
        action: 'webhook.deleted',
        subject: '*',
        time: now,
        data: { id, url: row.url },
      });
      return true;
    });
  }

  /** See RegistryApi.webhookDeliveries. */
  async deliveries(
    id: string,
    options: { readonly maxResults?: number } = {},
  ): Promise<WebhookDelivery[]> {
    const db = this.ctx.database.db;
    await this.require(db, id, { includeDeleted: true });
    const max = options.maxResults ?? 100;
    if (!Number.isSafeInteger(max) || max < 1 || max > 10_000) {
      throw new InvalidArgumentError('maxResults must be 1..10000');
    }
    const rows = await db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('webhook_id', '=', id)
      .orderBy('id', 'desc')
      .limit(max)
      .execute();
    return rows.map(toDelivery);
  }

  /** See RegistryApi.testWebhook: one attempt, now, logged like any delivery. */
  async test(id: string): Promise<WebhookDelivery> {
    const db = this.ctx.database.db;
    const hook = await this.require(db, id);
    const now = this.ctx.now();
    const payload = JSON.stringify({
      event: 'webhook.test',
      entity: 'webhook',
      action: 'test',
      seq: null,
      time: now,
      timestamp: new Date(now).toISOString(),
      actor: null,
      subject: null,
      data: { webhookId: id },
    });
    const inserted = await this.ctx.database.writeTransaction((trx) =>
      trx
        .insertInto('webhook_deliveries')
        .values({
          webhook_id: id,
          event: 'webhook.test',
          audit_seq: null,
          payload,
          state: 'pending',
          attempts: 0,
          next_attempt_at: now,
          claimed_until: now + this.leaseMs,
          last_status: null,
          last_error: null,
          created_at: now,
          updated_at: now,
        })
        .returning('id')
        .executeTakeFirstOrThrow(),
    );
    return this.attempt(
      {
        id: inserted.id,
        event: 'webhook.test',
        payload,
        attempts: 0,
        url: hook.url,
        secret: this.reveal(hook.secret),
      },
      { maxAttempts: 1 },
    );
  }

  /**
   * Turns audit events after the cursor into pending deliveries for the webhooks they
   * match, and moves the cursor — one transaction per batch of at most 500 events.
   * Returns how many events it read (0 when caught up).
   */
  async derive(): Promise<number> {
    // Read-only first: with no webhook or nothing new, no write transaction is taken.
    if (!(await this.pendingEvents(this.ctx.database.db))) return 0;
    return this.ctx.database.writeTransaction(async (trx) => {
      const from = await this.pendingEvents(trx);
      if (!from) return 0;
      const { after, hooks } = from;
      const events = (
        await trx
          .selectFrom('audit_events')
          .selectAll()
          .where('seq', '>', after)
          .orderBy('seq')
          .limit(BATCH)
          .execute()
      ).map(toAuditEvent);
      const last = events[events.length - 1];
      if (!last) return 0;
      const modelIds = await this.modelIds(trx, events);
      const now = this.ctx.now();
      const outbox = [];
      for (const e of events) {
        const names = webhookEventsOf(e.action);
        if (names.length === 0) continue;
        const modelName = e.subject.split('@')[0] ?? '';
        const modelId = modelIds.get(modelName);
        for (const hook of hooks) {
          if (e.seq <= hook.after_seq) continue;
          if (hook.model_id !== 0 && hook.model_id !== modelId) continue;
          const wanted = JSON.parse(hook.events) as string[];
          for (const name of names) {
            if (!wanted.includes('*') && !wanted.includes(name)) continue;
            outbox.push({
              webhook_id: hook.id,
              event: name,
              audit_seq: e.seq,
              payload: JSON.stringify(payloadOf(name, e, modelName)),
              state: 'pending',
              attempts: 0,
              next_attempt_at: now,
              claimed_until: null,
              last_status: null,
              last_error: null,
              created_at: now,
              updated_at: now,
            });
          }
        }
      }
      for (let i = 0; i < outbox.length; i += 100) {
        await trx
          .insertInto('webhook_deliveries')
          .values(outbox.slice(i, i + 100))
          .execute();
      }
      const moved = await trx
        .updateTable('webhook_cursor')
        .set({ seq: last.seq })
        .where('id', '=', CURSOR_ID)
        .executeTakeFirst();
      if (Number(moved.numUpdatedRows) === 0) {
        await trx.insertInto('webhook_cursor').values({ id: CURSOR_ID, seq: last.seq }).execute();
      }
      return events.length;
    });
  }

  /**
   * Where deriving starts — the cursor, or the oldest live webhook's creation when that is
   * later (events before every webhook need no reading) — and the live webhooks; undefined
   * when there is no webhook or no event after that point.
   */
  private async pendingEvents(db: Kysely<RegistryDB>) {
    const hooks = await db
      .selectFrom('webhooks')
      .selectAll()
      .where('deleted_at', 'is', null)
      .execute();
    if (hooks.length === 0) return undefined;
    const cursor = await db
      .selectFrom('webhook_cursor')
      .select('seq')
      .where('id', '=', CURSOR_ID)
      .executeTakeFirst();
    const after = Math.max(cursor?.seq ?? 0, Math.min(...hooks.map((h) => h.after_seq)));
    const next = await db
      .selectFrom('audit_events')
      .select('seq')
      .where('seq', '>', after)
      .limit(1)
      .executeTakeFirst();
    return next ? { after, hooks } : undefined;
  }

  /**
   * Reserves up to `limit` due deliveries for this caller (a lease of leaseMs). Deliveries
   * whose webhook secret this process cannot decrypt (sealed with another server secret:
   * a replica started without the shared `--server-secret`) are left for a replica that
   * can, instead of failing them.
   */
  async claim(limit: number): Promise<ClaimedDelivery[]> {
    return this.ctx.database.writeTransaction(async (trx) => {
      const now = this.ctx.now();
      const rows = await trx
        .selectFrom('webhook_deliveries as d')
        .innerJoin('webhooks as w', 'w.id', 'd.webhook_id')
        .select(['d.id', 'd.event', 'd.payload', 'd.attempts', 'w.url', 'w.secret'])
        .where('d.state', '=', 'pending')
        .where('d.next_attempt_at', '<=', now)
        .where((eb) => eb.or([eb('d.claimed_until', 'is', null), eb('d.claimed_until', '<', now)]))
        .orderBy('d.id')
        .limit(limit * 4)
        .execute();
      const claimed: ClaimedDelivery[] = [];
      for (const r of rows) {
        if (claimed.length >= limit) break;
        try {
          claimed.push({ ...r, secret: this.reveal(r.secret) });
        } catch {
          // not ours to send (see above)
        }
      }
      if (claimed.length > 0) {
        await trx
          .updateTable('webhook_deliveries')
          .set({ claimed_until: now + this.leaseMs })
          .where(
            'id',
            'in',
            claimed.map((r) => r.id),
          )
          .execute();
      }
      return claimed;
    });
  }

  /** Sends a claimed delivery once and records the outcome (and the next try, if any). */
  async attempt(d: ClaimedDelivery, options: RetryPolicy = {}): Promise<WebhookDelivery> {
    const result = await sendWebhook({
      url: d.url,
      secret: d.secret,
      deliveryId: String(d.id),
      event: d.event,
      body: d.payload,
      timeoutMs: this.timeoutMs,
    });
    const attempts = d.attempts + 1;
    const now = this.ctx.now();
    const exhausted = attempts >= (options.maxAttempts ?? this.maxAttempts);
    const delay = Math.min(
      options.maxDelayMs ?? this.maxDelayMs,
      (options.baseDelayMs ?? this.baseDelayMs) * 2 ** (attempts - 1),
    );
    return this.ctx.database.writeTransaction(async (trx) => {
      await trx
        .updateTable('webhook_deliveries')
        .set({
          state: result.ok ? 'delivered' : exhausted ? 'failed' : 'pending',
          attempts,
          next_attempt_at: result.ok || exhausted ? now : now + delay,
          claimed_until: null,
          last_status: result.status,
          last_error: result.error,
          updated_at: now,
        })
        .where('id', '=', d.id)
        .where('state', '=', 'pending') // a delete meanwhile wins
        .execute();
      const row = await trx
        .selectFrom('webhook_deliveries')
        .selectAll()
        .where('id', '=', d.id)
        .executeTakeFirstOrThrow();
      return toDelivery(row);
    });
  }

  private async modelIds(db: Kysely<RegistryDB>, events: readonly AuditEvent[]) {
    const names = [...new Set(events.map((e) => e.subject.split('@')[0] ?? ''))].filter(
      (n) => n !== '' && n !== '*',
    );
    const out = new Map<string, number>();
    for (let i = 0; i < names.length; i += 200) {
      const rows = await db
        .selectFrom('registered_models')
        .select(['id', 'name'])
        .where('name', 'in', names.slice(i, i + 200))
        .execute();
      for (const r of rows) out.set(r.name, r.id);
    }
    return out;
  }

  private live(db: Kysely<RegistryDB>, id: string): Promise<WebhookRow | undefined> {
    return db
      .selectFrom('webhooks')
      .selectAll()
      .where('id', '=', typeof id === 'string' ? id : '')
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
  }

  private async require(
    db: Kysely<RegistryDB>,
    id: string,
    options: { includeDeleted?: boolean } = {},
  ): Promise<WebhookRow> {
    const row = options.includeDeleted
      ? await db
          .selectFrom('webhooks')
          .selectAll()
          .where('id', '=', typeof id === 'string' ? id : '')
          .executeTakeFirst()
      : await this.live(db, id);
    if (!row) throw new NotFoundError(`webhook '${String(id).slice(0, 80)}' not found`, { id });
    return row;
  }
}

/**
 * The JSON body of a delivery: the event's name (also split as MLflow's entity/action),
 * the audit event it comes from (seq, time, actor, subject) and `data` — the audit
 * event's data with the model `name`, and `version` for version events (a string, as in
 * MLflow's payloads: mlflow/webhooks/types.py).
 */
function payloadOf(event: string, e: AuditEvent, model: string): Record<string, unknown> {
  const dot = event.lastIndexOf('.');
  const at = e.subject.indexOf('@');
  const tail = at < 0 ? '' : e.subject.slice(at + 1);
  const version = /^[0-9]+$/.test(tail) ? Number(tail) : undefined;
  return {
    event,
    entity: event.slice(0, dot),
    action: event.slice(dot + 1),
    seq: e.seq,
    time: e.time,
    timestamp: new Date(e.time).toISOString(),
    actor: e.actor,
    subject: e.subject,
    data: withMlflowVersion({
      ...(model !== '*' ? { name: model } : {}),
      ...(version !== undefined ? { version } : {}),
      ...(e.data as Record<string, unknown>),
    }),
  };
}

/** MLflow's webhook payloads carry the version number as a string ("version": "1"). */
function withMlflowVersion(data: Record<string, unknown>): Record<string, unknown> {
  return typeof data.version === 'number' ? { ...data, version: String(data.version) } : data;
}

function toWebhook(row: WebhookRow, model: string | null): Webhook {
  return {
    id: row.id,
    url: row.url,
    model,
    events: JSON.parse(row.events) as string[],
    description: row.description,
    createdBy: row.created_by,
    createdAt: row.created_at,
  };
}

function toDelivery(row: {
  id: number;
  webhook_id: string;
  event: string;
  audit_seq: number | null;
  state: string;
  attempts: number;
  next_attempt_at: number;
  last_status: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}): WebhookDelivery {
  return {
    id: row.id,
    webhookId: row.webhook_id,
    event: row.event,
    auditSeq: row.audit_seq,
    state: row.state as WebhookDelivery['state'],
    attempts: row.attempts,
    nextAttemptAt: row.state === 'pending' ? row.next_attempt_at : null,
    lastStatus: row.last_status,
    lastError: row.last_error,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

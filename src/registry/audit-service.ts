/**
 * The audit trail: one hash-chained event per mutation, appended in the mutation's own
 * write transaction (so an event exists exactly when its change committed), read back
 * with filters and paging, exported as a stream, and verified link by link.
 *
 * Actions (MLflow-like names; the webhook layer maps them to MLflow's event names):
 * model.created, model.updated, model.deleted, model.restored, model.tag_set,
 * model.tag_deleted, version.created, version.updated, version.deleted, version.restored,
 * version.tag_set, version.tag_deleted, version.metrics_logged, version.approved,
 * version.rejected, version.signed, stage.transitioned, alias.set, alias.deleted,
 * alias.rolled_back, policy.set, policy.deleted (subject `*` for registry-wide ones),
 * webhook.created, webhook.deleted.
 *
 * Subjects: `model` for model events, `model@3` for version events, `model@alias` for
 * alias events — so "everything about a model" is the subject or the `model@` prefix.
 */
import type { KeyObject } from 'node:crypto';
import type { Insertable, Kysely } from 'kysely';
import { canonicalJson, type JsonValue } from '../core/canonical-json.js';
import { InvalidArgumentError } from '../core/errors.js';
import type {
  AuditCheckpoint,
  AuditEvent,
  AuditProblem,
  AuditQuery,
  AuditVerifyResult,
  SearchResult,
} from '../core/registry-api.js';
import {
  computeEventHash,
  computeEventHashOfCanonicalData,
  GENESIS_HASH,
  signCheckpoint,
} from '../metadata/audit-chain.js';
import { prepareQuery } from '../metadata/prepared-query.js';
import type { AuditEventRow, AuditEventsTable, RegistryDB } from '../metadata/schema.js';
import { checkActor, checkCount } from './input-checks.js';
import {
  decodePageToken,
  encodePageToken,
  queryFingerprint,
  resolveMaxResults,
} from './page-token.js';
import type { RegistryContext } from './registry-context.js';

export interface NewAuditEvent {
  readonly actor: string;
  readonly action: string;
  readonly subject: string;
  /** JSON-serialisable; stored as canonical JSON. */
  readonly data: Record<string, unknown>;
  /** Defaults to the context clock; pass the mutation's own timestamp to keep them equal. */
  readonly time?: number;
}

/** The chain's last event: what the next one links to. */
export interface AuditHead {
  readonly seq: number;
  readonly hash: string;
}

const BATCH = 500;

/** Every mutation's statements, compiled once (prepared-query.ts). */
const Q = {
  head: prepareQuery((db: Kysely<RegistryDB>, _p: Record<string, never>) =>
    db.selectFrom('audit_events').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1),
  ),
  insert: prepareQuery((db: Kysely<RegistryDB>, p: Insertable<AuditEventsTable>) =>
    db.insertInto('audit_events').values({
      seq: p.seq,
      time: p.time,
      actor: p.actor,
      action: p.action,
      subject: p.subject,
      data: p.data,
      prev_hash: p.prev_hash,
      hash: p.hash,
    }),
  ),
};
const MAX_PROBLEMS = 100;

type Filters = Omit<AuditQuery, 'pageToken' | 'maxResults' | 'order'>;

/** Filters for internal readers, which may also select one exact subject. */
export interface EventSelection extends Filters {
  readonly subject?: string;
}

/** @throws InvalidArgumentError for a malformed query (wrong types, unknown order). */
function checkFilters(f: AuditQuery): void {
  for (const key of ['model', 'actor'] as const) {
    if (f[key] !== undefined && typeof f[key] !== 'string') {
      throw new InvalidArgumentError(`audit ${key} must be a string`);
    }
  }
  if (f.actions !== undefined) {
    if (!Array.isArray(f.actions) || f.actions.some((a) => typeof a !== 'string')) {
      throw new InvalidArgumentError('audit actions must be an array of strings');
    }
  }
  if (f.since !== undefined) checkCount(f.since, 'since');
  if (f.until !== undefined) checkCount(f.until, 'until');
  if (f.order !== undefined && f.order !== 'asc' && f.order !== 'desc') {
    throw new InvalidArgumentError("audit order must be 'asc' or 'desc'");
  }
}

export function toAuditEvent(row: AuditEventRow): AuditEvent {
  return {
    seq: row.seq,
    time: row.time,
    actor: row.actor,
    action: row.action,
    subject: row.subject,
    data: JSON.parse(row.data) as unknown,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

export class AuditService {
  constructor(private readonly ctx: RegistryContext) {}

  /**
   * Appends one event after the current last one. Must run inside `writeTransaction`
   * (with its `trx`): the write lock is what makes "read the head, append after it" safe.
   */
  async append(trx: Kysely<RegistryDB>, event: NewAuditEvent): Promise<AuditEvent> {
    const { row, appended } = this.eventAfter(await this.head(trx), event);
    await Q.insert.run(trx, row);
    return appended;
  }

  /**
   * The chain's last event (undefined before the first), as `append` reads it. Inside a
   * write transaction it stays the last until this transaction appends: every append runs
   * under the write lock.
   */
  async head(trx: Kysely<RegistryDB>): Promise<AuditHead | undefined> {
    return Q.head.executeTakeFirst(trx, {});
  }

  /**
   * The row `append` inserts for `event` after `head` (the chain's last event, read in
   * the same write transaction), and the event it returns — for a caller that inserts the
   * row within a statement of its own (VersionService.create on PostgreSQL).
   * @throws InvalidArgumentError (actor; data that canonical JSON refuses)
   */
  eventAfter(
    head: AuditHead | undefined,
    event: NewAuditEvent,
  ): { row: Insertable<AuditEventsTable>; appended: AuditEvent } {
    // Canonical JSON is a fixed point of parse-then-canonicalise, so the stored text is
    // this one, computed once (a version's data carries every metric and param).
    const dataText = canonicalJson(event.data);
    const body = {
      seq: (head?.seq ?? 0) + 1,
      time: event.time ?? this.ctx.now(),
      actor: checkActor(event.actor),
      action: event.action,
      subject: event.subject,
      data: JSON.parse(dataText) as unknown,
      prevHash: head?.hash ?? GENESIS_HASH,
    };
    const hash = computeEventHashOfCanonicalData(
      {
        seq: body.seq,
        time: auditTime(body.time),
        actor: body.actor,
        action: body.action,
        subject: body.subject,
        prevHash: body.prevHash,
      },
      dataText,
    );
    return {
      row: {
        seq: body.seq,
        time: body.time,
        actor: body.actor,
        action: body.action,
        subject: body.subject,
        data: dataText,
        prev_hash: body.prevHash,
        hash,
      },
      appended: { ...body, hash },
    };
  }

  /** One page of events matching the query; keyset-paged on seq. */
  async log(query: AuditQuery = {}): Promise<SearchResult<AuditEvent>> {
    checkFilters(query);
    const order = query.order ?? 'desc';
    const limit = resolveMaxResults(query.maxResults);
    const { pageToken: _t, maxResults: _m, ...shape } = query;
    const fingerprint = queryFingerprint({ audit: shape, order });
    const after = decodePageToken(query.pageToken, fingerprint).s;
    let q = this.filtered(this.ctx.database.db, query).selectAll().orderBy('seq', order);
    if (after !== undefined) q = q.where('seq', order === 'asc' ? '>' : '<', after);
    const rows = await q.limit(limit + 1).execute();
    const items = rows.slice(0, limit).map(toAuditEvent);
    const last = items[items.length - 1];
    return rows.length > limit && last
      ? { items, nextPageToken: encodePageToken({ s: last.seq }, fingerprint) }
      : { items };
  }

  /** Every matching event, oldest first, read in batches (constant memory). */
  async *export(query: Filters = {}): AsyncIterable<AuditEvent> {
    checkFilters(query);
    let after = 0;
    for (;;) {
      const rows = await this.filtered(this.ctx.database.db, query)
        .selectAll()
        .where('seq', '>', after)
        .orderBy('seq', 'asc')
        .limit(BATCH)
        .execute();
      for (const row of rows) yield toAuditEvent(row);
      const last = rows[rows.length - 1];
      if (!last || rows.length < BATCH) return;
      after = last.seq;
    }
  }

  /**
   * Every event matching `selection`, oldest first, read through `db` — pass a write
   * transaction to read a history consistent with the change about to be made.
   * For small selections (one subject's history); use export() to stream large ones.
   */
  async read(db: Kysely<RegistryDB>, selection: EventSelection): Promise<AuditEvent[]> {
    let q = this.filtered(db, selection).selectAll();
    if (selection.subject !== undefined) q = q.where('subject', '=', selection.subject);
    return (await q.orderBy('seq', 'asc').execute()).map(toAuditEvent);
  }

  /**
   * Reads every event in seq order and checks: seqs are 1, 2, 3… without gaps; each
   * event's prev_hash is the previous event's hash; each hash is the hash of its own
   * content. Reports problems (first = first broken link) instead of throwing.
   * Truncation of the newest events is only detectable against a known `headHash`.
   */
  async verify(): Promise<AuditVerifyResult> {
    const problems: AuditProblem[] = [];
    const report = (p: AuditProblem) => {
      if (problems.length < MAX_PROBLEMS) problems.push(p);
    };
    let expectedSeq = 1;
    let prevHash: string = GENESIS_HASH;
    let checked = 0;
    let lastSeq: number | null = null;
    for (;;) {
      let q = this.ctx.database.db.selectFrom('audit_events').selectAll();
      if (lastSeq !== null) q = q.where('seq', '>', lastSeq);
      const rows = await q.orderBy('seq', 'asc').limit(BATCH).execute();
      for (const row of rows) {
        checked++;
        const gap = row.seq !== expectedSeq;
        if (gap) {
          report({
            seq: expectedSeq,
            kind: 'gap',
            message:
              row.seq < expectedSeq
                ? `event ${row.seq} is out of sequence (expected ${expectedSeq})`
                : row.seq === expectedSeq + 1
                  ? `event ${expectedSeq} is missing`
                  : `events ${expectedSeq}..${row.seq - 1} are missing`,
          });
        }
        let data: unknown;
        try {
          data = JSON.parse(row.data);
        } catch {
          report({
            seq: row.seq,
            kind: 'unreadable',
            message: `event ${row.seq} has invalid data`,
          });
          data = undefined;
        }
        if (data !== undefined) {
          const hash = computeEventHash({
            seq: row.seq,
            time: auditTime(row.time),
            actor: row.actor,
            action: row.action,
            subject: row.subject,
            data: data as JsonValue,
            prevHash: row.prev_hash,
          });
          if (hash !== row.hash) {
            report({
              seq: row.seq,
              kind: 'hash_mismatch',
              message: `event ${row.seq} does not match its hash (its content was changed)`,
            });
          } else if (!gap && row.prev_hash !== prevHash) {
            report({
              seq: row.seq,
              kind: 'prev_hash_mismatch',
              message: `event ${row.seq} does not link to event ${row.seq - 1}`,
            });
          }
        }
        prevHash = row.hash;
        expectedSeq = row.seq + 1;
        lastSeq = row.seq;
      }
      if (rows.length < BATCH) break;
    }
    return {
      ok: problems.length === 0,
      checked,
      lastSeq,
      headHash: lastSeq === null ? null : prevHash,
      problems,
    };
  }

  /**
   * Signs the chain's current head with `key` and stores the checkpoint, in a write
   * transaction (so the head cannot move meanwhile). When the newest checkpoint already
   * signs this head, returns it instead; null for an empty trail.
   */
  async checkpoint(key: KeyObject): Promise<AuditCheckpoint | null> {
    return this.ctx.database.writeTransaction(async (trx) => {
      const head = await trx
        .selectFrom('audit_events')
        .select(['seq', 'hash'])
        .orderBy('seq', 'desc')
        .limit(1)
        .executeTakeFirst();
      if (!head) return null;
      const existing = await trx
        .selectFrom('audit_checkpoints')
        .selectAll()
        .where('seq', '=', head.seq)
        .executeTakeFirst();
      if (existing) return toCheckpoint(existing);
      const signed = signCheckpoint(
        { seq: head.seq, hash: head.hash, time: auditTime(this.ctx.now()) },
        key,
      );
      const row = {
        seq: signed.seq,
        hash: signed.hash,
        time: Date.parse(signed.time),
        key_id: signed.keyId,
        signature: signed.signature,
      };
      await trx.insertInto('audit_checkpoints').values(row).execute();
      return toCheckpoint(row);
    });
  }

  /** Every stored checkpoint, oldest first. */
  async checkpoints(): Promise<AuditCheckpoint[]> {
    const rows = await this.ctx.database.db
      .selectFrom('audit_checkpoints')
      .selectAll()
      .orderBy('seq')
      .execute();
    return rows.map(toCheckpoint);
  }

  private filtered(db: Kysely<RegistryDB>, f: Filters) {
    let q = db.selectFrom('audit_events');
    if (f.model !== undefined) {
      const prefix = `${f.model}@`;
      q = q.where((eb) =>
        eb.or([
          eb('subject', '=', f.model as string),
          eb(eb.fn('substr', ['subject', eb.val(1), eb.val(prefix.length)]), '=', prefix),
        ]),
      );
    }
    if (f.actor !== undefined) q = q.where('actor', '=', f.actor);
    if (f.actions !== undefined) {
      q =
        f.actions.length === 0
          ? q.where((eb) => eb.lit(false))
          : q.where('action', 'in', f.actions);
    }
    if (f.since !== undefined) q = q.where('time', '>=', f.since);
    if (f.until !== undefined) q = q.where('time', '<', f.until);
    return q;
  }
}

function toCheckpoint(row: {
  seq: number;
  hash: string;
  time: number;
  key_id: string;
  signature: string;
}): AuditCheckpoint {
  return {
    seq: row.seq,
    hash: row.hash,
    time: auditTime(row.time),
    keyId: row.key_id,
    signature: row.signature,
  };
}

/** Events store time as epoch milliseconds; the hash covers its ISO-8601 UTC form. */
function auditTime(ms: number): string {
  return new Date(ms).toISOString();
}

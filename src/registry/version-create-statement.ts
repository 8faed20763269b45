/**
 * A new version's rows on PostgreSQL in two statements (VersionService.create) instead of
 * one a table (eight to nine round trips for an MLflow create): the model with the audit
 * chain's head, then one statement of data-modifying CTEs writing the model's version
 * counter, the version row, its metric history and latest points, params and tags, and
 * its audit event.
 * On PostgreSQL every statement is a network round trip that the server parses and plans
 * again, and the multi-row inserts bound five parameters a metric (~500 for a version
 * registered from an MLflow run); here each column of a row list is one array parameter,
 * unnested, so the SQL text is the same for any number of rows.
 *
 * Contract: the rows written are those of the statements one by one, value for value:
 * node-postgres writes a JS array as an array literal whose numbers are `String(n)` (the
 * same text it sends for a scalar number: the shortest that reads back as the same
 * double, `NaN`, `Infinity`, `-Infinity`; -0 as `0` either way) and whose strings are
 * double-quoted with `"` and `\` escaped (so `NULL`, the empty string, braces, commas and
 * quotes arrive as themselves); float8 and text parse them as they parse scalars. Rows of
 * one list are inserted in array order (history ids increase along it). The CTEs see one
 * snapshot and none reads another's rows except through `v` (the new version's id); the
 * foreign keys to the version are checked at the end of the statement, when its row
 * exists.
 */
import { CompiledQuery, type Insertable, type Kysely } from 'kysely';
import { constantStatement } from '../metadata/constant-statements.js';
import { executeCompiled } from '../metadata/prepared-query.js';
import type {
  AuditEventsTable,
  ModelVersionsTable,
  RegisteredModelRow,
  RegistryDB,
} from '../metadata/schema.js';
import type { AuditHead } from './audit-service.js';

type Db = Kysely<RegistryDB>;

/** The model `$1` (any state) and the audit chain's last event, if any. */
const MODEL_AND_AUDIT_HEAD = constantStatement(`select m.*, a.seq as audit_seq, a.hash as audit_hash
from registered_models as m
left join lateral (select seq, hash from audit_events order by seq desc limit 1) as a on true
where m.name = $1`);

/**
 * The model named `name` (as `select *` reads it) and the audit chain's head, read in one
 * statement; undefined when there is no such model (deleted or not).
 */
export async function modelWithAuditHead(
  trx: Db,
  name: string,
): Promise<{ model: RegisteredModelRow; head: AuditHead | undefined } | undefined> {
  const { rows } = await executeCompiled(trx, CompiledQuery.raw(MODEL_AND_AUDIT_HEAD, [name]));
  const row = rows[0] as
    | (RegisteredModelRow & { audit_seq: number | null; audit_hash: string | null })
    | undefined;
  if (!row) return undefined;
  const { audit_seq, audit_hash, ...model } = row;
  return {
    model,
    head:
      audit_seq === null || audit_hash === null ? undefined : { seq: audit_seq, hash: audit_hash },
  };
}

const VERSION_COLUMNS = [
  'model_id',
  'version',
  'manifest_digest',
  'size',
  'file_count',
  'description',
  'model_card',
  'summary',
  'created_by',
  'created_at',
  'updated_at',
  'status',
  'status_message',
  'stage',
  'approval',
  'approval_reviewer',
  'approval_comment',
  'approval_time',
  'run_id',
  'source',
  'deleted_at',
] as const satisfies readonly (keyof ModelVersionsTable)[];

const AUDIT_COLUMNS = [
  'seq',
  'time',
  'actor',
  'action',
  'subject',
  'data',
  'prev_hash',
  'hash',
] as const satisfies readonly (keyof AuditEventsTable)[];

/** `$from, $from+1, …` for `n` parameters. */
function placeholders(from: number, n: number): string {
  return Array.from({ length: n }, (_, i) => `$${from + i}`).join(', ');
}

const V = 4; // the version row's parameters start after the counter's three
const M = V + VERSION_COLUMNS.length; // then the metrics' four arrays, params', tags'
const A = M + 8; // then the audit row's
const CREATE_VERSION = constantStatement(`with bump as (
  update registered_models set next_version = $1, updated_at = $2 where id = $3
), v as (
  insert into model_versions (${VERSION_COLUMNS.join(', ')})
  values (${placeholders(V, VERSION_COLUMNS.length)}) returning id
), m as (
  select * from unnest($${M}::text[], $${M + 1}::float8[], $${M + 2}::int8[], $${M + 3}::int8[])
    as m(key, value, step, ts)
), h as (
  insert into version_metrics (version_id, key, value, step, "timestamp")
  select v.id, m.key, m.value, m.step, m.ts from v cross join m
), l as (
  insert into version_latest_metrics (version_id, key, value, step, "timestamp")
  select v.id, m.key, m.value, m.step, m.ts from v cross join m
), p as (
  insert into version_params (version_id, key, value)
  select v.id, x.key, x.value from v cross join unnest($${M + 4}::text[], $${M + 5}::text[]) as x(key, value)
), t as (
  insert into version_tags (version_id, key, value)
  select v.id, x.key, x.value from v cross join unnest($${M + 6}::text[], $${M + 7}::text[]) as x(key, value)
), a as (
  insert into audit_events (${AUDIT_COLUMNS.join(', ')}) values (${placeholders(A, AUDIT_COLUMNS.length)})
)
select id from v`);

export interface VersionRows {
  /** The model's counter after this version (its row's `next_version`), and `updated_at`. */
  readonly model: { readonly id: number; readonly nextVersion: number; readonly now: number };
  readonly version: Readonly<Record<(typeof VERSION_COLUMNS)[number], unknown>>;
  /**
   * The version's metric points, each its key's only one (so each is also its key's
   * latest point): history and latest rows alike.
   */
  readonly metrics: readonly {
    readonly key: string;
    readonly value: number;
    readonly step: number;
    readonly timestamp: number;
  }[];
  readonly params: readonly (readonly [string, string])[];
  readonly tags: readonly (readonly [string, string])[];
  readonly audit: Insertable<AuditEventsTable>;
}

/**
 * Writes `rows` (see the module comment) in one statement; resolves with the version's id.
 * @throws what the statements one by one throw (a unique or foreign-key violation).
 */
export async function insertVersionRows(trx: Db, rows: VersionRows): Promise<number> {
  const { metrics, params, tags, audit } = rows;
  const parameters: unknown[] = [rows.model.nextVersion, rows.model.now, rows.model.id];
  for (const c of VERSION_COLUMNS) parameters.push(rows.version[c]);
  parameters.push(
    metrics.map((m) => m.key),
    metrics.map((m) => m.value),
    metrics.map((m) => m.step),
    metrics.map((m) => m.timestamp),
    params.map(([k]) => k),
    params.map(([, v]) => v),
    tags.map(([k]) => k),
    tags.map(([, v]) => v),
  );
  for (const c of AUDIT_COLUMNS) parameters.push(audit[c]);
  const { rows: out } = await executeCompiled(trx, CompiledQuery.raw(CREATE_VERSION, parameters));
  return (out[0] as { id: number }).id;
}

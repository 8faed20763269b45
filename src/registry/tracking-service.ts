/**
 * MLflow tracking over the metadata database (DESIGN §2 "experiment, run"): experiments,
 * runs, params, tags, metric histories and dataset inputs, with MLflow 2.x semantics and
 * MLflow's wording for errors (the MLflow routes translate our error codes to MLflow's:
 * NotFoundError → RESOURCE_DOES_NOT_EXIST, InvalidArgumentError → INVALID_PARAMETER_VALUE,
 * AlreadyExistsError → RESOURCE_ALREADY_EXISTS).
 *
 * The returned shapes mirror MLflow's protos (service.proto: Experiment, Run, RunInfo,
 * RunData, Metric…) with MLflow's field names, so the MLflow routes only serialise them.
 * Ids are strings as in MLflow: experiment ids are decimal integers (`0` is the Default
 * experiment), run ids 32 lowercase hex characters.
 *
 * Audit: creating, renaming, deleting and restoring experiments and runs append an audit
 * event (subjects `experiment:<id>` and `run:<id>`, which no model name can equal) in the
 * mutation's own transaction; so does gc's purge of them (tracking-purge.ts). Metric
 * points, params and tags are not audited.
 *
 * Durability: lifecycle changes commit durably. Logging (metrics, params, tags, inputs,
 * models) commits with `durable: false`: a crash of the process never loses it, a power
 * failure may lose the last few hundred milliseconds of it (docs/design.md, "Tracking").
 */
import { randomBytes } from 'node:crypto';
import {
  CompiledQuery,
  type Kysely,
  type OnConflictBuilder,
  type OnConflictUpdateBuilder,
  type RawBuilder,
  sql,
} from 'kysely';
import {
  AlreadyExistsError,
  CorruptionError,
  InvalidArgumentError,
  NotFoundError,
} from '../core/errors.js';
import { groupBy } from '../core/group-by.js';
import {
  MAX_TAG_VALUE_LENGTH,
  validateExperimentName,
  validateMetricKey,
  validateParamKey,
  validateParamValue,
  validateTagKey,
} from '../core/names.js';
import { constantStatement } from '../metadata/constant-statements.js';
import {
  decodeKeyPoints,
  decodeMetricPoints,
  encodeMetricPoints,
  type KeyPoints,
  segmentEnds,
  segmentFields,
} from '../metadata/metric-points-codec.js';
import {
  executeCompiled,
  PreparedQueryFamily,
  prepareQuery,
  rowsOf,
} from '../metadata/prepared-query.js';
import type { RegistryDB } from '../metadata/schema.js';
import {
  type CompiledOrderItem,
  compileFilter,
  compileOrderBy,
  compileRunOrderBy,
  orderByNullsLast,
  searchFields,
} from '../metadata/search/compile-filter.js';
import type { OrderByTerm } from '../metadata/search/filter-ast.js';
import { parseFilter, parseOrderBy } from '../metadata/search/filter-parser.js';
import { type ReadScope, readableBy } from '../metadata/search/read-scope.js';
import type {
  ExperimentRow,
  LifecycleStage,
  RunMetricSegmentsTable,
  RunRow,
  RunStatus,
} from '../metadata/tracking-schema.js';
import type { AuditService } from './audit-service.js';
import { LIMITS } from './input-checks.js';
import { runJson } from './mlflow-json.js';
import { decodePageToken, encodePageToken, queryFingerprint } from './page-token.js';
import { grantCreator } from './permission-service.js';
import { actorOf, type RegistryContext } from './registry-context.js';

// ---------------------------------------------------------------------------------------
// Shapes (MLflow's proto messages, MLflow's field names)

export interface KeyValue {
  readonly key: string;
  readonly value: string;
}

export interface Experiment {
  readonly experiment_id: string;
  readonly name: string;
  readonly artifact_location: string;
  readonly lifecycle_stage: LifecycleStage;
  readonly last_update_time: number;
  readonly creation_time: number;
  readonly tags: readonly KeyValue[];
}

/** A metric point. `value` may be NaN or ±Infinity. */
export interface Metric {
  readonly key: string;
  readonly value: number;
  readonly timestamp: number;
  readonly step: number;
}

export interface RunInfo {
  readonly run_id: string;
  /** MLflow's deprecated twin of run_id. */
  readonly run_uuid: string;
  readonly run_name: string;
  readonly experiment_id: string;
  readonly user_id: string;
  readonly status: RunStatus;
  readonly start_time: number;
  readonly end_time?: number;
  /** `mlflow-artifacts:/<experiment_id>/<run_id>/artifacts`. */
  readonly artifact_uri: string;
  readonly lifecycle_stage: LifecycleStage;
}

export interface Dataset {
  readonly name: string;
  readonly digest: string;
  readonly source_type: string;
  readonly source: string;
  readonly schema?: string;
  readonly profile?: string;
}

export interface DatasetInput {
  readonly tags: readonly KeyValue[];
  readonly dataset: Dataset;
}

export interface Run {
  readonly info: RunInfo;
  readonly data: {
    /** The latest point of each metric. */
    readonly metrics: readonly Metric[];
    readonly params: readonly KeyValue[];
    readonly tags: readonly KeyValue[];
  };
  readonly inputs: { readonly dataset_inputs: readonly DatasetInput[] };
}

export type ViewType = 'ACTIVE_ONLY' | 'DELETED_ONLY' | 'ALL';

export interface Page<T> {
  readonly items: T[];
  readonly nextPageToken?: string;
}

export interface TrackingMutation {
  /** Who acts (audit); default the registry's default actor. */
  readonly actor?: string;
}

export interface CreateRunInput extends TrackingMutation {
  readonly experimentId?: string;
  readonly userId?: string;
  readonly startTime?: number;
  readonly runName?: string;
  readonly tags?: readonly KeyValue[];
}

/** A run's finite latest metric values and its params, by key (getRunValues). */
export interface RunValues {
  readonly metrics: Record<string, number>;
  readonly params: Record<string, string>;
}

export interface LogBatchInput {
  readonly metrics?: readonly Metric[];
  readonly params?: readonly KeyValue[];
  readonly tags?: readonly KeyValue[];
}

export interface SearchRunsQuery {
  readonly experimentIds: readonly string[];
  readonly filter?: string;
  readonly viewType?: ViewType;
  readonly maxResults?: number;
  readonly orderBy?: readonly string[];
  readonly pageToken?: string;
}

export interface SearchExperimentsQuery {
  readonly filter?: string;
  readonly viewType?: ViewType;
  readonly maxResults?: number;
  readonly orderBy?: readonly string[];
  readonly pageToken?: string;
}

// ---------------------------------------------------------------------------------------
// MLflow's limits (mlflow/utils/validation.py)

export const TRACKING_LIMITS = {
  metricsPerBatch: 1000,
  paramsAndTagsPerBatch: 100,
  entitiesPerBatch: 1000,
  searchMaxResults: 50_000,
  searchRunsDefault: 1000,
  searchExperimentsDefault: 1000,
  metricHistoryDefault: 25_000,
  datasetsPerRequest: 1000,
  datasetField: 1024 * 1024,
  modelJson: 1024 * 1024,
} as const;

const RUN_STATUSES: readonly RunStatus[] = ['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED'];
const RUN_ID = /^[a-zA-Z0-9][\w-]{0,255}$/;
const EXPERIMENT_ID = /^[0-9]{1,18}$/;
const RUN_NAME_TAG = 'mlflow.runName';
/** The `tracking_sequences` row holding the highest experiment id ever given (0307). */
export const EXPERIMENT_ID_SEQUENCE = 'experiment_id';
const LOG_MODEL_HISTORY_TAG = 'mlflow.log-model.history';

function invalid(message: string): InvalidArgumentError {
  return new InvalidArgumentError(message);
}

/** Parses an experiment id; MLflow's wording for a malformed one. */
function experimentKey(id: unknown): number {
  if (typeof id !== 'string' || !EXPERIMENT_ID.test(id)) {
    if (typeof id === 'string' && /^[a-zA-Z0-9][\w-]{0,63}$/.test(id)) {
      throw new NotFoundError(`No Experiment with id=${id} exists`, { experimentId: id });
    }
    throw invalid(`Invalid experiment ID: '${String(id).slice(0, 100)}'`);
  }
  return Number(id);
}

function checkRunId(id: unknown): string {
  if (typeof id !== 'string' || !RUN_ID.test(id)) {
    throw invalid(`Invalid run ID: '${String(id).slice(0, 300)}'`);
  }
  return id;
}

function checkTimestamp(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw invalid(`Invalid value for parameter '${what}': expected an integer (milliseconds)`);
  }
  return value;
}

function checkTag(tag: KeyValue): KeyValue {
  if (tag === null || typeof tag !== 'object') throw invalid('a tag must be {key, value}');
  const key = validateTagKey(tag.key);
  if (typeof tag.value !== 'string') {
    throw invalid(`Invalid value for tag '${key}': expected a string`);
  }
  if ([...tag.value].length > MAX_TAG_VALUE_LENGTH) {
    throw invalid(
      `Tag value '${tag.value.slice(0, 100)}...' had length ${[...tag.value].length}, which exceeded length limit of ${MAX_TAG_VALUE_LENGTH}`,
    );
  }
  if (tag.value.includes('\0')) throw invalid(`Invalid value for tag '${key}': contains NUL`);
  return { key, value: tag.value };
}

function checkParam(param: KeyValue): KeyValue {
  if (param === null || typeof param !== 'object') throw invalid('a param must be {key, value}');
  const key = validateParamKey(param.key);
  if (typeof param.value === 'string' && [...param.value].length > 6000) {
    throw invalid(
      `Param value '${param.value.slice(0, 100)}...' had length ${[...param.value].length}, which exceeded length limit of 6000`,
    );
  }
  return { key, value: validateParamValue(param.value) };
}

/**
 * A metric point checked by MLflow's rules, as the tables store it: one object per point,
 * read by every statement that writes it (see MetricRow).
 */
function checkMetric(metric: Metric): MetricRow {
  if (metric === null || typeof metric !== 'object') {
    throw invalid('a metric must be {key, value, timestamp, step}');
  }
  const key = validateMetricKey(metric.key);
  const value = metric.value;
  if (typeof value !== 'number') {
    throw invalid(
      `Got invalid value ${String(value).slice(0, 100)} for metric '${key}' (timestamp=${String(metric.timestamp)}). Please specify value as a valid double (64-bit floating point)`,
    );
  }
  const timestamp = checkTimestamp(metric.timestamp, 'timestamp');
  if (timestamp < 0) {
    throw invalid(
      `Got invalid timestamp ${timestamp} for metric '${key}' (value=${value}). Timestamp must be a nonnegative long (64-bit integer) `,
    );
  }
  const step = metric.step === undefined ? 0 : metric.step;
  if (typeof step !== 'number' || !Number.isSafeInteger(step)) {
    throw invalid(
      `Got invalid step ${String(step).slice(0, 100)} for metric '${key}' (value=${value}). Step must be a valid long (64-bit integer).`,
    );
  }
  const nan = Number.isNaN(value);
  return {
    key,
    step,
    timestamp,
    value: nan ? 0 : value,
    latest_value: nan ? null : value,
    is_nan: nan ? 1 : 0,
  };
}

/** MLflow's ordering of metric points: step, then timestamp, then value (NaN lowest). */
function newer(a: MetricRow, b: MetricRow): boolean {
  if (a.step !== b.step) return a.step > b.step;
  if (a.timestamp !== b.timestamp) return a.timestamp > b.timestamp;
  const av = a.is_nan ? Number.NEGATIVE_INFINITY : a.value;
  const bv = b.is_nan ? Number.NEGATIVE_INFINITY : b.value;
  return av >= bv;
}

const ADJECTIVES = [
  'able',
  'bold',
  'calm',
  'deft',
  'eager',
  'fair',
  'glad',
  'keen',
  'neat',
  'wise',
];
const NOUNS = ['ant', 'bee', 'cod', 'doe', 'elk', 'fox', 'gnu', 'hen', 'owl', 'yak'];

/** A run name like MLflow's generated ones (`calm-owl-417`). */
function generateRunName(): string {
  const b = randomBytes(4);
  return `${ADJECTIVES[b[0]! % 10]}-${NOUNS[b[1]! % 10]}-${((b[2]! << 8) | b[3]!) % 1000}`;
}

function resolveSearchMax(maxResults: number | undefined, fallback: number): number {
  if (maxResults === undefined) return fallback;
  if (!Number.isSafeInteger(maxResults) || maxResults < 1) {
    throw invalid(
      `Invalid value ${String(maxResults)} for parameter 'max_results' supplied. It must be a positive integer`,
    );
  }
  if (maxResults > TRACKING_LIMITS.searchMaxResults) {
    throw invalid(
      `Invalid value ${maxResults} for parameter 'max_results' supplied. It must be at most ${TRACKING_LIMITS.searchMaxResults}`,
    );
  }
  return maxResults;
}

function viewStages(view: ViewType | undefined): LifecycleStage[] {
  switch (view ?? 'ACTIVE_ONLY') {
    case 'ACTIVE_ONLY':
      return ['active'];
    case 'DELETED_ONLY':
      return ['deleted'];
    case 'ALL':
      return ['active', 'deleted'];
    default:
      throw invalid(
        `Invalid view type '${String(view)}': expected ACTIVE_ONLY, DELETED_ONLY or ALL`,
      );
  }
}

type Db = Kysely<RegistryDB>;

// ---------------------------------------------------------------------------------------
// The hot statements (MLflow logging and runs/get), compiled once (metadata/prepared-query.ts).
// Row-count-shaped ones are compiled once per count.

/** A metric point as the tables store it (checkMetric). */
interface MetricRow {
  readonly key: string;
  readonly step: number;
  readonly timestamp: number;
  /** As the packed points store it (metric-points-codec.ts): NaN as 0, with is_nan 1. */
  readonly value: number;
  /** As run_latest_metrics stores it: NaN as NULL. */
  readonly latest_value: number | null;
  readonly is_nan: 0 | 1;
}
/** A row of run_metric_segments (as a mapped type: prepared queries take plain records). */
type SegmentRow = { [K in keyof RunMetricSegmentsTable]: RunMetricSegmentsTable[K] };
/** A list of rows and the run they belong to, for Q's multi-row statements. */
type Rows<T> = { run_id: string; rows: readonly T[] };
/** Metric points and their run's key (runs.run_key, by which the metric tables refer to it). */
type Points = { run_key: number; rows: readonly MetricRow[] };

/**
 * The latest-point upsert's conflict clause: the candidate replaces the stored point
 * unless that is newer by MLflow's order (step, timestamp, value with NaN lowest).
 */
function replaceOlderLatest(
  oc: OnConflictBuilder<RegistryDB, 'run_latest_metrics'>,
): OnConflictUpdateBuilder<RegistryDB, 'run_latest_metrics'> {
  return oc
    .columns(['run_key', 'key'])
    .doUpdateSet((eb) => ({
      value: eb.ref('excluded.value'),
      is_nan: eb.ref('excluded.is_nan'),
      step: eb.ref('excluded.step'),
      timestamp: eb.ref('excluded.timestamp'),
    }))
    .where((eb) => {
      // value is NULL for NaN, which ranks below every number (as -Infinity).
      const lowest = sql.val(Number.NEGATIVE_INFINITY);
      return eb.or([
        eb('excluded.step', '>', eb.ref('run_latest_metrics.step')),
        eb.and([
          eb('excluded.step', '=', eb.ref('run_latest_metrics.step')),
          eb.or([
            eb('excluded.timestamp', '>', eb.ref('run_latest_metrics.timestamp')),
            eb.and([
              eb('excluded.timestamp', '=', eb.ref('run_latest_metrics.timestamp')),
              eb(
                eb.fn.coalesce('excluded.value', lowest),
                '>=',
                eb.fn.coalesce('run_latest_metrics.value', lowest),
              ),
            ]),
          ]),
        ]),
      ]);
    });
}

/** How many segments' ranges a merge reads at a time after the last one before its points. */
const SEGMENTS_AHEAD = 8;

const Q = {
  run: prepareQuery((db: Db, p: { id: string }) =>
    db.selectFrom('runs').selectAll().where('id', '=', p.id),
  ),
  latestMetrics: prepareQuery((db: Db, p: { run_key: number }) =>
    db
      .selectFrom('run_latest_metrics')
      .select(['key', 'value', 'is_nan', 'timestamp', 'step'])
      .where('run_key', '=', p.run_key)
      .orderBy('key'),
  ),
  params: prepareQuery((db: Db, p: { id: string }) =>
    db.selectFrom('run_params').select(['key', 'value']).where('run_id', '=', p.id).orderBy('key'),
  ),
  tags: prepareQuery((db: Db, p: { id: string }) =>
    db.selectFrom('run_tags').select(['key', 'value']).where('run_id', '=', p.id).orderBy('key'),
  ),
  inputs: prepareQuery((db: Db, p: { id: string }) =>
    db
      .selectFrom('run_inputs')
      .select(['dataset', 'tags'])
      .where('run_id', '=', p.id)
      .orderBy('position')
      .orderBy('name')
      .orderBy('digest'),
  ),
  upsertTag: prepareQuery((db: Db, p: { run_id: string; key: string; value: string }) =>
    db
      .insertInto('run_tags')
      .values({ run_id: p.run_id, key: p.key, value: p.value })
      .onConflict((oc) => oc.columns(['run_id', 'key']).doUpdateSet({ value: p.value })),
  ),
  /** The params among `n` keys already logged to the run. */
  loggedParams: new PreparedQueryFamily((n: number) =>
    prepareQuery((db: Db, p: Rows<KeyValue>) =>
      db
        .selectFrom('run_params')
        .select(['key', 'value'])
        .where('run_id', '=', p.run_id)
        .where(
          'key',
          'in',
          rowsOf(p.rows, n).map((r) => r.key),
        ),
    ),
  ),
  insertParams: new PreparedQueryFamily((n: number) =>
    prepareQuery((db: Db, p: Rows<KeyValue>) =>
      db
        .insertInto('run_params')
        .values(rowsOf(p.rows, n).map((r) => ({ run_id: p.run_id, key: r.key, value: r.value }))),
    ),
  ),
  /** The run's last pending batch (none when nothing is pending). */
  lastBatch: prepareQuery((db: Db, p: { run_key: number }) =>
    db
      .selectFrom('run_metric_batches')
      .select(['seq', 'batch', 'n'])
      .where('run_key', '=', p.run_key)
      .orderBy('seq', 'desc')
      .limit(1),
  ),
  insertBatch: prepareQuery(
    (db: Db, p: { run_key: number; seq: number; batch: number; n: number; points: Uint8Array }) =>
      db
        .insertInto('run_metric_batches')
        .values({ run_key: p.run_key, seq: p.seq, batch: p.batch, n: p.n, points: p.points }),
  ),
  /** The run's pending batches in logged order. */
  batches: prepareQuery((db: Db, p: { run_key: number }) =>
    db
      .selectFrom('run_metric_batches')
      .select(['n', 'points'])
      .where('run_key', '=', p.run_key)
      .orderBy('seq'),
  ),
  deleteBatches: prepareQuery((db: Db, p: { run_key: number }) =>
    db.deleteFrom('run_metric_batches').where('run_key', '=', p.run_key),
  ),
  /** The key's last segment's fold and last (step, timestamp) (none when it has none). */
  lastSegment: prepareQuery((db: Db, p: { run_key: number; key: string }) =>
    db
      .selectFrom('run_metric_segments')
      .select(['fold', 'last_step', 'last_timestamp'])
      .where('run_key', '=', p.run_key)
      .where('key', '=', p.key)
      .orderBy('fold', 'desc')
      .limit(1),
  ),
  /** The range of the key's first segment with fold ≥ `from` (none when there is none). */
  segmentFrom: prepareQuery((db: Db, p: { run_key: number; key: string; from: number }) =>
    db
      .selectFrom('run_metric_segments')
      .select(['fold', 'last_step', 'last_timestamp'])
      .where('run_key', '=', p.run_key)
      .where('key', '=', p.key)
      .where('fold', '>=', p.from)
      .orderBy('fold')
      .limit(1),
  ),
  /** The ranges of the key's first SEGMENTS_AHEAD segments with fold > `after`, by fold. */
  segmentsAfter: prepareQuery((db: Db, p: { run_key: number; key: string; after: number }) =>
    db
      .selectFrom('run_metric_segments')
      .select(['fold', 'first_step', 'first_timestamp', 'last_step', 'last_timestamp'])
      .where('run_key', '=', p.run_key)
      .where('key', '=', p.key)
      .where('fold', '>', p.after)
      .orderBy('fold')
      .limit(SEGMENTS_AHEAD),
  ),
  /** The counts and points of the key's segments with fold in [from, to], by fold. */
  segmentsBetween: prepareQuery(
    (db: Db, p: { run_key: number; key: string; from: number; to: number }) =>
      db
        .selectFrom('run_metric_segments')
        .select(['n', 'points'])
        .where('run_key', '=', p.run_key)
        .where('key', '=', p.key)
        .where('fold', '>=', p.from)
        .where('fold', '<=', p.to)
        .orderBy('fold'),
  ),
  /** Deletes the key's segments with fold in [from, to]. */
  deleteSegments: prepareQuery(
    (db: Db, p: { run_key: number; key: string; from: number; to: number }) =>
      db
        .deleteFrom('run_metric_segments')
        .where('run_key', '=', p.run_key)
        .where('key', '=', p.key)
        .where('fold', '>=', p.from)
        .where('fold', '<=', p.to),
  ),
  /**
   * Moves the key's segments with fold ≥ `from` to fold -1 - (fold + by): out of the way
   * of every other row (folds are ≥ 0; both dialects check the primary key row by row,
   * so `fold + by` in one statement could meet a row not moved yet). shiftBack ends it.
   */
  shiftOut: prepareQuery((db: Db, p: { run_key: number; key: string; from: number; by: number }) =>
    db
      .updateTable('run_metric_segments')
      .set({ fold: sql<number>`-1 - (fold + ${p.by})` })
      .where('run_key', '=', p.run_key)
      .where('key', '=', p.key)
      .where('fold', '>=', p.from),
  ),
  /** Moves the key's segments shifted out back to fold + by. */
  shiftBack: prepareQuery((db: Db, p: { run_key: number; key: string }) =>
    db
      .updateTable('run_metric_segments')
      .set({ fold: sql<number>`-1 - fold` })
      .where('run_key', '=', p.run_key)
      .where('key', '=', p.key)
      .where('fold', '<', 0),
  ),
  insertSegment: prepareQuery((db: Db, p: SegmentRow) =>
    db.insertInto('run_metric_segments').values({
      run_key: p.run_key,
      key: p.key,
      fold: p.fold,
      n: p.n,
      first_step: p.first_step,
      first_timestamp: p.first_timestamp,
      last_step: p.last_step,
      last_timestamp: p.last_timestamp,
      points: p.points,
    }),
  ),
  /**
   * What one read of a key's history needs: the key's segments without their points
   * (src 0, by fold), then the run's pending batches with theirs (src 1, by seq); the
   * caller reads the page's segments' points by fold afterwards, in the same state
   * (readHistory).
   */
  historyIndex: prepareQuery((db: Db, p: { run_key: number; key: string }) =>
    db
      .selectFrom('run_metric_segments')
      .select([
        sql.lit(0).as('src'),
        'fold as ord',
        'n',
        'first_step',
        'first_timestamp',
        'last_step',
        'last_timestamp',
        sql<Uint8Array | null>`null`.as('points'),
      ])
      .where('run_key', '=', p.run_key)
      .where('key', '=', p.key)
      .unionAll(
        db
          .selectFrom('run_metric_batches')
          .select([
            sql.lit(1).as('src'),
            'seq as ord',
            'n',
            sql<number>`null`.as('first_step'),
            sql<number>`null`.as('first_timestamp'),
            sql<number>`null`.as('last_step'),
            sql<number>`null`.as('last_timestamp'),
            'points',
          ])
          .where('run_key', '=', p.run_key),
      )
      .orderBy('src')
      .orderBy('ord'),
  ),
  /** The points of the key's segments with fold in [from, to]. */
  segmentPoints: prepareQuery(
    (db: Db, p: { run_key: number; key: string; from: number; to: number }) =>
      db
        .selectFrom('run_metric_segments')
        .select('points')
        .where('run_key', '=', p.run_key)
        .where('key', '=', p.key)
        .where('fold', '>=', p.from)
        .where('fold', '<=', p.to)
        .orderBy('fold'),
  ),
  /**
   * `n` candidate latest points (distinct keys): each replaces the stored one unless that
   * is newer by MLflow's order (step, timestamp, value with NaN lowest: `newer`).
   */
  upsertLatestMetrics: new PreparedQueryFamily((n: number) =>
    prepareQuery((db: Db, p: Points) => upsertLatest(db, p, n)),
  ),
  /**
   * PostgreSQL: lastBatch, insertBatch and upsertLatestMetrics (`n` candidates) in one
   * statement — one round trip instead of two: the batch's seq after the last batch's
   * points and its batch number after it (both 0 when none is pending), returned; the
   * upsert as a data-modifying CTE. The two writes are to different tables and neither
   * reads what the other writes, so the result is theirs run one after the other.
   */
  appendBatchAndLatest: new PreparedQueryFamily((n: number) =>
    prepareQuery((db: Db, p: Points & { n: number; points: Uint8Array }) => {
      const ofLast = (value: RawBuilder<number>) =>
        db
          .selectFrom('run_metric_batches')
          .select(value.as('v'))
          .where('run_key', '=', p.run_key)
          .orderBy('seq', 'desc')
          .limit(1);
      return db
        .with('latest', (qc) => upsertLatest(qc, p, n).returning('key'))
        .insertInto('run_metric_batches')
        .values({
          run_key: p.run_key,
          seq: sql<number>`coalesce((${ofLast(sql`seq + n`)}), 0)`,
          batch: sql<number>`coalesce((${ofLast(sql`batch + 1`)}), 0)`,
          n: p.n,
          points: p.points,
        })
        .returning(['seq', 'batch']);
    }),
  ),
};

/**
 * `n` candidate latest points (distinct keys) into run_latest_metrics: each replaces the
 * stored one unless that is newer by MLflow's order (replaceOlderLatest).
 */
function upsertLatest(db: Pick<Db, 'insertInto'>, p: Points, n: number) {
  return db
    .insertInto('run_latest_metrics')
    .values(
      rowsOf(p.rows, n).map((r) => ({
        run_key: p.run_key,
        key: r.key,
        value: r.latest_value,
        is_nan: r.is_nan,
        step: r.step,
        timestamp: r.timestamp,
      })),
    )
    .onConflict(replaceOlderLatest);
}

/**
 * SQLite: a page's runs' params, tags and inputs (hydrateRuns), one statement each for all
 * the page's runs, each in its per-run query's order (Q.params, Q.tags, Q.inputs) within a
 * run. `p.ids` is the page's run ids as one parameter, a JSON array read by json_each, so
 * the text is constant (compiled and prepared once) and no page size meets a parameter
 * limit. (PostgreSQL reads a page in one statement: searchRunsPage.)
 */
const PAGE_QUERIES = (() => {
  const idIn = (ids: unknown) =>
    sql<boolean>`${sql.ref('run_id')} in (select value from json_each(${ids}))`;
  // Params and tags: the same (run_id, key, value) rows by run, then key.
  const keyValues = (table: 'run_params' | 'run_tags') =>
    prepareQuery((db: Db, p: { ids: unknown }) =>
      db
        .selectFrom(table)
        .select(['run_id', 'key', 'value'])
        .where(idIn(p.ids))
        .orderBy('run_id')
        .orderBy('key'),
    );
  return {
    params: keyValues('run_params'),
    tags: keyValues('run_tags'),
    inputs: prepareQuery((db: Db, p: { ids: unknown }) =>
      db
        .selectFrom('run_inputs')
        .select(['run_id', 'dataset', 'tags'])
        .where(idIn(p.ids))
        .orderBy('run_id')
        .orderBy('position')
        .orderBy('name')
        .orderBy('digest'),
    ),
  };
})();

/**
 * SQLite only (JSON functions): for the runs whose keys are listed in `?` (a JSON array),
 * each run that has latest metrics as one row, `m` a JSON array of `[key, value, is_nan,
 * timestamp, step]` ordered by key as Q.latestMetrics. SQLite writes a REAL with the
 * shortest text that reads back as the same double (±infinity as ±9e999, which JSON.parse
 * reads as ±Infinity); a NaN's value is NULL (is_nan says so).
 */
const PAGE_METRICS_JSON = `select run_key, json_group_array(json_array(key, value, is_nan, timestamp, step) order by key) as m
from run_latest_metrics
where run_key in (select value from json_each(?))
group by run_key`;

/**
 * SQLite only (JSON functions): the run `?` as MLflow's JSON of a Run message, equal once
 * parsed to `runJson(getRun(?))`: info with end_time only when set; data's metrics (the
 * latest points), params and tags and inputs' dataset_inputs in getRun's order, each left
 * out when empty; a dataset input's tags left out when empty; a metric value NaN (stored
 * NULL) or ±infinity (SQLite's ±9e999) as MLflow's strings. The lists are joined as text
 * (`json_quote` for strings and doubles, integers as they are) rather than with
 * json_object/json_group_array, whose results SQLite parses again at every level: ~30%
 * of the statement. SQLite writes a REAL with the shortest text that reads back as the
 * same double (5.0 where JSON.stringify writes 5: the same number).
 */
const RUN_JSON = (() => {
  /**
   * `"name":[…]` of the run's rows of `table` in `order`, or NULL when there are none. A
   * table refers to the run by its id, or by its key (`run_key`: the metric tables,
   * migration 0304).
   */
  const member = (
    name: string,
    element: string,
    table: string,
    order: string,
    by: 'id' | 'key' = 'id',
  ) =>
    `(select '"${name}":[' || group_concat(${element}, ',' order by x.${order}) || ']' from ${table} as x where ${by === 'key' ? 'x.run_key = r.run_key' : 'x.run_id = r.id'})`;
  const keyValue = `'{"key":' || json_quote(x.key) || ',"value":' || json_quote(x.value) || '}'`;
  const value = `case when x.is_nan then '"NaN"' when x.value = 9e999 then '"Infinity"' when x.value = -9e999 then '"-Infinity"' else json_quote(x.value) end`;
  const metric = `'{"key":' || json_quote(x.key) || ',"value":' || ${value} || ',"timestamp":' || x.timestamp || ',"step":' || x.step || '}'`;
  const input = `case when x.tags = '[]' then json_object('dataset', json(x.dataset)) else json_object('tags', json(x.tags), 'dataset', json(x.dataset)) end`;
  const info = (endTime: boolean) =>
    `json_object('run_id', r.id, 'run_uuid', r.id, 'run_name', r.name, 'experiment_id', cast(r.experiment_id as text), 'user_id', r.user_id, 'status', r.status, 'start_time', r.start_time, ${endTime ? `'end_time', r.end_time, ` : ''}'artifact_uri', r.artifact_uri, 'lifecycle_stage', r.lifecycle_stage)`;
  // concat_ws leaves out the NULL (empty) members and the commas between them.
  return `select '{"info":' || (case when r.end_time is null then ${info(false)} else ${info(true)} end)
  || ',"data":{' || concat_ws(',',
    ${member('metrics', metric, 'run_latest_metrics', 'key', 'key')},
    ${member('params', keyValue, 'run_params', 'key')},
    ${member('tags', keyValue, 'run_tags', 'key')})
  || '},"inputs":{' || coalesce(${member('dataset_inputs', input, 'run_inputs', 'position')}, '') || '}}' as json
from runs as r where r.id = ?`;
})();

/**
 * PostgreSQL: the select-list items `l_params`, `l_tags` and `l_inputs` of the run `r` (an
 * alias of a runs row): its params and tags as JSON arrays of `[key, value]`, its inputs
 * of `[dataset, tags]` (their stored JSON texts), each in getRun's order (the same
 * `order by`, the columns' "C" collation) and NULL when empty. Shared by PG_RUN and
 * searchRuns' page (searchRunsPage).
 */
function pgRunLists(r: string): string {
  return `(select json_agg(json_build_array(x.key, x.value) order by x.key)
    from run_params as x where x.run_id = ${r}.id) as l_params,
  (select json_agg(json_build_array(x.key, x.value) order by x.key)
    from run_tags as x where x.run_id = ${r}.id) as l_tags,
  (select json_agg(json_build_array(x.dataset, x.tags) order by x.position, x.name, x.digest)
    from run_inputs as x where x.run_id = ${r}.id) as l_inputs`;
}

/**
 * PostgreSQL only: the run `$1`'s row with its four lists as JSON arrays, one statement
 * (each statement is a network round trip; getRun's reads are two sequential ones and
 * four connections). Each list is in getRun's order (the same `order by`, the columns'
 * "C" collation) and NULL when empty; rows are arrays: a metric `[key, value as text,
 * is_nan, timestamp, step]`, a param or tag `[key, value]`, an input `[dataset, tags]`
 * (their stored JSON texts). A double goes as float8's own text, the text node-postgres
 * parses for getRun (parseFloat), so it reads back as the same double (-0 and ±Infinity
 * included) under any extra_float_digits; JSON's own rendering of a double is not relied
 * on. bigints (timestamps, steps) go as JSON numbers: they were checked to be safe
 * integers when logged, so they read back exactly (runOfPgRow checks it again).
 */
const PG_RUN = constantStatement(`select r.*,
  (select json_agg(json_build_array(x.key, x.value::text, x.is_nan, x.timestamp, x.step) order by x.key)
    from run_latest_metrics as x where x.run_key = r.run_key) as l_metrics,
  ${pgRunLists('r')}
from runs as r where r.id = $1`);

/**
 * PostgreSQL: the latest metrics of the page's run `p` (searchRuns), joined laterally as
 * two columns: `m_keys`, the keys as a JSON array, and `m_points`, each point's value,
 * is_nan, timestamp and step as text separated by spaces (a value as float8's own text,
 * the text node-postgres parses for getRun; NULL as `N`), both ordered by key as
 * Q.latestMetrics. Keys are unique per run, so the two lists line up. Only the keys need
 * JSON's escaping: building a JSON array per point (PG_RUN's form) cost PostgreSQL ~20–30 %
 * more for a page of 100 runs × 20 metrics (docs/benchmarks.md, MLflow section, session 15).
 */
const PG_PAGE_METRICS = `cross join lateral (select json_agg(x.key order by x.key) as m_keys,
    string_agg(coalesce(x.value::text, 'N') || ' ' || x.is_nan || ' ' || x.timestamp || ' ' || x.step, ' ' order by x.key) as m_points
  from run_latest_metrics as x where x.run_key = p.run_key) as m`;

/** searchRuns' query of runs rows, before its conditions, order and page. */
function runsQuery(db: Db) {
  return db.selectFrom('runs as r').selectAll('r');
}
type RunsPageQuery = ReturnType<typeof runsQuery>;

/** A row of searchRuns' page on PostgreSQL. */
type PgPageRow = PgListsRow & { m_keys: string[] | null; m_points: string | null };

/** PG_PAGE_METRICS' columns as the metrics getRun reads (the same values, bit for bit). */
function metricsOfPgPage(keys: string[] | null, points: string | null): Metric[] {
  if (keys === null || points === null) return [];
  const fields = points.split(' ');
  if (fields.length !== keys.length * 4) {
    throw new Error(`a page's metrics: ${fields.length} fields for ${keys.length} keys`);
  }
  return keys.map((key, i) => {
    const value = fields[4 * i]!;
    return toMetric({
      key,
      value: value === 'N' ? null : Number.parseFloat(value),
      is_nan: Number(fields[4 * i + 1]),
      timestamp: safeInt8(Number(fields[4 * i + 2])),
      step: safeInt8(Number(fields[4 * i + 3])),
    });
  });
}

/** A runs row with pgRunLists' lists (node-postgres parses json columns). */
type PgListsRow = RunRow & {
  l_params: [string, string][] | null;
  l_tags: [string, string][] | null;
  l_inputs: [string, string][] | null;
};

/** A row of PG_RUN. */
type PgRunRow = PgListsRow & {
  l_metrics: [string, string | null, number, number, number][] | null;
};

/** An int8 of PG_RUN's JSON, held to what node-postgres' parser for this pool accepts. */
function safeInt8(n: number): number {
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${n} exceeds 2^53`);
  return n;
}

/** PG_RUN's row as the Run getRun builds from its five reads (the same values, bit for bit). */
function runOfPgRow(row: PgRunRow): Run {
  return runOfPgLists(
    row,
    (row.l_metrics ?? []).map(([key, value, is_nan, timestamp, step]) =>
      toMetric({
        key,
        value: value === null ? null : Number.parseFloat(value),
        is_nan,
        timestamp: safeInt8(timestamp),
        step: safeInt8(step),
      }),
    ),
  );
}

/** A Run of `row` (a runs row with pgRunLists' lists) and its latest `metrics`. */
function runOfPgLists(row: PgListsRow, metrics: Metric[]): Run {
  const pair = ([key, value]: [string, string]) => ({ key, value });
  return {
    info: toRunInfo(row),
    data: {
      metrics,
      params: (row.l_params ?? []).map(pair),
      tags: (row.l_tags ?? []).map(pair),
    },
    inputs: {
      dataset_inputs: (row.l_inputs ?? []).map(([dataset, tags]) =>
        toDatasetInput({ dataset, tags }),
      ),
    },
  };
}

/**
 * SQLite only (JSON functions): the run `?`'s latest metric values (NaN left out) and its
 * params, each as one JSON object text by key in getRun's order, or no row when there is no
 * such run. A REAL is written with the shortest text that reads back as the same double;
 * ±infinity as ±9e999, which JSON.parse reads as ±Infinity.
 */
const RUN_VALUES = `select
  (select json_group_object(x.key, x.value) from (select key, value from run_latest_metrics
    where run_key = r.run_key and is_nan = 0 order by key) as x) as metrics,
  (select json_group_object(x.key, x.value) from (select key, value from run_params
    where run_id = r.id order by key) as x) as params
from runs as r where r.id = ?`;

/**
 * Where log-batch puts metric points (migration 0305, docs/design.md "Tracking"): every
 * batch with metrics is one row of run_metric_batches, its points packed in logged order
 * (the run's previous batch's neighbour: one or two pages written a batch). When a run has
 * `foldAt` or more pending points, or `foldRows` pending rows (log-metric's single points:
 * a key's history read decodes every pending row of its run, so their number is bounded
 * too), the batch's own transaction folds them: each key's
 * points, sorted in get-history's order with identical points dropped, are appended as
 * that key's next segment(s) of run_metric_segments (at most SEGMENT_MAX_POINTS each), and
 * the batches are deleted. A key's history read decodes the run's pending batches (fewer
 * than `foldAt` + 1000 points) and only the segments its page needs.
 */
export const PENDING_METRICS = { foldAt: 4096, foldRows: 256 } as const;

/** Metric points as columns (value 0 for NaN), in the order they were added. */
class PointColumns {
  readonly steps: number[] = [];
  readonly timestamps: number[] = [];
  readonly values: number[] = [];
  readonly nans: number[] = [];

  get length(): number {
    return this.steps.length;
  }

  push(step: number, timestamp: number, value: number, nan: number): void {
    this.steps.push(step);
    this.timestamps.push(timestamp);
    this.values.push(value);
    this.nans.push(nan);
  }

  /** Appends points [from, to) of `p` (all by default). */
  addAll(p: KeyPoints | PointColumns, from = 0, to = p.steps.length): void {
    for (let i = from; i < to; i++) {
      this.push(p.steps[i]!, p.timestamps[i]!, p.values[i]!, p.nans[i]!);
    }
  }
}

/**
 * get-history's order (step, timestamp, NaN first, then value) of point i of `p` and
 * point j of `q`: 0 exactly when they are the same point as SQL compares rows (-0 equals
 * 0; NaN points all store 0).
 */
function comparePoints(p: PointColumns, i: number, q: PointColumns, j: number): number {
  const ds = p.steps[i]! - q.steps[j]!;
  if (ds !== 0) return ds;
  const dt = p.timestamps[i]! - q.timestamps[j]!;
  if (dt !== 0) return dt;
  const dn = q.nans[j]! - p.nans[i]!;
  if (dn !== 0) return dn;
  const a = p.values[i]!;
  const b = q.values[j]!;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The points in get-history's order with identical points dropped: a stable sort, so of
 * identical points (-0 and 0 among them) the first added is kept.
 */
function sortedDistinct(p: PointColumns): PointColumns {
  const n = p.length;
  let order: number[] | null = null;
  for (let i = 1; i < n; i++) {
    if (comparePoints(p, i - 1, p, i) > 0) {
      order = Array.from({ length: n }, (_, k) => k);
      order.sort((a, b) => comparePoints(p, a, p, b));
      break;
    }
  }
  const out = new PointColumns();
  for (let k = 0; k < n; k++) {
    const i = order ? order[k]! : k;
    if (out.length > 0 && comparePoints(out, out.length - 1, p, i) === 0) continue;
    out.push(p.steps[i]!, p.timestamps[i]!, p.values[i]!, p.nans[i]!);
  }
  return out;
}

/**
 * sortedDistinct of `a`'s points followed by `b`'s (`b` in get-history's order): in one
 * pass when `a` is in that order too (of identical points the first in `a`, then `b`, is
 * kept), else by sorting.
 */
function mergeDistinct(a: PointColumns, b: PointColumns): PointColumns {
  for (let i = 1; i < a.length; i++) {
    if (comparePoints(a, i - 1, a, i) > 0) {
      const all = new PointColumns();
      all.addAll(a);
      all.addAll(b);
      return sortedDistinct(all);
    }
  }
  const out = new PointColumns();
  const take = (p: PointColumns, i: number) => {
    if (out.length === 0 || comparePoints(out, out.length - 1, p, i) !== 0) {
      out.push(p.steps[i]!, p.timestamps[i]!, p.values[i]!, p.nans[i]!);
    }
  };
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (comparePoints(a, i, b, j) <= 0) take(a, i++);
    else take(b, j++);
  }
  while (i < a.length) take(a, i++);
  while (j < b.length) take(b, j++);
  return out;
}

/** The most points of a segment a merge writes after the merged points' range (mergedEnds). */
const TAIL_POINTS = 64;

/**
 * Where to cut merged points `p` (get-history's order) whose new points end at
 * (step, timestamp) `hi`: segmentEnds of the points up to `hi`, then of those after it in
 * segments of at most TAIL_POINTS. The points after `hi` are the tail of a segment that was
 * met; a job re-logging steps in order meets them at its next fold, which then rewrites
 * a small segment instead of that whole tail again.
 */
function mergedEnds(p: PointColumns, hi: { step: number; time: number }): number[] {
  let cut = p.length;
  while (cut > 0 && after(p.steps[cut - 1]!, p.timestamps[cut - 1]!, hi.step, hi.time)) cut--;
  const ends = cut > 0 ? segmentEnds(p.steps.slice(0, cut), p.timestamps.slice(0, cut)) : [];
  if (cut < p.length) {
    const tail = segmentEnds(p.steps.slice(cut), p.timestamps.slice(cut), TAIL_POINTS);
    for (const end of tail) ends.push(cut + end);
  }
  return ends;
}

/** Whether (step, timestamp) a comes strictly after b. */
function after(aStep: number, aTime: number, bStep: number, bTime: number): boolean {
  return aStep > bStep || (aStep === bStep && aTime > bTime);
}

/**
 * Adds to `rows` the segments of `p` (one key's points in get-history's order) cut at
 * `ends` (segmentEnds), from fold `fold` on.
 */
function appendSegments(
  rows: SegmentRow[],
  runKey: number,
  key: string,
  p: PointColumns,
  fold: number,
  ends = segmentEnds(p.steps, p.timestamps),
): void {
  let start = 0;
  for (const end of ends) {
    rows.push({ run_key: runKey, key, fold: fold++, ...segmentFields(key, p, start, end) });
    start = end;
  }
}

/** A batch's points packed for run_metric_batches, their keys in first-logged order. */
function packBatch(rows: readonly MetricRow[], sqlite: boolean): Buffer {
  const keys: string[] = [];
  const index = new Map<string, number>();
  const keyIndex = new Uint16Array(rows.length);
  const n = rows.length;
  const steps = new Float64Array(n);
  const timestamps = new Float64Array(n);
  const values = new Float64Array(n);
  const nans = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const r = rows[i]!;
    let j = index.get(r.key);
    if (j === undefined) {
      j = keys.length;
      keys.push(r.key);
      index.set(r.key, j);
    }
    keyIndex[i] = j;
    steps[i] = r.step;
    timestamps[i] = r.timestamp;
    // SQLite stores a REAL -0 as 0 (as run_metrics did, and run_latest_metrics does); a
    // PostgreSQL double keeps it.
    values[i] = sqlite ? r.value + 0 : r.value;
    nans[i] = r.is_nan;
  }
  return encodeMetricPoints({
    keys,
    keyIndex: keys.length > 1 ? keyIndex : null,
    steps,
    timestamps,
    values,
    nans,
  });
}

/**
 * PostgreSQL: get-history's reads in one statement, so one snapshot without a transaction
 * (a fold may merge and renumber segments between two statements): the run `$1`'s key
 * (src -1; no row when there is no such run), then Q.historyIndex's rows for key `$2` —
 * the key's segments by fold (src 0), then the run's pending batches by seq (src 1) —
 * where a segment carries its points only when it holds some of points [$3, $3 + $4) by
 * the running count of its points (`upto`): the segments historyOfIndex reads when they
 * are in order. When they are not, it reads every segment and gets none here: the caller
 * reads again as SQLite does (readHistory, in a REPEATABLE READ transaction).
 */
const PG_HISTORY = constantStatement(`with r as (select run_key from runs where id = $1),
s as (select fold, n, first_step, first_timestamp, last_step, last_timestamp, points,
    sum(n) over (order by fold) as upto
  from run_metric_segments where run_key = (select run_key from r) and key = $2)
select -1 as src, run_key as ord, 0 as n, null::int8 as first_step, null::int8 as first_timestamp,
  null::int8 as last_step, null::int8 as last_timestamp, null::bytea as points from r
union all
select 0, fold, n, first_step, first_timestamp, last_step, last_timestamp,
  case when upto > $3 and upto - n < $3 + $4 then points end from s
union all
select 1, seq, n, null, null, null, null, points from run_metric_batches
  where run_key = (select run_key from r)
order by src, ord`);

/**
 * Points [offset, offset + count) of the key's history (its statements must see one
 * state of the database: a fold merges and renumbers segments): its segments' and its pending
 * points (PENDING_METRICS) in get-history's order, identical points once — what the UNION
 * of a row per point, ordered by step, timestamp, is_nan desc, value, gave before
 * migration 0305. When the segments are disjoint and in order by (step, timestamp) and
 * the pending points all come after them (points logged in step order), whole segments
 * are skipped by their counts and only the page's ones read; otherwise every point of the
 * key is merged.
 */
async function readHistory(
  db: Db,
  runKey: number,
  key: string,
  offset: number,
  count: number,
): Promise<PointColumns> {
  const index = await Q.historyIndex.execute(db, { run_key: runKey, key });
  const history = await historyOfIndex(index, key, offset, count, async (from, to) => {
    const rows = await Q.segmentPoints.execute(db, {
      run_key: runKey,
      key,
      from: Number(index[from]!.ord),
      to: Number(index[to]!.ord),
    });
    if (rows.length !== to - from + 1) {
      throw new CorruptionError(`run_metric_segments changed while read (run ${runKey})`);
    }
    return rows.map((r) => r.points);
  });
  return history!;
}

/** A row of Q.historyIndex or PG_HISTORY: a segment (src 0) or a pending batch (src 1). */
interface HistoryIndexRow {
  src: number | string;
  ord: number | string;
  n: number | string;
  first_step: number | string | null;
  first_timestamp: number | string | null;
  last_step: number | string | null;
  last_timestamp: number | string | null;
  points: Uint8Array | null;
}

/**
 * readHistory's page from the key's `index` (segments first, in fold order, then the
 * run's pending batches), reading the points of segments [from, to] (positions in
 * `index`) with `segmentPoints`; undefined when that gives none (PG_HISTORY's rows carry
 * only the page's segments' points).
 */
async function historyOfIndex(
  index: readonly HistoryIndexRow[],
  key: string,
  offset: number,
  count: number,
  segmentPoints: (from: number, to: number) => Promise<readonly Uint8Array[] | undefined>,
): Promise<PointColumns | undefined> {
  const segments = index.filter((r) => Number(r.src) === 0);
  const keyBytes = Buffer.from(key, 'utf8');
  const logged = new PointColumns();
  for (const r of index) {
    if (Number(r.src) === 1) logged.addAll(decodeKeyPoints(r.points!, keyBytes));
  }
  const pending = sortedDistinct(logged);
  const out = new PointColumns();
  if (segments.length === 0) {
    out.addAll(pending, Math.min(offset, pending.length), Math.min(offset + count, pending.length));
    return out;
  }
  let ordered = true;
  for (let i = 1; i < segments.length && ordered; i++) {
    const s = segments[i]!;
    const prev = segments[i - 1]!;
    ordered = after(
      Number(s.first_step),
      Number(s.first_timestamp),
      Number(prev.last_step),
      Number(prev.last_timestamp),
    );
  }
  const lastSegment = segments[segments.length - 1]!;
  if (ordered && pending.length > 0) {
    ordered = after(
      pending.steps[0]!,
      pending.timestamps[0]!,
      Number(lastSegment.last_step),
      Number(lastSegment.last_timestamp),
    );
  }
  // Segments come first in `index`, so a segment's position there is its position here.
  const decode = async (from: number, to: number, into: PointColumns): Promise<boolean> => {
    if (from > to) return true;
    const blobs = await segmentPoints(from, to);
    if (blobs === undefined) return false;
    blobs.forEach((points, i) => {
      const d = decodeMetricPoints(points);
      if (d.keys[0] !== key || d.steps.length !== Number(segments[from + i]!.n)) {
        throw new CorruptionError(`run_metric_segments: a segment of key ${key} does not match`);
      }
      into.addAll(d);
    });
    return true;
  };
  if (ordered) {
    // Skip whole segments, read those the page needs, then the pending points.
    let skip = offset;
    let first = 0;
    while (first < segments.length && skip >= Number(segments[first]!.n)) {
      skip -= Number(segments[first]!.n);
      first++;
    }
    let last = first - 1;
    let have = -skip;
    while (last + 1 < segments.length && have < count) have += Number(segments[++last]!.n);
    const points = new PointColumns();
    if (!(await decode(first, last, points))) return undefined;
    if (have < count) points.addAll(pending);
    out.addAll(points, Math.min(skip, points.length), Math.min(skip + count, points.length));
    return out;
  }
  const all = new PointColumns();
  if (!(await decode(0, segments.length - 1, all))) return undefined;
  all.addAll(pending);
  const merged = sortedDistinct(all);
  out.addAll(merged, Math.min(offset, merged.length), Math.min(offset + count, merged.length));
  return out;
}

// ---------------------------------------------------------------------------------------

export class TrackingService {
  /** When a run's batches are folded (PENDING_METRICS). */
  private readonly fold: { readonly foldAt: number; readonly foldRows: number };

  /** `options`: tests fold after a few points or rows (default PENDING_METRICS). */
  constructor(
    private readonly ctx: RegistryContext,
    private readonly audit: AuditService,
    options: { readonly foldAt?: number; readonly foldRows?: number } = {},
  ) {
    const fold = { ...PENDING_METRICS, ...options };
    for (const n of [fold.foldAt, fold.foldRows]) {
      if (!Number.isSafeInteger(n) || n < 1) throw new RangeError('fold thresholds must be ≥ 1');
    }
    this.fold = fold;
  }

  private get db(): Db {
    return this.ctx.database.db;
  }

  // ---- experiments --------------------------------------------------------------------

  /**
   * Creates an experiment; its artifact location is `mlflow-artifacts:/<id>` unless given.
   * @throws AlreadyExistsError when the name is taken (also by a deleted experiment).
   */
  async createExperiment(
    input: {
      name: unknown;
      artifactLocation?: string;
      tags?: readonly KeyValue[];
    } & TrackingMutation,
  ): Promise<string> {
    if (input.name === '' || input.name === undefined || input.name === null) {
      throw invalid(`Invalid experiment name: '${String(input.name ?? '')}'`);
    }
    const name = validateExperimentName(input.name);
    const tags = (input.tags ?? []).map(checkTag);
    if (input.artifactLocation !== undefined && input.artifactLocation !== '') {
      if (
        typeof input.artifactLocation !== 'string' ||
        input.artifactLocation.length > LIMITS.uri
      ) {
        throw invalid('artifact_location must be a string of at most 4096 characters');
      }
      // MLflow refuses a run's artifacts as an experiment's root (they would nest).
      if (input.artifactLocation.startsWith('runs:')) {
        throw invalid(
          `Artifact location cannot be a runs:/ URI. Given: '${input.artifactLocation}'`,
        );
      }
    }
    const actor = actorOf(this.ctx, input);
    return this.ctx.database.writeTransaction(async (trx) => {
      const existing = await trx
        .selectFrom('experiments')
        .select('id')
        .where('name', '=', name)
        .executeTakeFirst();
      if (existing) {
        throw new AlreadyExistsError(`Experiment '${name}' already exists.`, { name });
      }
      const max = await trx
        .selectFrom('experiments')
        .select((eb) => eb.fn.max('id').as('max'))
        .executeTakeFirst();
      // A purged experiment's id is never given again (tracking-purge.ts).
      const purged = await trx
        .selectFrom('tracking_sequences')
        .select('last_value')
        .where('name', '=', EXPERIMENT_ID_SEQUENCE)
        .executeTakeFirst();
      const id = Math.max(Number(max?.max ?? 0), Number(purged?.last_value ?? 0)) + 1;
      const now = this.ctx.now();
      await trx
        .insertInto('experiments')
        .values({
          id,
          name,
          artifact_location: input.artifactLocation || `mlflow-artifacts:/${id}`,
          lifecycle_stage: 'active',
          created_at: now,
          updated_at: now,
          deleted_at: null,
        })
        .execute();
      for (const tag of dedupe(tags)) {
        await trx
          .insertInto('experiment_tags')
          .values({ experiment_id: id, ...tag })
          .execute();
      }
      await this.audit.append(trx, {
        actor,
        action: 'experiment.created',
        subject: `experiment:${id}`,
        data: { name },
        time: now,
      });
      await grantCreator(
        trx,
        this.audit,
        { kind: 'experiment', id, label: String(id) },
        actor,
        now,
      );
      return String(id);
    });
  }

  /** @throws NotFoundError `No Experiment with id=… exists`. */
  async getExperiment(experimentId: unknown): Promise<Experiment> {
    const row = await this.experimentRow(this.db, experimentKey(experimentId));
    return (await this.hydrateExperiments(this.db, [row]))[0]!;
  }

  /** @throws NotFoundError `Could not find experiment with name '…'`. */
  async getExperimentByName(name: unknown): Promise<Experiment> {
    if (typeof name !== 'string' || name === '') {
      throw invalid(`Invalid experiment name: '${String(name ?? '')}'`);
    }
    const row = await this.db
      .selectFrom('experiments')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row) throw new NotFoundError(`Could not find experiment with name '${name}'`, { name });
    return (await this.hydrateExperiments(this.db, [row]))[0]!;
  }

  /** Renames an active experiment. @throws AlreadyExistsError, InvalidArgumentError. */
  async renameExperiment(
    experimentId: unknown,
    newName: unknown,
    options: TrackingMutation = {},
  ): Promise<void> {
    const id = experimentKey(experimentId);
    if (newName === '' || newName === undefined || newName === null) {
      throw invalid(`Invalid experiment name: '${String(newName ?? '')}'`);
    }
    const name = validateExperimentName(newName);
    const actor = actorOf(this.ctx, options);
    await this.ctx.database.writeTransaction(async (trx) => {
      const row = await this.experimentRow(trx, id);
      if (row.lifecycle_stage !== 'active') {
        throw invalid('Cannot rename a non-active experiment.');
      }
      if (row.name === name) return;
      const clash = await trx
        .selectFrom('experiments')
        .select('id')
        .where('name', '=', name)
        .executeTakeFirst();
      if (clash) throw new AlreadyExistsError(`Experiment '${name}' already exists.`, { name });
      const now = this.ctx.now();
      await trx
        .updateTable('experiments')
        .set({ name, updated_at: now })
        .where('id', '=', id)
        .execute();
      await this.audit.append(trx, {
        actor,
        action: 'experiment.renamed',
        subject: `experiment:${id}`,
        data: { from: row.name, to: name },
        time: now,
      });
    });
  }

  /**
   * Soft-deletes an experiment and its active runs (MLflow 2.x); restorable with
   * restoreExperiment. The Default experiment cannot be deleted.
   * @throws NotFoundError when there is no such active experiment (also when it is deleted).
   */
  async deleteExperiment(experimentId: unknown, options: TrackingMutation = {}): Promise<void> {
    const id = experimentKey(experimentId);
    if (id === 0) {
      throw invalid(
        "Cannot delete the default experiment '0'. This is an internally reserved experiment.",
      );
    }
    await this.setExperimentStage(id, 'deleted', options);
  }

  /** @throws NotFoundError when there is no such deleted experiment (also when it is active). */
  async restoreExperiment(experimentId: unknown, options: TrackingMutation = {}): Promise<void> {
    await this.setExperimentStage(experimentKey(experimentId), 'active', options);
  }

  private async setExperimentStage(
    id: number,
    stage: LifecycleStage,
    options: TrackingMutation,
  ): Promise<void> {
    const actor = actorOf(this.ctx, options);
    await this.ctx.database.writeTransaction(async (trx) => {
      const row = await this.experimentRow(trx, id);
      // As MLflow's SQL store: deleting looks among active experiments only and restoring
      // among deleted ones, so the other kind is not found (RESOURCE_DOES_NOT_EXIST).
      if (row.lifecycle_stage === stage) {
        throw new NotFoundError(`No Experiment with id=${id} exists`, { experimentId: String(id) });
      }
      const now = this.ctx.now();
      const deletedAt = stage === 'deleted' ? now : null;
      await trx
        .updateTable('experiments')
        .set({ lifecycle_stage: stage, deleted_at: deletedAt, updated_at: now })
        .where('id', '=', id)
        .execute();
      // The runs deleted together with the experiment are the ones restored with it.
      let runs = trx
        .updateTable('runs')
        .set({ lifecycle_stage: stage, deleted_at: deletedAt })
        .where('experiment_id', '=', id);
      runs =
        stage === 'deleted'
          ? runs.where('lifecycle_stage', '=', 'active')
          : runs.where('deleted_at', '=', row.deleted_at);
      const result = await runs.executeTakeFirst();
      await this.audit.append(trx, {
        actor,
        action: stage === 'deleted' ? 'experiment.deleted' : 'experiment.restored',
        subject: `experiment:${id}`,
        data: { name: row.name, runs: Number(result.numUpdatedRows) },
        time: now,
      });
    });
  }

  /** Sets a tag on an active experiment. */
  async setExperimentTag(experimentId: unknown, tag: KeyValue): Promise<void> {
    const id = experimentKey(experimentId);
    const t = checkTag(tag);
    await this.ctx.database.writeTransaction(
      async (trx) => {
        const row = await this.experimentRow(trx, id);
        requireActiveExperiment(row);
        await trx
          .insertInto('experiment_tags')
          .values({ experiment_id: id, ...t })
          .onConflict((oc) => oc.columns(['experiment_id', 'key']).doUpdateSet({ value: t.value }))
          .execute();
        await trx
          .updateTable('experiments')
          .set({ updated_at: this.ctx.now() })
          .where('id', '=', id)
          .execute();
      },
      { durable: false },
    );
  }

  /**
   * Experiments matching MLflow's experiment filter (`name LIKE 'a%'`, `tags.team = 'x'`,
   * `creation_time > 0`), ordered by `order_by` (default creation_time DESC, as MLflow's
   * stores), then experiment id, paged.
   * With `scope`, only experiments its user may READ, in full pages.
   */
  async searchExperiments(
    query: SearchExperimentsQuery = {},
    scope?: ReadScope,
  ): Promise<Page<Experiment>> {
    const stages = viewStages(query.viewType);
    const limit = resolveSearchMax(query.maxResults, TRACKING_LIMITS.searchExperimentsDefault);
    const { where, terms } = this.compileSearch('experiments', query.filter, query.orderBy);
    const order = compileOrderBy(terms, 'experiments', { dialect: this.ctx.dialect });
    const fingerprint = queryFingerprint({
      target: 'experiments',
      filter: query.filter?.trim() ?? '',
      orderBy: query.orderBy ?? [],
      stages,
      readableBy: scope?.user,
    });
    const offset = decodePageToken(query.pageToken, fingerprint).o ?? 0;
    let q = this.db
      .selectFrom('experiments as e')
      .selectAll('e')
      .where('e.lifecycle_stage', 'in', stages);
    if (where) q = q.where(where);
    if (scope) q = q.where(readableBy(scope, 'experiment', 'e.id'));
    for (const item of order) q = q.orderBy(item.expression, item.direction);
    if (order.length === 0) q = q.orderBy('e.created_at', 'desc');
    const rows = await q
      .orderBy('e.id', 'asc')
      .limit(limit + 1)
      .offset(offset)
      .execute();
    const items = await this.hydrateExperiments(this.db, rows.slice(0, limit));
    return rows.length > limit
      ? { items, nextPageToken: encodePageToken({ o: offset + limit }, fingerprint) }
      : { items };
  }

  // ---- runs ---------------------------------------------------------------------------

  /**
   * Creates a RUNNING run in an active experiment (default `0`). Its name is `runName`,
   * else its `mlflow.runName` tag, else generated; the tag is set to the name.
   */
  async createRun(input: CreateRunInput): Promise<Run> {
    const experimentId = experimentKey(input.experimentId ?? '0');
    const tags = dedupe((input.tags ?? []).map(checkTag));
    const tagName = tags.find((t) => t.key === RUN_NAME_TAG)?.value;
    if (input.runName !== undefined && typeof input.runName !== 'string') {
      throw invalid("Invalid value for parameter 'run_name': expected a string");
    }
    if (input.runName && tagName !== undefined && tagName !== input.runName) {
      throw invalid(
        `Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='${input.runName}', mlflow.runName='${tagName}').`,
      );
    }
    const name = input.runName || tagName || generateRunName();
    if (name.length > LIMITS.tagValue) throw invalid('run_name is longer than 8000 characters');
    const startTime =
      input.startTime === undefined
        ? this.ctx.now()
        : checkTimestamp(input.startTime, 'start_time');
    const actor = actorOf(this.ctx, input);
    const userId = input.userId === undefined || input.userId === '' ? actor : input.userId;
    if (typeof userId !== 'string' || userId.length > LIMITS.actor) {
      throw invalid("Invalid value for parameter 'user_id': expected a string");
    }
    const runId = randomBytes(16).toString('hex');
    const allTags = [
      ...tags.filter((t) => t.key !== RUN_NAME_TAG),
      { key: RUN_NAME_TAG, value: name },
    ];
    return this.ctx.database.writeTransaction(async (trx) => {
      const experiment = await this.experimentRow(trx, experimentId);
      requireActiveExperiment(experiment);
      const now = this.ctx.now();
      await trx
        .insertInto('runs')
        .values((eb) => ({
          // The next integer key (migration 0304), under the write lock like every creation.
          run_key: eb
            .selectFrom('runs')
            .select(sql<number>`coalesce(max(run_key), 0) + 1`.as('next')),
          id: runId,
          experiment_id: experimentId,
          name,
          user_id: userId,
          status: 'RUNNING',
          start_time: startTime,
          end_time: null,
          lifecycle_stage: 'active',
          artifact_uri: runArtifactUri(experiment, runId),
          deleted_at: null,
        }))
        .execute();
      await trx
        .insertInto('run_tags')
        .values(allTags.map((t) => ({ run_id: runId, ...t })))
        .execute();
      await this.audit.append(trx, {
        actor,
        action: 'run.created',
        subject: `run:${runId}`,
        data: { experiment_id: String(experimentId), run_name: name },
        time: now,
      });
      return this.hydrateRun(trx, await this.runRow(trx, runId));
    });
  }

  /**
   * The run with its latest metrics, params, tags and dataset inputs (deleted runs too,
   * as MLflow's runs/get). @throws NotFoundError `Run with id=… not found`.
   */
  async getRun(runId: unknown): Promise<Run> {
    const row = await this.runRow(this.db, checkRunId(runId));
    return this.hydrateRun(this.db, row);
  }

  /**
   * getRun's run as MLflow's JSON encodes a Run message (mlflow-json.ts `runJson`: the
   * same JSON once parsed). On SQLite one statement reads and encodes it (RUN_JSON): the
   * five reads of getRun materialised ~130 row objects for a run of 100 metrics, 20 params
   * and 10 tags, which were then copied into the Run and serialised again — most of a
   * runs/get. On PostgreSQL `JSON.stringify(runJson(getRun))` byte for byte, the run read
   * by one statement (runInOneRead). @throws NotFoundError as getRun.
   */
  async getRunJson(runId: unknown): Promise<string> {
    const id = checkRunId(runId);
    if (this.ctx.dialect !== 'sqlite') return JSON.stringify(runJson(await this.runInOneRead(id)));
    const { rows } = await this.db.executeQuery(CompiledQuery.raw(RUN_JSON, [id]));
    const row = rows[0] as { json: string } | undefined;
    if (!row) throw new NotFoundError(`Run with id=${id} not found`, { runId: id });
    return row.json;
  }

  /**
   * PostgreSQL: getRun's run in one statement (PG_RUN) instead of its five reads in two
   * sequential round trips. @throws NotFoundError as getRun.
   */
  private async runInOneRead(id: string): Promise<Run> {
    const { rows } = await executeCompiled(this.db, CompiledQuery.raw(PG_RUN, [id]));
    const row = rows[0] as PgRunRow | undefined;
    if (!row) throw new NotFoundError(`Run with id=${id} not found`, { runId: id });
    return runOfPgRow(row);
  }

  /**
   * What a model version registered from the run takes from it (MLflow's
   * model-versions/create): its latest metric values that are finite and its params, by
   * key, in getRun's order — the same as reading them from `getRun(runId).data`. On SQLite
   * one statement (RUN_VALUES) instead of getRun's five and its ~130 row objects; on
   * PostgreSQL from the run read by one statement (runInOneRead).
   * @throws NotFoundError as getRun.
   */
  async getRunValues(runId: unknown): Promise<RunValues> {
    const id = checkRunId(runId);
    if (this.ctx.dialect !== 'sqlite') return runValuesOf(await this.runInOneRead(id));
    const { rows } = await this.db.executeQuery(CompiledQuery.raw(RUN_VALUES, [id]));
    const row = rows[0] as { metrics: string; params: string } | undefined;
    if (!row) throw new NotFoundError(`Run with id=${id} not found`, { runId: id });
    const metrics: Record<string, number> = {};
    for (const [key, value] of Object.entries(JSON.parse(row.metrics) as Record<string, number>)) {
      if (Number.isFinite(value)) metrics[key] = value;
    }
    return { metrics, params: JSON.parse(row.params) as Record<string, string> };
  }

  /**
   * Updates status, end_time and/or name; returns the updated info. Renaming sets the
   * `mlflow.runName` tag too (and is audited).
   */
  async updateRun(
    runId: unknown,
    changes: { status?: unknown; endTime?: unknown; runName?: unknown },
    options: TrackingMutation = {},
  ): Promise<RunInfo> {
    const id = checkRunId(runId);
    let status: RunStatus | undefined;
    if (changes.status !== undefined) {
      if (!RUN_STATUSES.includes(changes.status as RunStatus)) {
        throw invalid(
          `Invalid value for parameter 'status': '${String(changes.status).slice(0, 50)}' (expected one of ${RUN_STATUSES.join(', ')})`,
        );
      }
      status = changes.status as RunStatus;
    }
    const endTime =
      changes.endTime === undefined ? undefined : checkTimestamp(changes.endTime, 'end_time');
    let runName: string | undefined;
    if (changes.runName !== undefined && changes.runName !== '') {
      runName = checkTag({ key: RUN_NAME_TAG, value: changes.runName as string }).value;
    }
    const actor = actorOf(this.ctx, options);
    return this.ctx.database.writeTransaction(async (trx) => {
      const row = await this.runRow(trx, id);
      requireActiveRun(row);
      const set: Partial<RunRow> = {};
      if (status !== undefined) set.status = status;
      if (endTime !== undefined) set.end_time = endTime;
      if (runName !== undefined && runName !== row.name) {
        set.name = runName;
        await upsertTag(trx, id, { key: RUN_NAME_TAG, value: runName });
        await this.audit.append(trx, {
          actor,
          action: 'run.renamed',
          subject: `run:${id}`,
          data: { from: row.name, to: runName },
        });
      }
      if (Object.keys(set).length > 0) {
        await trx.updateTable('runs').set(set).where('id', '=', id).execute();
      }
      return toRunInfo({ ...row, ...set });
    });
  }

  async deleteRun(runId: unknown, options: TrackingMutation = {}): Promise<void> {
    await this.setRunStage(checkRunId(runId), 'deleted', options);
  }

  async restoreRun(runId: unknown, options: TrackingMutation = {}): Promise<void> {
    await this.setRunStage(checkRunId(runId), 'active', options);
  }

  private async setRunStage(
    id: string,
    stage: LifecycleStage,
    options: TrackingMutation,
  ): Promise<void> {
    const actor = actorOf(this.ctx, options);
    await this.ctx.database.writeTransaction(async (trx) => {
      const row = await this.runRow(trx, id);
      if (row.lifecycle_stage === stage) return; // MLflow: idempotent
      const now = this.ctx.now();
      await trx
        .updateTable('runs')
        .set({ lifecycle_stage: stage, deleted_at: stage === 'deleted' ? now : null })
        .where('id', '=', id)
        .execute();
      await this.audit.append(trx, {
        actor,
        action: stage === 'deleted' ? 'run.deleted' : 'run.restored',
        subject: `run:${id}`,
        data: { experiment_id: String(row.experiment_id), run_name: row.name },
        time: now,
      });
    });
  }

  /** Logs one metric point (see logBatch). */
  async logMetric(runId: unknown, metric: Metric): Promise<void> {
    await this.logBatch(runId, { metrics: [metric] });
  }

  /** Logs one param; re-logging the same value is a no-op, another value an error. */
  async logParam(runId: unknown, param: KeyValue): Promise<void> {
    await this.logBatch(runId, { params: [param] });
  }

  async setTag(runId: unknown, tag: KeyValue): Promise<void> {
    await this.logBatch(runId, { tags: [tag] });
  }

  /** @throws NotFoundError `No tag with name: … in run with id …`. */
  async deleteTag(runId: unknown, key: unknown): Promise<void> {
    const id = checkRunId(runId);
    const k = validateTagKey(key);
    await this.ctx.database.writeTransaction(
      async (trx) => {
        requireActiveRun(await this.runRow(trx, id));
        const r = await trx
          .deleteFrom('run_tags')
          .where('run_id', '=', id)
          .where('key', '=', k)
          .executeTakeFirst();
        if (Number(r.numDeletedRows) === 0) {
          throw new NotFoundError(`No tag with name: ${k} in run with id ${id}`, { key: k });
        }
      },
      { durable: false },
    );
  }

  /**
   * Logs metrics, params and tags to an active run in one transaction, with MLflow's
   * limits (1000 metrics, 100 params + tags, 1000 in all) and rules: a param already
   * logged with another value is an error (nothing of the batch is logged); the same
   * metric point twice is stored once; each key's latest point is kept for search.
   */
  async logBatch(runId: unknown, batch: LogBatchInput): Promise<void> {
    const id = checkRunId(runId);
    const metrics = batch.metrics ?? [];
    const params = batch.params ?? [];
    const tags = batch.tags ?? [];
    checkBatchLimits(metrics.length, params.length, tags.length);
    const m = metrics.map(checkMetric);
    const p = params.map(checkParam);
    const t = tags.map(checkTag);
    const seenParams = new Map<string, string>();
    for (const param of p) {
      const prior = seenParams.get(param.key);
      if (prior !== undefined && prior !== param.value) {
        throw invalid(
          `Duplicate parameter keys have been submitted: ['${param.key}']. Please ensure the request contains only one param value per param key.`,
        );
      }
      seenParams.set(param.key, param.value);
    }
    await this.ctx.database.writeTransaction(
      async (trx) => {
        const run = await this.runRow(trx, id);
        requireActiveRun(run);
        if (p.length > 0) await this.insertParams(trx, id, dedupe(p));
        if (m.length > 0) await this.insertMetrics(trx, run.run_key, m);
        for (const tag of dedupe(t)) {
          await upsertTag(trx, id, tag);
          if (tag.key === RUN_NAME_TAG) {
            await trx.updateTable('runs').set({ name: tag.value }).where('id', '=', id).execute();
          }
        }
      },
      { durable: false },
    );
  }

  private async insertParams(trx: Db, runId: string, params: readonly KeyValue[]): Promise<void> {
    const existing = await Q.loggedParams
      .for(params.length)
      .execute(trx, { run_id: runId, rows: params });
    const logged = new Map(existing.map((r) => [r.key, r.value]));
    const fresh: KeyValue[] = [];
    for (const param of params) {
      const prior = logged.get(param.key);
      if (prior === undefined) fresh.push(param);
      else if (prior !== param.value) {
        throw invalid(
          `Changing param values is not allowed. Param with key='${param.key}' was already logged with value='${prior}' for run ID='${runId}'. Attempted logging new value '${param.value}'.`,
        );
      }
    }
    if (fresh.length > 0) {
      await Q.insertParams.for(fresh.length).run(trx, { run_id: runId, rows: fresh });
    }
  }

  /** Logs the points to the run whose key (runs.run_key) is `runKey`. */
  private async insertMetrics(trx: Db, runKey: number, rows: readonly MetricRow[]): Promise<void> {
    // The newest point of each key in this batch; the upsert keeps a stored one that is
    // newer still.
    const candidates = new Map<string, MetricRow>();
    for (const x of rows) {
      const c = candidates.get(x.key);
      if (!c || newer(x, c)) candidates.set(x.key, x);
    }
    const distinct = candidates.size === rows.length;
    // One row a batch, after the run's previous one (PENDING_METRICS).
    const sqlite = this.ctx.dialect === 'sqlite';
    const points = packBatch(rows, sqlite);
    const latest = distinct ? rows : [...candidates.values()];
    let seq: number;
    let batch: number;
    if (sqlite) {
      // Two statements run in-process cost less than one INSERT … RETURNING with two
      // subqueries (measured, docs/benchmarks.md session 12).
      const last = await Q.lastBatch.executeTakeFirst(trx, { run_key: runKey });
      seq = last ? Number(last.seq) + Number(last.n) : 0;
      batch = last ? Number(last.batch) + 1 : 0;
      await Q.insertBatch.run(trx, { run_key: runKey, seq, batch, n: rows.length, points });
      await this.upsertLatest(trx, runKey, latest);
    } else {
      // One round trip (the batch's seek and insert, the latest points' upsert).
      const added = await Q.appendBatchAndLatest.for(latest.length).executeTakeFirst(trx, {
        run_key: runKey,
        n: rows.length,
        points,
        rows: latest,
      });
      seq = Number(added!.seq);
      batch = Number(added!.batch);
    }
    if (seq + rows.length >= this.fold.foldAt || batch + 1 >= this.fold.foldRows) {
      await this.foldBatches(trx, runKey);
    }
  }

  /**
   * Folds the run's pending batches (PENDING_METRICS): each key's points, sorted in
   * get-history's order without identical points, become its next segment(s) when they
   * all come after its last one by (step, timestamp) — one seek — and are merged with the
   * segments their range meets otherwise (mergeSegments), so that a key's segments stay
   * disjoint and in fold order; then the batches go.
   */
  private async foldBatches(trx: Db, runKey: number): Promise<void> {
    const byKey = new Map<string, PointColumns>();
    for (const batch of await Q.batches.execute(trx, { run_key: runKey })) {
      const d = decodeMetricPoints(batch.points);
      const lists = d.keys.map((key) => {
        let list = byKey.get(key);
        if (!list) {
          list = new PointColumns();
          byKey.set(key, list);
        }
        return list;
      });
      for (let i = 0; i < d.steps.length; i++) {
        lists[d.keyIndex ? d.keyIndex[i]! : 0]!.push(
          d.steps[i]!,
          d.timestamps[i]!,
          d.values[i]!,
          d.nans[i]!,
        );
      }
    }
    const keys = [...byKey.keys()].sort();
    const lasts = await this.lastSegments(trx, runKey, keys);
    // The appended segments of every key, written together after the merges (each key's
    // rows are its own: the order between keys changes nothing).
    const appended: SegmentRow[] = [];
    for (const key of keys) {
      const p = sortedDistinct(byKey.get(key)!);
      const last = lasts.get(key);
      if (!last || after(p.steps[0]!, p.timestamps[0]!, last.last_step, last.last_timestamp)) {
        // Points logged in step order: the key's next segment(s).
        appendSegments(appended, runKey, key, p, last ? last.fold + 1 : 0);
      } else {
        await this.mergeSegments(trx, runKey, key, p, last.fold);
      }
    }
    await this.insertSegments(trx, appended);
    await Q.deleteBatches.run(trx, { run_key: runKey });
  }

  /**
   * Each of `keys`' last segment's fold and last (step, timestamp), for the keys that have
   * segments: on SQLite a seek a key (Q.lastSegment, in-process); on PostgreSQL, where
   * each statement is a network round trip, one statement seeking every key's last
   * segment (the same index seek a key, through a lateral subquery).
   */
  private async lastSegments(
    trx: Db,
    runKey: number,
    keys: readonly string[],
  ): Promise<Map<string, { fold: number; last_step: number; last_timestamp: number }>> {
    const lasts = new Map<string, { fold: number; last_step: number; last_timestamp: number }>();
    const put = (key: string, r: { fold: unknown; last_step: unknown; last_timestamp: unknown }) =>
      lasts.set(key, {
        fold: Number(r.fold),
        last_step: Number(r.last_step),
        last_timestamp: Number(r.last_timestamp),
      });
    if (this.ctx.dialect === 'sqlite') {
      for (const key of keys) {
        const last = await Q.lastSegment.executeTakeFirst(trx, { run_key: runKey, key });
        if (last) put(key, last);
      }
      return lasts;
    }
    const { rows } = await sql<{
      key: string;
      fold: number;
      last_step: number;
      last_timestamp: number;
    }>`select k.key, s.fold, s.last_step, s.last_timestamp
      from unnest(${[...keys]}::text[]) as k(key)
      cross join lateral (select fold, last_step, last_timestamp from run_metric_segments
        where run_key = ${runKey} and key = k.key order by fold desc limit 1) as s`.execute(trx);
    for (const r of rows) put(r.key, r);
    return lasts;
  }

  /**
   * Inserts segment rows: on SQLite one prepared insert a row (in-process); on PostgreSQL
   * all of them in one statement (the columns as arrays, unnested), one round trip.
   */
  private async insertSegments(trx: Db, rows: readonly SegmentRow[]): Promise<void> {
    if (rows.length === 0) return;
    if (this.ctx.dialect === 'sqlite') {
      for (const row of rows) await Q.insertSegment.run(trx, row);
      return;
    }
    const column = <K extends keyof SegmentRow>(k: K) => rows.map((r) => r[k]);
    await sql`insert into run_metric_segments
      (run_key, key, fold, n, first_step, first_timestamp, last_step, last_timestamp, points)
      select * from unnest(${column('run_key')}::bigint[], ${column('key')}::text[],
        ${column('fold')}::bigint[], ${column('n')}::integer[], ${column('first_step')}::bigint[],
        ${column('first_timestamp')}::bigint[], ${column('last_step')}::bigint[],
        ${column('last_timestamp')}::bigint[], ${column('points')}::bytea[])`.execute(trx);
  }

  /**
   * Writes `p` (one key's points in get-history's order) as segments cut at `ends`
   * (segmentEnds), from fold `fold` on.
   */
  private async writeSegments(
    trx: Db,
    runKey: number,
    key: string,
    p: PointColumns,
    fold: number,
    ends = segmentEnds(p.steps, p.timestamps),
  ): Promise<void> {
    const rows: SegmentRow[] = [];
    appendSegments(rows, runKey, key, p, fold, ends);
    await this.insertSegments(trx, rows);
  }

  /**
   * Folds `p` (one key's new points in get-history's order, not all after its last
   * segment, whose fold is `lastFold`) into the key's segments so that they stay in fold
   * order = (step, timestamp) order, disjoint but where more than SEGMENT_MAX_POINTS points
   * share one (step, timestamp) (what lets get-history skip whole segments; migration 0306
   * ordered the segments an earlier fold wrote): the segments whose (first, last) range
   * meets p's (inclusive) are merged with p (mergeDistinct: a segment's point before p's,
   * so the first logged of identical points is kept), deleted, and written again in their
   * place — the folds after the segment before them; the segments after p's range are
   * renumbered only when more folds are needed than are free there. The segment before
   * p's range is found by a binary search over folds (each step one seek: the segments'
   * last points increase with their folds), those meeting it by reading the ranges after
   * it in fold order.
   */
  private async mergeSegments(
    trx: Db,
    runKey: number,
    key: string,
    p: PointColumns,
    lastFold: number,
  ): Promise<void> {
    const lo = { step: p.steps[0]!, time: p.timestamps[0]! };
    const hi = { step: p.steps[p.length - 1]!, time: p.timestamps[p.length - 1]! };
    // The greatest fold whose segment ends before lo.
    let prev: number | null = null;
    for (let low = 0, high = lastFold; low <= high; ) {
      const mid = Math.floor((low + high) / 2);
      const s = await Q.segmentFrom.executeTakeFirst(trx, { run_key: runKey, key, from: mid });
      if (!s) break;
      if (after(lo.step, lo.time, Number(s.last_step), Number(s.last_timestamp))) {
        prev = Number(s.fold);
        low = prev + 1;
      } else high = mid - 1;
    }
    // The segments after it that start at or before hi meet p's range; the first that
    // starts after hi is the next one.
    let from: number | null = null;
    let to: number | null = null;
    let next: number | null = null;
    let count = 0;
    let edge = { step: Number.NEGATIVE_INFINITY, time: Number.NEGATIVE_INFINITY };
    for (let at = prev ?? -1; next === null; ) {
      const ahead = await Q.segmentsAfter.execute(trx, { run_key: runKey, key, after: at });
      for (const r of ahead) {
        const first = { step: Number(r.first_step), time: Number(r.first_timestamp) };
        if (after(edge.step, edge.time, first.step, first.time)) {
          throw new CorruptionError(
            `run_metric_segments: the segments of key ${key} are out of order`,
          );
        }
        edge = { step: Number(r.last_step), time: Number(r.last_timestamp) };
        if (after(first.step, first.time, hi.step, hi.time)) {
          next = Number(r.fold);
          break;
        }
        from ??= Number(r.fold);
        to = Number(r.fold);
        count++;
      }
      if (ahead.length < SEGMENTS_AHEAD) break;
      at = Number(ahead[ahead.length - 1]!.fold);
    }
    const old = new PointColumns();
    if (from !== null && to !== null && count > 0) {
      const rows = await Q.segmentsBetween.execute(trx, { run_key: runKey, key, from, to });
      if (rows.length !== count) {
        throw new CorruptionError(`run_metric_segments: the segments of key ${key} changed`);
      }
      for (const r of rows) {
        const d = decodeMetricPoints(r.points);
        if (d.keys[0] !== key || d.steps.length !== Number(r.n)) {
          throw new CorruptionError(`run_metric_segments: a segment of key ${key} does not match`);
        }
        old.addAll(d);
      }
      await Q.deleteSegments.run(trx, { run_key: runKey, key, from, to });
    }
    const merged = mergeDistinct(old, p);
    const ends = mergedEnds(merged, hi);
    // The merged segments take the folds after the segment before them (those of the
    // segments they replace, or more); the segments after them move up when there are
    // too few folds between.
    const start = prev === null ? 0 : prev + 1;
    if (next !== null && start + ends.length > next) {
      const by = start + ends.length - next;
      await Q.shiftOut.run(trx, { run_key: runKey, key, from: next, by });
      await Q.shiftBack.run(trx, { run_key: runKey, key });
    }
    await this.writeSegments(trx, runKey, key, merged, start, ends);
  }

  private async upsertLatest(trx: Db, runKey: number, latest: readonly MetricRow[]): Promise<void> {
    await Q.upsertLatestMetrics.for(latest.length).run(trx, { run_key: runKey, rows: latest });
  }

  /**
   * Records a logged model as MLflow does: appends `model_json` (a JSON object) to the
   * run's `mlflow.log-model.history` tag (a JSON array).
   */
  async logModel(runId: unknown, modelJson: unknown): Promise<void> {
    const id = checkRunId(runId);
    if (typeof modelJson !== 'string' || modelJson.length > TRACKING_LIMITS.modelJson) {
      throw invalid("Invalid value for parameter 'model_json': expected a JSON string");
    }
    let model: unknown;
    try {
      model = JSON.parse(modelJson);
    } catch {
      throw invalid(`Malformed model info. \n ${modelJson.slice(0, 200)} \n is not a valid JSON.`);
    }
    if (model === null || typeof model !== 'object' || Array.isArray(model)) {
      throw invalid(`Malformed model info. \n ${modelJson.slice(0, 200)} \n is not a JSON object.`);
    }
    const missing = ['artifact_path', 'flavors', 'utc_time_created', 'run_id'].filter(
      (k) => !(k in (model as object)),
    );
    if (missing.length > 0) {
      throw invalid(
        `Model json is missing mandatory fields: [${missing.map((k) => `'${k}'`).join(', ')}]`,
      );
    }
    await this.ctx.database.writeTransaction(
      async (trx) => {
        requireActiveRun(await this.runRow(trx, id));
        const row = await trx
          .selectFrom('run_tags')
          .select('value')
          .where('run_id', '=', id)
          .where('key', '=', LOG_MODEL_HISTORY_TAG)
          .executeTakeFirst();
        let history: unknown[] = [];
        if (row) {
          try {
            const parsed = JSON.parse(row.value) as unknown;
            if (Array.isArray(parsed)) history = parsed;
          } catch {
            history = [];
          }
        }
        history.push(model);
        // MLflow keeps the history in one tag: when it outgrows a tag value, the oldest
        // entries go first so the newest model is always recorded.
        let value = JSON.stringify(history);
        while (value.length > MAX_TAG_VALUE_LENGTH && history.length > 1) {
          history.shift();
          value = JSON.stringify(history);
        }
        if (value.length > MAX_TAG_VALUE_LENGTH) {
          throw invalid(`model_json is longer than ${MAX_TAG_VALUE_LENGTH} characters`);
        }
        await upsertTag(trx, id, { key: LOG_MODEL_HISTORY_TAG, value });
      },
      { durable: false },
    );
  }

  /** Logs dataset inputs; a dataset (name, digest) already logged to the run is skipped. */
  async logInputs(runId: unknown, datasets: readonly DatasetInput[]): Promise<void> {
    const id = checkRunId(runId);
    if (!Array.isArray(datasets)) throw invalid("Invalid value for parameter 'datasets'");
    if (datasets.length > TRACKING_LIMITS.datasetsPerRequest) {
      throw invalid(
        `A request can contain at most ${TRACKING_LIMITS.datasetsPerRequest} datasets.`,
      );
    }
    const checked = datasets.map(checkDatasetInput);
    await this.ctx.database.writeTransaction(
      async (trx) => {
        requireActiveRun(await this.runRow(trx, id));
        const max = await trx
          .selectFrom('run_inputs')
          .select((eb) => eb.fn.max('position').as('max'))
          .where('run_id', '=', id)
          .executeTakeFirst();
        let position = max?.max === null || max?.max === undefined ? 0 : Number(max.max) + 1;
        for (const input of checked) {
          await trx
            .insertInto('run_inputs')
            .values({
              run_id: id,
              position: position++,
              name: input.dataset.name,
              digest: input.dataset.digest,
              dataset: JSON.stringify(input.dataset),
              tags: JSON.stringify(input.tags),
            })
            .onConflict((oc) => oc.doNothing())
            .execute();
        }
      },
      { durable: false },
    );
  }

  /**
   * A metric's points, ordered by step, timestamp, value; paged (default and maximum
   * 25000 a page). @throws NotFoundError for an unknown run.
   */
  async metricHistory(
    runId: unknown,
    key: unknown,
    page: { maxResults?: number; pageToken?: string } = {},
  ): Promise<Page<Metric>> {
    const id = checkRunId(runId);
    const k = validateMetricKey(key);
    const limit = page.maxResults ?? TRACKING_LIMITS.metricHistoryDefault;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > TRACKING_LIMITS.metricHistoryDefault) {
      throw invalid(
        `Invalid value ${String(page.maxResults)} for parameter 'max_results' supplied. It must be an integer in 1..${TRACKING_LIMITS.metricHistoryDefault}`,
      );
    }
    const fingerprint = queryFingerprint({ target: 'metric-history', id, k });
    const { offset, points } =
      this.ctx.dialect === 'sqlite'
        ? await this.historySqlite(id, k, page.pageToken, fingerprint, limit + 1)
        : await this.historyPostgres(id, k, page.pageToken, fingerprint, limit + 1);
    const n = Math.min(points.length, limit);
    const items: Metric[] = new Array(n);
    for (let i = 0; i < n; i++) {
      items[i] = {
        key: k,
        value: points.nans[i] ? Number.NaN : points.values[i]!,
        timestamp: points.timestamps[i]!,
        step: points.steps[i]!,
      };
    }
    return points.length > limit
      ? { items, nextPageToken: encodePageToken({ o: offset + limit }, fingerprint) }
      : { items };
  }

  /**
   * metricHistory's offset and points on SQLite. A fold may merge and renumber the key's
   * segments between readHistory's statements: they see one state because `reads` holds
   * the only connection.
   */
  private async historySqlite(
    id: string,
    key: string,
    pageToken: string | undefined,
    fingerprint: string,
    count: number,
  ): Promise<{ offset: number; points: PointColumns }> {
    const runKey = (await this.runRow(this.db, id)).run_key;
    const offset = decodePageToken(pageToken, fingerprint).o ?? 0;
    const points = await this.ctx.database.reads((db) =>
      readHistory(db, runKey, key, offset, count),
    );
    return { offset, points };
  }

  /**
   * metricHistory's offset and points on PostgreSQL: one statement (PG_HISTORY) instead of
   * the run's read, a REPEATABLE READ transaction's four (its start, the index, the
   * segments' points, its commit); when the key's segments are not in order (re-logged
   * steps), readHistory in that transaction. Errors as on SQLite, in the same precedence:
   * an unknown run before a bad page token.
   */
  private async historyPostgres(
    id: string,
    key: string,
    pageToken: string | undefined,
    fingerprint: string,
    count: number,
  ): Promise<{ offset: number; points: PointColumns }> {
    let offset: number;
    try {
      offset = decodePageToken(pageToken, fingerprint).o ?? 0;
    } catch (error) {
      await this.runRow(this.db, id);
      throw error;
    }
    const { rows } = await executeCompiled(
      this.db,
      CompiledQuery.raw(PG_HISTORY, [id, key, offset, count]),
    );
    const index = rows as HistoryIndexRow[];
    if (index.length === 0 || Number(index[0]!.src) !== -1) {
      throw new NotFoundError(`Run with id=${id} not found`, { runId: id });
    }
    const runKey = Number(index[0]!.ord);
    const rest = index.slice(1);
    const points = await historyOfIndex(rest, key, offset, count, async (from, to) => {
      const blobs = rest.slice(from, to + 1).map((r) => r.points);
      return blobs.every((b) => b !== null) ? (blobs as Uint8Array[]) : undefined;
    });
    if (points) return { offset, points };
    return {
      offset,
      points: await this.db
        .transaction()
        .setIsolationLevel('repeatable read')
        .execute((db) => readHistory(db, runKey, key, offset, count)),
    };
  }

  /**
   * Runs of the given experiments matching MLflow's run filter, ordered by `order_by`
   * (default start_time DESC, then run id), paged with opaque tokens.
   */
  async searchRuns(query: SearchRunsQuery): Promise<Page<Run>> {
    if (!Array.isArray(query.experimentIds)) {
      throw invalid("Invalid value for parameter 'experiment_ids': expected a list of strings");
    }
    const experimentIds = query.experimentIds.map((e) => {
      try {
        return experimentKey(e);
      } catch (error) {
        if (error instanceof NotFoundError) return -1; // matches nothing, as in MLflow
        throw error;
      }
    });
    const stages = viewStages(query.viewType);
    const limit = resolveSearchMax(query.maxResults, TRACKING_LIMITS.searchRunsDefault);
    const { where, terms } = this.compileSearch('runs', query.filter, query.orderBy);
    const order = compileRunOrderBy(terms, { dialect: this.ctx.dialect });
    const fingerprint = queryFingerprint({
      target: 'runs',
      experimentIds,
      filter: query.filter?.trim() ?? '',
      orderBy: query.orderBy ?? [],
      stages,
    });
    const offset = decodePageToken(query.pageToken, fingerprint).o ?? 0;
    if (experimentIds.length === 0) return { items: [] };
    let q = runsQuery(this.db)
      .where('r.experiment_id', 'in', experimentIds)
      .where('r.lifecycle_stage', 'in', stages);
    if (where) q = q.where(where);
    if (this.ctx.dialect === 'postgres')
      return this.searchRunsPage(q, order, limit, offset, fingerprint);
    for (const item of order) q = orderByNullsLast(q, item);
    const rows = await q
      .orderBy('r.start_time', 'desc')
      .orderBy('r.id', 'asc')
      .limit(limit + 1)
      .offset(offset)
      .execute();
    const items = await this.hydrateRuns(this.db, rows.slice(0, limit));
    return rows.length > limit
      ? { items, nextPageToken: encodePageToken({ o: offset + limit }, fingerprint) }
      : { items };
  }

  /**
   * PostgreSQL: searchRuns' page and its runs' lists in one statement (each statement is a
   * network round trip; the page and four list statements were five): the page's query
   * `q` ordered and cut as on SQLite, each ORDER BY term selected as `o<i>` so that the
   * outer query can keep the page's order, then per run pgRunLists' lists and
   * PG_PAGE_METRICS' metrics, built into Runs as hydrateRuns builds them.
   */
  private async searchRunsPage(
    q: RunsPageQuery,
    order: readonly CompiledOrderItem[],
    limit: number,
    offset: number,
    fingerprint: string,
  ): Promise<Page<Run>> {
    let page = q;
    for (const [i, item] of order.entries()) {
      page = page.select(sql`${item.expression}`.as(`o${i}`)) as RunsPageQuery;
      page = orderByNullsLast(page, { expression: sql.ref(`o${i}`), direction: item.direction });
    }
    page = page
      .orderBy('r.start_time', 'desc')
      .orderBy('r.id', 'asc')
      .limit(limit + 1)
      .offset(offset);
    const outerOrder = sql.join([
      ...order.map((item, i) => sql`${sql.ref(`p.o${i}`)} ${sql.raw(item.direction)} nulls last`),
      sql`p.start_time desc`,
      sql`p.id asc`,
    ]);
    const { rows } =
      await sql<PgPageRow>`select p.*, m.m_keys, m.m_points, ${sql.raw(pgRunLists('p'))}
from (${page}) as p ${sql.raw(PG_PAGE_METRICS)}
order by ${outerOrder}`.execute(this.db);
    const items = rows
      .slice(0, limit)
      .map((row) => runOfPgLists(row, metricsOfPgPage(row.m_keys, row.m_points)));
    return rows.length > limit
      ? { items, nextPageToken: encodePageToken({ o: offset + limit }, fingerprint) }
      : { items };
  }

  // ---- helpers ------------------------------------------------------------------------

  private compileSearch(
    target: 'runs' | 'experiments',
    filter: string | undefined,
    orderBy: readonly string[] | undefined,
  ): { where: ReturnType<typeof compileFilter> | undefined; terms: OrderByTerm[] } {
    const dialect = this.ctx.dialect;
    const fields = searchFields(target);
    const ast = parseFilter(filter ?? '', { fields });
    const where = ast === undefined ? undefined : compileFilter(ast, target, { dialect });
    const terms: OrderByTerm[] = (orderBy ?? []).flatMap((text) => parseOrderBy(text, { fields }));
    return { where, terms };
  }

  private async experimentRow(db: Db, id: number): Promise<ExperimentRow> {
    const row = await db
      .selectFrom('experiments')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row)
      throw new NotFoundError(`No Experiment with id=${id} exists`, { experimentId: String(id) });
    return row;
  }

  private async runRow(db: Db, id: string): Promise<RunRow> {
    const row = await Q.run.executeTakeFirst(db, { id });
    if (!row) throw new NotFoundError(`Run with id=${id} not found`, { runId: id });
    return row;
  }

  private async hydrateExperiments(db: Db, rows: readonly ExperimentRow[]): Promise<Experiment[]> {
    if (rows.length === 0) return [];
    const tags = await db
      .selectFrom('experiment_tags')
      .select(['experiment_id', 'key', 'value'])
      .where(
        'experiment_id',
        'in',
        rows.map((r) => r.id),
      )
      .orderBy('key')
      .execute();
    const byId = new Map<number, KeyValue[]>();
    for (const t of tags) {
      const list = byId.get(Number(t.experiment_id)) ?? [];
      list.push({ key: t.key, value: t.value });
      byId.set(Number(t.experiment_id), list);
    }
    return rows.map((r) => ({
      experiment_id: String(r.id),
      name: r.name,
      artifact_location: r.artifact_location,
      lifecycle_stage: r.lifecycle_stage,
      last_update_time: Number(r.updated_at),
      creation_time: Number(r.created_at),
      tags: byId.get(Number(r.id)) ?? [],
    }));
  }

  /**
   * SQLite: runs as hydrateRun hydrates each, in the order given: four statements for the
   * whole page (PAGE_METRICS_JSON and PAGE_QUERIES) instead of four a run, whose
   * per-statement cost was most of a 100-run runs/search (docs/benchmarks.md, MLflow
   * section, session 13). Each list is read ordered by run, then in its per-run query's
   * order, and grouped here.
   */
  private async hydrateRuns(db: Db, rows: readonly RunRow[]): Promise<Run[]> {
    if (rows.length === 0) return [];
    const ids = { ids: JSON.stringify(rows.map((r) => r.id)) };
    const [metricsOf, params, tags, inputs] = await Promise.all([
      this.pageMetricsJson(db, JSON.stringify(rows.map((r) => Number(r.run_key)))),
      PAGE_QUERIES.params.execute(db, ids),
      PAGE_QUERIES.tags.execute(db, ids),
      PAGE_QUERIES.inputs.execute(db, ids),
    ]);
    const paramsOf = groupBy(params, (p) => p.run_id, keyValueOf);
    const tagsOf = groupBy(tags, (t) => t.run_id, keyValueOf);
    const inputsOf = groupBy(inputs, (i) => i.run_id, toDatasetInput);
    return rows.map((row) => ({
      info: toRunInfo(row),
      data: {
        metrics: metricsOf.get(Number(row.run_key)) ?? [],
        params: paramsOf.get(row.id) ?? [],
        tags: tagsOf.get(row.id) ?? [],
      },
      inputs: { dataset_inputs: inputsOf.get(row.id) ?? [] },
    }));
  }

  /**
   * SQLite: the latest metrics of the runs `keys` (a JSON array of run keys) by run key,
   * each list by key (PAGE_METRICS_JSON): one JSON text a run instead of a row object a
   * metric (2,000 for a page of 100 runs of 20 metrics), which better-sqlite3 made at ~1 µs
   * each (docs/benchmarks.md, MLflow section, session 13: runs/search page hydration).
   */
  private async pageMetricsJson(db: Db, keys: string): Promise<Map<number, Metric[]>> {
    const { rows } = await executeCompiled(db, CompiledQuery.raw(PAGE_METRICS_JSON, [keys]));
    const byRun = new Map<number, Metric[]>();
    for (const { run_key, m } of rows as { run_key: number; m: string }[]) {
      const points = JSON.parse(m) as [string, number | null, number, number, number][];
      byRun.set(
        Number(run_key),
        points.map(([key, value, isNan, timestamp, step]) => ({
          key,
          value: isNan ? Number.NaN : (value as number),
          timestamp,
          step,
        })),
      );
    }
    return byRun;
  }

  private async hydrateRun(db: Db, row: RunRow): Promise<Run> {
    const id = { id: row.id };
    const [metrics, params, tags, inputs] = await Promise.all([
      Q.latestMetrics.execute(db, { run_key: row.run_key }),
      Q.params.execute(db, id),
      Q.tags.execute(db, id),
      Q.inputs.execute(db, id),
    ]);
    return {
      info: toRunInfo(row),
      data: { metrics: metrics.map(toMetric), params, tags },
      inputs: { dataset_inputs: inputs.map(toDatasetInput) },
    };
  }
}

// ---------------------------------------------------------------------------------------

function runArtifactUri(experiment: ExperimentRow, runId: string): string {
  const base = experiment.artifact_location.replace(/\/+$/, '');
  return `${base}/${runId}/artifacts`;
}

function toRunInfo(row: RunRow): RunInfo {
  return {
    run_id: row.id,
    run_uuid: row.id,
    run_name: row.name,
    experiment_id: String(row.experiment_id),
    user_id: row.user_id,
    status: row.status,
    start_time: Number(row.start_time),
    ...(row.end_time === null ? {} : { end_time: Number(row.end_time) }),
    artifact_uri: row.artifact_uri,
    lifecycle_stage: row.lifecycle_stage,
  };
}

function toMetric(r: {
  key: string;
  value: number | null;
  is_nan: number;
  timestamp: number;
  step: number;
}): Metric {
  return {
    key: r.key,
    value: r.is_nan ? Number.NaN : (r.value as number),
    timestamp: Number(r.timestamp),
    step: Number(r.step),
  };
}

function toDatasetInput(r: { dataset: string; tags: string }): DatasetInput {
  return { tags: JSON.parse(r.tags) as KeyValue[], dataset: JSON.parse(r.dataset) as Dataset };
}

function keyValueOf(r: { key: string; value: string }): KeyValue {
  return { key: r.key, value: r.value };
}

/** getRunValues from a whole run (see there). */
export function runValuesOf(run: Run): RunValues {
  const metrics: Record<string, number> = {};
  const params: Record<string, string> = {};
  for (const m of run.data.metrics) if (Number.isFinite(m.value)) metrics[m.key] = m.value;
  for (const p of run.data.params) params[p.key] = p.value;
  return { metrics, params };
}

function requireActiveExperiment(row: ExperimentRow): void {
  if (row.lifecycle_stage !== 'active') {
    throw invalid(
      `The experiment ${row.id} must be in the 'active' state. Current state is ${row.lifecycle_stage}.`,
    );
  }
}

function requireActiveRun(row: RunRow): void {
  if (row.lifecycle_stage !== 'active') {
    throw invalid(
      `The run ${row.id} must be in the 'active' state. Current state is ${row.lifecycle_stage}.`,
    );
  }
}

function checkBatchLimits(metrics: number, params: number, tags: number): void {
  const L = TRACKING_LIMITS;
  if (metrics > L.metricsPerBatch) {
    throw invalid(
      `A batch logging request can contain at most ${L.metricsPerBatch} metrics. Got ${metrics} metrics. Please split up metrics across multiple requests and try again.`,
    );
  }
  if (params > L.paramsAndTagsPerBatch) {
    throw invalid(
      `A batch logging request can contain at most ${L.paramsAndTagsPerBatch} params. Got ${params} params. Please split up params across multiple requests and try again.`,
    );
  }
  if (tags > L.paramsAndTagsPerBatch) {
    throw invalid(
      `A batch logging request can contain at most ${L.paramsAndTagsPerBatch} tags. Got ${tags} tags. Please split up tags across multiple requests and try again.`,
    );
  }
  const total = metrics + params + tags;
  if (total > L.entitiesPerBatch) {
    throw invalid(
      `A batch logging request can contain at most ${L.entitiesPerBatch} metrics, params, and tags. Got ${total} metrics, params, and tags. Please split up metrics, params, and tags across multiple requests and try again.`,
    );
  }
}

function checkDatasetInput(input: DatasetInput): DatasetInput {
  if (
    input === null ||
    typeof input !== 'object' ||
    input.dataset === null ||
    typeof input.dataset !== 'object'
  ) {
    throw invalid("Invalid value for parameter 'datasets': each needs a 'dataset'");
  }
  const d = input.dataset;
  const text = (v: unknown, field: string, required: boolean): string | undefined => {
    if (v === undefined || v === null) {
      if (required) {
        throw invalid(`Missing value for required parameter 'datasets.dataset.${field}'.`);
      }
      return undefined;
    }
    if (typeof v !== 'string' || v.length > TRACKING_LIMITS.datasetField) {
      throw invalid(`Invalid value for parameter 'datasets.dataset.${field}': expected a string`);
    }
    return v;
  };
  const name = text(d.name, 'name', true)!;
  const digest = text(d.digest, 'digest', true)!;
  const sourceType = text(d.source_type, 'source_type', true)!;
  const source = text(d.source, 'source', true)!;
  const schema = text(d.schema, 'schema', false);
  const profile = text(d.profile, 'profile', false);
  const tags = input.tags === undefined ? [] : input.tags;
  if (!Array.isArray(tags)) throw invalid("Invalid value for parameter 'datasets.tags'");
  return {
    tags: tags.map(checkTag),
    dataset: {
      name,
      digest,
      source_type: sourceType,
      source,
      ...(schema === undefined ? {} : { schema }),
      ...(profile === undefined ? {} : { profile }),
    },
  };
}

/** The last value of each key wins (MLflow applies batch entries in order). */
function dedupe<T extends { key: string }>(items: readonly T[]): T[] {
  const byKey = new Map<string, T>();
  for (const item of items) byKey.set(item.key, item);
  return [...byKey.values()];
}

async function upsertTag(trx: Db, runId: string, tag: KeyValue): Promise<void> {
  await Q.upsertTag.run(trx, { run_id: runId, key: tag.key, value: tag.value });
}

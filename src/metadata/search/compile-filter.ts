/**
 * Compiles a parsed search filter (filter-ast.ts) and ORDER BY terms into Kysely
 * expressions over the registry schema. Values are always bound parameters; the only
 * SQL text derived from the AST is chosen from fixed tables below (operators, columns).
 *
 * The expressions refer to fixed table aliases, which the query must use:
 * `m` = registered_models, and for versions also `v` = model_versions joined to `m`;
 * `r` = runs and `e` = experiments for MLflow tracking's searches.
 *
 * Semantics (MLflow's, extended):
 * - `tags.K`, `params.K`, `metrics.K` (latest value): a comparison holds when the entity
 *   has key K and its value compares true — so `tags.team != 'risk'` needs a `team` tag;
 *   `IS NULL` / `IS NOT NULL` test whether the key is present.
 * - `aliases = 'x'` / `LIKE` / `IN`: some alias of the version (of the model, for models)
 *   matches; `!=` / `NOT IN` hold when none matches; `IS NULL` when there is no alias.
 * - LIKE is case-sensitive on every dialect, ILIKE case-insensitive; `\` escapes `%`, `_`
 *   and `\` in patterns.
 * - Numeric attributes accept numeric strings (`version_number = '3'`); text attributes,
 *   tags and params need quoted strings; metrics need numbers.
 */
import {
  type Expression,
  type OrderByItemBuilder,
  type RawBuilder,
  type SqlBool,
  sql,
} from 'kysely';
import { InvalidArgumentError } from '../../core/errors.js';
import { findStage } from '../../core/registry-api.js';
import type { CompareOp, FieldRef, FilterExpr, FilterValue, OrderByTerm } from './filter-ast.js';
import type { BareFieldSpec } from './filter-parser.js';

export type SearchTarget = 'models' | 'versions' | 'runs' | 'experiments';
export type SqlDialectName = 'sqlite' | 'postgres';

export interface CompileOptions {
  /** Decides how case-sensitive LIKE is spelled. Default `sqlite`. */
  readonly dialect?: SqlDialectName;
  /**
   * How a metric/param/tag condition reaches its key/value table. `in` (default):
   * `owner IN (select … where key = K and cond)`, which reads the covering `(key, value,
   * owner)` index once and suits a search driven by the filter. `exists`: a correlated
   * `EXISTS (select … where x.owner = <owner> and key = K and cond)`, one index probe per
   * candidate row, which suits a search driven by an ORDER BY index walk (search-plan.ts).
   */
  readonly keyed?: 'in' | 'exists';
  /**
   * The SQL reference of the owning entity's id that keyed conditions correlate with
   * (default `v.id` / `m.id` / `r.id` / `e.id` by target), e.g. `o.version_id` when the
   * rows come from an index walk over a key/value table aliased `o`.
   */
  readonly owner?: string;
}

/** One ORDER BY item; nulls (a version without that metric, param or tag) sort last. */
export interface CompiledOrderItem {
  readonly expression: Expression<unknown>;
  readonly direction: 'asc' | 'desc';
}

interface AttributeDef {
  readonly column: string;
  readonly type: 'text' | 'integer';
  /** Canonical form of a compared value (stage names, digests). */
  readonly normalise?: (value: string) => string;
}

const canonicalStage = (v: string) => findStage(v) ?? v;
const canonicalDigest = (d: string) => (d.startsWith('sha256:') ? d.slice(7) : d).toLowerCase();

const MODEL_ATTRIBUTES: Record<string, AttributeDef> = {
  name: { column: 'm.name', type: 'text' },
  owner: { column: 'm.owner', type: 'text' },
  created_at: { column: 'm.created_at', type: 'integer' },
  creation_timestamp: { column: 'm.created_at', type: 'integer' },
  updated_at: { column: 'm.updated_at', type: 'integer' },
  last_updated_timestamp: { column: 'm.updated_at', type: 'integer' },
};

const VERSION_ATTRIBUTES: Record<string, AttributeDef> = {
  name: { column: 'm.name', type: 'text' },
  version_number: { column: 'v.version', type: 'integer' },
  version: { column: 'v.version', type: 'integer' },
  run_id: { column: 'v.run_id', type: 'text' },
  source: { column: 'v.source', type: 'text' },
  // MLflow's name for the source in model-version searches.
  source_path: { column: 'v.source', type: 'text' },
  status: { column: 'v.status', type: 'text', normalise: (s) => s.toUpperCase() },
  stage: { column: 'v.stage', type: 'text', normalise: canonicalStage },
  current_stage: { column: 'v.stage', type: 'text', normalise: canonicalStage },
  created_at: { column: 'v.created_at', type: 'integer' },
  creation_timestamp: { column: 'v.created_at', type: 'integer' },
  updated_at: { column: 'v.updated_at', type: 'integer' },
  last_updated_timestamp: { column: 'v.updated_at', type: 'integer' },
  user: { column: 'v.created_by', type: 'text' },
  user_id: { column: 'v.created_by', type: 'text' },
  created_by: { column: 'v.created_by', type: 'text' },
  digest: { column: 'v.manifest_digest', type: 'text', normalise: canonicalDigest },
  manifest_digest: { column: 'v.manifest_digest', type: 'text', normalise: canonicalDigest },
  size: { column: 'v.size', type: 'integer' },
  approval: { column: 'v.approval', type: 'text', normalise: (s) => s.toLowerCase() },
};

/**
 * MLflow's run attributes (`attributes.status = 'FINISHED'`, `attributes.start_time > 0`),
 * with MLflow's alternate names: `created`/`Created` for start_time and the UI's column
 * titles `run name`/`Run name`/`Run Name` for run_name (written in backticks).
 */
const RUN_ATTRIBUTES: Record<string, AttributeDef> = {
  run_id: { column: 'r.id', type: 'text' },
  run_name: { column: 'r.name', type: 'text' },
  'run name': { column: 'r.name', type: 'text' },
  'Run name': { column: 'r.name', type: 'text' },
  'Run Name': { column: 'r.name', type: 'text' },
  status: { column: 'r.status', type: 'text' },
  user_id: { column: 'r.user_id', type: 'text' },
  artifact_uri: { column: 'r.artifact_uri', type: 'text' },
  lifecycle_stage: { column: 'r.lifecycle_stage', type: 'text' },
  start_time: { column: 'r.start_time', type: 'integer' },
  end_time: { column: 'r.end_time', type: 'integer' },
  created: { column: 'r.start_time', type: 'integer' },
  Created: { column: 'r.start_time', type: 'integer' },
};

/** MLflow's experiment attributes. */
const EXPERIMENT_ATTRIBUTES: Record<string, AttributeDef> = {
  name: { column: 'e.name', type: 'text' },
  experiment_id: { column: 'e.id', type: 'integer' },
  creation_time: { column: 'e.created_at', type: 'integer' },
  last_update_time: { column: 'e.updated_at', type: 'integer' },
  lifecycle_stage: { column: 'e.lifecycle_stage', type: 'text' },
};

const ATTRIBUTES: Record<SearchTarget, Record<string, AttributeDef>> = {
  models: MODEL_ATTRIBUTES,
  versions: VERSION_ATTRIBUTES,
  runs: RUN_ATTRIBUTES,
  experiments: EXPERIMENT_ATTRIBUTES,
};

/** Targets whose entities have aliases (`alias = 'production'`). */
const HAS_ALIASES: ReadonlySet<SearchTarget> = new Set(['models', 'versions']);

/**
 * The bare field names the parser accepts for a search target: exactly the attributes this
 * compiler can translate, plus `alias`/`aliases`. One table, so the parser
 * and the compiler can never disagree about which fields exist.
 */
export function searchFields(target: SearchTarget): Record<string, BareFieldSpec> {
  const table = ATTRIBUTES[target];
  const out: Record<string, BareFieldSpec> = {};
  for (const [name, def] of Object.entries(table)) {
    out[name] = {
      scope: 'attribute',
      key: name,
      type: def.type === 'integer' ? 'number' : 'string',
    };
  }
  if (!HAS_ALIASES.has(target)) return out;
  out.alias = { scope: 'alias', key: 'alias', type: 'string', orderable: false };
  out.aliases = out.alias;
  return out;
}

/** Key/value tables per scope and target: `[table, owner column, owner key]`. */
const KEYED_TABLES = {
  versions: {
    tag: ['version_tags', 'version_id', 'v.id'],
    param: ['version_params', 'version_id', 'v.id'],
    metric: ['version_latest_metrics', 'version_id', 'v.id'],
  },
  models: { tag: ['model_tags', 'model_id', 'm.id'] },
  runs: {
    tag: ['run_tags', 'run_id', 'r.id'],
    param: ['run_params', 'run_id', 'r.id'],
    metric: ['run_latest_metrics', 'run_key', 'r.run_key'],
  },
  experiments: { tag: ['experiment_tags', 'experiment_id', 'e.id'] },
} as const;

/** The input tag holding a dataset input's context (`training`, `eval`, …). */
const DATASET_CONTEXT_TAG = 'mlflow.data.context';

const COMPARISONS: Readonly<Record<string, string>> = {
  '=': '=',
  '!=': '<>',
  '<': '<',
  '<=': '<=',
  '>': '>',
  '>=': '>=',
};

function fail(message: string, pos: number): InvalidArgumentError {
  return new InvalidArgumentError(`invalid filter at position ${pos}: ${message}`, {
    position: pos,
  });
}

function describe(field: FieldRef): string {
  const prefix = {
    attribute: '',
    metric: 'metrics.',
    param: 'params.',
    tag: 'tags.',
    alias: '',
    dataset: 'datasets.',
  };
  return field.scope === 'alias' ? 'aliases' : `${prefix[field.scope]}${field.key}`;
}

function attributeOf(field: FieldRef, target: SearchTarget): AttributeDef {
  const table = ATTRIBUTES[target];
  const key = Object.hasOwn(table, field.key) ? field.key : field.key.toLowerCase();
  const def = Object.hasOwn(table, key) ? table[key] : undefined;
  if (!def) {
    throw fail(
      `unknown attribute '${field.key}' for ${target}; expected one of ${Object.keys(table).join(', ')}`,
      field.pos,
    );
  }
  return def;
}

function keyedTable(field: FieldRef, target: SearchTarget) {
  const tables = KEYED_TABLES[target] as Partial<Record<string, readonly [string, string, string]>>;
  const entry = tables[field.scope];
  if (!entry) throw fail(`${field.scope}s are not searchable for ${target}`, field.pos);
  if (field.key === '') throw fail(`${describe(field)} needs a key`, field.pos);
  return entry;
}

/** The value as the column type wants it. */
function coerce(
  value: FilterValue,
  type: 'text' | 'integer' | 'real',
  field: FieldRef,
  pos: number,
): string | number {
  if (type === 'text') {
    if (typeof value !== 'string') {
      throw fail(`${describe(field)} compares with strings: quote the value`, pos);
    }
    return value;
  }
  const n = typeof value === 'number' ? value : value.trim() === '' ? Number.NaN : Number(value);
  if (!Number.isFinite(n)) throw fail(`${describe(field)} compares with numbers`, pos);
  return n;
}

/** LIKE pattern (with `\` escapes) → GLOB pattern, for case-sensitive matching on SQLite. */
export function likeToGlob(pattern: string): string {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) {
      out += globLiteral(pattern[++i]!);
    } else if (c === '%') out += '*';
    else if (c === '_') out += '?';
    else out += globLiteral(c);
  }
  return out;
}

function globLiteral(c: string): string {
  return c === '*' || c === '?' || c === '[' ? `[${c}]` : c;
}

/** A keyed condition as `select … from <table> as x where x.key = <key> and <cond>` reads it. */
export interface KeyedCondition {
  readonly table: string;
  /** The table's column holding the owner's id (`version_id`, `run_id`, …). */
  readonly ownerColumn: string;
  readonly key: string;
  readonly cond: RawBuilder<unknown>;
}

class Compiler {
  private readonly dialect: SqlDialectName;
  /** While set, keyedExists records each keyed condition it builds here (keyedCondition). */
  private seen: { field: FieldRef; cond: RawBuilder<unknown> }[] | undefined;
  constructor(
    private readonly target: SearchTarget,
    private readonly options: CompileOptions = {},
  ) {
    this.dialect = options.dialect ?? 'sqlite';
  }

  expr(node: FilterExpr): RawBuilder<SqlBool> {
    switch (node.kind) {
      case 'and':
      case 'or': {
        if (node.items.length === 0) return node.kind === 'and' ? sql`1 = 1` : sql`1 = 0`;
        const parts = node.items.map((item) => this.expr(item));
        return sql<SqlBool>`(${sql.join(parts, sql.raw(node.kind === 'and' ? ' and ' : ' or '))})`;
      }
      case 'compare':
        return this.compare(node.field, node.op, node.value, node.pos);
      case 'in':
        return this.membership(node.field, node.values, node.negated, node.pos);
      case 'null':
        return this.nullCheck(node.field, node.negated);
    }
  }

  private compare(field: FieldRef, op: CompareOp, value: FilterValue, pos: number) {
    switch (field.scope) {
      case 'attribute': {
        const def = attributeOf(field, this.target);
        return this.condition(sql.ref(def.column), def.type, op, value, field, pos, def.normalise);
      }
      case 'alias': {
        if (op === '!=') {
          return sql<SqlBool>`not ${this.aliasExists(sql`x.alias = ${this.text(value, field, pos)}`)}`;
        }
        return this.aliasExists(this.condition(sql.ref('x.alias'), 'text', op, value, field, pos));
      }
      case 'dataset':
        return this.datasetExists(field, (column) =>
          this.condition(column, 'text', op, value, field, pos),
        );
      default: {
        const type = field.scope === 'metric' ? 'real' : 'text';
        return this.keyedExists(
          field,
          this.condition(sql.ref('x.value'), type, op, value, field, pos),
        );
      }
    }
  }

  private membership(
    field: FieldRef,
    values: readonly FilterValue[],
    negated: boolean,
    pos: number,
  ) {
    const empty = values.length === 0;
    switch (field.scope) {
      case 'attribute': {
        const def = attributeOf(field, this.target);
        if (empty) return negated ? sql<SqlBool>`1 = 1` : sql<SqlBool>`1 = 0`;
        const list = values.map((v) => this.attrValue(def, field, v, pos));
        return sql<SqlBool>`${sql.ref(def.column)} ${sql.raw(negated ? 'not in' : 'in')} (${sql.join(list)})`;
      }
      case 'alias': {
        if (empty) return negated ? sql<SqlBool>`1 = 1` : sql<SqlBool>`1 = 0`;
        const list = values.map((v) => this.text(v, field, pos));
        const any = this.aliasExists(sql`x.alias in (${sql.join(list)})`);
        return negated ? sql<SqlBool>`not ${any}` : any;
      }
      case 'dataset': {
        // As MLflow: some dataset input of the run has a value (not) in the list.
        if (empty)
          return negated ? this.datasetExists(field, () => sql`1 = 1`) : sql<SqlBool>`1 = 0`;
        const list = values.map((v) => this.text(v, field, pos));
        return this.datasetExists(
          field,
          (column) => sql`${column} ${sql.raw(negated ? 'not in' : 'in')} (${sql.join(list)})`,
        );
      }
      default: {
        const type = field.scope === 'metric' ? 'real' : 'text';
        if (empty) return negated ? this.keyedExists(field, sql`1 = 1`) : sql<SqlBool>`1 = 0`;
        const list = values.map((v) => coerce(v, type, field, pos));
        return this.keyedExists(
          field,
          sql`x.value ${sql.raw(negated ? 'not in' : 'in')} (${sql.join(list)})`,
        );
      }
    }
  }

  private nullCheck(field: FieldRef, negated: boolean): RawBuilder<SqlBool> {
    switch (field.scope) {
      case 'attribute': {
        const def = attributeOf(field, this.target);
        return sql<SqlBool>`${sql.ref(def.column)} ${sql.raw(negated ? 'is not null' : 'is null')}`;
      }
      case 'alias': {
        const any = this.aliasExists(sql`1 = 1`);
        return negated ? any : sql<SqlBool>`not ${any}`;
      }
      case 'dataset': {
        const any = this.datasetExists(field, () => sql`1 = 1`);
        return negated ? any : sql<SqlBool>`not ${any}`;
      }
      default: {
        const present = this.keyedExists(field, sql`1 = 1`);
        return negated ? present : sql<SqlBool>`not ${present}`;
      }
    }
  }

  /** `column op value` for one scalar comparison; checks the operator, then the value. */
  private condition(
    column: RawBuilder<unknown>,
    type: 'text' | 'integer' | 'real',
    op: CompareOp,
    raw: FilterValue,
    field: FieldRef,
    pos: number,
    normalise?: (v: string) => string,
  ): RawBuilder<SqlBool> {
    const isLike = op === 'LIKE' || op === 'ILIKE';
    if (isLike && type !== 'text') {
      throw fail(`${op} needs a text field, not ${describe(field)}`, pos);
    }
    if (!isLike && type === 'text' && op !== '=' && op !== '!=') {
      throw fail(`${describe(field)} supports =, !=, LIKE, ILIKE and IN, not ${op}`, pos);
    }
    const coerced = coerce(raw, type, field, pos);
    const value =
      typeof coerced === 'string' && normalise && !isLike ? normalise(coerced) : coerced;
    if (op === 'ILIKE') return sql<SqlBool>`lower(${column}) like lower(${value}) escape '\\'`;
    if (op === 'LIKE') {
      return this.dialect === 'sqlite'
        ? sql<SqlBool>`${column} glob ${likeToGlob(String(value))}`
        : sql<SqlBool>`${column} like ${value} escape '\\'`;
    }
    const sqlOp = COMPARISONS[op];
    if (!sqlOp) throw fail(`unsupported operator ${op}`, pos);
    return sql<SqlBool>`${column} ${sql.raw(sqlOp)} ${this.numeric(type, value)}`;
  }

  private attrValue(def: AttributeDef, field: FieldRef, value: FilterValue, pos: number) {
    const v = coerce(value, def.type, field, pos);
    return typeof v === 'string' && def.normalise ? def.normalise(v) : this.numeric(def.type, v);
  }

  /**
   * A bound number for an integer column. PostgreSQL types an untyped parameter after its
   * column, so `bigint_col < '2.5'` would fail to parse; a number that is not a safe
   * integer is cast to double precision there, which compares numerically as SQLite does.
   */
  private numeric(type: 'text' | 'integer' | 'real', value: string | number) {
    if (this.dialect !== 'postgres' || type !== 'integer' || typeof value !== 'number')
      return value;
    return Number.isSafeInteger(value) ? value : sql`cast(${value} as double precision)`;
  }

  private text(value: FilterValue, field: FieldRef, pos: number): string {
    return coerce(value, 'text', field, pos) as string;
  }

  /**
   * "The owner has key K and its value satisfies `cond`", as `owner.id IN (…)` rather than
   * a correlated EXISTS: the subquery reads only the covering `(key, value, owner)` index
   * (migration 0103), and the planner can drive the search from the most selective key
   * instead of testing every version (at 100,000 versions: ~10× faster).
   */
  private keyedExists(field: FieldRef, cond: RawBuilder<unknown>): RawBuilder<SqlBool> {
    const [table, ownerColumn, defaultOwner] = keyedTable(field, this.target);
    this.seen?.push({ field, cond });
    const owner = sql.ref(this.options.owner ?? defaultOwner);
    if (this.options.keyed === 'exists') {
      return sql<SqlBool>`exists (select 1 from ${sql.table(table)} as x where ${sql.ref(`x.${ownerColumn}`)} = ${owner} and x.key = ${field.key} and ${cond})`;
    }
    return sql<SqlBool>`${owner} in (select ${sql.ref(`x.${ownerColumn}`)} from ${sql.table(table)} as x where x.key = ${field.key} and ${cond})`;
  }

  private aliasExists(cond: RawBuilder<unknown>): RawBuilder<SqlBool> {
    if (!HAS_ALIASES.has(this.target)) throw fail(`${this.target} have no aliases`, 0);
    const owner = this.target === 'models' ? sql`x.model_id = m.id` : sql`x.version_id = v.id`;
    return sql<SqlBool>`exists (select 1 from aliases as x where ${owner} and ${cond})`;
  }

  /**
   * "Some dataset input of the run satisfies `cond`" (MLflow's semantics for `datasets.*`,
   * so `!=` and NOT IN hold when any one input differs): `cond` is built on the input's
   * name or digest column, or for `context` on the value of its `mlflow.data.context`
   * input tag (run_inputs.tags is a JSON array of {key, value}).
   */
  private datasetExists(
    field: FieldRef,
    cond: (column: RawBuilder<unknown>) => RawBuilder<unknown>,
  ): RawBuilder<SqlBool> {
    if (this.target !== 'runs')
      throw fail(`datasets are not searchable for ${this.target}`, field.pos);
    const owner = sql.ref(this.options.owner ?? 'r.id');
    let where: RawBuilder<unknown>;
    if (field.key === 'name' || field.key === 'digest') {
      where = cond(sql.ref(`i.${field.key}`));
    } else if (field.key === 'context') {
      where =
        this.dialect === 'sqlite'
          ? sql`exists (select 1 from json_each(i.tags) as t where json_extract(t.value, '$.key') = ${DATASET_CONTEXT_TAG} and ${cond(sql`json_extract(t.value, '$.value')`)})`
          : sql`exists (select 1 from jsonb_array_elements(cast(i.tags as jsonb)) as t(e) where t.e ->> 'key' = ${DATASET_CONTEXT_TAG} and ${cond(sql`(t.e ->> 'value')`)})`;
    } else {
      throw fail(`unknown dataset key '${field.key}'; expected name, digest or context`, field.pos);
    }
    return sql<SqlBool>`${owner} in (select i.run_id from run_inputs as i where ${where})`;
  }

  /**
   * The key/value rows that make `node` true, when `node` is one metric/param/tag
   * condition that needs its key present (a comparison, IN / NOT IN, IS NOT NULL).
   */
  keyedCondition(node: FilterExpr): KeyedCondition | undefined {
    if (node.kind === 'and' || node.kind === 'or') return undefined;
    const scope = node.field.scope;
    if (scope === 'attribute' || scope === 'alias' || scope === 'dataset') return undefined;
    if (node.kind === 'null' && !node.negated) return undefined;
    const seen: { field: FieldRef; cond: RawBuilder<unknown> }[] = [];
    this.seen = seen;
    try {
      this.expr(node);
    } finally {
      this.seen = undefined;
    }
    if (seen.length !== 1) return undefined;
    const [table, ownerColumn] = keyedTable(node.field, this.target);
    return { table, ownerColumn, key: node.field.key, cond: seen[0]!.cond };
  }

  orderItem(term: OrderByTerm): Expression<unknown> {
    const field = term.field;
    switch (field.scope) {
      case 'attribute':
        return sql.ref(attributeOf(field, this.target).column);
      case 'alias':
        throw fail('cannot order by aliases', field.pos);
      case 'dataset':
        throw fail('cannot order by datasets', field.pos);
      default: {
        const [table, ownerColumn, owner] = keyedTable(field, this.target);
        return sql`(select x.value from ${sql.table(table)} as x where ${sql.ref(`x.${ownerColumn}`)} = ${sql.ref(owner)} and x.key = ${field.key})`;
      }
    }
  }
}

/**
 * Compiles a filter into a boolean expression over `m` (and `v` for versions).
 * @throws InvalidArgumentError `invalid filter at position N: …` (details.position) for an
 *   unknown attribute, a field the target does not have, or a value/operator mismatch.
 */
export function compileFilter(
  ast: FilterExpr,
  target: SearchTarget,
  options: CompileOptions = {},
): Expression<SqlBool> {
  return new Compiler(target, options).expr(ast);
}

/**
 * For a filter node that is a single metric/param/tag condition requiring its key (see
 * Compiler.keyedCondition), the rows of its key/value table that satisfy it; otherwise
 * undefined. Used to estimate how many entities a condition matches.
 * @throws InvalidArgumentError as compileFilter.
 */
export function compileKeyedCondition(
  node: FilterExpr,
  target: SearchTarget,
  options: CompileOptions = {},
): KeyedCondition | undefined {
  return new Compiler(target, options).keyedCondition(node);
}

/** The key/value table of a metric/param/tag field, and its owner-id column. */
export function keyedTableOf(
  field: FieldRef,
  target: SearchTarget,
): { readonly table: string; readonly ownerColumn: string } {
  const [table, ownerColumn] = keyedTable(field, target);
  return { table, ownerColumn };
}

/**
 * Compiles ORDER BY terms, one item per term. Apply each with `NULLS LAST` (`orderByNullsLast`)
 * so entities without the key sort last in both directions on every dialect (SQLite ≥ 3.30
 * and PostgreSQL spell it the same); the value's subquery is evaluated once per row.
 * @throws InvalidArgumentError as compileFilter.
 */
export function compileOrderBy(
  terms: readonly OrderByTerm[],
  target: SearchTarget,
  options: CompileOptions = {},
): CompiledOrderItem[] {
  const compiler = new Compiler(target, options);
  return terms.map((term) => ({ expression: compiler.orderItem(term), direction: term.direction }));
}

/**
 * Compiles a run search's ORDER BY terms in MLflow's order, one item per term (apply each
 * with orderByNullsLast): a run without the key sorts last in both directions, and a NaN
 * metric after every number and before runs without the metric. A metric term is one
 * correlated subquery per candidate run giving a single value that sorts ascending in that
 * order: the latest value for ASC, its negation for DESC, NaN as a value after every number
 * (PostgreSQL's float NaN, greater than every number; SQLite's text 'NaN', text sorting
 * after numbers), none as NULL (nulls last). A subquery for the rank and another for the
 * value cost two probes per run (docs/benchmarks.md, MLflow, session 13: runs/search), and
 * a LEFT JOIN let PostgreSQL hash every run's point of that key, in every experiment.
 * Other terms compile as compileOrderBy's.
 * @throws InvalidArgumentError as compileFilter.
 */
export function compileRunOrderBy(
  terms: readonly OrderByTerm[],
  options: CompileOptions = {},
): CompiledOrderItem[] {
  const compiler = new Compiler('runs', options);
  const nan = options.dialect === 'postgres' ? sql`'NaN'::float8` : sql`'NaN'`;
  return terms.map((term) => {
    if (term.field.scope !== 'metric') {
      return { expression: compiler.orderItem(term), direction: term.direction };
    }
    const [table, ownerColumn, owner] = keyedTable(term.field, 'runs');
    const value = term.direction === 'asc' ? sql`x.value` : sql`-x.value`;
    return {
      expression: sql`(select case when x.is_nan = 1 then ${nan} else ${value} end from ${sql.table(table)} as x where ${sql.ref(`x.${ownerColumn}`)} = ${sql.ref(owner)} and x.key = ${term.field.key})`,
      direction: 'asc',
    };
  });
}

/** Adds `item` to a query's ORDER BY with nulls last. */
export function orderByNullsLast<Q extends OrderableQuery<Q>>(
  query: Q,
  item: CompiledOrderItem,
): Q {
  return query.orderBy(item.expression, (ob) =>
    (item.direction === 'asc' ? ob.asc() : ob.desc()).nullsLast(),
  );
}

/** The part of Kysely's select builder that orderByNullsLast uses. */
export interface OrderableQuery<Q> {
  orderBy(
    expression: Expression<unknown>,
    modifiers: (builder: OrderByItemBuilder) => OrderByItemBuilder,
  ): Q;
}

/**
 * Finds the ids of one page of a version search, choosing between two plans by a cheap
 * estimate of how many versions the filter matches. Both plans return exactly the rows,
 * in exactly the order, of one SQL query `… WHERE filter ORDER BY <terms> NULLS LAST,
 * v.id LIMIT n OFFSET o` (the filter-first plan *is* that query); only their cost differs.
 *
 * - filter-first: the filter's conditions find their versions through the `(key, value,
 *   owner)` indexes; every match is then ordered, and the page taken. Its cost grows with
 *   the number of matches (and of rows the most selective condition reads).
 * - order-first (ORDER BY one metric, param or tag): walk that key's `(key, value, owner)`
 *   index in ORDER BY order, testing each version against the filter (one index probe per
 *   condition), and stop after the page. Its cost grows with the number of index entries
 *   walked, about (offset + limit) ÷ the fraction of versions that match: cheap when most
 *   match, hopeless when few do. Versions without the key come after all that have it
 *   (NULLS LAST), in id order: a second query reads them when the walk runs out.
 *
 * The estimate takes, for each top-level AND condition, the number of versions it matches
 * — from the key's sampled values when the caller keeps KeyStatistics and a sample can
 * answer it, else counted in SQL (capped, so a count costs at most a few milliseconds) —
 * and assumes the conditions are independent.
 * docs/design.md ("Search plans") has the numbers behind the weights.
 */
import { type Expression, type Kysely, type RawBuilder, type SqlBool, sql } from 'kysely';
import type { RegistryDB } from '../schema.js';
import {
  compileFilter,
  compileKeyedCondition,
  compileOrderBy,
  keyedTableOf,
  orderByNullsLast,
  type SqlDialectName,
} from './compile-filter.js';
import type { FilterExpr, OrderByTerm } from './filter-ast.js';
import type { KeyStatistics } from './key-statistics.js';
import { type ReadScope, readableBy } from './read-scope.js';

export type SearchPlan = 'filter-first' | 'order-first';

export interface VersionPageQuery {
  readonly filter: FilterExpr | undefined;
  readonly order: readonly OrderByTerm[];
  /** Restrict to one model (by id). Always planned filter-first: a model has few versions. */
  readonly modelId?: number;
  readonly includeDeleted: boolean;
  /** Used when `order` is empty. Default name ascending, then version descending. */
  readonly defaultOrder?: 'name' | 'newest';
  readonly limit: number;
  readonly offset: number;
  readonly dialect: SqlDialectName;
  /** Only versions of models this user may READ (read-scope.ts). */
  readonly scope?: ReadScope;
  /**
   * Samples of the keys' values (key-statistics.ts), kept by the caller across searches:
   * key conditions are then estimated from them instead of counted in SQL.
   */
  readonly statistics?: KeyStatistics;
  /** Forces a plan (tests run both on the same data); default: chosen by estimate. */
  readonly plan?: SearchPlan;
  /**
   * Forces how the plan tests key conditions (tests run both); default: by estimate
   * (KeyTest).
   */
  readonly keyTest?: KeyTest;
}

/**
 * How a plan tests one metric/param/tag condition (the order-first walk on each walked
 * entry; filter-first on each match of its driving condition):
 * - `probe`: an `EXISTS` probe of the condition's table per entry (one index search each:
 *   ~2.7 µs on SQLite, ~15 µs on PostgreSQL);
 * - `list`: `owner IN (the condition's matches)` as a filter (listTest): the database
 *   reads the matches once into a hash or temporary index (~0.2–1 µs each), and then tests
 *   each entry against it almost for free.
 * A condition is listed when reading its matches costs less than probing every entry that
 * reaches it (docs/design.md "Search plans" has the measurements).
 */
export type KeyTest = 'probe' | 'list';

export interface VersionPage {
  /** Up to limit + 1 version ids in order (one more than the page says there is more). */
  readonly ids: number[];
  readonly plan: SearchPlan;
  /** How many key conditions the chosen plan tested by `list` (KeyTest). */
  readonly listed: number;
}

/** A keyed condition's count stops here: enough to tell plans apart, ~1 ms of index. */
const KEYED_PROBE_CAP = 20_000;
/** Other conditions are counted on the versions table, which costs more per row. */
const OTHER_PROBE_CAP = 2_000;
/** What the parts of a plan cost, in µs; `metric` or `other` (param, tag) by the condition's key. */
interface PlanCosts {
  /** An index entry walked in ORDER BY order. */
  readonly entry: number;
  /** An entry of filter-first's driving condition's range. */
  readonly scan: number;
  /** Testing an entry against a listed condition (KeyTest). */
  readonly listTest: number;
  /** An `EXISTS` probe of one condition for one entry. */
  readonly probe: { readonly metric: number; readonly other: number };
  /** A match of a listed condition, read into its hash or temporary index. */
  readonly listed: { readonly metric: number; readonly other: number };
  /** A filter-first match with its version and model rows, its sort key and the sort. */
  readonly row: number;
  /** The same with its sort key only (lateCheck). */
  readonly sortKey: number;
}

/**
 * SQLite's costs, in µs of CPU at 100,000 versions (docs/design.md "Search plans"): a
 * param's or tag's probe searches the `(key, value, owner)` index, comparing texts at each
 * level; a metric's probe the `(owner, key, value)` one, integers first.
 */
const SQLITE_COST: PlanCosts = {
  entry: 0.13,
  scan: 0.04,
  listTest: 0.19,
  probe: { metric: 0.5, other: 3 },
  listed: { metric: 0.7, other: 0.19 },
  row: 6,
  sortKey: 3.2,
};
/**
 * The same for PostgreSQL, in µs of wall time per statement (`EXPLAIN ANALYZE`, timing
 * off, load ~6: every figure includes a share of waiting for a core): a probe is a
 * Memoize'd index-only scan, a listed match an entry of a hashed SubPlan.
 */
const POSTGRES_COST: PlanCosts = {
  entry: 0.3,
  scan: 0.25,
  listTest: 0.24,
  probe: { metric: 15, other: 15 },
  listed: { metric: 0.96, other: 0.96 },
  row: 21,
  sortKey: 15,
};
/** At most this many key conditions have every choice of lists tried (2^n); more, greedily. */
const LIST_CHOICES_MAX = 5;
/**
 * The walk first ignores deletion and checks the ids it found afterwards (one cheap
 * query), reading this many extra entries in case some are deleted; for up to this many
 * rows (offset + limit + 1). Past either, deletion is tested during the walk.
 */
const DELETED_SLACK = 16;
const LATE_CHECK_MAX = 2_000;

/** The filter's top-level AND conditions (nested ANDs flattened). */
function conjuncts(filter: FilterExpr | undefined): FilterExpr[] {
  if (filter === undefined) return [];
  if (filter.kind !== 'and') return [filter];
  return filter.items.flatMap((item) => conjuncts(item));
}

/** True when every field of `node` is a metric, param or tag (no attribute, no alias). */
function keyedOnly(node: FilterExpr): boolean {
  if (node.kind === 'and' || node.kind === 'or') return node.items.every(keyedOnly);
  const scope = node.field.scope;
  return scope === 'metric' || scope === 'param' || scope === 'tag';
}

function and(parts: readonly FilterExpr[]): FilterExpr | undefined {
  if (parts.length === 0) return undefined;
  return parts.length === 1 ? parts[0] : { kind: 'and', items: parts };
}

interface Estimate {
  /** The conjuncts, most selective first, with their (capped) match counts. */
  readonly conditions: readonly { readonly node: FilterExpr; readonly count: number }[];
  /** The cheaper plan, or the one the query forces. */
  readonly plan: SearchPlan;
  /** The key conditions the chosen plan tests against a list of their matches (KeyTest). */
  readonly listed: ReadonlySet<FilterExpr>;
  /**
   * The key condition whose matches filter-first starts from (one of `conditions`);
   * undefined when none can drive, and the filter is one condition on the versions.
   */
  readonly driver?: FilterExpr;
}

export async function findVersionPage(
  db: Kysely<RegistryDB>,
  q: VersionPageQuery,
): Promise<VersionPage> {
  const term = q.order.length === 1 ? q.order[0] : undefined;
  const orderable =
    term !== undefined &&
    q.modelId === undefined &&
    (term.field.scope === 'metric' || term.field.scope === 'param' || term.field.scope === 'tag');
  if (!orderable) {
    return { ids: await filterFirst(db, q, undefined), plan: 'filter-first', listed: 0 };
  }
  const est = await estimate(db, q);
  const plan = est.plan;
  if (plan === 'filter-first') {
    return { ids: await filterFirst(db, q, est), plan, listed: est.listed.size };
  }
  return { ids: await orderFirst(db, q, term, est), plan, listed: est.listed.size };
}

/**
 * How many versions each top-level condition matches (from the keys' samples when the
 * caller keeps KeyStatistics, else counted in one statement), and the cheaper plan.
 */
async function estimate(db: Kysely<RegistryDB>, q: VersionPageQuery): Promise<Estimate> {
  const nodes = conjuncts(q.filter);
  const keyed = nodes.map((node) =>
    compileKeyedCondition(node, 'versions', { dialect: q.dialect }),
  );
  // Key conditions a sample can answer (key-statistics.ts) cost no statement.
  const stats = q.statistics;
  const sampled = await Promise.all(
    nodes.map((node, i) => (stats && keyed[i] ? stats.estimate(db, node) : undefined)),
  );
  const counted = sampled.flatMap((estimated, i) => (estimated === undefined ? [i] : []));
  let row: Record<string, number | string | null> = {};
  let total: number;
  if (stats && counted.length === 0) {
    total = await stats.versionTotal(db);
  } else {
    // One statement (one round trip): the number of versions, then each condition's count.
    const counts = counted.map((i) => {
      const k = keyed[i];
      return k
        ? sql`(select count(*) from (select 1 as one from ${sql.table(k.table)} as x where x.key = ${k.key} and ${k.cond} limit ${KEYED_PROBE_CAP}) as t)`
        : sql`(select count(*) from (select 1 as one from model_versions as v inner join registered_models as m on m.id = v.model_id where ${compileFilter(nodes[i]!, 'versions', { dialect: q.dialect })} limit ${OTHER_PROBE_CAP}) as t)`;
    });
    const columns = [
      sql`(select max(id) from model_versions) as n`,
      ...counts.map((c, j) => sql`${c} as ${sql.ref(`c${counted[j]}`)}`),
    ];
    const { rows } = await sql<
      Record<string, number | string | null>
    >`select ${sql.join(columns)}`.execute(db);
    row = rows[0] ?? {};
    total = Number(row.n ?? 0);
  }
  total = Math.max(1, total);
  const conditions = nodes.map((node, i) => {
    const estimated = sampled[i];
    const isKey = keyed[i] !== undefined;
    if (estimated !== undefined) return { node, isKey, count: Math.min(estimated, total) };
    const n = Number(row[`c${i}`] ?? 0);
    // A count that reached its cap only says "at least"; for a condition on the versions
    // table itself, treat that as "all" (its cap is low: its rows cost more to count).
    const count = !isKey && n >= OTHER_PROBE_CAP ? total : n;
    return { node, isKey, count: Math.min(count, total) };
  });
  conditions.sort((a, b) => a.count - b.count);
  const selectivity = conditions.reduce((s, c) => s * (c.count / total), 1);
  const need = q.offset + q.limit + 1;
  const walk = Math.min(total, need / Math.max(selectivity, 1 / total));
  const listable = (c: (typeof conditions)[number]) => c.isKey;
  // Each key condition is tested on the entries that passed the ones before it: listed
  // ones first (a lookup each), then probes, each group most selective first. A condition
  // is listed when that makes the plan cheaper (every choice tried, up to LIST_CHOICES_MAX
  // conditions).
  const C = q.dialect === 'sqlite' ? SQLITE_COST : POSTGRES_COST;
  type Condition = (typeof conditions)[number];
  const kind = (c: Condition) => (keyScope(c.node) === 'metric' ? 'metric' : 'other');
  const costWith = (
    rest: readonly Condition[],
    entries: number,
    listed: ReadonlySet<Condition>,
  ) => {
    let cost = 0;
    let reach = entries;
    for (const c of rest) {
      if (!listed.has(c)) continue;
      cost += C.listed[kind(c)] * c.count + C.listTest * reach;
      reach *= c.count / total;
    }
    for (const c of rest) {
      if (listed.has(c)) continue;
      cost += C.probe[kind(c)] * reach;
      reach *= c.count / total;
    }
    return cost;
  };
  const tests = (rest: readonly Condition[], entries: number) => {
    const candidates = rest.filter(listable);
    let choice: Condition[] = [];
    if (q.keyTest !== undefined) {
      choice = q.keyTest === 'list' ? candidates : [];
    } else if (candidates.length <= LIST_CHOICES_MAX) {
      let best = costWith(rest, entries, new Set());
      for (let mask = 1; mask < 1 << candidates.length; mask++) {
        const set = candidates.filter((_, i) => mask & (1 << i));
        if (set.some((c) => c.count >= KEYED_PROBE_CAP)) continue;
        const cost = costWith(rest, entries, new Set(set));
        if (cost < best) [best, choice] = [cost, set];
      }
    } else {
      // Greedily, most selective first: list when it saves more than it costs.
      for (const c of candidates) {
        if (c.count >= KEYED_PROBE_CAP) continue;
        const next = [...choice, c];
        if (costWith(rest, entries, new Set(next)) < costWith(rest, entries, new Set(choice))) {
          choice = next;
        }
      }
    }
    return { cost: costWith(rest, entries, new Set(choice)), listed: choice.map((c) => c.node) };
  };
  const walked = tests(conditions, walk);
  const walkCost = walk * C.entry + walked.cost;
  // Filter-first: the key condition that drives most cheaply (not always the most
  // selective: a metric's matches cost more to list than a param's). Without version rows
  // to read per match (lateCheck) a match costs its sort key only.
  const matches = total * selectivity;
  const late =
    !q.includeDeleted && need <= LATE_CHECK_MAX && conditions.every((c) => keyedOnly(c.node));
  const perMatch = late ? C.sortKey : C.row;
  let best: { cost: number; driver?: FilterExpr; listed: FilterExpr[] } = {
    cost: (conditions[0]?.count ?? total) * C.row,
    listed: [],
  };
  for (const d of conditions) {
    if (!d.isKey) continue;
    const driven = tests(
      conditions.filter((c) => c !== d),
      d.count,
    );
    const cost = d.count * C.scan + driven.cost + matches * perMatch;
    if (best.driver === undefined || cost < best.cost) {
      best = { cost, driver: d.node, listed: driven.listed };
    }
  }
  const plan = q.plan ?? (walkCost < best.cost ? 'order-first' : 'filter-first');
  return {
    conditions,
    plan,
    listed: new Set(plan === 'order-first' ? walked.listed : best.listed),
    ...(best.driver !== undefined ? { driver: best.driver } : {}),
  };
}

/** The scope of a single condition's field (undefined for AND / OR). */
function keyScope(node: FilterExpr): string | undefined {
  return node.kind === 'and' || node.kind === 'or' ? undefined : node.field.scope;
}

/** The base query: every version (of the model), live unless deleted ones are asked for. */
function versions(db: Kysely<RegistryDB>, q: VersionPageQuery) {
  let b = db
    .selectFrom('model_versions as v')
    .innerJoin('registered_models as m', 'm.id', 'v.model_id')
    .select('v.id');
  if (q.modelId !== undefined) b = b.where('v.model_id', '=', q.modelId);
  if (!q.includeDeleted) b = b.where('v.deleted_at', 'is', null).where('m.deleted_at', 'is', null);
  if (q.scope) b = b.where(readableBy(q.scope, 'registered_model', 'm.id'));
  return b;
}

/**
 * The filter as one condition on `v`. With an estimate, the most selective condition
 * drives: `v.id IN (its matches that also pass the other key conditions)`, those probed
 * per match on their covering indexes, so only the versions that pass every key condition
 * are read from the versions table (without one SQLite drives from the first condition
 * and reads the version row of each of its matches).
 */
function filterCondition(q: VersionPageQuery, est: Estimate | undefined) {
  const dialect = q.dialect;
  if (!est) return q.filter && compileFilter(q.filter, 'versions', { dialect });
  if (est.driver === undefined) {
    const all = and(est.conditions.map((c) => c.node));
    return all && compileFilter(all, 'versions', { dialect });
  }
  const { matches, tests } = drivenMatches(q, est);
  const parts: Expression<SqlBool>[] = [
    tests.length === 0
      ? sql<SqlBool>`v.id in (${matches})`
      : sql<SqlBool>`v.id in (select d.id from (${matches}) as d where ${sql.join(tests, sql` and `)})`,
  ];
  const others = and(est.conditions.map((c) => c.node).filter((n) => !keyedOnly(n)));
  if (others) parts.push(compileFilter(others, 'versions', { dialect }));
  return sql<SqlBool>`${sql.join(parts, sql` and `)}`;
}

/**
 * The driving key condition's matches (`select owner as id …`), and the tests of the
 * other key conditions on them as `d.id` (listed or probed, KeyTest).
 */
function drivenMatches(q: VersionPageQuery, est: Estimate) {
  const dialect = q.dialect;
  const driver = est.driver && compileKeyedCondition(est.driver, 'versions', { dialect });
  if (!driver) throw new Error('drivenMatches: no keyed driver');
  const rest = est.conditions.map((c) => c.node).filter((n) => n !== est.driver && keyedOnly(n));
  const tests = [
    ...rest.filter((n) => est.listed.has(n)).map((n) => listTest(n, q, 'd.id')),
    ...rest
      .filter((n) => !est.listed.has(n))
      .map((n) => compileFilter(n, 'versions', { dialect, keyed: 'exists', owner: 'd.id' })),
  ];
  const matches = sql`select ${sql.ref(`x.${driver.ownerColumn}`)} as id from ${sql.table(driver.table)} as x where x.key = ${driver.key} and ${driver.cond}`;
  return { matches, tests };
}

/**
 * The first `need` of `ids` — a plan's matches in order, found without reading version
 * rows: `need + DELETED_SLACK` of them, or every match when fewer — that are live (and,
 * scoped, readable), read with one query; undefined when deletions left too few to be
 * sure, and the caller tests the rows as it goes instead.
 */
async function liveFirst(
  db: Kysely<RegistryDB>,
  q: VersionPageQuery,
  ids: readonly number[],
  need: number,
): Promise<number[] | undefined> {
  const live = new Set(
    ids.length === 0
      ? []
      : (await versions(db, q).where('v.id', 'in', ids).execute()).map((r) => r.id),
  );
  const liveIds = ids.filter((id) => live.has(id));
  // Enough live ones, or the plan found every match: either way the answer is exact.
  return liveIds.length >= need || ids.length < need + DELETED_SLACK
    ? liveIds.slice(0, need)
    : undefined;
}

/**
 * Filter-first without the version rows (`lateCheck`): the driving condition's matches
 * that pass the other key conditions, ordered by the ORDER BY key (NULLS LAST, id), the
 * first `limit`; deletion is checked on those afterwards (liveFirst).
 */
async function keyedMatchesInOrder(
  db: Kysely<RegistryDB>,
  q: VersionPageQuery,
  term: OrderByTerm,
  est: Estimate,
  limit: number,
): Promise<number[]> {
  const { table, ownerColumn } = keyedTableOf(term.field, 'versions');
  const direction = sql.raw(term.direction === 'asc' ? 'asc' : 'desc');
  const { matches, tests } = drivenMatches(q, est);
  const where = tests.length === 0 ? sql`` : sql`where ${sql.join(tests, sql` and `)}`;
  const { rows } = await sql<{
    id: number;
  }>`select d.id from (${matches}) as d ${where} order by (select x.value from ${sql.table(table)} as x where ${sql.ref(`x.${ownerColumn}`)} = d.id and x.key = ${term.field.key}) ${direction} nulls last, d.id asc limit ${limit}`.execute(
    db,
  );
  return rows.map((r) => Number(r.id));
}

/**
 * True when filter-first can find the page's ids from the key indexes alone and check
 * deletion after (keyedMatchesInOrder): an ORDER BY of one key, a keyed driver, only key
 * conditions, live versions, a page within LATE_CHECK_MAX.
 */
function lateCheck(q: VersionPageQuery, est: Estimate | undefined): boolean {
  const term = q.order.length === 1 ? q.order[0] : undefined;
  return (
    est !== undefined &&
    term !== undefined &&
    term.field.scope !== 'attribute' &&
    term.field.scope !== 'alias' &&
    est.driver !== undefined &&
    est.conditions.every((c) => keyedOnly(c.node)) &&
    !q.includeDeleted &&
    q.offset + q.limit + 1 <= LATE_CHECK_MAX
  );
}

async function filterFirst(
  db: Kysely<RegistryDB>,
  q: VersionPageQuery,
  est: Estimate | undefined,
): Promise<number[]> {
  const term = q.order[0];
  if (est && term && lateCheck(q, est)) {
    const need = q.offset + q.limit + 1;
    const ids = await keyedMatchesInOrder(db, q, term, est, need + DELETED_SLACK);
    const found = await liveFirst(db, q, ids, need);
    if (found) return found.slice(q.offset);
  }
  let b = versions(db, q);
  const where = filterCondition(q, est);
  if (where) b = b.where(where);
  for (const item of compileOrderBy(q.order, 'versions', { dialect: q.dialect })) {
    b = orderByNullsLast(b, item);
  }
  if (q.order.length === 0) {
    if (q.defaultOrder !== 'newest') b = b.orderBy('m.name', 'asc');
    b = b.orderBy('v.version', 'desc');
  }
  const rows = await b
    .orderBy('v.id', 'asc')
    .limit(q.limit + 1)
    .offset(q.offset)
    .execute();
  return rows.map((r) => r.id);
}

/**
 * `owner IN (the matches of key condition `node`)` (KeyTest `list`), written so that each
 * dialect tests it as a filter on the rows in hand instead of joining: on SQLite `+owner IN
 * (…)` (a temporary index with a Bloom filter; the unary `+` keeps the walk's index order),
 * on PostgreSQL `(owner IN (…)) IS TRUE` (a hashed SubPlan: wrapped, the IN is not pulled
 * up into a semi-join, whose hash join would drop the walk's order).
 */
function listTest(node: FilterExpr, q: VersionPageQuery, owner: string): Expression<SqlBool> {
  const k = compileKeyedCondition(node, 'versions', { dialect: q.dialect });
  if (!k) throw new Error('listTest: not a key condition');
  const matches = sql`select ${sql.ref(`x.${k.ownerColumn}`)} from ${sql.table(k.table)} as x where x.key = ${k.key} and ${k.cond}`;
  return q.dialect === 'sqlite'
    ? sql<SqlBool>`+${sql.ref(owner)} in (${matches})`
    : sql<SqlBool>`(${sql.ref(owner)} in (${matches})) is true`;
}

async function orderFirst(
  db: Kysely<RegistryDB>,
  q: VersionPageQuery,
  term: OrderByTerm,
  est: Estimate,
): Promise<number[]> {
  const { table, ownerColumn } = keyedTableOf(term.field, 'versions');
  const owner = `o.${ownerColumn}`;
  const nodes = est.conditions.map((c) => c.node);
  // Conditions on keys alone are tested on the walked entry (most selective first);
  // the rest need the version and model rows.
  const onKeys = nodes.filter(keyedOnly);
  const onRows = nodes.filter((n) => !keyedOnly(n));
  // Listed conditions first: their test is a Bloom filter lookup (KeyTest).
  const keyConds: Expression<SqlBool>[] = [
    ...onKeys.filter((n) => est.listed.has(n)).map((n) => listTest(n, q, owner)),
    ...onKeys
      .filter((n) => !est.listed.has(n))
      .map((n) => compileFilter(n, 'versions', { dialect: q.dialect, keyed: 'exists', owner })),
  ];
  const rowCheck = (): RawBuilder<SqlBool> | undefined => {
    const parts: Expression<SqlBool>[] = [];
    if (!q.includeDeleted) parts.push(sql`v.deleted_at is null`, sql`m.deleted_at is null`);
    if (q.scope) parts.push(readableBy(q.scope, 'registered_model', 'm.id'));
    const rest = and(onRows);
    if (rest) parts.push(compileFilter(rest, 'versions', { dialect: q.dialect, keyed: 'exists' }));
    if (parts.length === 0) return undefined;
    return sql<SqlBool>`exists (select 1 from model_versions as v inner join registered_models as m on m.id = v.model_id where v.id = ${sql.ref(owner)} and ${sql.join(parts, sql` and `)})`;
  };
  const where = (withRows: boolean) => {
    const parts: Expression<SqlBool>[] = [sql`o.key = ${term.field.key}`, ...keyConds];
    const rows = withRows ? rowCheck() : undefined;
    if (rows) parts.push(rows);
    return sql.join(parts, sql` and `);
  };
  const direction = sql.raw(term.direction === 'asc' ? 'asc' : 'desc');
  // No OFFSET: SQLite stops turning EXISTS into a semi-join (and so picking covering
  // indexes for the probes) when a query has one; the rows before the page are dropped here.
  const walk = async (withRows: boolean, limit: number) => {
    const { rows } = await sql<{
      id: number;
    }>`select ${sql.ref(owner)} as id from ${sql.table(table)} as o where ${where(withRows)} order by o.value ${direction}, ${sql.ref(owner)} asc limit ${limit}`.execute(
      db,
    );
    return rows.map((r) => Number(r.id));
  };

  const need = q.offset + q.limit + 1;
  /** The first `need` matching versions that have the key, or all of them when fewer. */
  let found: number[] | undefined;
  if (!q.includeDeleted && onRows.length === 0 && need <= LATE_CHECK_MAX) {
    // Walk without reading the version rows, then drop the deleted (and, scoped, the
    // unreadable) versions found; too few left, and the walk below tests them as it goes.
    found = await liveFirst(db, q, await walk(false, need + DELETED_SLACK), need);
  }
  found ??= await walk(true, need);
  const withKey = found.slice(q.offset);
  if (found.length === need) return withKey;
  const keyedTotal = found.length;

  // The walk ran out: versions without the key follow, in id order.
  const without = await versions(db, q)
    .where((eb) =>
      eb.and([
        ...(q.filter ? [compileFilter(q.filter, 'versions', { dialect: q.dialect })] : []),
        sql<SqlBool>`not exists (select 1 from ${sql.table(table)} as x where ${sql.ref(`x.${ownerColumn}`)} = v.id and x.key = ${term.field.key})`,
      ]),
    )
    .orderBy('v.id', 'asc')
    .limit(q.limit + 1 - withKey.length)
    .offset(Math.max(0, q.offset - keyedTotal))
    .execute();
  return [...withKey, ...without.map((r) => r.id)];
}

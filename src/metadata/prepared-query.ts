/**
 * Statements built and compiled once, run many times with new parameter values.
 *
 * Kysely builds an operation tree and compiles it to SQL on every call; on the server's
 * hot paths (MLflow logging, runs/get, permission checks) that cost ~50 µs a statement
 * under load, several times per request, more than SQLite spends running most of them.
 * A `PreparedQuery` builds its query once per dialect with named placeholders in place of
 * the values, keeps the compiled SQL text and the position of each placeholder among the
 * compiled parameters, and afterwards only fills in the values and hands the compiled
 * query to Kysely's executor (the same connection, transaction and plugins as a built
 * query; the SQLite driver's statement cache then reuses the prepared statement too, and
 * on PostgreSQL it runs as a named statement, see constant-statements.ts).
 *
 * Contract: `build` must give the same SQL for every call with the same dialect, so it may
 * use placeholders only where a value goes (`where(col, '=', p.x)`, `values({c: p.x})`,
 * `set({c: p.x})`, `limit(p.n)`); anything that changes the SQL text — a list for `in`, an
 * optional clause — needs a query of its own per shape or stays a built query. Each
 * placeholder must be given a value when run (a missing one throws, it never binds
 * `undefined`). Compiled once per dialect adapter (SQLite and PostgreSQL differ in
 * placeholders and quoting), on first use, from whichever Kysely instance or transaction
 * runs it first.
 */
import type { Compilable, CompiledQuery, Kysely, QueryResult } from 'kysely';
import { constantStatement } from './constant-statements.js';
import { directRunnerOf } from './direct-execution.js';

const PLACEHOLDER = Symbol('modelvault.placeholder');

interface Placeholder {
  readonly [PLACEHOLDER]: string;
  /** For a row of a list value (`rowsOf`): its index and column. */
  readonly row?: number;
  readonly column?: string;
}

function isPlaceholder(v: unknown): v is Placeholder {
  return typeof v === 'object' && v !== null && PLACEHOLDER in v;
}

/**
 * Where each compiled parameter comes from: a constant of the query (`constant`), a named
 * value (`name`), or a column of one row of a named list (`name`, `row`, `column`). Every
 * slot has the same fields (unused ones undefined), so filling them stays monomorphic: a
 * 100-point MLflow batch fills ~1,300 of them a request.
 */
interface Slot {
  readonly name: string | undefined;
  readonly row: number | undefined;
  readonly column: string | undefined;
  readonly constant: unknown;
}

interface Compiled {
  readonly sql: string;
  readonly query: CompiledQuery['query'];
  /**
   * The first compile's query id, shared by every run: our plugins pass results through
   * (they never key state by query id), and a fresh id per run cost an allocation.
   */
  readonly queryId: CompiledQuery['queryId'];
  readonly slots: readonly Slot[];
}

/** Placeholders standing for `P`'s values while the query is built. */
const placeholders = new Proxy(
  {},
  {
    get: (_target, name) => {
      if (typeof name !== 'string') return undefined;
      return { [PLACEHOLDER]: name } satisfies Placeholder;
    },
  },
);

/**
 * Inside `build`: `n` rows of placeholders for the list value `list` (a placeholder of
 * `P`), one per column read, for multi-row statements (`values(rowsOf(p.rows, n).map(…))`).
 * Run the query with a list of exactly `n` rows (a missing row throws).
 */
export function rowsOf<T extends object>(list: readonly T[], n: number): T[] {
  if (!isPlaceholder(list)) throw new Error('rowsOf: only for a placeholder of a prepared query');
  const name = list[PLACEHOLDER];
  return Array.from(
    { length: n },
    (_, row) =>
      new Proxy({} as T, {
        get: (_target, column) =>
          typeof column === 'string'
            ? ({ [PLACEHOLDER]: name, row, column } satisfies Placeholder)
            : undefined,
      }),
  );
}

export class PreparedQuery<DB, P extends Record<string, unknown>, R> {
  /** Keyed by the dialect adapter, which a Kysely instance shares with its transactions. */
  private readonly compiled = new WeakMap<object, Compiled>();

  constructor(private readonly build: (db: Kysely<DB>, p: P) => Compilable<R>) {}

  private compiledFor(db: Kysely<DB>): Compiled {
    const adapter = db.getExecutor().adapter as object;
    let c = this.compiled.get(adapter);
    if (!c) {
      const q = this.build(db, placeholders as P).compile();
      c = {
        // Its text is constant by this module's contract (constant-statements.ts).
        sql: constantStatement(q.sql),
        query: q.query,
        queryId: q.queryId,
        slots: q.parameters.map(
          (v): Slot =>
            isPlaceholder(v)
              ? { name: v[PLACEHOLDER], row: v.row, column: v.column, constant: undefined }
              : { name: undefined, row: undefined, column: undefined, constant: v },
        ),
      };
      this.compiled.set(adapter, c);
    }
    return c;
  }

  /** The compiled query with `params` filled in (exposed for tests and EXPLAIN). */
  compile(db: Kysely<DB>, params: P): CompiledQuery<R> {
    const c = this.compiledFor(db);
    const { slots } = c;
    const parameters: unknown[] = new Array(slots.length);
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i]!;
      if (s.name === undefined) {
        parameters[i] = s.constant;
        continue;
      }
      let v: unknown;
      if (s.row === undefined) v = params[s.name];
      else
        v = (params[s.name] as readonly Record<string, unknown>[] | undefined)?.[s.row]?.[
          s.column!
        ];
      if (v === undefined) {
        const what = s.row === undefined ? s.name : `${s.name}[${s.row}].${s.column}`;
        throw new Error(`prepared query: no value for placeholder '${what}'`);
      }
      parameters[i] = v;
    }
    // A plain object, not CompiledQuery.raw: that builds (and freezes) a raw node per run.
    return { sql: c.sql, query: c.query, queryId: c.queryId, parameters };
  }

  /** Runs it on `db` (a Kysely instance or a transaction); all result rows. */
  async execute(db: Kysely<DB>, params: P): Promise<R[]> {
    return (await this.run(db, params)).rows;
  }

  /** The first result row, if any. */
  async executeTakeFirst(db: Kysely<DB>, params: P): Promise<R | undefined> {
    return (await this.run(db, params)).rows[0];
  }

  /**
   * Kysely's whole result (rows, numAffectedRows…), e.g. for writes. Inside a SQLite write
   * transaction the statement runs directly on its connection (direct-execution.ts).
   */
  async run(db: Kysely<DB>, params: P): Promise<QueryResult<R>> {
    return executeCompiled(db, this.compile(db, params));
  }
}

/**
 * Runs an already compiled statement on `db`: directly on its connection when `db` has a
 * direct runner bound (a SQLite write transaction or `Database.reads`, see
 * direct-execution.ts), else through Kysely's executor.
 */
export async function executeCompiled<DB, R>(
  db: Kysely<DB>,
  query: CompiledQuery<R>,
): Promise<QueryResult<R>> {
  const direct = directRunnerOf(db);
  return direct ? (direct(query) as QueryResult<R>) : db.executeQuery(query);
}

/**
 * A query compiled once (see the module comment). `P` names the values it takes:
 *
 *   const runById = prepareQuery((db: Kysely<RegistryDB>, p: { id: string }) =>
 *     db.selectFrom('runs').selectAll().where('id', '=', p.id));
 *   const row = await runById.executeTakeFirst(trx, { id });
 */
export function prepareQuery<DB, P extends Record<string, unknown>, R>(
  build: (db: Kysely<DB>, p: P) => Compilable<R>,
): PreparedQuery<DB, P, R> {
  return new PreparedQuery(build);
}

/**
 * Prepared queries of one family whose SQL depends on a shape (a row count, a list
 * length), each compiled once per shape; at most `capacity` shapes kept (least recently
 * used dropped), so callers with unbounded shapes stay bounded.
 */
export class PreparedQueryFamily<S, Q> {
  private readonly byShape = new Map<S, Q>();

  constructor(
    private readonly make: (shape: S) => Q,
    private readonly capacity = 64,
  ) {}

  for(shape: S): Q {
    let q = this.byShape.get(shape);
    if (q) {
      this.byShape.delete(shape); // re-insert: Map order is recency order
    } else {
      q = this.make(shape);
      if (this.byShape.size >= this.capacity) {
        this.byShape.delete(this.byShape.keys().next().value as S);
      }
    }
    this.byShape.set(shape, q);
    return q;
  }
}

/**
 * Compiled statements run on a transaction's connection without Kysely's asynchronous
 * plumbing.
 *
 * Kysely runs every statement through its executor: a connection provider (a promise chain
 * per statement on a transaction), the driver's async `executeQuery`, result transforms —
 * about ten promise hops, ~20 µs of CPU a statement on this machine, where SQLite itself
 * runs a hot indexed statement in ~5 µs. On the MLflow logging path (five statements a
 * call) that plumbing was most of the database's share of a request. A dialect whose
 * driver runs statements synchronously in-process (SQLite's better-sqlite3) binds a
 * runner to the Kysely instance of each write transaction while the transaction is open;
 * `PreparedQuery` (prepared-query.ts) then hands its compiled statement straight to it.
 *
 * Contract: a runner runs the statement at once, on the transaction's own connection, with
 * the same SQL, parameters, error translation and result shape as Kysely's driver (it
 * skips Kysely plugins' result transforms: the instances it is bound to have only plugins
 * that rewrite queries, which compiling applied already). It is bound only to
 * connection-bound instances (a transaction's, or a group of reads' held connection, see
 * `Database.reads`), never to the shared `db`, whose queries must wait for an open
 * transaction to end. Statements of one transaction must be awaited
 * in the order they are meant to run (they are): a direct statement does not queue behind
 * a Kysely statement that was issued earlier and not yet awaited.
 */
import type { CompiledQuery, QueryResult } from 'kysely';

/** Runs one compiled statement now and returns Kysely's result for it. */
export type DirectRunner = (query: CompiledQuery) => QueryResult<unknown>;

const runners = new WeakMap<object, DirectRunner>();

/** Binds `run` to `db` (a transaction's Kysely instance); returns the unbinding. */
export function bindDirectRunner(db: object, run: DirectRunner): () => void {
  runners.set(db, run);
  return () => {
    runners.delete(db);
  };
}

/** The runner bound to `db`, if its statements may run directly. */
export function directRunnerOf(db: object): DirectRunner | undefined {
  return runners.get(db);
}

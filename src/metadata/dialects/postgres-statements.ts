/**
 * Named (server-side prepared) statements on PostgreSQL for the constant statements
 * (constant-statements.ts).
 *
 * node-postgres sends a statement without a name as Parse, Bind, Execute: the backend
 * parses, analyses and plans it on every run. With a name, a connection parses it once and
 * afterwards sends only Bind and Execute; the backend keeps the parsed statement (and,
 * after five runs, a generic plan when it estimates that plan no worse than a custom one).
 * `NamedStatementClient` is the pool's client class: a query whose text is registered as
 * constant runs under the name derived from its text, every other query as before.
 *
 * Bounds: at most `MAX_NAMED_PER_CONNECTION` names a connection; further texts run
 * unnamed on it. Names live until the connection closes (the pool closes idle ones).
 *
 * Recovery: a backend refuses a prepared statement whose result columns changed since it
 * was parsed ("cached plan must not change result type", 0A000: e.g. `select *` after
 * another replica's migration added a column), and may lose or already hold statements
 * the client does not expect (26000, 42P05, e.g. after `DISCARD ALL`). On such an error
 * the client deallocates all its statements (before its next statement, outside an
 * aborted transaction) and forgets them, so they are parsed again under the new schema.
 * Outside a transaction block the failed statement did nothing and runs again at once;
 * inside one the error ends the transaction and `isStaleStatementError` tells the
 * transaction's owner that running the transaction again will succeed.
 */
import pg from 'pg';
import { constantStatementName } from '../constant-statements.js';

/** Named statements kept per connection at most (hot paths use a few dozen). */
export const MAX_NAMED_PER_CONNECTION = 256;

/** SQLSTATEs of a named statement the backend no longer runs as the client expects. */
const STALE_STATES = new Set(['0A000', '26000', '42P05']);

const staleErrors = new WeakSet<object>();

/** True if `e` came from a named statement that was stale (see the module comment). */
export function isStaleStatementError(e: unknown): boolean {
  return typeof e === 'object' && e !== null && staleErrors.has(e);
}

/** The part of node-postgres's connection that records statements parsed on it. */
interface ParsedStatements {
  parsedStatements: Record<string, string>;
}

export class NamedStatementClient extends pg.Client {
  /** Names this connection has prepared (or is preparing). */
  private readonly names = new Set<string>();
  /** Set when a stale statement was seen: deallocate everything before the next one. */
  private stale = false;
  private resetting: Promise<void> | undefined;

  // biome-ignore lint/suspicious/noExplicitAny: pg's query overloads; only the (text, values) promise form is changed
  override query(config: any, values?: any, callback?: any): any {
    if (typeof config === 'string' && Array.isArray(values) && callback === undefined) {
      const name = constantStatementName(config);
      if (name !== undefined) return this.named(name, config, values);
    }
    return super.query(config, values, callback);
  }

  private async named(name: string, text: string, values: unknown[]): Promise<pg.QueryResult> {
    if (this.stale) {
      // In an aborted transaction nothing but its end runs: the statement fails as it would.
      if (this.getTransactionStatus() === 'E') return super.query(text, values);
      await this.reset();
    }
    if (!this.names.has(name)) {
      if (this.names.size >= MAX_NAMED_PER_CONNECTION) return super.query(text, values);
      this.names.add(name);
    }
    const inTransaction = this.getTransactionStatus() !== 'I';
    try {
      return await super.query({ name, text, values });
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (typeof code !== 'string' || !STALE_STATES.has(code)) throw e;
      this.stale = true;
      if (inTransaction) {
        staleErrors.add(e as object);
        throw e;
      }
      // Outside a transaction block the statement failed alone: run it again, parsed anew.
      await this.reset();
      this.names.add(name);
      return super.query({ name, text, values });
    }
  }

  /** Deallocates every statement of this connection and forgets them; once at a time. */
  private reset(): Promise<void> {
    this.resetting ??= (async () => {
      try {
        await super.query('DEALLOCATE ALL');
        (this as unknown as { connection: ParsedStatements }).connection.parsedStatements = {};
        this.names.clear();
        this.stale = false;
      } finally {
        this.resetting = undefined;
      }
    })();
    return this.resetting;
  }
}

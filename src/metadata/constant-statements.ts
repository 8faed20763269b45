/**
 * Statements whose SQL text is constant: the same text on every call, only the parameter
 * values change. A dialect may keep such a statement prepared on each connection that ran
 * it, so that later runs skip parsing and planning (PostgreSQL: a named statement, see
 * dialects/postgres-statements.ts); SQLite's driver caches every statement by text anyway
 * and ignores this registry.
 *
 * Registered: every `PreparedQuery`'s compiled text (prepared-query.ts, once per dialect
 * and shape) and the constant raw statements passed through `constantStatement`.
 *
 * Contract: only texts from a bounded set may be registered — text written in the code or
 * compiled from it, never text that embeds values or a list's length beyond a fixed bound
 * (each registered text may live on every pooled connection until that connection
 * closes). A registered text must be a single statement.
 */
import { createHash } from 'node:crypto';

const names = new Map<string, string>();

/**
 * Registers `sql` as constant and returns it, for definitions such as
 * `const RUN = constantStatement('select … where id = $1')`.
 */
export function constantStatement(sql: string): string {
  if (!names.has(sql)) {
    // A name within PostgreSQL's 63 bytes; the same text gets the same name in every
    // process, and distinct texts distinct names (a 160-bit hash).
    names.set(sql, `mv_${createHash('sha1').update(sql).digest('hex')}`);
  }
  return sql;
}

/** The statement name of `sql` if it was registered as constant. */
export function constantStatementName(sql: string): string | undefined {
  return names.get(sql);
}

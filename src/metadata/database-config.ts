/**
 * Which metadata database to open, and how a `--db` value names one. Kept apart from
 * database.ts so the CLI can read its options without loading a database driver.
 */
import { InvalidArgumentError } from '../core/errors.js';

export type DatabaseConfig =
  | { readonly kind: 'sqlite'; readonly path: string }
  | {
      readonly kind: 'postgres';
      /** `postgres://user:password@host:port/database` (libpq-style query options allowed). */
      readonly url: string;
      /** Pool size of this process (default 10). */
      readonly maxConnections?: number;
    };

/** True for a PostgreSQL connection URL (`postgres://…` or `postgresql://…`). */
export function isPostgresUrl(text: string): boolean {
  return /^postgres(ql)?:\/\//i.test(text);
}

/**
 * The config for a `--db` value: a PostgreSQL URL, or else a SQLite file path.
 * @throws InvalidArgumentError for an empty value or another URL scheme.
 */
export function databaseConfigFrom(text: string): DatabaseConfig {
  if (isPostgresUrl(text)) return { kind: 'postgres', url: text };
  if (text === '') throw new InvalidArgumentError('the database location is empty');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    throw new InvalidArgumentError(
      `unsupported database URL scheme in '${redactUrl(text)}': expected postgres://user:password@host:port/database`,
    );
  }
  return { kind: 'sqlite', path: text };
}

/** `postgres://user:secret@host/db` → `postgres://user:***@host/db`, for messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@]*@/i, '$1***@');
}

/** A PostgreSQL URL without its password (the form recorded in a registry directory). */
export function withoutPassword(url: string): string {
  const u = new URL(url);
  u.password = '';
  return u.toString();
}

/**
 * True when two PostgreSQL URLs name the same database: host, port (default 5432),
 * database and connection options (e.g. a schema in `options=-c search_path=…`) agree.
 * The user and password may differ: several roles can reach one database.
 */
export function samePostgresDatabase(a: string, b: string): boolean {
  const key = (url: string) => {
    const u = new URL(url);
    const params = [...u.searchParams].sort(([x], [y]) => x.localeCompare(y));
    return JSON.stringify([u.hostname.toLowerCase(), u.port || '5432', u.pathname, params]);
  };
  return key(a) === key(b);
}

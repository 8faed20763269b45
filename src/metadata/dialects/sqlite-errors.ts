/**
 * Typed errors for SQLite's storage failures. better-sqlite3 throws `SqliteError` with
 * SQLite's extended code; a full disk (`SQLITE_FULL`) or a failing one (`SQLITE_IOERR_*`)
 * is the operator's problem to fix, not a bug, so it leaves the metadata layer as an
 * `IoError` (CLI exit code and HTTP status of IO) saying what happened, with the original
 * error as its cause. Other errors (constraints, busy, misuse) pass through unchanged: their
 * callers handle them.
 */
import type { SqliteDatabase, SqliteStatement } from 'kysely';
import { IoError } from '../../core/errors.js';

/** The typed error for `e` when it is a storage failure; otherwise `e` itself. */
export function fromSqliteError(e: unknown): unknown {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return e;
  if (code === 'SQLITE_FULL') {
    return new IoError(
      'the metadata database cannot grow: no space left on the disk (SQLITE_FULL); free some space and retry',
      { sqliteCode: code },
      { cause: e },
    );
  }
  if (code.startsWith('SQLITE_IOERR') || code === 'SQLITE_CANTOPEN') {
    return new IoError(
      `the metadata database could not be read or written (${code}): ${(e as Error).message}`,
      { sqliteCode: code },
      { cause: e },
    );
  }
  return e;
}

function translated<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
  return (...args) => {
    try {
      return fn(...args);
    } catch (e) {
      throw fromSqliteError(e);
    }
  };
}

/**
 * `db` whose statements throw typed storage errors (see fromSqliteError). The wrapper of a
 * statement is made once per statement object `db` returns (the statement cache returns
 * the same object for the same SQL), not on every prepare.
 */
export function withSqliteErrors(db: SqliteDatabase): SqliteDatabase {
  const wrappers = new WeakMap<SqliteStatement, SqliteStatement>();
  const prepare = translated((s: string) => db.prepare(s));
  return {
    close: () => db.close(),
    prepare(sql: string): SqliteStatement {
      const stmt = prepare(sql);
      let wrapped = wrappers.get(stmt);
      if (!wrapped) {
        wrapped = {
          reader: stmt.reader,
          all: translated((p) => stmt.all(p)),
          run: translated((p) => stmt.run(p)),
          iterate: translated((p) => stmt.iterate(p)),
        };
        wrappers.set(stmt, wrapped);
      }
      return wrapped;
    },
  };
}

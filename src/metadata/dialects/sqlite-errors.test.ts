import { describe, expect, it } from 'vitest';
import { IoError } from '../../core/errors.js';
import { fromSqliteError } from './sqlite-errors.js';

const sqliteError = (code: string, message: string) =>
  Object.assign(new Error(message), { code, name: 'SqliteError' });

describe('fromSqliteError', () => {
  it('turns a full disk into an IO error that says so, keeping the cause', () => {
    const cause = sqliteError('SQLITE_FULL', 'database or disk is full');
    const e = fromSqliteError(cause);
    expect(e).toBeInstanceOf(IoError);
    expect((e as IoError).message).toMatch(/no space left on the disk/);
    expect((e as IoError).cause).toBe(cause);
  });

  it('turns failing reads and writes into IO errors naming the SQLite code', () => {
    const e = fromSqliteError(sqliteError('SQLITE_IOERR_SHORT_READ', 'disk I/O error'));
    expect(e).toBeInstanceOf(IoError);
    expect((e as IoError).message).toContain('SQLITE_IOERR_SHORT_READ');
  });

  it('passes other errors through unchanged', () => {
    for (const e of [
      sqliteError('SQLITE_CONSTRAINT_UNIQUE', 'UNIQUE constraint failed'),
      sqliteError('SQLITE_BUSY', 'database is locked'),
      new TypeError('not sqlite'),
      'a string',
    ]) {
      expect(fromSqliteError(e)).toBe(e);
    }
  });
});

import { describe, expect, it } from 'vitest';
import { redactUrl, samePostgresDatabase, withoutPassword } from './database-config.js';

describe('PostgreSQL URLs', () => {
  it('drops the password, keeping user, host, database and options', () => {
    expect(withoutPassword('postgres://mv:s3cret@db:6543/reg?options=-c%20search_path%3Ds1')).toBe(
      'postgres://mv@db:6543/reg?options=-c%20search_path%3Ds1',
    );
    expect(withoutPassword('postgres://db/reg')).toBe('postgres://db/reg');
    expect(redactUrl('postgres://mv:s3cret@db/reg')).toBe('postgres://mv:***@db/reg');
  });

  it('compares host, port, database and options, not the credentials', () => {
    const same = samePostgresDatabase;
    expect(same('postgres://a:x@DB/reg', 'postgresql://b@db:5432/reg')).toBe(true);
    expect(same('postgres://db/reg', 'postgres://db:5433/reg')).toBe(false);
    expect(same('postgres://db/reg', 'postgres://db/other')).toBe(false);
    expect(same('postgres://db/reg', 'postgres://db2/reg')).toBe(false);
    expect(
      same(
        'postgres://db/reg?options=-c search_path=a',
        'postgres://db/reg?options=-c search_path=b',
      ),
    ).toBe(false);
    expect(same('postgres://db/reg?a=1&b=2', 'postgres://db/reg?b=2&a=1')).toBe(true);
  });
});

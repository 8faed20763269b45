import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type FreshDatabase,
  freshDatabase,
  TEST_DIALECTS,
} from '../../../test/support/dialects.js';
import { openDatabase } from '../database.js';
import { authMigration } from './0400-auth.js';
import { capabilityEpochMigration } from './0401-capability-epoch.js';

describe.each(TEST_DIALECTS)('migration 0401-capability-epoch on %s', (dialect) => {
  let fresh: FreshDatabase | undefined;
  afterEach(async () => {
    await fresh?.cleanup();
    fresh = undefined;
  });

  it('gives existing users epoch 0, and new rows default to it', async () => {
    fresh = await freshDatabase(dialect);
    // biome-ignore lint/suspicious/noExplicitAny: tables of migrations before the typed schema
    const before = await openDatabase<any>(fresh.config, [authMigration]);
    await sql`insert into users (name, password_hash, password_salt, password_params, is_admin, created_at)
      values ('olga', 'h', 's', '{}', 0, 1)`.execute(before.db);
    await before.close();
    // biome-ignore lint/suspicious/noExplicitAny: as above
    const after = await openDatabase<any>(fresh.config, [authMigration, capabilityEpochMigration]);
    try {
      await sql`insert into users (name, password_hash, password_salt, password_params, is_admin, created_at)
        values ('piet', 'h', 's', '{}', 0, 2)`.execute(after.db);
      await sql`update users set capability_epoch = capability_epoch + 1 where name = 'piet'`.execute(
        after.db,
      );
      const rows = await after.db
        .selectFrom('users')
        .select(['name', 'capability_epoch'])
        .orderBy('name')
        .execute();
      expect(
        rows.map((r: Record<string, unknown>) => [r.name, Number(r.capability_epoch)]),
      ).toEqual([
        ['olga', 0],
        ['piet', 1],
      ]);
    } finally {
      await after.close();
    }
  });
});

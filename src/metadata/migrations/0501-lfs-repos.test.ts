import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type FreshDatabase,
  freshDatabase,
  TEST_DIALECTS,
} from '../../../test/support/dialects.js';
import { openDatabase } from '../database.js';
import { authMigration } from './0400-auth.js';
import { lfsMigration } from './0500-lfs.js';
import { lfsReposMigration } from './0501-lfs-repos.js';

describe.each(TEST_DIALECTS)('migration 0501-lfs-repos on %s', (dialect) => {
  let fresh: FreshDatabase | undefined;
  afterEach(async () => {
    await fresh?.cleanup();
    fresh = undefined;
  });

  it('gives every existing repository a row, and its creator (a user) MANAGE', async () => {
    fresh = await freshDatabase(dialect);
    // biome-ignore lint/suspicious/noExplicitAny: tables of migrations before the typed schema
    const before = await openDatabase<any>(fresh.config, [authMigration, lfsMigration]);
    await sql`insert into users (name, password_hash, password_salt, password_params, is_admin, created_at)
      values ('olga', 'h', 's', '{}', 0, 1)`.execute(before.db);
    const oid = (c: string) => c.repeat(64);
    // team/a: first object by olga (a user) at 10, a later one by someone else;
    // team/b: only a lock, by an OS user (no grant).
    await sql`insert into lfs_objects (namespace, repo, oid, size, manifest, created_at, created_by)
      values ('team', 'a', ${oid('1')}, 1, ${oid('m')}, 20, 'ed'),
             ('team', 'a', ${oid('2')}, 1, ${oid('m')}, 10, 'olga')`.execute(before.db);
    await sql`insert into lfs_locks (id, namespace, repo, path, owner, locked_at)
      values (${'0'.repeat(32)}, 'team', 'b', 'x.bin', 'svc', 30)`.execute(before.db);
    await before.close();

    // biome-ignore lint/suspicious/noExplicitAny: as above
    const after = await openDatabase<any>(fresh.config, [
      authMigration,
      lfsMigration,
      lfsReposMigration,
    ]);
    try {
      const repos = await after.db
        .selectFrom('lfs_repos')
        .select(['id', 'namespace', 'repo', 'created_at', 'created_by'])
        .orderBy('repo')
        .execute();
      expect(
        repos.map((r: Record<string, unknown>) => ({ ...r, created_at: Number(r.created_at) })),
      ).toEqual([
        { id: repos[0]!.id, namespace: 'team', repo: 'a', created_at: 10, created_by: 'olga' },
        { id: repos[1]!.id, namespace: 'team', repo: 'b', created_at: 30, created_by: 'svc' },
      ]);
      const grants = await after.db
        .selectFrom('permissions')
        .select(['user_name', 'resource_kind', 'resource_id', 'level'])
        .execute();
      expect(
        grants.map((g: Record<string, unknown>) => ({ ...g, resource_id: Number(g.resource_id) })),
      ).toEqual([
        {
          user_name: 'olga',
          resource_kind: 'lfs_repo',
          resource_id: Number(repos[0]!.id),
          level: 'MANAGE',
        },
      ]);
    } finally {
      await after.close();
    }
  });
});

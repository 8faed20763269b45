/**
 * Migration 0501: LFS repositories as resources of the permission model. Until now a
 * repository was only a (namespace, repo) pair on its objects and locks; permissions are
 * kept by integer resource id (migration 0400), so each repository gets a row and an id.
 *
 * Existing repositories (any pair found on an object or a lock) get a row now, created at
 * their first object or lock, by whoever made it; when that actor is a registered user it
 * gets MANAGE, as the creator of a new repository does (permission-service.ts).
 */
import type { Kysely } from 'kysely';
import type { NamedMigration } from '../database.js';
import { addIdColumn } from '../dialects/portable-ddl.js';

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists
async function up(db: Kysely<any>): Promise<void> {
  await addIdColumn(db.schema.createTable('lfs_repos'))
    .addColumn('namespace', 'text', (c) => c.notNull())
    .addColumn('repo', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addUniqueConstraint('lfs_repos_name_unique', ['namespace', 'repo'])
    .execute();

  const first = new Map<string, { namespace: string; repo: string; at: number; by: string }>();
  const seen = (namespace: string, repo: string, at: number, by: string) => {
    const key = `${namespace}/${repo}`;
    const known = first.get(key);
    if (!known || at < known.at) first.set(key, { namespace, repo, at, by });
  };
  const objects = await db
    .selectFrom('lfs_objects')
    .select(['namespace', 'repo', 'created_at', 'created_by'])
    .execute();
  for (const o of objects) seen(o.namespace, o.repo, Number(o.created_at), o.created_by);
  const locks = await db
    .selectFrom('lfs_locks')
    .select(['namespace', 'repo', 'locked_at', 'owner'])
    .execute();
  for (const l of locks) seen(l.namespace, l.repo, Number(l.locked_at), l.owner);

  const users = new Set(
    (await db.selectFrom('users').select('name').execute()).map((u) => u.name as string),
  );
  for (const r of [...first.values()].sort((a, b) => a.at - b.at)) {
    const row = await db
      .insertInto('lfs_repos')
      .values({ namespace: r.namespace, repo: r.repo, created_at: r.at, created_by: r.by })
      .returning('id')
      .executeTakeFirstOrThrow();
    if (users.has(r.by)) {
      await db
        .insertInto('permissions')
        .values({
          user_name: r.by,
          resource_kind: 'lfs_repo',
          resource_id: Number(row.id),
          level: 'MANAGE',
          granted_at: r.at,
        })
        .execute();
    }
  }
}

export const lfsReposMigration: NamedMigration = { name: '0501-lfs-repos', up };

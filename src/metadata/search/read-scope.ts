/**
 * Lists and searches scoped to what one user may READ, as a SQL condition, so a page is
 * filled with readable rows by the query itself (no page comes out short because rows
 * were dropped after it was read). The semantics are PermissionService's
 * (registry/permission-service.ts), for a user who is not an admin (admins are not
 * scoped): the user's level on a resource is the explicit grant for (user, kind, id) if
 * any, else the registry-wide default; every level but NO_PERMISSIONS includes READ. So a
 * resource is readable
 *
 * - when the default includes READ: unless an explicit NO_PERMISSIONS grant hides it
 *   (`NOT EXISTS`), and
 * - when the default is NO_PERMISSIONS: only with an explicit grant above it (`EXISTS`).
 *
 * Either is one probe of the `permissions` primary key (user_name, resource_kind,
 * resource_id) per candidate row, on SQLite and PostgreSQL alike.
 */
import { type RawBuilder, type SqlBool, sql } from 'kysely';

export interface ReadScope {
  /** The user whose READ permission scopes the rows. */
  readonly user: string;
  /** Whether the registry-wide default permission includes READ. */
  readonly defaultReadable: boolean;
}

/** The resource kinds lists are scoped by (permissions.resource_kind). */
export type ScopedKind = 'registered_model' | 'experiment';

/**
 * True for rows whose resource — of `kind`, its id in the column `idColumn` (an alias
 * the query uses, e.g. `m.id`, `e.id`) — `scope.user` may READ.
 */
export function readableBy(
  scope: ReadScope,
  kind: ScopedKind,
  idColumn: string,
): RawBuilder<SqlBool> {
  const grant = sql`select 1 from permissions as p where p.user_name = ${scope.user} and p.resource_kind = ${kind} and p.resource_id = ${sql.ref(idColumn)}`;
  return scope.defaultReadable
    ? sql<SqlBool>`not exists (${grant} and p.level = 'NO_PERMISSIONS')`
    : sql<SqlBool>`exists (${grant} and p.level <> 'NO_PERMISSIONS')`;
}

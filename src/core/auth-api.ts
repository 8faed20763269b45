/**
 * Users, API tokens and permissions (DESIGN §6): the types and the one interface the CLI's
 * `mvault user|token|perm` commands are written against. The registry's AccessControl
 * (registry/access-control.ts) implements it over the metadata database; the SDK's
 * RemoteAccess (client/remote-access.ts) over the server's /api/v1/users, /tokens and
 * /permissions routes.
 *
 * Levels are MLflow's: READ ⊂ EDIT ⊂ MANAGE (each includes the ones before), plus
 * NO_PERMISSIONS, which is a valid explicit grant and default (it hides the resource).
 */
import { InvalidArgumentError } from './errors.js';

export const PERMISSION_LEVELS = ['NO_PERMISSIONS', 'READ', 'EDIT', 'MANAGE'] as const;
export type PermissionLevel = (typeof PERMISSION_LEVELS)[number];

/**
 * What a permission is about: a registered model (by name), an experiment (by id), or a
 * Git LFS repository (by `<namespace>/<repo>`, the path of its endpoint under /lfs/).
 */
export const RESOURCE_KINDS = ['registered_model', 'experiment', 'lfs_repo'] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];

/** True when `have` includes `need` (MANAGE ⊇ EDIT ⊇ READ ⊇ NO_PERMISSIONS). */
export function levelIncludes(have: PermissionLevel, need: PermissionLevel): boolean {
  return PERMISSION_LEVELS.indexOf(have) >= PERMISSION_LEVELS.indexOf(need);
}

/** @throws InvalidArgumentError naming the allowed levels. */
export function checkPermissionLevel(value: unknown): PermissionLevel {
  if (typeof value === 'string' && (PERMISSION_LEVELS as readonly string[]).includes(value)) {
    return value as PermissionLevel;
  }
  throw new InvalidArgumentError(
    `invalid permission '${String(value).slice(0, 80)}': use ${PERMISSION_LEVELS.join(', ')}`,
    { value: String(value).slice(0, 80) },
  );
}

/** @throws InvalidArgumentError naming the allowed kinds. */
export function checkResourceKind(value: unknown): ResourceKind {
  if (typeof value === 'string' && (RESOURCE_KINDS as readonly string[]).includes(value)) {
    return value as ResourceKind;
  }
  throw new InvalidArgumentError(
    `invalid resource kind '${String(value).slice(0, 80)}': use ${RESOURCE_KINDS.join(', ')}`,
    { value: String(value).slice(0, 80) },
  );
}

export interface User {
  readonly name: string;
  readonly admin: boolean;
  readonly createdAt: number;
  /** When the user was disabled (cannot sign in, tokens stop working); null if active. */
  readonly disabledAt: number | null;
}

export interface ApiToken {
  /** The public part shown in listings and used to revoke (`mvt_` + 8 hex). */
  readonly id: string;
  readonly name: string;
  readonly user: string;
  readonly createdAt: number;
  readonly expiresAt: number | null;
  readonly lastUsedAt: number | null;
  readonly revokedAt: number | null;
}

/** A token as created: `token` is the secret, shown this once and never stored. */
export interface CreatedToken extends ApiToken {
  readonly token: string;
}

/** The answer of revokeCapabilities: capabilities of `user` minted before `revokedAt` are dead. */
export interface CapabilitiesRevoked {
  readonly user: string;
  /** Milliseconds since the epoch. */
  readonly revokedAt: number;
}

export interface Permission {
  readonly user: string;
  readonly kind: ResourceKind;
  /** The model name, the experiment id, or the LFS repository's `<namespace>/<repo>`. */
  readonly resource: string;
  readonly level: PermissionLevel;
}

export interface CreateUserInput {
  readonly name: string;
  readonly password: string;
  readonly admin?: boolean;
}

export interface CreateTokenInput {
  readonly name: string;
  /** The token's owner; only an admin names someone else. Default: the caller. */
  readonly user?: string;
  /** Milliseconds from now until the token stops working; omitted: never expires. */
  readonly expiresInMs?: number;
}

/** The operations of `mvault user|token|perm`, local or remote. */
export interface AccessAdminApi {
  createUser(input: CreateUserInput): Promise<User>;
  listUsers(): Promise<User[]>;
  /** Disables (or re-enables) a user. */
  setUserDisabled(name: string, disabled: boolean): Promise<User>;
  setPassword(name: string, password: string): Promise<void>;
  createToken(input: CreateTokenInput): Promise<CreatedToken>;
  /** The caller's tokens (an admin may name a user). */
  listTokens(user?: string): Promise<ApiToken[]>;
  revokeToken(id: string): Promise<ApiToken>;
  /**
   * Revokes every signed request capability (signed URLs, LFS action headers) of `user`
   * (default: the caller; an admin may name anyone) minted until now. Tokens and the
   * password keep working.
   */
  revokeCapabilities(user?: string): Promise<CapabilitiesRevoked>;
  grant(permission: Permission): Promise<Permission>;
  /** Removes an explicit grant; the default applies again. True if there was one. */
  revoke(user: string, kind: ResourceKind, resource: string): Promise<boolean>;
  listPermissions(query: {
    kind?: ResourceKind;
    resource?: string;
    user?: string;
  }): Promise<Permission[]>;
  /** The level of users on resources they have no grant for. */
  defaultPermission(): Promise<PermissionLevel>;
  setDefaultPermission(level: PermissionLevel): Promise<PermissionLevel>;
}

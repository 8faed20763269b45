/**
 * The AccessAdminApi over a server's /api/v1/users, /tokens and /permissions routes
 * (docs/api.md): what `mvault user|token|perm --registry URL` uses.
 */
import type {
  AccessAdminApi,
  ApiToken,
  CapabilitiesRevoked,
  CreatedToken,
  Permission,
  PermissionLevel,
  ResourceKind,
  User,
} from '../core/auth-api.js';
import { InvalidArgumentError } from '../core/errors.js';
import type { HttpClient } from './http-client.js';

const enc = encodeURIComponent;

function resourcePath(kind: ResourceKind, resource: string): string {
  if (kind === 'lfs_repo') {
    // `<namespace>/<repo>`: two path segments (a resource without '/' gets the server's 404).
    return `/api/v1/lfs/${resource.split('/').map(enc).join('/')}/permissions`;
  }
  return kind === 'registered_model'
    ? `/api/v1/models/${enc(resource)}/permissions`
    : `/api/v1/experiments/${enc(resource)}/permissions`;
}

export class RemoteAccess implements AccessAdminApi {
  constructor(private readonly http: HttpClient) {}

  createUser(input: { name: string; password: string; admin?: boolean }): Promise<User> {
    return this.http.json('POST', '/api/v1/users', { json: input });
  }

  async listUsers(): Promise<User[]> {
    return (await this.http.json<{ users: User[] }>('GET', '/api/v1/users')).users;
  }

  setUserDisabled(name: string, disabled: boolean): Promise<User> {
    return this.http.json('PATCH', `/api/v1/users/${enc(name)}`, { json: { disabled } });
  }

  async setPassword(name: string, password: string): Promise<void> {
    await this.http.request('PUT', `/api/v1/users/${enc(name)}/password`, { json: { password } });
  }

  createToken(input: { name: string; user?: string; expiresInMs?: number }): Promise<CreatedToken> {
    return this.http.json('POST', '/api/v1/tokens', { json: input });
  }

  async listTokens(user?: string): Promise<ApiToken[]> {
    const page = await this.http.json<{ tokens: ApiToken[] }>('GET', '/api/v1/tokens', {
      query: { user },
    });
    return page.tokens;
  }

  revokeToken(id: string): Promise<ApiToken> {
    return this.http.json('DELETE', `/api/v1/tokens/${enc(id)}`);
  }

  async revokeCapabilities(user?: string): Promise<CapabilitiesRevoked> {
    // The route names the user: without one, the signed-in caller's.
    const name =
      user ??
      (await this.http.json<{ user: { name: string } | null }>('GET', '/api/v1/whoami')).user?.name;
    if (name === undefined) {
      throw new InvalidArgumentError('not signed in: name the user with --user');
    }
    return this.http.json('DELETE', `/api/v1/users/${enc(name)}/capabilities`);
  }

  grant(p: Permission): Promise<Permission> {
    return this.http.json('PUT', `${resourcePath(p.kind, p.resource)}/${enc(p.user)}`, {
      json: { level: p.level },
    });
  }

  async revoke(user: string, kind: ResourceKind, resource: string): Promise<boolean> {
    const r = await this.http.json<{ deleted: boolean }>(
      'DELETE',
      `${resourcePath(kind, resource)}/${enc(user)}`,
    );
    return r.deleted;
  }

  async listPermissions(query: {
    kind?: ResourceKind;
    resource?: string;
    user?: string;
  }): Promise<Permission[]> {
    const path =
      query.kind !== undefined && query.resource !== undefined
        ? resourcePath(query.kind, query.resource)
        : '/api/v1/permissions';
    const r = await this.http.json<{ permissions: Permission[] }>('GET', path, {
      query: { user: query.user },
    });
    return query.user === undefined
      ? r.permissions
      : r.permissions.filter((p) => p.user === query.user);
  }

  async defaultPermission(): Promise<PermissionLevel> {
    return (await this.http.json<{ default: PermissionLevel }>('GET', '/api/v1/permissions'))
      .default;
  }

  async setDefaultPermission(level: PermissionLevel): Promise<PermissionLevel> {
    return (
      await this.http.json<{ level: PermissionLevel }>('PUT', '/api/v1/permissions/default', {
        json: { level },
      })
    ).level;
  }
}

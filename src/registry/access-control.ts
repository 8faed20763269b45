/**
 * Authentication and permissions of one registry: the user service (users, tokens,
 * credential checks) and the permission service (grants, the default, effective levels),
 * over the registry's database and audit trail. `admin(actor)` is the AccessAdminApi the
 * embedded CLI uses (whoever can open the registry directory administers it); the server
 * calls the services with the authenticated caller and checks who may do what first.
 */
import type { AccessAdminApi, ApiToken, CreateTokenInput, ResourceKind } from '../core/auth-api.js';
import { InvalidArgumentError, PermissionDeniedError } from '../core/errors.js';
import type { AuditService } from './audit-service.js';
import { PermissionService } from './permission-service.js';
import type { RegistryContext } from './registry-context.js';
import { type Principal, UserService } from './user-service.js';

export class AccessControl {
  readonly users: UserService;
  readonly permissions: PermissionService;

  constructor(
    private readonly ctx: RegistryContext,
    audit: AuditService,
  ) {
    this.users = new UserService(ctx, audit);
    this.permissions = new PermissionService(ctx, audit);
  }

  /** The audit actor: the signed-in user, else the registry's default actor. */
  actor(name: string | undefined): string {
    return name ?? this.ctx.defaultActor;
  }

  /**
   * The token `caller` may act on: its own, or anyone's for an admin.
   * @throws NotFoundError (also for someone else's token: ids are not disclosed).
   */
  async ownToken(caller: Principal, id: string): Promise<ApiToken> {
    const token = await this.users.getToken(id);
    if (!caller.admin && token.user !== caller.name) {
      // The same answer as for a token that does not exist.
      return this.users.getToken('mvt_--------');
    }
    return token;
  }

  /** The owner of a token `caller` creates: itself, or anyone for an admin. */
  tokenOwner(caller: Principal, input: CreateTokenInput): string {
    const user = input.user ?? caller.name;
    if (user !== caller.name && !caller.admin) {
      throw new PermissionDeniedError('only an admin creates tokens for other users', { user });
    }
    return user;
  }

  /** Full administration acting as `actor` (the embedded CLI). */
  admin(actor: string): AccessAdminApi {
    const { users, permissions } = this;
    return {
      createUser: (input) => users.create(input, actor),
      listUsers: () => users.list(),
      setUserDisabled: (name, disabled) => users.setDisabled(name, disabled, actor),
      setPassword: (name, password) => users.setPassword(name, password, actor),
      createToken: (input) => {
        if (input.user === undefined) {
          throw new InvalidArgumentError('name the token owner with --user on a local registry');
        }
        return users.createToken({ ...input, user: input.user }, actor);
      },
      listTokens: (user) => users.listTokens(user),
      revokeToken: (id) => users.revokeToken(id, actor),
      revokeCapabilities: (user) => {
        if (user === undefined) {
          throw new InvalidArgumentError('name the user with --user on a local registry');
        }
        return users.revokeCapabilities(user, actor);
      },
      grant: (permission) => permissions.grant(permission, actor),
      revoke: (user: string, kind: ResourceKind, resource: string) =>
        permissions.revoke(user, kind, resource, actor),
      listPermissions: (query) => permissions.list(query),
      defaultPermission: () => permissions.defaultLevel(),
      setDefaultPermission: (level) => permissions.setDefaultLevel(level, actor),
    };
  }
}

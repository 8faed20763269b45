/**
 * Users and API tokens: creating, listing, disabling, changing passwords, issuing and
 * revoking tokens, and checking credentials (the server's authentication calls
 * `authenticatePassword` / `authenticateToken`). Every change appends an audit event in
 * its own write transaction: user.created, user.disabled, user.enabled,
 * user.password_changed, user.capabilities_revoked, token.created, token.revoked (subject
 * `user:<name>`).
 *
 * Capabilities: each user has a capability epoch (migration 0401) that signed request
 * capabilities record; `revokeCapabilities`, `setPassword` and disabling raise it, which
 * kills every capability minted before (user.capabilities_revoked is audited for the first).
 *
 * Tokens: `mvt_` + 32 random bytes in base64url. Only their SHA-256 is stored; the first
 * 12 characters (`mvt_` + 8) are the public id shown in listings. A token works until it
 * expires, is revoked, or its user is disabled. `last_used_at` is written at most once a
 * minute per token, so authenticating does not turn every read into a write.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { ApiToken, CreatedToken, CreateTokenInput, User } from '../core/auth-api.js';
import { AlreadyExistsError, InvalidArgumentError, NotFoundError } from '../core/errors.js';
import { validateUserName } from '../core/names.js';
import type { ApiTokensTable, UsersTable } from '../metadata/auth-schema.js';
import { prepareQuery } from '../metadata/prepared-query.js';
import type { RegistryDB } from '../metadata/schema.js';
import type { AuditService } from './audit-service.js';
import { checkCount, checkText } from './input-checks.js';
import { checkPassword, hashPassword, verifyPassword } from './password-hash.js';
import type { RegistryContext } from './registry-context.js';

/** Who a request acts as once authenticated. */
export interface Principal {
  readonly name: string;
  readonly admin: boolean;
  /**
   * What a capability minted for this request is bound to (set by authentication): see
   * CapabilityBinding. Absent for principals made up without credentials.
   */
  readonly binding?: CapabilityBinding;
}

/**
 * The credential a signed request capability (server/auth/request-signer.ts) was minted
 * with, checked again whenever the capability is used (`capabilityPrincipal`): the API
 * token (none for a password), and the user's capability epoch at authentication. Revoking
 * or expiring the token kills the capabilities it minted; raising the epoch
 * (`revokeCapabilities`, a password change, disabling the user) kills all of the user's.
 */
export interface CapabilityBinding {
  /** The minting token's public id (`mvt_` + 8); absent when minted with a password. */
  readonly token?: string;
  readonly epoch: number;
}

export const TOKEN_PREFIX = 'mvt_';
const TOKEN_PATTERN = /^mvt_[A-Za-z0-9_-]{43}$/;
const TOKEN_ID_PATTERN = /^mvt_[A-Za-z0-9_-]{8}$/;
const LAST_USED_EVERY_MS = 60_000;
const MAX_TOKEN_NAME = 200;

/** True for a string shaped like one of our tokens (so Basic `user:token` can be told apart). */
export function looksLikeToken(secret: string): boolean {
  return TOKEN_PATTERN.test(secret);
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function toUser(row: Selectable<UsersTable>): User {
  return {
    name: row.name,
    admin: Number(row.is_admin) === 1,
    createdAt: Number(row.created_at),
    disabledAt: row.disabled_at === null ? null : Number(row.disabled_at),
  };
}

function toToken(row: Selectable<ApiTokensTable>): ApiToken {
  const n = (v: number | null) => (v === null ? null : Number(v));
  return {
    id: row.id,
    name: row.name,
    user: row.user_name,
    createdAt: Number(row.created_at),
    expiresAt: n(row.expires_at),
    lastUsedAt: n(row.last_used_at),
    revokedAt: n(row.revoked_at),
  };
}

const VERIFIED_TTL_MS = 5 * 60_000;
const VERIFIED_CACHE_SIZE = 10_000;

/** One user's name, if any user exists (UserService.hasUsers). */
const ANY_USER = prepareQuery((db: Kysely<RegistryDB>, _p: Record<string, never>) =>
  db.selectFrom('users').select('name').limit(1),
);

export class UserService {
  /** SHA-256 of (stored hash, salt, password) of recently verified passwords → expiry. */
  private readonly verified = new Map<string, number>();

  constructor(
    private readonly ctx: RegistryContext,
    private readonly audit: AuditService,
  ) {}

  private get db(): Kysely<RegistryDB> {
    return this.ctx.database.db;
  }

  /**
   * True once any user exists: the server then requires authentication. A server without
   * users asks on every request (so a user added beside it turns authentication on at
   * once), hence a prepared query (compiled once; named on PostgreSQL), run directly where
   * the dialect can (Database.reads).
   */
  async hasUsers(): Promise<boolean> {
    const rows = await this.ctx.database.reads((db) => ANY_USER.execute(db, {}));
    return rows.length > 0;
  }

  /** @throws AlreadyExistsError, InvalidArgumentError (name, password). */
  async create(
    input: { name: unknown; password: unknown; admin?: unknown },
    actor: string,
  ): Promise<User> {
    const name = validateUserName(input.name);
    const password = checkPassword(input.password);
    if (input.admin !== undefined && typeof input.admin !== 'boolean') {
      throw new InvalidArgumentError('admin must be a boolean');
    }
    const hashed = await hashPassword(password);
    return this.ctx.database.writeTransaction(async (trx) => {
      const existing = await trx
        .selectFrom('users')
        .select('name')
        .where('name', '=', name)
        .executeTakeFirst();
      if (existing) throw new AlreadyExistsError(`user '${name}' already exists`, { user: name });
      const now = this.ctx.now();
      const row = {
        name,
        password_hash: hashed.hash,
        password_salt: hashed.salt,
        password_params: JSON.stringify(hashed.params),
        is_admin: input.admin === true ? 1 : 0,
        created_at: now,
        disabled_at: null,
        capability_epoch: 0,
      };
      await trx.insertInto('users').values(row).execute();
      await this.audit.append(trx, {
        actor,
        action: 'user.created',
        subject: `user:${name}`,
        data: { admin: input.admin === true },
        time: now,
      });
      return toUser(row);
    });
  }

  async list(): Promise<User[]> {
    const rows = await this.db.selectFrom('users').selectAll().orderBy('name').execute();
    return rows.map(toUser);
  }

  /** @throws NotFoundError */
  async get(name: string): Promise<User> {
    return toUser(await this.row(this.db, name));
  }

  private async row(db: Kysely<RegistryDB>, name: unknown): Promise<Selectable<UsersTable>> {
    const valid = validateUserName(name);
    const row = await db
      .selectFrom('users')
      .selectAll()
      .where('name', '=', valid)
      .executeTakeFirst();
    if (!row) throw new NotFoundError(`user '${valid}' not found`, { user: valid });
    return row;
  }

  /** Disables or re-enables a user. Idempotent. @throws NotFoundError */
  async setDisabled(name: string, disabled: boolean, actor: string): Promise<User> {
    return this.ctx.database.writeTransaction(async (trx) => {
      const row = await this.row(trx, name);
      if ((row.disabled_at !== null) === disabled) return toUser(row);
      const now = this.ctx.now();
      await trx
        .updateTable('users')
        .set((eb) => ({
          disabled_at: disabled ? now : null,
          // Re-enabling must not revive capabilities minted before the user was disabled.
          ...(disabled ? { capability_epoch: eb('capability_epoch', '+', 1) } : {}),
        }))
        .where('name', '=', row.name)
        .execute();
      await this.audit.append(trx, {
        actor,
        action: disabled ? 'user.disabled' : 'user.enabled',
        subject: `user:${row.name}`,
        data: {},
        time: now,
      });
      return toUser({ ...row, disabled_at: disabled ? now : null });
    });
  }

  /** @throws NotFoundError, InvalidArgumentError (password rules). */
  async setPassword(name: string, password: unknown, actor: string): Promise<void> {
    const hashed = await hashPassword(checkPassword(password));
    await this.ctx.database.writeTransaction(async (trx) => {
      const row = await this.row(trx, name);
      const now = this.ctx.now();
      await trx
        .updateTable('users')
        .set((eb) => ({
          password_hash: hashed.hash,
          password_salt: hashed.salt,
          password_params: JSON.stringify(hashed.params),
          // Whoever knew the old password may have minted capabilities with it.
          capability_epoch: eb('capability_epoch', '+', 1),
        }))
        .where('name', '=', row.name)
        .execute();
      await this.audit.append(trx, {
        actor,
        action: 'user.password_changed',
        subject: `user:${row.name}`,
        data: {},
        time: now,
      });
    });
  }

  /**
   * Revokes every signed request capability of `name` minted until now (signed URLs, LFS
   * action headers) by raising the user's capability epoch; tokens and the password keep
   * working, and capabilities minted afterwards are valid. Each call revokes what was
   * minted since the last, and is audited.
   * @throws NotFoundError
   */
  async revokeCapabilities(
    name: string,
    actor: string,
  ): Promise<{ user: string; revokedAt: number }> {
    return this.ctx.database.writeTransaction(async (trx) => {
      const row = await this.row(trx, name);
      const now = this.ctx.now();
      await trx
        .updateTable('users')
        .set((eb) => ({ capability_epoch: eb('capability_epoch', '+', 1) }))
        .where('name', '=', row.name)
        .execute();
      await this.audit.append(trx, {
        actor,
        action: 'user.capabilities_revoked',
        subject: `user:${row.name}`,
        data: {},
        time: now,
      });
      return { user: row.name, revokedAt: now };
    });
  }

  /**
   * The principal whose name and password these are, or undefined (unknown user, wrong
   * password, disabled user — indistinguishable to the caller).
   */
  async authenticatePassword(name: string, password: string): Promise<Principal | undefined> {
    const row = await this.db
      .selectFrom('users')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row || row.disabled_at !== null) return undefined;
    const principal: Principal = {
      name: row.name,
      admin: Number(row.is_admin) === 1,
      binding: { epoch: Number(row.capability_epoch) },
    };
    // MLflow clients send Basic credentials with every request: remember a successful check
    // for a while instead of paying scrypt each time. The key covers the stored hash, so a
    // password change invalidates it; the disabled check above runs every time.
    const key = sha256(`${row.password_hash}\0${row.password_salt}\0${password}`);
    const now = Date.now();
    const until = this.verified.get(key);
    if (until !== undefined && until > now) return principal;
    const ok = await verifyPassword(password, {
      hash: row.password_hash,
      salt: row.password_salt,
      params: row.password_params,
    });
    if (!ok) return undefined;
    if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.clear();
    this.verified.set(key, now + VERIFIED_TTL_MS);
    return principal;
  }

  /**
   * The principal a signed request capability acts as, or undefined when it no longer
   * holds: the user is unknown or disabled, the user's capability epoch moved on, or the
   * token that minted it is revoked, expired or not the user's. One query on primary keys
   * (users.name, api_tokens.id) on every use, so a revocation holds at once on every
   * replica sharing the database.
   */
  async capabilityPrincipal(
    user: string,
    binding: CapabilityBinding,
  ): Promise<Principal | undefined> {
    const { token } = binding;
    const row = await this.db
      .selectFrom('users')
      .leftJoin('api_tokens', (j) =>
        j
          .onRef('api_tokens.user_name', '=', 'users.name')
          // No token (minted with a password): join nothing.
          .on('api_tokens.id', '=', token ?? ''),
      )
      .select([
        'users.name',
        'users.is_admin',
        'users.disabled_at',
        'users.capability_epoch',
        'api_tokens.id as token_id',
        'api_tokens.revoked_at',
        'api_tokens.expires_at',
      ])
      .where('users.name', '=', user)
      .executeTakeFirst();
    if (!row || row.disabled_at !== null) return undefined;
    if (Number(row.capability_epoch) !== binding.epoch) return undefined;
    if (token !== undefined) {
      if (row.token_id === null || row.revoked_at !== null) return undefined;
      if (row.expires_at !== null && Number(row.expires_at) <= this.ctx.now()) return undefined;
    }
    return { name: row.name, admin: Number(row.is_admin) === 1, binding };
  }

  /** The principal a live token belongs to, or undefined. */
  async authenticateToken(secret: string): Promise<Principal | undefined> {
    if (!looksLikeToken(secret)) return undefined;
    const row = await this.db
      .selectFrom('api_tokens')
      .innerJoin('users', 'users.name', 'api_tokens.user_name')
      .select([
        'api_tokens.id',
        'api_tokens.expires_at',
        'api_tokens.revoked_at',
        'api_tokens.last_used_at',
        'users.name',
        'users.is_admin',
        'users.disabled_at',
        'users.capability_epoch',
      ])
      .where('api_tokens.secret_sha256', '=', sha256(secret))
      .executeTakeFirst();
    const now = this.ctx.now();
    if (!row || row.revoked_at !== null || row.disabled_at !== null) return undefined;
    if (row.expires_at !== null && Number(row.expires_at) <= now) return undefined;
    if (row.last_used_at === null || now - Number(row.last_used_at) >= LAST_USED_EVERY_MS) {
      await this.ctx.database.writeTransaction(
        (trx) =>
          trx
            .updateTable('api_tokens')
            .set({ last_used_at: now })
            .where('id', '=', row.id)
            .execute(),
        { durable: false },
      );
    }
    return {
      name: row.name,
      admin: Number(row.is_admin) === 1,
      binding: { token: row.id, epoch: Number(row.capability_epoch) },
    };
  }

  /** Issues a token for `input.user`. The secret is in the result only. */
  async createToken(
    input: CreateTokenInput & { user: string },
    actor: string,
  ): Promise<CreatedToken> {
    const name = checkText(input.name, 'token name', MAX_TOKEN_NAME).trim();
    if (name === '') throw new InvalidArgumentError('token name must not be empty');
    if (input.expiresInMs !== undefined) {
      checkCount(input.expiresInMs, 'expiresInMs');
      if (input.expiresInMs === 0) throw new InvalidArgumentError('expiresInMs must be positive');
    }
    return this.ctx.database.writeTransaction(async (trx) => {
      const owner = await this.row(trx, input.user);
      const now = this.ctx.now();
      for (;;) {
        const secret = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
        const id = secret.slice(0, TOKEN_PREFIX.length + 8);
        const taken = await trx
          .selectFrom('api_tokens')
          .select('id')
          .where('id', '=', id)
          .executeTakeFirst();
        if (taken) continue; // 48 random bits: practically never
        const row = {
          id,
          secret_sha256: sha256(secret),
          name,
          user_name: owner.name,
          created_at: now,
          expires_at: input.expiresInMs === undefined ? null : now + input.expiresInMs,
          last_used_at: null,
          revoked_at: null,
        };
        await trx.insertInto('api_tokens').values(row).execute();
        await this.audit.append(trx, {
          actor,
          action: 'token.created',
          subject: `user:${owner.name}`,
          data: { token: id, name, expiresAt: row.expires_at },
          time: now,
        });
        return { ...toToken(row), token: secret };
      }
    });
  }

  /** Tokens of `user` (every user's when undefined), newest first. */
  async listTokens(user?: string): Promise<ApiToken[]> {
    let q = this.db.selectFrom('api_tokens').selectAll();
    if (user !== undefined) q = q.where('user_name', '=', validateUserName(user));
    const rows = await q.orderBy('created_at', 'desc').orderBy('id').execute();
    return rows.map(toToken);
  }

  /** @throws NotFoundError */
  async getToken(id: string): Promise<ApiToken> {
    if (typeof id !== 'string' || !TOKEN_ID_PATTERN.test(id)) {
      throw new InvalidArgumentError(`invalid token id '${String(id).slice(0, 40)}'`);
    }
    const row = await this.db
      .selectFrom('api_tokens')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) throw new NotFoundError(`token '${id}' not found`, { token: id });
    return toToken(row);
  }

  /** Revokes a token; idempotent. @throws NotFoundError */
  async revokeToken(id: string, actor: string): Promise<ApiToken> {
    const token = await this.getToken(id);
    if (token.revokedAt !== null) return token;
    return this.ctx.database.writeTransaction(async (trx) => {
      const now = this.ctx.now();
      await trx
        .updateTable('api_tokens')
        .set({ revoked_at: now })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .execute();
      await this.audit.append(trx, {
        actor,
        action: 'token.revoked',
        subject: `user:${token.user}`,
        data: { token: id, name: token.name },
        time: now,
      });
      return { ...token, revokedAt: now };
    });
  }
}

/**
 * Users, API tokens and permissions (docs/security.md). Users and registry-wide settings
 * are admin-only; anyone signed in manages their own tokens and password; whoever has
 * MANAGE on a model, experiment or LFS repository manages its grants. With authentication off the server
 * is open, and these routes act as the registry's default actor (with admin rights).
 */
import type { FastifyRequest } from 'fastify';
import { PERMISSION_LEVELS, RESOURCE_KINDS, type ResourceKind } from '../../../core/auth-api.js';
import { PermissionDeniedError } from '../../../core/errors.js';
import type { Principal } from '../../../registry/user-service.js';
import {
  field,
  onExperiment,
  onLfsRepo,
  onModel,
  type ResourceRule,
} from '../../auth/access-rule.js';
import type { App, RouteContext } from '../../context.js';
import { S } from '../../schema.js';
import { nameParam, responses } from './common.js';

const tags = ['access'];
const millis = S.integer({ description: 'milliseconds since the epoch' });
const level = S.enum([...PERMISSION_LEVELS]);
const userName = S.string({ minLength: 1, maxLength: 255 });

const User = S.object({
  name: S.string(),
  admin: S.boolean(),
  createdAt: millis,
  disabledAt: S.nullable(millis),
});
const tokenFields = {
  id: S.string({ description: 'public id: mvt_ + 8 characters' }),
  name: S.string(),
  user: S.string(),
  createdAt: millis,
  expiresAt: S.nullable(millis),
  lastUsedAt: S.nullable(millis),
  revokedAt: S.nullable(millis),
};
const Token = S.object(tokenFields);
const CreatedToken = S.object({
  ...tokenFields,
  token: S.string({ description: 'the secret: shown once, never again' }),
});
const Permission = S.object({
  user: S.string(),
  kind: S.enum([...RESOURCE_KINDS]),
  resource: S.string({ description: 'model name, experiment id, or LFS <namespace>/<repo>' }),
  level,
});
const lfsSegment = S.string({ minLength: 1, maxLength: 100 });

export function accessRoutes(app: App, ctx: RouteContext): void {
  const { access } = ctx;
  /** The caller; with authentication off, the server is open: an admin. */
  const caller = (req: FastifyRequest): Principal =>
    ctx.auth.principal(req) ?? { name: access.actor(undefined), admin: true };
  const actor = (req: FastifyRequest) => access.actor(ctx.actor(req));

  app.get(
    '/api/v1/whoami',
    {
      config: { access: 'public' },
      schema: {
        tags,
        summary: 'The signed-in user (null when none) and whether the server requires sign-in',
        response: responses({
          200: S.object({ user: S.nullable(User), authRequired: S.boolean() }),
        }),
      },
    },
    async (req) => {
      const principal = ctx.auth.principal(req);
      return {
        user: principal ? await access.users.get(principal.name) : null,
        authRequired: await ctx.auth.required(),
      };
    },
  );

  app.get(
    '/api/v1/users',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'List users (admin)',
        response: responses({ 200: S.object({ users: S.array(User) }) }),
      },
    },
    async () => ({ users: await access.users.list() }),
  );

  app.post(
    '/api/v1/users',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'Create a user (admin); the first user of a registry turns authentication on',
        body: S.object({
          name: userName,
          password: S.string({ minLength: 1, maxLength: 1024 }),
          admin: S.optional(S.boolean()),
        }),
        response: responses({ 201: User }),
      },
    },
    async (req, reply) => reply.status(201).send(await access.users.create(req.body, actor(req))),
  );

  app.patch(
    '/api/v1/users/:name',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'Disable or re-enable a user (admin)',
        params: S.object({ name: userName }),
        body: S.object({ disabled: S.boolean() }),
        response: responses({ 200: User }),
      },
    },
    async (req) => access.users.setDisabled(req.params.name, req.body.disabled, actor(req)),
  );

  app.put(
    '/api/v1/users/:name/password',
    {
      config: { access: 'user' },
      schema: {
        tags,
        summary: "Set a user's password (the user itself, or an admin)",
        params: S.object({ name: userName }),
        body: S.object({ password: S.string({ minLength: 1, maxLength: 1024 }) }),
        response: responses({ 204: S.unknown({ description: 'no content' }) }),
      },
    },
    async (req, reply) => {
      const who = caller(req);
      if (!who.admin && who.name !== req.params.name) {
        throw new PermissionDeniedError("only an admin sets another user's password");
      }
      await access.users.setPassword(req.params.name, req.body.password, actor(req));
      return reply.status(204).send();
    },
  );

  app.delete(
    '/api/v1/users/:name/capabilities',
    {
      config: { access: 'user' },
      schema: {
        tags,
        summary:
          'Revoke every signed URL and LFS action header of a user minted until now (the user itself, or an admin)',
        description:
          "Raises the user's capability epoch: capabilities minted before this call are refused from now on, on every replica; tokens and the password keep working. Audited as `user.capabilities_revoked`.",
        params: S.object({ name: userName }),
        response: responses({
          200: S.object({ user: S.string(), revokedAt: millis }),
        }),
      },
    },
    async (req) => {
      const who = caller(req);
      if (!who.admin && who.name !== req.params.name) {
        throw new PermissionDeniedError("only an admin revokes another user's capabilities");
      }
      return access.users.revokeCapabilities(req.params.name, actor(req));
    },
  );

  app.post(
    '/api/v1/tokens',
    {
      config: { access: 'user' },
      schema: {
        tags,
        summary: 'Create an API token (the secret is in this answer only)',
        body: S.object({
          name: S.string({ minLength: 1, maxLength: 200 }),
          user: S.optional(userName),
          expiresInMs: S.optional(S.integer({ minimum: 1 })),
        }),
        response: responses({ 201: CreatedToken }),
      },
    },
    async (req, reply) => {
      const user = access.tokenOwner(caller(req), req.body);
      const token = await access.users.createToken({ ...req.body, user }, actor(req));
      return reply.status(201).send(token);
    },
  );

  app.get(
    '/api/v1/tokens',
    {
      config: { access: 'user' },
      schema: {
        tags,
        summary: "List tokens: the caller's own; an admin may name a user or omit it for all",
        querystring: S.object({ user: S.optional(userName) }),
        response: responses({ 200: S.object({ tokens: S.array(Token) }) }),
      },
    },
    async (req) => {
      const who = caller(req);
      const user = who.admin ? req.query.user : who.name;
      if (!who.admin && req.query.user !== undefined && req.query.user !== who.name) {
        throw new PermissionDeniedError("only an admin lists another user's tokens");
      }
      return { tokens: await access.users.listTokens(user) };
    },
  );

  app.delete(
    '/api/v1/tokens/:id',
    {
      config: { access: 'user' },
      schema: {
        tags,
        summary: 'Revoke a token (idempotent): its owner or an admin',
        params: S.object({ id: S.string({ minLength: 1, maxLength: 64 }) }),
        response: responses({ 200: Token }),
      },
    },
    async (req) => {
      await access.ownToken(caller(req), req.params.id);
      return access.users.revokeToken(req.params.id, actor(req));
    },
  );

  app.get(
    '/api/v1/permissions',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'List explicit grants (admin), optionally of one user',
        querystring: S.object({ user: S.optional(userName) }),
        response: responses({
          200: S.object({ permissions: S.array(Permission), default: level }),
        }),
      },
    },
    async (req) => ({
      permissions: await access.permissions.list(
        req.query.user !== undefined ? { user: req.query.user } : {},
      ),
      default: await access.permissions.defaultLevel(),
    }),
  );

  app.put(
    '/api/v1/permissions/default',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'Set the level of users on resources they have no grant for (admin)',
        body: S.object({ level }),
        response: responses({ 200: S.object({ level }) }),
      },
    },
    async (req) => ({
      level: await access.permissions.setDefaultLevel(req.body.level, actor(req)),
    }),
  );

  // Grants on one resource: whoever has MANAGE on it (and admins).
  const lfsName = (req: FastifyRequest) => `${field(req, 'namespace')}/${field(req, 'repo')}`;
  const resources: readonly {
    readonly kind: ResourceKind;
    readonly path: string;
    /** The path parameters naming the resource. */
    readonly params: Record<string, ReturnType<typeof S.string>>;
    readonly resourceOf: (req: FastifyRequest) => string;
    readonly rule: ResourceRule;
    readonly what: string;
  }[] = [
    {
      kind: 'registered_model',
      path: '/api/v1/models/:name/permissions',
      params: { name: nameParam },
      resourceOf: (req) => field(req, 'name') as string,
      rule: onModel('MANAGE', (req) => field(req, 'name')),
      what: 'model',
    },
    {
      kind: 'experiment',
      path: '/api/v1/experiments/:id/permissions',
      params: { id: S.string({ pattern: '^[0-9]{1,15}$' }) },
      resourceOf: (req) => field(req, 'id') as string,
      rule: onExperiment('MANAGE', (req) => {
        const id = field(req, 'id');
        return id === undefined ? undefined : { kind: 'experiment', id };
      }),
      what: 'experiment',
    },
    {
      kind: 'lfs_repo',
      path: '/api/v1/lfs/:namespace/:repo/permissions',
      params: { namespace: lfsSegment, repo: lfsSegment },
      resourceOf: lfsName,
      rule: onLfsRepo('MANAGE', lfsName),
      what: 'Git LFS repository',
    },
  ];
  for (const r of resources) {
    const { resourceOf } = r;

    app.get(
      r.path,
      {
        config: { access: r.rule },
        schema: {
          tags,
          summary: `List the grants on a ${r.what} (MANAGE)`,
          params: S.object(r.params),
          response: responses({
            200: S.object({ permissions: S.array(Permission), default: level }),
          }),
        },
      },
      async (req) => ({
        permissions: await access.permissions.list({ kind: r.kind, resource: resourceOf(req) }),
        default: await access.permissions.defaultLevel(),
      }),
    );

    app.put(
      `${r.path}/:user`,
      {
        config: { access: r.rule },
        schema: {
          tags,
          summary: `Grant a user a level on a ${r.what} (MANAGE; replaces an earlier grant)`,
          params: S.object({ ...r.params, user: userName }),
          body: S.object({ level }),
          response: responses({ 200: Permission }),
        },
      },
      async (req) =>
        access.permissions.grant(
          {
            user: (req.params as { user: string }).user,
            kind: r.kind,
            resource: resourceOf(req),
            level: req.body.level,
          },
          actor(req),
        ),
    );

    app.delete(
      `${r.path}/:user`,
      {
        config: { access: r.rule },
        schema: {
          tags,
          summary: `Remove a user's grant on a ${r.what} (MANAGE; the default applies again)`,
          params: S.object({ ...r.params, user: userName }),
          response: responses({ 200: S.object({ deleted: S.boolean() }) }),
        },
      },
      async (req) => ({
        deleted: await access.permissions.revoke(
          (req.params as { user: string }).user,
          r.kind,
          resourceOf(req),
          actor(req),
        ),
      }),
    );
  }
}

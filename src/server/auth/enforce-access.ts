/**
 * Authentication and authorization of every request (docs/security.md):
 *
 * - `onRoute`: every route must declare `config.access` (access-rule.ts), or the server
 *   refuses to start; plugin routes get theirs from PLUGIN_ROUTE_ACCESS.
 * - `onRequest`: authentication is on when `required` (`--auth`) or once the registry has a
 *   user. Credentials: `Authorization: Basic` with user:password or user:token (MLflow's
 *   MLFLOW_TRACKING_USERNAME/PASSWORD), or `Bearer <token>` (MLFLOW_TRACKING_TOKEN), or a
 *   capability the server signed (request-signer.ts: `Bearer mvs1.…`, or `?mv_sig=mvs1.…` on
 *   GET/HEAD) for this method and path, acting as the user it names. Bad
 *   credentials → 401 with WWW-Authenticate, counted per user and per client address;
 *   too many → 429 with Retry-After until the window ends. No credentials on a route that
 *   is not public → 401.
 * - `preHandler` (after the body is parsed and validated): the rule is checked. A user who
 *   may not READ a resource gets the same 404 as for a resource that does not exist (no
 *   existence leaks); one who may read but not change it gets 403.
 *
 * Nothing here logs credentials: the Authorization header is redacted from request logs
 * (app.ts) and messages never include what was sent.
 */
import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { levelIncludes, type PermissionLevel } from '../../core/auth-api.js';
import {
  ModelvaultError,
  NotFoundError,
  PermissionDeniedError,
  UnauthenticatedError,
} from '../../core/errors.js';
import type { ReadScope } from '../../metadata/search/read-scope.js';
import type { AccessControl } from '../../registry/access-control.js';
import { type ResolvedResource, resourceWord } from '../../registry/permission-service.js';
import { looksLikeToken, type Principal } from '../../registry/user-service.js';
import type { App } from '../context.js';
import { type AccessRule, PLUGIN_ROUTE_ACCESS } from './access-rule.js';
import { FailureLimiter } from './failure-limiter.js';
import { CAPABILITY_PREFIX, type RequestSigner, SIGNATURE_PARAM } from './request-signer.js';

export interface AuthOptions {
  /** Require authentication even while the registry has no user (`--auth`). */
  readonly required?: boolean;
  /** Failed sign-ins per user name per window before it is blocked. Default 10. */
  readonly maxFailuresPerUser?: number;
  /** Failed sign-ins per client address per window. Default 50. */
  readonly maxFailuresPerIp?: number;
  /** Default 15 minutes. */
  readonly failureWindowMs?: number;
  /**
   * Called once per request with the access decision (after the log line denials get).
   * For observers: tests assert every route's decision for every role through it.
   */
  readonly onDecision?: (decision: AccessDecision) => void;
  /** Checks signed request capabilities; without one, none is accepted. */
  readonly signer?: RequestSigner;
}

export type AccessOutcome =
  | 'open'
  | 'allowed'
  | 'unauthenticated'
  | 'forbidden'
  | 'hidden'
  | 'rate_limited';

export interface AccessDecision {
  readonly method: string;
  /** The route's URL template (`/api/v1/models/:name`). */
  readonly route: string;
  readonly user: string | undefined;
  readonly outcome: AccessOutcome;
  /** How many resources the rule checked (resource rules). */
  readonly checked: number;
}

/** A route as registered, with its declared rule. */
export interface DeclaredRoute {
  readonly method: string;
  readonly url: string;
  readonly access: AccessRule;
}

/** What handlers ask about the request's identity (RouteContext.auth). */
export interface RequestAuth {
  /** Every route registered so far, with its rule (from the onRoute hook). */
  readonly routes: readonly DeclaredRoute[];
  /** The signed-in user, or undefined (authentication off, or a public route without credentials). */
  principal(req: FastifyRequest): Principal | undefined;
  /**
   * What the request's lists and searches are scoped to: the signed-in user's READ
   * permission, or undefined (authentication off, or an admin) for everything. Passed to
   * the registry's searches, so pages are full (metadata/search/read-scope.ts).
   */
  readScope(req: FastifyRequest): Promise<ReadScope | undefined>;
  /** The items whose model `principal` may READ (all of them when authentication is off). */
  filterModels<T>(req: FastifyRequest, items: readonly T[], name: (t: T) => string): Promise<T[]>;
  /** The items whose experiment `principal` may READ. */
  filterExperiments<T>(
    req: FastifyRequest,
    items: readonly T[],
    id: (t: T) => string,
  ): Promise<T[]>;
  /** Whether the server requires sign-in now (`--auth`, or the registry has users). */
  required(): Promise<boolean>;
  /**
   * A signed request capability (request-signer.ts) for the request's signed-in user to
   * make `methods` requests to `path`, bound to the credential this request came with (so
   * revoking that token, or the user's capabilities, kills it); undefined when nobody is
   * signed in (authentication off), and the path is then used unsigned.
   */
  capability(
    req: FastifyRequest,
    input: { methods: readonly string[]; path: string; ttlSeconds: number },
  ): { capability: string; expiresAt: number } | undefined;
}

const WWW_AUTHENTICATE = 'Basic realm="modelvault", Bearer realm="modelvault"';

interface RequestState {
  readonly on: boolean;
  readonly principal: Principal | undefined;
}

function unauthenticated(reply: FastifyReply, message: string): UnauthenticatedError {
  // A Basic challenge makes browsers open their own password dialog over the web UI's
  // sign-in form; the UI marks its requests (X-Requested-With), and gets Bearer only.
  const fromUi = reply.request.headers['x-requested-with'] === 'XMLHttpRequest';
  reply.header('www-authenticate', fromUi ? 'Bearer realm="modelvault"' : WWW_AUTHENTICATE);
  return new UnauthenticatedError(message);
}

function notFound(resource: ResolvedResource): NotFoundError {
  const key = { registered_model: 'model', experiment: 'experiment', lfs_repo: 'repository' }[
    resource.kind
  ];
  return new NotFoundError(`${resourceWord(resource.kind)} '${resource.label}' not found`, {
    [key]: resource.label,
  });
}

/**
 * Installs the hooks on `app` (before any route is registered) and returns what handlers
 * use to scope their answers.
 */
export function enforceAccess(
  app: App,
  access: AccessControl,
  options: AuthOptions = {},
): RequestAuth {
  const state = new WeakMap<FastifyRequest, RequestState>();
  const window = options.failureWindowMs ?? 15 * 60_000;
  const perUser = new FailureLimiter({
    maxFailures: options.maxFailuresPerUser ?? 10,
    windowMs: window,
  });
  const perIp = new FailureLimiter({
    maxFailures: options.maxFailuresPerIp ?? 50,
    windowMs: window,
  });
  let usersExist = false;

  async function authOn(): Promise<boolean> {
    if (options.required || usersExist) return true;
    // Once a user exists authentication stays on; until then ask each time (cheap), so a
    // user added by the CLI beside a running server turns it on at once.
    usersExist = await access.users.hasUsers();
    return usersExist;
  }

  const routes: DeclaredRoute[] = [];
  app.addHook('onRoute', (route: RouteOptions) => {
    const config = (route.config ?? {}) as { access?: AccessRule };
    let rule = config.access;
    if (rule === undefined) {
      const plugin = PLUGIN_ROUTE_ACCESS.find((p) => route.url.startsWith(p.prefix));
      if (!plugin) {
        throw new Error(
          `route ${String(route.method)} ${route.url} declares no access rule (config.access): see src/server/auth/access-rule.ts`,
        );
      }
      rule = plugin.rule;
      route.config = { ...config, access: rule } as typeof route.config;
    }
    for (const method of Array.isArray(route.method) ? route.method : [route.method]) {
      routes.push({ method: String(method), url: route.url, access: rule });
    }
  });

  function decide(req: FastifyRequest, outcome: AccessOutcome, checked = 0): void {
    if (outcome !== 'allowed' && outcome !== 'open') {
      req.log.info({ access: outcome, route: req.routeOptions.url }, 'access denied');
    }
    options.onDecision?.({
      method: req.method,
      route: req.routeOptions.url ?? '',
      user: state.get(req)?.principal?.name,
      outcome,
      checked,
    });
  }

  /**
   * The user a signed capability names, if it is valid for this request (MAC, method, path,
   * expiry: no database) and still holds (user active, epoch current, minting token live:
   * one query, so revocations hold at once on every replica).
   */
  async function capabilityPrincipal(
    req: FastifyRequest,
    capability: string,
  ): Promise<Principal | undefined> {
    const path = req.url.split('?')[0]!;
    const c = options.signer?.check(capability, req.method, path);
    if (!c) return undefined;
    const binding = { ...(c.token !== undefined ? { token: c.token } : {}), epoch: c.epoch };
    return access.users.capabilityPrincipal(c.user, binding);
  }

  /** `?mv_sig=` of a GET/HEAD request, if any. */
  function signatureParam(req: FastifyRequest): string | undefined {
    if (req.method !== 'GET' && req.method !== 'HEAD') return undefined;
    const q = req.url.indexOf('?');
    if (q < 0) return undefined;
    return new URLSearchParams(req.url.slice(q + 1)).get(SIGNATURE_PARAM) ?? undefined;
  }

  async function authenticate(req: FastifyRequest, reply: FastifyReply): Promise<Principal> {
    const header = req.headers.authorization ?? `Bearer ${signatureParam(req) ?? ''}`;
    const space = header.indexOf(' ');
    const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
    const value = space < 0 ? '' : header.slice(space + 1).trim();
    const ip = `ip:${req.ip}`;
    let user: string | undefined;
    let secret = '';
    if (scheme === 'basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) {
        user = decoded.slice(0, colon);
        secret = decoded.slice(colon + 1);
      }
    } else if (scheme === 'bearer') {
      secret = value;
    } else {
      throw unauthenticated(reply, 'unsupported authorization scheme: use Basic or Bearer');
    }
    const userKey = user === undefined ? undefined : `user:${user}`;
    const wait = Math.max(perIp.blockedFor(ip), userKey ? perUser.blockedFor(userKey) : 0);
    if (wait > 0) {
      decide(req, 'rate_limited');
      reply.header('retry-after', String(wait));
      throw new ModelvaultError(
        'RATE_LIMITED',
        `too many failed sign-ins: try again in ${wait} seconds`,
        { retryAfterSeconds: wait },
      );
    }
    let principal: Principal | undefined;
    if (scheme === 'bearer' && secret.startsWith(CAPABILITY_PREFIX)) {
      principal = await capabilityPrincipal(req, secret);
    } else if (scheme === 'bearer' || looksLikeToken(secret)) {
      principal = await access.users.authenticateToken(secret);
      // Basic user:token must name the token's owner.
      if (principal && user !== undefined && principal.name !== user) principal = undefined;
    } else if (user !== undefined && user.length <= 255) {
      principal = await access.users.authenticatePassword(user, secret);
    }
    if (!principal) {
      perIp.fail(ip);
      if (userKey) perUser.fail(userKey);
      decide(req, 'unauthenticated');
      throw unauthenticated(reply, 'invalid credentials');
    }
    if (userKey) perUser.reset(userKey);
    return principal;
  }

  app.addHook('onRequest', async (req, reply) => {
    const rule = req.routeOptions.config?.access;
    if (!(await authOn())) {
      state.set(req, { on: false, principal: undefined });
      if (rule !== undefined) decide(req, 'open');
      return;
    }
    const principal =
      req.headers.authorization || signatureParam(req) !== undefined
        ? await authenticate(req, reply)
        : undefined;
    state.set(req, { on: true, principal });
    // Unmatched routes (no rule) fall through to the 404 handler.
    if (!principal && rule !== undefined && rule !== 'public') {
      decide(req, 'unauthenticated');
      throw unauthenticated(reply, 'authentication required');
    }
  });

  // preValidation: the body is parsed but not yet validated, so a caller without access
  // learns nothing from validation errors, and the decision is made for every request.
  app.addHook('preValidation', async (req) => {
    const s = state.get(req);
    const rule = req.routeOptions.config?.access;
    if (!s?.on || rule === undefined) return;
    if (rule === 'public' || rule === 'user') return decide(req, 'allowed');
    const principal = s.principal!;
    const forbidden = (message: string, details?: Record<string, unknown>, checked = 0) => {
      decide(req, 'forbidden', checked);
      return new PermissionDeniedError(message, details);
    };
    if (rule === 'admin') {
      if (!principal.admin) throw forbidden('this needs a registry admin');
      return decide(req, 'allowed');
    }
    if (principal.admin) return decide(req, 'allowed');
    const refs = await rule.resources(req);
    if (refs === 'admin') throw forbidden('this needs a registry admin');
    let checked = 0;
    for (const ref of refs) {
      const resource = await access.permissions.resolve(ref);
      // A resource that does not exist: the handler answers (404, or creates it).
      if (!resource) continue;
      checked++;
      const level: PermissionLevel = await access.permissions.levelOf(principal, resource);
      if (!levelIncludes(level, 'READ')) {
        decide(req, 'hidden', checked);
        throw notFound(resource);
      }
      const needs = ref.level ?? rule.level;
      if (!levelIncludes(level, needs)) {
        throw forbidden(
          `user '${principal.name}' needs ${needs} on ${resourceWord(resource.kind)} '${
            resource.label
          }' (has ${level})`,
          { kind: resource.kind, resource: resource.label, needs, has: level },
          checked,
        );
      }
    }
    decide(req, 'allowed', checked);
  });

  /** The principal to filter for, or undefined when nothing is filtered. */
  function filterFor(req: FastifyRequest): Principal | undefined {
    const s = state.get(req);
    return s?.on && s.principal && !s.principal.admin ? s.principal : undefined;
  }

  return {
    routes,
    principal: (req) => state.get(req)?.principal,
    required: authOn,
    async readScope(req) {
      const principal = filterFor(req);
      return principal && access.permissions.readScope(principal);
    },
    capability(req, input) {
      const principal = state.get(req)?.principal;
      // Every principal authentication makes has a binding; one made up has no credential.
      if (!principal?.binding || !options.signer) return undefined;
      return options.signer.sign({
        user: principal.name,
        token: principal.binding.token,
        epoch: principal.binding.epoch,
        ...input,
      });
    },
    async filterModels(req, items, name) {
      const principal = filterFor(req);
      if (!principal) return [...items];
      const ok = await access.permissions.readableModels(principal, items.map(name));
      return items.filter((i) => ok.has(name(i)));
    },
    async filterExperiments(req, items, id) {
      const principal = filterFor(req);
      if (!principal) return [...items];
      const ok = await access.permissions.readableExperiments(principal, items.map(id));
      return items.filter((i) => ok.has(id(i)));
    },
  };
}

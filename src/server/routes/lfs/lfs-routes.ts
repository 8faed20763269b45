/**
 * The Git LFS server (git-lfs `docs/api/`): one endpoint per repository, `/lfs/<ns>/<repo>`,
 * which is what a repository's `lfs.url` names (`git config -f .lfsconfig lfs.url …`).
 *
 *   POST   objects/batch            batch API: upload/download actions (`basic` transfer)
 *   PUT    objects/<oid>[?size=N]   upload: streamed, SHA-256 and size verified (422 on mismatch)
 *   GET    objects/<oid>            download (Range, If-None-Match; ETag = the oid)
 *   POST   objects/verify           verify action: {oid, size} → 200 or 404/422
 *   POST   locks                    create a lock {path} → 201 {lock} (409 {lock, message})
 *   GET    locks?path&id&cursor&limit   list locks → {locks, next_cursor}
 *   POST   locks/verify             {cursor, limit} → {ours, theirs, next_cursor}
 *   POST   locks/<id>/unlock        {force} → {lock} (403 for another user's lock)
 *
 * Permissions are per repository (resource kind `lfs_repo`, `<ns>/<repo>`): READ to
 * download, verify and list locks; EDIT to upload (batch `upload`, PUT), lock and unlock
 * one's own locks; MANAGE to force-unlock another user's lock. The first upload or lock
 * makes the repository, and its creator gets MANAGE. With authentication on, each action
 * of a batch answer carries `header: {Authorization: 'Bearer mvs1.…'}`, a capability signed
 * for that one method and path and the signed-in user, expiring with the action
 * (`expires_in`), and the object is marked `authenticated: true`: git-lfs follows the
 * href with that header instead of looking up credentials again, and the capability
 * never appears in a URL.
 *
 * This is an encapsulated Fastify scope whose errors answer in LFS's shape
 * (`{message, request_id}`, Content-Type application/vnd.git-lfs+json) with the status the
 * spec names: validation 422, not found 404, lock held 409, not the owner 403. The owner of
 * a lock and the actor of audit events is `ctx.actor(req)` (the server's default actor
 * without authentication). The logic lives in registry/lfs-service.ts.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ModelvaultError } from '../../../core/errors.js';
import {
  checkLfsRepo,
  checkOid,
  type LfsLock,
  type LfsRepo,
  LockExistsError,
  MAX_LOCK_LIMIT,
} from '../../../registry/lfs-service.js';
import { onLfsRepo } from '../../auth/access-rule.js';
import type { App, RouteContext } from '../../context.js';
import { toHttpError } from '../../http-errors.js';
import { queryInt, S } from '../../schema.js';
import { sendStoredFile } from '../../send-stored-file.js';

export const LFS_PREFIX = '/lfs';
export const LFS_MEDIA_TYPE = 'application/vnd.git-lfs+json';
/** How long a batch answer's actions (and the capabilities in their headers) are good for. */
const ACTION_EXPIRES_IN = 3600;
const MAX_BATCH_OBJECTS = 1000;

const repoParams = {
  namespace: S.string({ minLength: 1, maxLength: 200 }),
  repo: S.string({ minLength: 1, maxLength: 200 }),
};
const refObject = S.optional(S.nullable(S.object({ name: S.string({ maxLength: 4096 }) })));

/** `2026-11-26T20:31:07Z`: RFC 3339 with second precision, as the locking API says. */
function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function lockJson(lock: LfsLock): Record<string, unknown> {
  return {
    id: lock.id,
    path: lock.path,
    locked_at: rfc3339(lock.lockedAt),
    owner: { name: lock.owner },
  };
}

/** The status LFS clients expect for an error: validation failures are 422. */
function lfsError(error: unknown, requestId: string) {
  const mapped = toHttpError(error, requestId);
  const { code, message, details } = mapped.body.error;
  // Malformed JSON (Fastify names the parser's cause) stays 400; every other invalid input
  // is the spec's 422 "validation error".
  const status =
    code === 'INVALID_ARGUMENT' && !(details && 'cause' in details) ? 422 : mapped.status;
  return { status, body: { message, request_id: requestId }, serverFault: mapped.serverFault };
}

function sendLfs(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.status(status).type(LFS_MEDIA_TYPE).send(body);
}

export async function lfsRoutes(app: App, ctx: RouteContext): Promise<void> {
  const { lfs, store } = ctx;
  await app.register(
    async (scopeInstance) => {
      const scope = scopeInstance as unknown as App;
      // git-lfs's protocol, documented in docs/lfs.md: not part of the native OpenAPI document.
      scope.addHook('onRoute', (route) => {
        route.schema = { ...(route.schema ?? {}), hide: true };
      });
      scope.setErrorHandler((error, req, reply) => {
        const mapped = lfsError(error, req.id);
        if (mapped.serverFault) req.log.error({ err: error }, 'request failed');
        else req.log.info({ status: mapped.status }, mapped.body.message);
        if (error instanceof LockExistsError) {
          return sendLfs(reply, 409, { ...mapped.body, lock: lockJson(error.lock) });
        }
        return sendLfs(reply, mapped.status, mapped.body);
      });
      scope.setNotFoundHandler((req, reply) => {
        const path = req.url.split('?')[0]!.slice(0, 200);
        return sendLfs(reply, 404, {
          message: `no LFS endpoint ${req.method} ${path}`,
          request_id: req.id,
        });
      });
      // LFS JSON bodies (`; charset=utf-8` allowed), parsed like application/json.
      scope.addContentTypeParser(
        /^application\/vnd\.git-lfs\+json(\s*;.*)?$/i,
        { parseAs: 'string' },
        (_req, body, done) => {
          try {
            done(null, body === '' ? undefined : JSON.parse(body as string));
          } catch {
            const e = new Error('request body is not valid JSON') as Error & {
              statusCode: number;
              code: string;
            };
            e.statusCode = 400;
            e.code = 'FST_ERR_CTP_INVALID_JSON_BODY';
            done(e, undefined);
          }
        },
      );
      // Uploads of any (or no) media type: the PUT route streams request.raw itself.
      scope.addContentTypeParser('*', (_req, _payload, done) => done(null));

      const repoOf = (req: FastifyRequest): LfsRepo => {
        const p = req.params as { namespace: string; repo: string };
        return checkLfsRepo(p.namespace, p.repo);
      };
      const base = (req: FastifyRequest, r: LfsRepo) =>
        `${req.protocol}://${req.host}${LFS_PREFIX}/${r.namespace}/${r.repo}`;
      /** The repository a request names, as a permission resource (`<ns>/<repo>`). */
      const repoName = (req: FastifyRequest) => {
        const p = req.params as { namespace?: unknown; repo?: unknown };
        return typeof p.namespace === 'string' && typeof p.repo === 'string'
          ? `${p.namespace}/${p.repo}`
          : undefined;
      };
      const onRepo = (level: 'READ' | 'EDIT' | 'MANAGE') => ({
        access: onLfsRepo(level, repoName),
      });
      /** Batch: READ to download, EDIT to upload (or anything else, refused later). */
      const batchRule = onLfsRepo('READ', repoName, (req) =>
        (req.body as { operation?: unknown } | undefined)?.operation === 'download'
          ? undefined
          : 'EDIT',
      );
      /** Unlock: EDIT, or MANAGE to force another user's lock open. */
      const unlockRule = onLfsRepo('EDIT', repoName, async (req) => {
        if ((req.body as { force?: unknown } | undefined)?.force !== true) return undefined;
        try {
          const p = req.params as { namespace: string; repo: string; id: string };
          const lock = await lfs.getLock(checkLfsRepo(p.namespace, p.repo), p.id);
          return lock && lock.owner !== ctx.actor(req) ? 'MANAGE' : undefined;
        } catch {
          return undefined; // an invalid name: the handler refuses it
        }
      });

      scope.post(
        '/:namespace/:repo/objects/batch',
        {
          config: { access: batchRule },
          schema: {
            params: S.object(repoParams),
            body: S.object(
              {
                operation: S.enum(['upload', 'download']),
                transfers: S.optional(S.array(S.string({ maxLength: 200 }), { maxItems: 100 })),
                ref: refObject,
                objects: S.array(
                  S.object(
                    { oid: S.string({ maxLength: 200 }), size: S.number() },
                    { additionalProperties: true },
                  ),
                  { maxItems: MAX_BATCH_OBJECTS },
                ),
                hash_algo: S.optional(S.string({ maxLength: 100 })),
              },
              { additionalProperties: true },
            ),
          },
        },
        async (req, reply) => {
          const r = repoOf(req);
          const { operation, transfers, objects } = req.body;
          if (transfers !== undefined && transfers.length > 0 && !transfers.includes('basic')) {
            throw new ModelvaultError(
              'INVALID_ARGUMENT',
              `no common transfer adapter: this server supports 'basic', the client offered ${transfers.slice(0, 5).join(', ')}`,
            );
          }
          const hashAlgo = req.body.hash_algo ?? 'sha256';
          const states = await lfs.lookup(r, objects);
          const root = base(req, r);
          const action = (method: string, href: string) => {
            const signed = ctx.auth.capability(req, {
              methods: [method],
              path: new URL(href).pathname,
              ttlSeconds: ACTION_EXPIRES_IN,
            });
            if (signed === undefined) return { href, expires_in: ACTION_EXPIRES_IN };
            return {
              href,
              header: { Authorization: `Bearer ${signed.capability}` },
              expires_in: ACTION_EXPIRES_IN,
            };
          };
          // The actions carry their own credential (above): git-lfs need not add one.
          const authenticated =
            ctx.auth.principal(req) !== undefined ? { authenticated: true } : {};
          const answer = states.map((s) => {
            if (hashAlgo !== 'sha256') {
              return {
                oid: s.oid,
                size: s.size,
                error: { code: 409, message: `unsupported hash algorithm '${hashAlgo}'` },
              };
            }
            if (s.state === 'invalid') {
              return { oid: s.oid, size: s.size, error: { code: s.code, message: s.message } };
            }
            if (operation === 'download') {
              return s.state === 'present'
                ? {
                    oid: s.oid,
                    size: s.size,
                    ...authenticated,
                    actions: { download: action('GET', `${root}/objects/${s.oid}`) },
                  }
                : {
                    oid: s.oid,
                    size: s.size,
                    error: { code: 404, message: `object ${s.oid} does not exist` },
                  };
            }
            // Upload: a present object needs no action (the client then skips it).
            return s.state === 'present'
              ? { oid: s.oid, size: s.size }
              : {
                  oid: s.oid,
                  size: s.size,
                  ...authenticated,
                  actions: {
                    upload: action('PUT', `${root}/objects/${s.oid}?size=${s.size}`),
                    verify: action('POST', `${root}/objects/verify`),
                  },
                };
          });
          return sendLfs(reply, 200, { transfer: 'basic', objects: answer, hash_algo: 'sha256' });
        },
      );

      scope.put(
        '/:namespace/:repo/objects/:oid',
        {
          config: onRepo('EDIT'),
          schema: {
            params: S.object({ ...repoParams, oid: S.string({ maxLength: 200 }) }),
            querystring: S.object({ size: S.optional(S.queryInt()) }),
          },
        },
        async (req, reply) => {
          const r = repoOf(req);
          const oid = checkOid(req.params.oid);
          const expectedSize = queryInt(req.query.size);
          const stored = await lfs.upload(r, oid, req.raw, {
            ...(expectedSize !== undefined ? { expectedSize } : {}),
            ...(ctx.actor(req) !== undefined ? { actor: ctx.actor(req) } : {}),
          });
          return sendLfs(reply, 200, { oid: stored.oid, size: stored.size });
        },
      );

      scope.route({
        method: ['GET', 'HEAD'],
        url: '/:namespace/:repo/objects/:oid',
        config: onRepo('READ'),
        schema: { params: S.object({ ...repoParams, oid: S.string({ maxLength: 200 }) }) },
        handler: async (req, reply) => {
          const r = repoOf(req);
          const oid = checkOid(req.params.oid);
          const found = await lfs.getObject(r, oid);
          if (!found) {
            return sendLfs(reply, 404, {
              message: `object ${oid} does not exist`,
              request_id: req.id,
            });
          }
          return sendStoredFile(store, req, reply, { sha256: found.oid, size: found.size });
        },
      });

      scope.post(
        '/:namespace/:repo/objects/verify',
        {
          config: onRepo('READ'),
          schema: {
            params: S.object(repoParams),
            body: S.object(
              { oid: S.string({ maxLength: 200 }), size: S.number() },
              { additionalProperties: true },
            ),
          },
        },
        async (req, reply) => {
          const found = await lfs.verify(repoOf(req), req.body.oid, req.body.size);
          return sendLfs(reply, 200, { oid: found.oid, size: found.size });
        },
      );

      scope.post(
        '/:namespace/:repo/locks',
        {
          config: onRepo('EDIT'),
          schema: {
            params: S.object(repoParams),
            body: S.object(
              { path: S.string({ maxLength: 8192 }), ref: refObject },
              { additionalProperties: true },
            ),
          },
        },
        async (req, reply) => {
          const lock = await lfs.createLock(repoOf(req), req.body.path, ctx.actor(req));
          return sendLfs(reply, 201, { lock: lockJson(lock) });
        },
      );

      scope.get(
        '/:namespace/:repo/locks',
        {
          config: onRepo('READ'),
          schema: {
            params: S.object(repoParams),
            querystring: S.object(
              {
                path: S.optional(S.string({ maxLength: 8192 })),
                id: S.optional(S.string({ maxLength: 200 })),
                cursor: S.optional(S.string({ maxLength: 200 })),
                limit: S.optional(S.queryInt({ description: `1..${MAX_LOCK_LIMIT}` })),
                refspec: S.optional(S.string({ maxLength: 4096 })),
              },
              { additionalProperties: true },
            ),
          },
        },
        async (req, reply) => {
          const limit = queryInt(req.query.limit);
          const page = await lfs.listLocks(repoOf(req), {
            ...(req.query.path !== undefined ? { path: req.query.path } : {}),
            ...(req.query.id !== undefined ? { id: req.query.id } : {}),
            ...(req.query.cursor !== undefined ? { cursor: req.query.cursor } : {}),
            ...(limit !== undefined ? { limit } : {}),
          });
          return sendLfs(reply, 200, {
            locks: page.locks.map(lockJson),
            ...(page.nextCursor !== undefined ? { next_cursor: page.nextCursor } : {}),
          });
        },
      );

      scope.post(
        '/:namespace/:repo/locks/verify',
        {
          config: onRepo('READ'),
          schema: {
            params: S.object(repoParams),
            body: S.object(
              {
                cursor: S.optional(S.string({ maxLength: 200 })),
                limit: S.optional(S.integer({ minimum: 1 })),
                ref: refObject,
              },
              { additionalProperties: true },
            ),
          },
        },
        async (req, reply) => {
          const body = req.body ?? {};
          const actor = ctx.actor(req);
          const page = await lfs.verifyLocks(repoOf(req), {
            ...(body.cursor !== undefined && body.cursor !== '' ? { cursor: body.cursor } : {}),
            ...(body.limit !== undefined ? { limit: body.limit } : {}),
            ...(actor !== undefined ? { actor } : {}),
          });
          return sendLfs(reply, 200, {
            ours: page.ours.map(lockJson),
            theirs: page.theirs.map(lockJson),
            ...(page.nextCursor !== undefined ? { next_cursor: page.nextCursor } : {}),
          });
        },
      );

      scope.post(
        '/:namespace/:repo/locks/:id/unlock',
        {
          config: { access: unlockRule },
          schema: {
            params: S.object({ ...repoParams, id: S.string({ maxLength: 200 }) }),
            body: S.object(
              { force: S.optional(S.boolean()), ref: refObject },
              { additionalProperties: true },
            ),
          },
        },
        async (req, reply) => {
          const actor = ctx.actor(req);
          const lock = await lfs.unlock(repoOf(req), req.params.id, {
            force: req.body?.force === true,
            ...(actor !== undefined ? { actor } : {}),
          });
          return sendLfs(reply, 200, { lock: lockJson(lock) });
        },
      );
    },
    { prefix: LFS_PREFIX },
  );
}

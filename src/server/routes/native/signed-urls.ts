/**
 * Signed download URLs (docs/security.md): a signed-in client — the web UI — asks for a
 * short-lived URL of one download, which a plain link or `window.location` can then fetch
 * without an Authorization header. The URL carries a capability (`?mv_sig=mvs1.…`,
 * auth/request-signer.ts) for GET/HEAD of that exact path as the signed-in user, expiring
 * in minutes and bound to the credential it was asked with (revoking that token, or the
 * user's capabilities, kills it); the download is still checked against the user's
 * permissions when it is made.
 * The API token never enters a URL, and the server's request logs redact `mv_sig`.
 *
 * Only download routes can be signed: a version's file, an artifact through MLflow's
 * proxy, a file by SHA-256. With authentication off the path comes back unsigned.
 */
import { InvalidArgumentError } from '../../../core/errors.js';
import { SIGNATURE_PARAM } from '../../auth/request-signer.js';
import type { App, RouteContext } from '../../context.js';
import { S } from '../../schema.js';
import { responses } from './common.js';

/** Default and longest lifetime of a signed download URL, in seconds. */
export const SIGNED_URL_SECONDS = 300;
export const MAX_SIGNED_URL_SECONDS = 3600;

const SIGNABLE: readonly RegExp[] = [
  /^\/api\/v1\/versions\/[^/?#]+\/files\/[^?#]+$/,
  /^\/(?:ajax-)?api\/2\.0\/mlflow-artifacts\/artifacts\/[^?#]+$/,
  /^\/api\/v1\/files\/[0-9a-f]{64}$/,
];

export function signedUrlRoutes(app: App, ctx: RouteContext): void {
  app.post(
    '/api/v1/signed-urls',
    {
      config: { access: 'user' },
      schema: {
        tags: ['files'],
        summary: 'A short-lived URL for one download, usable without credentials',
        description: `For a version's file (\`/api/v1/versions/{ref}/files/{path}\`), an artifact (\`/ajax-api/2.0/mlflow-artifacts/artifacts/{path}\`) or a file by SHA-256 (\`/api/v1/files/{sha256}\`), as percent-encoded as it will be requested. The URL allows GET and HEAD of that path as the signed-in user until \`expiresAt\` (default ${SIGNED_URL_SECONDS} s, at most ${MAX_SIGNED_URL_SECONDS}); the user's permissions are checked when it is used. Without authentication the path comes back unsigned (\`expiresAt\` null).`,
        body: S.object({
          path: S.string({ minLength: 1, maxLength: 8192 }),
          ttlSeconds: S.optional(S.integer({ minimum: 1, maximum: MAX_SIGNED_URL_SECONDS })),
        }),
        response: responses({
          200: S.object({
            url: S.string({ description: 'the path with its signature (relative to this server)' }),
            expiresAt: S.nullable(S.integer({ description: 'milliseconds since the epoch' })),
          }),
        }),
      },
    },
    async (req) => {
      const { path } = req.body;
      if (!SIGNABLE.some((re) => re.test(path))) {
        throw new InvalidArgumentError(
          'only downloads can be signed: /api/v1/versions/{ref}/files/{path}, /ajax-api/2.0/mlflow-artifacts/artifacts/{path} or /api/v1/files/{sha256}',
          { path: path.slice(0, 200) },
        );
      }
      const signed = ctx.auth.capability(req, {
        methods: ['GET', 'HEAD'],
        path,
        ttlSeconds: req.body.ttlSeconds ?? SIGNED_URL_SECONDS,
      });
      if (signed === undefined) return { url: path, expiresAt: null };
      return {
        url: `${path}?${SIGNATURE_PARAM}=${encodeURIComponent(signed.capability)}`,
        expiresAt: signed.expiresAt * 1000,
      };
    },
  );
}

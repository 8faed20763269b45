/**
 * Serves the web UI (the Vite build of `web/`, in `dist/web/`) at `/`.
 *
 * - `/assets/*`: Vite's content-hashed files, `Cache-Control: public, max-age=31536000,
 *   immutable` (a new build makes new names, so a cached file is never stale).
 * - `index.html` for `/` and for every client route (CLIENT_ROUTES: the single-page app
 *   decides what to show), with `Cache-Control: no-cache` so a new build is picked up at
 *   once. Only those prefixes fall back to the app: any other unknown path keeps the API's
 *   JSON 404, and `/api/…`, `/ajax-api/…`, `/lfs/…`, `/docs`, `/health`, `/metrics` are never touched.
 * - When the UI was not built (a checkout without `npm run build`), `/` answers a short
 *   page saying so instead of failing.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { App } from './context.js';

/** Path prefixes the UI's router owns (each also with `/*` below it). */
export const CLIENT_ROUTES: readonly string[] = ['/models', '/compare', '/audit', '/experiments'];

/**
 * The built UI: `dist/web` beside this module's `dist/server` when running the build, or
 * the repository's `dist/web` when running from `src/` (tsx).
 */
export function defaultWebRoot(): string {
  const besideBuild = fileURLToPath(new URL('../web', import.meta.url));
  if (existsSync(join(besideBuild, 'index.html'))) return besideBuild;
  return fileURLToPath(new URL('../../dist/web', import.meta.url));
}

const NOT_BUILT = `<!doctype html><html lang="en"><meta charset="utf-8"><title>Modelvault</title>
<body style="font-family:system-ui;margin:2rem"><h1>Modelvault</h1>
<p>The web UI is not built. Run <code>npm run build</code>, then restart the server.</p>
<p>The API is at <a href="/api/v1/models">/api/v1</a>; its docs at <a href="/docs">/docs</a>.</p>`;

/** Registers the UI's routes on `app`. `root` defaults to defaultWebRoot(). */
export async function webUiRoutes(app: App, root = defaultWebRoot()): Promise<void> {
  const indexPath = join(root, 'index.html');
  const built = existsSync(indexPath);

  const sendIndex = async (_req: unknown, reply: import('fastify').FastifyReply) => {
    reply.header('cache-control', 'no-cache');
    // The HTML is small and changes only with a new build: read per request, so a rebuild
    // under a running server is served without a restart.
    const html = built ? await readFile(indexPath, 'utf8').catch(() => NOT_BUILT) : NOT_BUILT;
    return reply.type('text/html; charset=utf-8').send(html);
  };
  const hide = { schema: { hide: true }, config: { access: 'public' as const } };
  app.get('/', hide, sendIndex);
  for (const prefix of CLIENT_ROUTES) {
    app.get(prefix, hide, sendIndex);
    app.get(`${prefix}/*`, hide, sendIndex);
  }

  if (!built) return;
  // Encapsulated, and without decorating the reply: /docs registers @fastify/static too.
  await app.register(async (scope) => {
    await scope.register(fastifyStatic, {
      root: join(root, 'assets'),
      prefix: '/assets/',
      decorateReply: false,
      index: false,
      cacheControl: false,
      setHeaders: (res) => {
        res.setHeader('cache-control', 'public, max-age=31536000, immutable');
      },
    });
  });
}

/**
 * Builds the HTTP server: the native REST API under /api/v1 (one route module per resource
 * in routes/native/), /health, /metrics, the OpenAPI 3.1 document at /api/v1/openapi.json
 * and interactive docs at /docs, and the web UI at / (web-ui.ts).
 *
 * Cross-cutting behaviour lives here, once:
 * - every error becomes `{error: {code, message, details}}` with ERROR_CODES' status
 *   (http-errors.ts); 5xx are logged with the request id, never shown to the client;
 * - request ids: a well-formed incoming `x-request-id` is kept, otherwise one is made; it is
 *   echoed in the response header and in every log line of the request (pino, JSON);
 * - bodies: JSON up to `bodyLimit` (1 MiB; 128 MiB for an upload's file list), validated
 *   strictly by the route's schema; chunk batches are streamed, never buffered whole;
 * - metrics per route template: requests, latency, bytes in and out.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyReply,
  type FastifyServerOptions,
  LogController,
} from 'fastify';
import { type Logger, pino } from 'pino';
import { ERROR_CODES, isModelvaultError } from '../core/errors.js';
import { API_PREFIX, CHUNK_BATCH_MEDIA_TYPE } from '../core/upload-protocol.js';
import { ArtifactService } from '../registry/artifact-service.js';
import { FrozenArtifactView } from '../registry/frozen-artifact-view.js';
import { MlflowVersionService } from '../registry/mlflow-version-service.js';
import { UploadService, type UploadServiceOptions } from '../registry/upload-service.js';
import { SHARED_SCHEMAS } from './api-schemas.js';
import { access } from './auth/access-rule.js';
import { type AuthOptions, type DeclaredRoute, enforceAccess } from './auth/enforce-access.js';
import { RequestSigner, withoutSignature } from './auth/request-signer.js';
import type { App, RouteContext, ServerBackend } from './context.js';
import { toHttpError } from './http-errors.js';
import { Gauge, ServerMetrics } from './metrics.js';
import { lfsRoutes } from './routes/lfs/lfs-routes.js';
import { toMlflowError } from './routes/mlflow/mlflow-errors.js';
import { isMlflowPath, mlflowRoutes } from './routes/mlflow/mlflow-routes.js';
import { accessRoutes } from './routes/native/access.js';
import { aliasRoutes } from './routes/native/aliases.js';
import { auditRoutes } from './routes/native/audit.js';
import { fileRoutes } from './routes/native/files.js';
import { modelRoutes } from './routes/native/models.js';
import { policyRoutes } from './routes/native/policies.js';
import { searchRoutes } from './routes/native/search.js';
import { signatureRoutes } from './routes/native/signatures.js';
import { signedUrlRoutes } from './routes/native/signed-urls.js';
import { uploadRoutes } from './routes/native/uploads.js';
import { versionRoutes } from './routes/native/versions.js';
import { webhookRoutes } from './routes/native/webhooks.js';
import { opsRoutes } from './routes/ops.js';
import type { SchemaTypeProvider } from './schema.js';
import { webUiRoutes } from './web-ui.js';
import { WebhookDispatcher, type WebhookDispatchOptions } from './webhook-dispatcher.js';

export const SERVER_VERSION = '0.1.0';

export interface AppOptions {
  readonly backend: ServerBackend;
  /**
   * A pino logger; false for none. Default: JSON lines on stdout at `logLevel`, written
   * asynchronously in batches (8 KiB, or every 100 ms: a line is out at most ~100 ms
   * late; whatever is pending is flushed when the process exits; past 16 MiB of backlog
   * lines are dropped).
   */
  readonly logger?: Logger | false;
  /** The default logger's level (pino's: fatal … trace, or silent). Default `info`. */
  readonly logLevel?: string;
  /** JSON body limit of every route but the upload file list. Default 1 MiB. */
  readonly bodyLimit?: number;
  /** Upload service settings (TTL, batch limit…), or an existing service. */
  readonly uploads?: UploadService | Omit<UploadServiceOptions, 'registry' | 'store'>;
  /** How long a commit request waits before answering 202. Default 25 s. */
  readonly commitWaitMs?: number;
  /** Sweep expired upload sessions this often. Default 10 minutes; 0 disables. */
  readonly expireEveryMs?: number;
  /** The built web UI served at `/` (see web-ui.ts). Default: `dist/web`. */
  readonly webRoot?: string;
  /** Authentication settings (auth/enforce-access.ts); on by itself once a user exists. */
  readonly auth?: AuthOptions;
  /**
   * Sign an audit checkpoint of the head this often when it moved (and the registry has a
   * checkpoint key). Default 10 minutes; 0 disables.
   */
  readonly checkpointEveryMs?: number;
  /** Webhook dispatch (interval, retries); false to send none from this server. */
  readonly webhooks?: WebhookDispatchOptions | false;
}

/** A registered route: its method and URL template (`/api/v1/models/:name`). */
export interface RouteInfo {
  readonly method: string;
  readonly url: string;
}

/**
 * Log redaction: credentials never reach a log line, even if a serializer or a plugin
 * logged request headers (Fastify's default request serializer does not).
 */
export const LOG_REDACT = {
  paths: [
    'req.headers.authorization',
    'req.headers.cookie',
    'request.headers.authorization',
    'headers.authorization',
    'password',
    'token',
  ],
  censor: '[redacted]',
};

export interface BuiltApp {
  readonly app: App;
  /** Every route registered, in registration order (HEAD twins included). */
  readonly routes: readonly RouteInfo[];
  readonly uploads: UploadService;
  readonly metrics: ServerMetrics;
  /** Every route with its declared access rule. */
  readonly declaredRoutes: readonly DeclaredRoute[];
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** The default logger writes once this much is pending… */
const LOG_BUFFER_BYTES = 8 * 1024;
/** …or this often: a log line is out at most this late (pending lines are flushed at exit). */
const LOG_FLUSH_MS = 100;

/**
 * What a request's log line says about it: Fastify's default fields, with a signed URL's
 * capability (`mv_sig`) redacted so that logs never hold a usable credential.
 */
export function requestLogFields(req: {
  method: string;
  url: string;
  hostname?: string;
  ip?: string;
  socket?: { remotePort?: number };
}): Record<string, unknown> {
  return {
    method: req.method,
    url: withoutSignature(req.url),
    host: req.hostname,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}

export async function buildApp(options: AppOptions): Promise<BuiltApp> {
  const { backend } = options;
  const uploads =
    options.uploads instanceof UploadService
      ? options.uploads
      : new UploadService({
          registry: backend.registry,
          store: backend.store,
          ...(options.uploads ?? {}),
        });
  await uploads.init();
  const metrics = new ServerMetrics([
    new Gauge(
      'modelvault_upload_batches_active',
      'Chunk batches being received now (at most the server-wide limit).',
      () => uploads.batchGate.active,
    ),
    new Gauge(
      'modelvault_upload_batches_waiting',
      'Chunk batches waiting for a place, their bodies not yet read.',
      () => uploads.batchGate.waiting,
    ),
  ]);

  const fastifyOptions: FastifyServerOptions = {
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    // One access line per request, when it completes (the hooks below), instead of
    // Fastify's two: logging was a tenth of a small request's cost.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // Strict bodies: no coercion ("3" is not 3), no silent removal of unknown properties.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    // Uploads are many bounded requests (≤ 64 MiB each), so a generous limit on receiving
    // one request only cuts off stalled clients. Idle keep-alive connections are closed on
    // shutdown; busy ones finish first.
    requestTimeout: 15 * 60 * 1000,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    routerOptions: { maxParamLength: 2048 },
    // Errors raised before routing (a URL that does not decode, such as `%C0%AE` or a lone
    // `%`) get the same error shape as everything else, the MLflow one under its prefixes.
    frameworkErrors: (error, req, reply) => {
      const message = `invalid URL: ${req.url.split('?')[0]!.slice(0, 200)} does not decode`;
      const mapped = isMlflowPath(req.url)
        ? toMlflowError(Object.assign(error, { message }), req.id)
        : toHttpError(Object.assign(error, { message }), req.id);
      const r = reply as unknown as FastifyReply;
      r.header('x-request-id', req.id);
      return r.status(mapped.status).type('application/json').send(mapped.body);
    },
  };
  const app = (options.logger === false || options.logger === undefined
    ? Fastify({
        ...fastifyOptions,
        logger:
          options.logger === undefined
            ? {
                redact: LOG_REDACT,
                serializers: { req: requestLogFields },
                level: options.logLevel ?? 'info',
                // Bounded: if stdout stalls (a stuck log shipper), lines beyond 16 MiB of
                // backlog are dropped rather than growing the server's memory. Buffered:
                // lines go out in writes of 8 KiB or every 100 ms, whichever comes first
                // (as nginx's `access_log … buffer= flush=`), not a write(2) per request —
                // that write was ~7% of a small request's server CPU.
                stream: pino.destination({
                  dest: 1,
                  sync: false,
                  minLength: LOG_BUFFER_BYTES,
                  periodicFlush: LOG_FLUSH_MS,
                  maxLength: 16 * 1024 * 1024,
                }),
              }
            : false,
      })
    : Fastify({ ...fastifyOptions, loggerInstance: options.logger as FastifyBaseLogger })
  ).withTypeProvider<SchemaTypeProvider>() as unknown as App;

  const routes: RouteInfo[] = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method, url: route.url });
  });

  // Responses are plain JSON.stringify: the response schemas document, they do not filter.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);

  // Before any route: every route must declare its access rule (auth/access-rule.ts).
  const auth = enforceAccess(app, backend.access, {
    ...options.auth,
    signer: new RequestSigner(backend.serverSecret ?? randomBytes(32)),
  });

  app.addContentTypeParser(
    [CHUNK_BATCH_MEDIA_TYPE, 'application/octet-stream'],
    (_req, _payload, done) => done(null), // the route streams request.raw itself
  );

  // Shutdown closes idle keep-alive connections once, when it starts (forceCloseConnections
  // 'idle'); a connection whose response was finishing just then became idle a moment
  // later and held the close until its keep-alive timeout (72 s). So while closing, idle
  // connections are closed as they appear; busy ones (an upload under way) still finish.
  let closingSweep: NodeJS.Timeout | undefined;
  app.addHook('preClose', async () => {
    closingSweep = setInterval(() => app.server.closeIdleConnections(), 50);
    closingSweep.unref();
  });
  app.addHook('onClose', async () => clearInterval(closingSweep));

  // Callback-style hooks (not async): every request runs both, and an async hook costs
  // Fastify a promise and its resolution each.
  app.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id);
    req.log.debug({ req }, 'incoming request');
    done();
  });
  app.addHook('onResponse', (req, reply, done) => {
    req.log.info({ req, res: reply, responseTime: reply.elapsedTime }, 'request completed');
    const route = req.routeOptions.url ?? 'unmatched';
    const labels = { method: req.method, route };
    metrics.requests.inc({ ...labels, status: String(reply.statusCode) });
    metrics.duration.observe(labels, reply.elapsedTime / 1000);
    const inLength = Number(req.headers['content-length'] ?? 0);
    if (req.headers['content-type'] !== CHUNK_BATCH_MEDIA_TYPE && inLength > 0) {
      metrics.bytesIn.inc({ route }, inLength);
    }
    const outLength = Number(reply.getHeader('content-length') ?? 0);
    // File downloads count the bytes they actually sent (see routes/native/files.ts).
    if (!route.includes('/files/') && outLength > 0) metrics.bytesOut.inc({ route }, outLength);
    done();
  });

  app.setErrorHandler((error, req, reply) => {
    const mapped = toHttpError(error, req.id);
    if (mapped.serverFault) req.log.error({ err: error }, 'request failed');
    else req.log.info({ code: mapped.body.error.code }, mapped.body.error.message);
    if (mapped.retryAfterSeconds !== undefined) {
      reply.header('retry-after', String(mapped.retryAfterSeconds));
    }
    return reply.status(mapped.status).type('application/json').send(mapped.body);
  });
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0]!.slice(0, 200);
    return reply
      .status(ERROR_CODES.NOT_FOUND.http)
      .type('application/json')
      .send({ error: { code: 'NOT_FOUND', message: `no route ${req.method} ${path}` } });
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Modelvault API',
        version: SERVER_VERSION,
        description:
          'Native REST API of Modelvault, a self-hosted model registry with deduplicated storage. Errors are `{error: {code, message, details}}`; see docs/api.md.',
      },
      tags: [
        { name: 'models' },
        { name: 'versions' },
        { name: 'aliases' },
        { name: 'search' },
        { name: 'audit' },
        { name: 'policies' },
        { name: 'webhooks' },
        { name: 'files' },
        { name: 'uploads' },
        { name: 'operations' },
        { name: 'access' },
      ],
      components: {
        securitySchemes: {
          basic: { type: 'http', scheme: 'basic' },
          bearer: { type: 'http', scheme: 'bearer' },
        },
      },
      security: [{ basic: [] }, { bearer: [] }],
    },
    refResolver: {
      buildLocalReference: (json, _base, _fragment, i) => String(json.$id ?? `def-${i}`),
    },
  });

  const artifacts = new ArtifactService({ store: backend.store });
  const frozenArtifacts = new FrozenArtifactView(backend.registry, backend.store);
  const ctx: RouteContext = {
    ...backend,
    uploads,
    artifacts,
    frozenArtifacts,
    mlflowVersions: new MlflowVersionService(
      backend.registry,
      backend.store,
      artifacts,
      frozenArtifacts,
      backend.tracking,
    ),
    metrics,
    version: SERVER_VERSION,
    commitWaitMs: options.commitWaitMs ?? 25_000,
    auth,
    actor: (req) => auth.principal(req)?.name,
  };
  accessRoutes(app, ctx);
  modelRoutes(app, ctx);
  versionRoutes(app, ctx);
  aliasRoutes(app, ctx);
  searchRoutes(app, ctx);
  auditRoutes(app, ctx);
  fileRoutes(app, ctx);
  signedUrlRoutes(app, ctx);
  signatureRoutes(app, ctx);
  policyRoutes(app, ctx);
  webhookRoutes(app, ctx);
  uploadRoutes(app, ctx);
  opsRoutes(app, ctx);
  await mlflowRoutes(app, ctx);
  app.get(`${API_PREFIX}/openapi.json`, { schema: { hide: true }, ...access('public') }, async () =>
    app.swagger(),
  );
  await lfsRoutes(app, ctx);

  await app.register(swaggerUi, { routePrefix: '/docs' });
  await webUiRoutes(app, options.webRoot);

  const every = options.expireEveryMs ?? 10 * 60 * 1000;
  if (every > 0) {
    const timer = setInterval(() => {
      uploads.expire().catch((e) => app.log.warn({ err: e }, 'expiring upload sessions failed'));
    }, every);
    timer.unref();
    app.addHook('onClose', async () => clearInterval(timer));
  }
  app.addHook('onClose', async () => uploads.close());
  const checkpointEvery = options.checkpointEveryMs ?? 10 * 60 * 1000;
  if (checkpointEvery > 0) {
    const timer = setInterval(() => {
      backend.registry.createAuditCheckpoint().catch((e) => {
        if (!(isModelvaultError(e) && e.code === 'UNSUPPORTED')) {
          app.log.warn({ err: e }, 'signing an audit checkpoint failed');
        }
      });
    }, checkpointEvery);
    timer.unref();
    app.addHook('onClose', async () => clearInterval(timer));
  }
  if (backend.webhooks && options.webhooks !== false) {
    const dispatcher = new WebhookDispatcher(backend.webhooks, app.log, options.webhooks ?? {});
    dispatcher.start();
    app.addHook('onClose', async () => dispatcher.stop());
  }

  await app.ready();
  return { app, routes, uploads, metrics, declaredRoutes: auth.routes };
}

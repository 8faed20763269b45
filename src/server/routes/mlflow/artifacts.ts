/**
 * MLflow's artifact proxy (mlflow_artifacts.proto, `mlflow server --serve-artifacts`):
 *
 *   PUT    mlflow-artifacts/artifacts/<path>        raw body, streamed → {}
 *   GET    mlflow-artifacts/artifacts/<path>        the bytes (Range, ETag = SHA-256)
 *   DELETE mlflow-artifacts/artifacts/<path>        file or directory → {} (idempotent)
 *   GET    mlflow-artifacts/artifacts?path=<dir>    {files: [{path, is_dir, file_size}]}
 *                                                   (names relative to <dir>; a file or a
 *                                                   missing path answers {})
 *   POST   mlflow-artifacts/mpu/create/<dir>        {path: <local file>, num_parts}
 *            → {upload_id, credentials: [{url, part_number, headers}]}
 *   PUT    mlflow-artifacts/mpu/parts/<upload>/<n>  the part's bytes (the credential URLs)
 *   POST   mlflow-artifacts/mpu/complete/<dir>      {path, upload_id, parts: [{part_number, etag}]}
 *   POST   mlflow-artifacts/mpu/abort/<dir>         {path, upload_id}
 *
 *   GET    mlflow/artifacts/list?run_id=&path=     the older listing, relative to the run's root
 *
 * Paths under `_modelvault/` are read-only views of registered versions
 * (registry/frozen-artifact-view.ts). The logic lives in registry/artifact-service.ts.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ArtifactListEntry, ArtifactNode } from '../../../registry/artifact-service.js';
import { checkArtifactPath, isReservedArtifactPath } from '../../../registry/artifact-service.js';
import { field, onArtifact, onExperiment } from '../../auth/access-rule.js';
import type { App, RouteContext } from '../../context.js';
import { S } from '../../schema.js';
import { sendStoredFile } from '../../send-stored-file.js';
import { MlflowApiError } from './mlflow-errors.js';

const PATH_PARAM = S.object({ '*': S.string({ maxLength: 8192 }) });
const MPU_PATH = S.string({ minLength: 1, maxLength: 8192 });

/** MLflow's FileInfo in a proxy listing: directories carry no file_size. */
function fileInfo(e: ArtifactListEntry, prefix = ''): Record<string, unknown> {
  const path = prefix === '' ? e.name : `${prefix}/${e.name}`;
  return e.isDir ? { path, is_dir: true } : { path, is_dir: false, file_size: e.size };
}

/** The last segment of the client's local file path (`/tmp/x/model.bin` → `model.bin`). */
function baseName(localPath: string): string {
  const parts = localPath.split(/[\\/]/);
  return parts[parts.length - 1] ?? '';
}

/** The directory in the URL joined with the uploaded file's name. */
function uploadPath(dir: string, localPath: string): string {
  const name = baseName(localPath);
  return checkArtifactPath(dir === '' ? name : `${dir.replace(/\/+$/, '')}/${name}`);
}

/** The scope prefix a request came through (`/api/2.0` or `/ajax-api/2.0`). */
function prefixOf(req: FastifyRequest): string {
  const url = req.routeOptions.url ?? '';
  const at = url.indexOf('/mlflow-artifacts/');
  return at < 0 ? '' : url.slice(0, at);
}

/** How long a multipart part's credential lasts: long enough for a large artifact on a slow link. */
const PART_CREDENTIAL_SECONDS = 6 * 60 * 60;

export function artifactRoutes(scope: App, ctx: RouteContext): void {
  const { artifacts, frozenArtifacts, store } = ctx;

  function stat(path: string): Promise<ArtifactNode> {
    return isReservedArtifactPath(path) ? frozenArtifacts.stat(path) : artifacts.stat(path);
  }

  async function listing(path: string): Promise<ArtifactListEntry[]> {
    const node = await stat(path);
    if (node.kind !== 'dir') return [];
    return isReservedArtifactPath(path) ? frozenArtifacts.list(path) : artifacts.list(path);
  }

  async function download(req: FastifyRequest, reply: FastifyReply, raw: string) {
    const path = checkArtifactPath(raw);
    const node = await stat(path);
    if (node.kind !== 'file') {
      return reply
        .status(404)
        .type('application/json')
        .send({
          error_code: 'RESOURCE_DOES_NOT_EXIST',
          message: `artifact '${path.slice(0, 300)}' not found`,
        });
    }
    return sendStoredFile(store, req, reply, node.file, { cacheControl: 'no-cache' });
  }

  scope.get(
    '/mlflow-artifacts/artifacts',
    {
      config: { access: onArtifact('READ', (req) => field(req, 'path')) },
      schema: {
        querystring: S.object(
          { path: S.optional(S.string({ maxLength: 8192 })) },
          { additionalProperties: true },
        ),
      },
    },
    async (req) => {
      const raw = req.query.path ?? '';
      const path = raw === '' ? '' : checkArtifactPath(raw.replace(/\/+$/, ''));
      const entries = await listing(path);
      return entries.length === 0 ? {} : { files: entries.map((e) => fileInfo(e)) };
    },
  );

  // The older listing by run (service.proto ListArtifacts): paths relative to the run's
  // artifact root. Everything is answered in one page.
  scope.get(
    '/mlflow/artifacts/list',
    {
      config: {
        access: onExperiment('READ', (req) => {
          const id = field(req, 'run_id') || field(req, 'run_uuid');
          return id ? { kind: 'run', id } : undefined;
        }),
      },
      schema: {
        querystring: S.object(
          {
            run_id: S.optional(S.string({ maxLength: 1000 })),
            run_uuid: S.optional(S.string({ maxLength: 1000 })),
            path: S.optional(S.string({ maxLength: 8192 })),
            page_token: S.optional(S.string({ maxLength: 2000 })),
          },
          { additionalProperties: true },
        ),
      },
    },
    async (req) => {
      const runId = req.query.run_id || req.query.run_uuid;
      if (!runId) {
        throw new MlflowApiError(
          'INVALID_PARAMETER_VALUE',
          "Missing value for required parameter 'run_id'. See the API docs for more information about request parameters.",
        );
      }
      const run = await ctx.tracking.getRun(runId);
      const root = await ctx.mlflowVersions.runArtifactRoot(run);
      const raw = (req.query.path ?? '').replace(/\/+$/, '');
      const sub = raw === '' ? '' : checkArtifactPath(raw);
      const entries = await listing(sub === '' ? root : `${root}/${sub}`);
      return {
        root_uri: run.info.artifact_uri,
        ...(entries.length > 0 ? { files: entries.map((e) => fileInfo(e, sub)) } : {}),
      };
    },
  );

  scope.route({
    method: ['GET', 'HEAD'],
    url: '/mlflow-artifacts/artifacts/*',
    config: { access: onArtifact('READ', (req) => field(req, '*')) },
    schema: { params: PATH_PARAM },
    handler: (req, reply) => download(req, reply, req.params['*']),
  });

  scope.delete(
    '/mlflow-artifacts/artifacts/*',
    {
      config: { access: onArtifact('EDIT', (req) => field(req, '*')) },
      schema: { params: PATH_PARAM },
    },
    async (req) => {
      await artifacts.delete(req.params['*'].replace(/\/+$/, ''));
      return {};
    },
  );

  scope.post(
    '/mlflow-artifacts/mpu/create/*',
    {
      config: { access: onArtifact('EDIT', (req) => field(req, '*')) },
      schema: {
        params: PATH_PARAM,
        body: S.object(
          { path: MPU_PATH, num_parts: S.optional(S.integer({ minimum: 1 })) },
          { additionalProperties: true },
        ),
      },
    },
    async (req) => {
      const path = uploadPath(req.params['*'], req.body.path);
      const upload = await artifacts.createUpload(path, req.body.num_parts ?? 1);
      const base = `${req.protocol}://${req.host}${prefixOf(req)}/mlflow-artifacts/mpu/parts/${upload.uploadId}`;
      const credentials = [];
      for (let n = 1; n <= upload.numParts; n++) {
        const url = `${base}/${n}`;
        // MLflow's client PUTs each part to its URL with the credential's headers and
        // nothing else; with authentication on they carry a capability for that one PUT.
        const signed = ctx.auth.capability(req, {
          methods: ['PUT'],
          path: new URL(url).pathname,
          ttlSeconds: PART_CREDENTIAL_SECONDS,
        });
        const headers = signed ? { Authorization: `Bearer ${signed.capability}` } : {};
        credentials.push({ url, part_number: n, headers });
      }
      return { upload_id: upload.uploadId, credentials };
    },
  );

  scope.post(
    '/mlflow-artifacts/mpu/complete/*',
    {
      config: { access: onArtifact('EDIT', (req) => field(req, '*')) },
      schema: {
        params: PATH_PARAM,
        body: S.object(
          {
            path: MPU_PATH,
            upload_id: S.string({ maxLength: 64 }),
            parts: S.array(
              S.object(
                {
                  part_number: S.integer({ minimum: 1 }),
                  etag: S.string({ maxLength: 200 }),
                  url: S.optional(S.string({ maxLength: 8192 })),
                },
                { additionalProperties: true },
              ),
              { maxItems: 10_000 },
            ),
          },
          { additionalProperties: true },
        ),
      },
    },
    async (req) => {
      const path = uploadPath(req.params['*'], req.body.path);
      await artifacts.completeUpload(
        req.body.upload_id,
        path,
        req.body.parts.map((p) => ({ partNumber: p.part_number, etag: p.etag })),
      );
      return {};
    },
  );

  scope.post(
    '/mlflow-artifacts/mpu/abort/*',
    {
      config: { access: onArtifact('EDIT', (req) => field(req, '*')) },
      schema: {
        params: PATH_PARAM,
        body: S.object(
          { path: MPU_PATH, upload_id: S.string({ maxLength: 64 }) },
          { additionalProperties: true },
        ),
      },
    },
    async (req) => {
      await artifacts.abortUpload(req.body.upload_id);
      return {};
    },
  );

  // Uploads take the raw body whatever its Content-Type (MLflow guesses one from the file
  // name: a .json artifact must not be parsed): an inner scope with one catch-all parser
  // that leaves the stream to the handler.
  scope.register(async (raw) => {
    const rawScope = raw as unknown as App;
    rawScope.removeAllContentTypeParsers();
    rawScope.addContentTypeParser('*', (_req, _payload, done) => done(null));

    rawScope.put(
      '/mlflow-artifacts/artifacts/*',
      {
        config: { access: onArtifact('EDIT', (req) => field(req, '*')) },
        schema: { params: PATH_PARAM },
      },
      async (req) => {
        await artifacts.put(req.params['*'], req.raw);
        return {};
      },
    );

    rawScope.put(
      '/mlflow-artifacts/mpu/parts/:uploadId/:partNumber',
      {
        config: { access: 'user' },
        schema: {
          params: S.object({
            uploadId: S.string({ maxLength: 64 }),
            partNumber: S.queryInt(),
          }),
        },
      },
      async (req, reply) => {
        const etag = await artifacts.putPart(
          req.params.uploadId,
          Number(req.params.partNumber),
          req.raw,
        );
        reply.header('etag', `"${etag}"`);
        return {};
      },
    );
  });
}

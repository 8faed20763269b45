/**
 * The upload protocol (core/upload-protocol.ts, docs/api.md): negotiate which chunks the
 * server lacks, send them in verified binary batches, commit. The work is done by the
 * UploadService; these handlers only translate HTTP.
 */
import { ModelvaultError } from '../../../core/errors.js';
import { CHUNK_BATCH_MEDIA_TYPE, type ServerInfo } from '../../../core/upload-protocol.js';
import { field, onModel } from '../../auth/access-rule.js';
import type { App, RouteContext } from '../../context.js';
import { S } from '../../schema.js';
import { responses } from './common.js';
import { versionMetadata } from './versions.js';

const tags = ['uploads'];
const idParams = S.object({ id: S.string({ pattern: '^[0-9a-f]{32}$' }) });

/** Body limit of POST /api/v1/uploads: the file list with every chunk id (~90 bytes each). */
export const UPLOAD_SPEC_BODY_LIMIT = 128 * 1024 * 1024;

export function uploadRoutes(app: App, ctx: RouteContext): void {
  const { uploads, metrics, store } = ctx;
  const actor = (req: Parameters<RouteContext['actor']>[0]) => ctx.actor(req) ?? '';

  app.get(
    '/api/v1/info',
    {
      config: { access: 'public' },
      schema: {
        tags,
        summary: 'Server version, chunking parameters and upload limits',
        response: responses({ 200: S.ref('ServerInfo') }),
      },
    },
    async (): Promise<ServerInfo> => ({
      name: 'modelvault',
      version: ctx.version,
      apiVersion: 1,
      chunking: {
        minSize: store.chunking.minSize,
        avgSize: store.chunking.avgSize,
        maxSize: store.chunking.maxSize,
      },
      uploads: uploads.limits,
    }),
  );

  app.post(
    '/api/v1/uploads',
    {
      bodyLimit: UPLOAD_SPEC_BODY_LIMIT,
      config: { access: 'user' },
      schema: {
        tags,
        summary: 'Start (or resume) an upload: the server answers which chunks it lacks',
        description:
          'Posting the same file list again resumes the open session and lists only the chunks still missing.',
        body: S.object({
          files: S.array(
            S.object({
              path: S.string({ minLength: 1, maxLength: 4096 }),
              size: S.integer({ minimum: 0 }),
              sha256: S.string({ pattern: '^[0-9a-f]{64}$' }),
              format: S.optional(S.enum(['raw', 'safetensors', 'gguf'])),
              chunks: S.array(
                S.object({
                  id: S.string({ pattern: '^[0-9a-f]{64}$' }),
                  length: S.integer({ minimum: 1 }),
                }),
              ),
            }),
          ),
        }),
        response: responses({ 200: S.ref('UploadSession'), 201: S.ref('UploadSession') }),
      },
    },
    async (req, reply) => {
      const session = await uploads.create(req.body, actor(req));
      if (!session.resumed) {
        metrics.chunksDeduplicated.inc(
          {},
          Math.max(0, session.chunkCount - session.missing.length),
        );
        metrics.bytesDeduplicated.inc({}, Math.max(0, session.totalBytes - session.missingBytes));
      }
      return reply.status(session.resumed ? 200 : 201).send(session);
    },
  );

  app.get(
    '/api/v1/uploads/:id',
    {
      config: { access: 'user' },
      schema: {
        tags,
        summary: 'An upload session and the chunks it still lacks',
        params: idParams,
        response: responses({ 200: S.ref('UploadSession') }),
      },
    },
    async (req) => uploads.status(req.params.id, actor(req)),
  );

  app.post(
    '/api/v1/uploads/:id/chunks',
    {
      config: { access: 'user' },
      schema: {
        tags,
        summary: `Send a batch of chunks (${CHUNK_BATCH_MEDIA_TYPE})`,
        description:
          'Body: "MVC1", then frames of [32-byte chunk id][u32 big-endian length][bytes]. Every chunk is verified against its id; verified chunks are kept even if the request fails.',
        params: idParams,
        response: responses({ 200: S.ref('ChunkBatchResult') }),
      },
    },
    async (req) => {
      const declared = Number(req.headers['content-length'] ?? Number.NaN);
      if (declared > uploads.limits.maxBatchBytes) {
        throw new ModelvaultError(
          'TOO_LARGE',
          `chunk batch of ${declared} bytes exceeds ${uploads.limits.maxBatchBytes}; send smaller batches`,
          { maxBatchBytes: uploads.limits.maxBatchBytes },
        );
      }
      const route = '/api/v1/uploads/:id/chunks';
      async function* body(): AsyncGenerator<Uint8Array> {
        for await (const b of req.raw as AsyncIterable<Uint8Array>) {
          metrics.bytesIn.inc({ route }, b.length);
          yield b;
        }
      }
      const result = await uploads.receiveChunks(req.params.id, body(), actor(req));
      metrics.chunksReceived.inc({}, result.received);
      metrics.chunksStored.inc({}, result.stored);
      return result;
    },
  );

  app.post(
    '/api/v1/uploads/:id/commit',
    {
      config: { access: onModel('EDIT', (req) => field(req, 'model')) },
      schema: {
        tags,
        summary: 'Verify the uploaded files and register them as a new version',
        description:
          '201 with the version once committed; 202 {state: "committing"} while large files are still being verified: repeat the same request to keep waiting. Repeating a finished commit (same commitId) returns its version.',
        params: idParams,
        body: S.object({
          model: S.string({ minLength: 1, maxLength: 1000 }),
          commitId: S.optional(S.string({ pattern: '^[A-Za-z0-9_-]{1,128}$' })),
          ...versionMetadata,
        }),
        response: responses({ 201: S.ref('CommitResult'), 202: S.ref('CommitResult') }),
      },
    },
    async (req, reply) => {
      const result = await uploads.commit(req.params.id, req.body, actor(req), {
        waitMs: ctx.commitWaitMs,
      });
      if (result.state === 'committed') metrics.commits.inc();
      return reply.status(result.state === 'committed' ? 201 : 202).send(result);
    },
  );

  app.delete(
    '/api/v1/uploads/:id',
    {
      config: { access: 'user' },
      schema: {
        tags,
        summary: 'Abandon an upload session (idempotent)',
        params: idParams,
        response: responses({ 204: S.unknown({ description: 'no content' }) }),
      },
    },
    async (req, reply) => {
      await uploads.abandon(req.params.id, actor(req));
      return reply.status(204).send();
    },
  );
}

/**
 * Downloads: whole files and byte ranges by SHA-256 (ETag = the digest, so caches and
 * resuming clients can rely on it), a file's chunk map for chunk-aligned parallel reads,
 * version manifests, and files by path within a version. Every byte is read through
 * Store.readFile, which verifies each chunk it returns; a stored file that turns out damaged
 * ends the response early (the client's digest check catches it), never silently.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Sha256Hex } from '../../../core/digest.js';
import { ModelvaultError, NotFoundError } from '../../../core/errors.js';
import { validateManifestPath } from '../../../core/names.js';
import { chunkIdsToHex } from '../../../storage/index/chunk-index.js';
import { field, modelOfRef, onModel } from '../../auth/access-rule.js';
import type { App, RouteContext } from '../../context.js';
import { queryBool, S } from '../../schema.js';
import { sendStoredFile } from '../../send-stored-file.js';
import { refParam, responses, sha256Param } from './common.js';

const tags = ['files'];

const fileResponses = responses({
  200: S.unknown({ description: 'the file bytes (application/octet-stream)' }),
  206: S.unknown({ description: 'the requested byte range' }),
  304: S.unknown({ description: 'not modified (If-None-Match matched the ETag)' }),
});

export function fileRoutes(app: App, ctx: RouteContext): void {
  const { store, registry, metrics } = ctx;

  async function fileSize(sha256: string): Promise<number> {
    const record = await store.index.getFile(sha256 as Sha256Hex);
    if (!record) throw new NotFoundError(`file ${sha256} not found`, { sha256 });
    return record.size;
  }

  /** Answers GET/HEAD for a stored file (send-stored-file.ts), counting the bytes sent. */
  function sendFile(
    req: FastifyRequest,
    reply: FastifyReply,
    sha256: string,
    size: number,
    route: string,
  ): FastifyReply | Promise<FastifyReply> {
    return sendStoredFile(
      store,
      req,
      reply,
      { sha256, size },
      {
        onBytes: (n) => metrics.bytesOut.inc({ route }, n),
      },
    );
  }

  app.route({
    method: ['GET', 'HEAD'],
    url: '/api/v1/files/:sha256',
    config: { access: 'user' },
    schema: {
      tags,
      summary: 'Download a file by SHA-256 (Range, If-Range, If-None-Match supported)',
      params: S.object({ sha256: sha256Param }),
      response: fileResponses,
    },
    handler: async (req, reply) => {
      const size = await fileSize(req.params.sha256);
      return sendFile(req, reply, req.params.sha256, size, '/api/v1/files/:sha256');
    },
  });

  app.get(
    '/api/v1/files/:sha256/chunks',
    {
      config: { access: 'user' },
      schema: {
        tags,
        summary: "A file's chunks with their offsets, for chunk-aligned verified range reads",
        params: S.object({ sha256: sha256Param }),
        response: responses({ 200: S.ref('FileChunks') }),
      },
    },
    async (req) => {
      const record = await store.index.getFile(req.params.sha256 as Sha256Hex);
      if (!record) {
        throw new NotFoundError(`file ${req.params.sha256} not found`, {
          sha256: req.params.sha256,
        });
      }
      const ids = chunkIdsToHex(record.chunkIds);
      const where = await store.index.locate(ids);
      let offset = 0;
      const chunks = ids.map((id) => {
        const length = where.get(id)?.length;
        if (length === undefined) {
          throw new ModelvaultError(
            'CORRUPT',
            `file ${record.sha256} is damaged: chunk ${id} is missing`,
            {
              sha256: record.sha256,
              chunk: id,
            },
          );
        }
        const c = { id, offset, length };
        offset += length;
        return c;
      });
      return { sha256: record.sha256, size: record.size, chunks };
    },
  );

  app.get(
    '/api/v1/versions/:ref/manifest',
    {
      config: { access: onModel('READ', (req) => modelOfRef(field(req, 'ref'))) },
      schema: {
        tags: ['versions'],
        summary: "A version's manifest: its files' paths, sizes and SHA-256s",
        params: S.object({ ref: refParam }),
        querystring: S.object({ includeDeleted: S.optional(S.queryBool()) }),
        response: responses({ 200: S.ref('Manifest') }),
      },
    },
    async (req) => {
      const v = await registry.getVersion(req.params.ref, {
        includeDeleted: queryBool(req.query.includeDeleted),
      });
      const m = await store.getManifest(v.digest as Sha256Hex);
      return { digest: m.digest, totalSize: m.totalSize, files: m.entries };
    },
  );

  app.route({
    method: ['GET', 'HEAD'],
    url: '/api/v1/versions/:ref/files/*',
    config: { access: onModel('READ', (req) => modelOfRef(field(req, 'ref'))) },
    schema: {
      tags,
      summary: 'Download one file of a version by its path (Range supported)',
      params: S.object({ ref: refParam, '*': S.string({ maxLength: 8192 }) }),
      response: fileResponses,
    },
    handler: async (req, reply) => {
      const path = validateManifestPath(req.params['*']);
      const v = await registry.getVersion(req.params.ref);
      const m = await store.getManifest(v.digest as Sha256Hex);
      const entry = m.entries.find((e) => e.path === path);
      if (!entry) {
        throw new NotFoundError(`file '${path}' not found in ${v.model}@${v.version}`, { path });
      }
      return sendFile(req, reply, entry.sha256, entry.size, '/api/v1/versions/:ref/files/*');
    },
  });
}

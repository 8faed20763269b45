/** Model versions: register, read, list, update, tags, metrics, stages, reviews, delete. */
import { parseSha256 } from '../../../core/digest.js';
import { InvalidArgumentError } from '../../../core/errors.js';
import { field, modelOfRef, onModel } from '../../auth/access-rule.js';
import type { App, RouteContext } from '../../context.js';
import { queryBool, queryInt, S } from '../../schema.js';
import {
  keyParam,
  nameParam,
  noContent,
  pageQuery,
  refParam,
  responses,
  stringMap,
} from './common.js';

const tags = ['versions'];
const refOnly = S.object({ ref: refParam });
const includeDeleted = S.object({ includeDeleted: S.optional(S.queryBool()) });

export const lineageSchema = S.object({
  parents: S.optional(S.array(S.string(), { maxItems: 1000 })),
  datasets: S.optional(
    S.array(
      S.object({
        name: S.string(),
        uri: S.optional(S.string()),
        digest: S.optional(S.string()),
      }),
      { maxItems: 1000 },
    ),
  ),
  code: S.optional(
    S.object({
      gitRemote: S.optional(S.string()),
      gitCommit: S.optional(S.string()),
      gitDirty: S.optional(S.boolean()),
    }),
  ),
});

/** Version metadata, shared by version creation and upload commits. */
export const versionMetadata = {
  description: S.optional(S.string()),
  metrics: S.optional(S.record(S.number(), { maxProperties: 10_000 })),
  params: S.optional(S.record(S.string(), { maxProperties: 10_000 })),
  tags: S.optional(stringMap),
  runId: S.optional(S.string()),
  source: S.optional(S.string()),
  lineage: S.optional(lineageSchema),
  createModelIfMissing: S.optional(S.boolean()),
};

const review = S.object({ comment: S.optional(S.string()) });

export function versionRoutes(app: App, ctx: RouteContext): void {
  const { registry, store } = ctx;

  app.post(
    '/api/v1/models/:name/versions',
    {
      config: { access: onModel('EDIT', (req) => field(req, 'name')) },
      schema: {
        tags,
        summary: 'Register a version from a manifest already in the store',
        description:
          'To upload files, use the upload protocol (/api/v1/uploads) instead: it registers the version when it commits.',
        params: S.object({ name: nameParam }),
        body: S.object({
          manifest: S.object({
            digest: S.string(),
            size: S.integer({ minimum: 0 }),
            fileCount: S.integer({ minimum: 0 }),
          }),
          ...versionMetadata,
        }),
        response: responses({ 201: S.ref('ModelVersion') }),
      },
    },
    async (req, reply) => {
      // The registry trusts its caller about the manifest; a remote caller is checked here.
      const m = await store.getManifest(parseSha256(req.body.manifest.digest, 'manifest digest'));
      if (
        m.totalSize !== req.body.manifest.size ||
        m.entries.length !== req.body.manifest.fileCount
      ) {
        throw new InvalidArgumentError(
          `manifest ${m.digest} has ${m.entries.length} files and ${m.totalSize} bytes, not ${req.body.manifest.fileCount} and ${req.body.manifest.size}`,
          { manifest: m.digest },
        );
      }
      const version = await registry.createVersion(
        { ...req.body, model: req.params.name, actor: ctx.actor(req) },
        { manifest: m },
      );
      return reply.status(201).send(version);
    },
  );

  app.get(
    '/api/v1/models/:name/versions',
    {
      config: { access: onModel('READ', (req) => field(req, 'name')) },
      schema: {
        tags,
        summary: "A model's versions, newest first",
        params: S.object({ name: nameParam }),
        querystring: S.object({ ...pageQuery, includeDeleted: S.optional(S.queryBool()) }),
        response: responses({ 200: S.ref('VersionPage') }),
      },
    },
    async (req) =>
      registry.listVersions(req.params.name, {
        pageToken: req.query.pageToken,
        maxResults: queryInt(req.query.maxResults),
        includeDeleted: queryBool(req.query.includeDeleted),
      }),
  );

  app.get(
    '/api/v1/versions/:ref',
    {
      config: { access: onModel('READ', (req) => modelOfRef(field(req, 'ref'))) },
      schema: {
        tags,
        summary: 'Get a version by reference',
        params: refOnly,
        querystring: includeDeleted,
        response: responses({ 200: S.ref('ModelVersion') }),
      },
    },
    async (req) =>
      registry.getVersion(req.params.ref, { includeDeleted: queryBool(req.query.includeDeleted) }),
  );

  app.get(
    '/api/v1/versions/:ref/inspect',
    {
      config: { access: onModel('READ', (req) => modelOfRef(field(req, 'ref'))) },
      schema: {
        tags,
        summary: "What the version's files are, read from their headers",
        description:
          'Every recognised file (safetensors, GGUF, ONNX, PyTorch zip, MLmodel, config.json, README front matter); with `path`, that one file with its tensor list.',
        params: refOnly,
        querystring: S.object({ path: S.optional(S.string({ minLength: 1, maxLength: 4096 })) }),
        response: responses({ 200: S.ref('VersionInspection') }),
      },
    },
    async (req) =>
      registry.inspectVersion(
        req.params.ref,
        req.query.path === undefined ? {} : { path: req.query.path },
      ),
  );

  app.patch(
    '/api/v1/versions/:ref',
    {
      config: { access: onModel('EDIT', (req) => modelOfRef(field(req, 'ref'))) },
      schema: {
        tags,
        summary: "Update a version's description (null clears it)",
        params: refOnly,
        body: S.object({ description: S.optional(S.nullable(S.string())) }),
        response: responses({ 200: S.ref('ModelVersion') }),
      },
    },
    async (req) => registry.updateVersion(req.params.ref, req.body, { actor: ctx.actor(req) }),
  );

  app.delete(
    '/api/v1/versions/:ref',
    {
      config: { access: onModel('MANAGE', (req) => modelOfRef(field(req, 'ref'))) },
      schema: {
        tags,
        summary: 'Soft-delete a version (refused while aliases point at it)',
        params: refOnly,
        response: responses({ 204: noContent }),
      },
    },
    async (req, reply) => {
      await registry.deleteVersion(req.params.ref, { actor: ctx.actor(req) });
      return reply.status(204).send();
    },
  );

  app.post(
    '/api/v1/versions/:ref/restore',
    {
      config: { access: onModel('MANAGE', (req) => modelOfRef(field(req, 'ref'))) },
      schema: {
        tags,
        summary: 'Restore a soft-deleted version (ref must name a number)',
        params: refOnly,
        response: responses({ 200: S.ref('ModelVersion') }),
      },
    },
    async (req) => registry.restoreVersion(req.params.ref, { actor: ctx.actor(req) }),
  );

  app.put(
    '/api/v1/versions/:ref/tags/:key',
    {
      config: { access: onModel('EDIT', (req) => modelOfRef(field(req, 'ref'))) },
      schema: {
        tags,
        summary: 'Set a version tag',
        params: S.object({ ref: refParam, key: keyParam }),
        body: S.object({ value: S.string() }),
        response: responses({ 204: noContent }),
      },
    },
    async (req, reply) => {
      await registry.setVersionTag(req.params.ref, req.params.key, req.body.value, {
        actor: ctx.actor(req),
      });
      return reply.status(204).send();
    },
  );

  app.delete(
    '/api/v1/versions/:ref/tags/:key',
    {
      config: { access: onModel('EDIT', (req) => modelOfRef(field(req, 'ref'))) },
      schema: {
        tags,
        summary: 'Delete a version tag (idempotent)',
        params: S.object({ ref: refParam, key: keyParam }),
        response: responses({ 200: S.object({ deleted: S.boolean() }) }),
      },
    },
    async (req) => ({
      deleted: await registry.deleteVersionTag(req.params.ref, req.params.key, {
        actor: ctx.actor(req),
      }),
    }),
  );

  app.post(
    '/api/v1/versions/:ref/metrics',
    {
      config: { access: onModel('EDIT', (req) => modelOfRef(field(req, 'ref'))) },
      schema: {
        tags,
        summary: 'Log metric points',
        params: refOnly,
        body: S.object({
          metrics: S.array(
            S.object({
              key: S.string(),
              value: S.number(),
              step: S.optional(S.integer()),
              timestamp: S.optional(S.integer()),
            }),
            { maxItems: 10_000 },
          ),
        }),
        response: responses({ 200: S.ref('ModelVersion') }),
      },
    },
    async (req) =>
      registry.logVersionMetrics(req.params.ref, req.body.metrics, { actor: ctx.actor(req) }),
  );

  app.get(
    '/api/v1/versions/:ref/metrics/:key',
    {
      config: { access: onModel('READ', (req) => modelOfRef(field(req, 'ref'))) },
      schema: {
        tags,
        summary: 'Every point logged for one metric, by step then timestamp',
        params: S.object({ ref: refParam, key: keyParam }),
        response: responses({ 200: S.object({ points: S.array(S.ref('MetricPoint')) }) }),
      },
    },
    async (req) => ({ points: await registry.getMetricHistory(req.params.ref, req.params.key) }),
  );

  app.post(
    '/api/v1/versions/:ref/stage',
    {
      config: { access: onModel('EDIT', (req) => modelOfRef(field(req, 'ref'))) },
      schema: {
        tags,
        summary: 'Transition to an MLflow stage',
        params: refOnly,
        body: S.object({ stage: S.string(), archiveExisting: S.optional(S.boolean()) }),
        response: responses({ 200: S.ref('ModelVersion') }),
      },
    },
    async (req) =>
      registry.transitionStage(req.params.ref, req.body.stage, {
        actor: ctx.actor(req),
        archiveExisting: req.body.archiveExisting,
      }),
  );

  for (const action of ['approve', 'reject'] as const) {
    app.post(
      `/api/v1/versions/:ref/${action}`,
      {
        config: { access: onModel('EDIT', (req) => modelOfRef(field(req, 'ref'))) },
        schema: {
          tags,
          summary: action === 'approve' ? 'Approve a version' : 'Reject a version',
          params: refOnly,
          body: review,
          response: responses({ 200: S.ref('ModelVersion') }),
        },
      },
      async (req) =>
        registry[action](req.params.ref, { actor: ctx.actor(req), comment: req.body.comment }),
    );
  }
}

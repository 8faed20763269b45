/** Registered models: create, read, list, update, delete/restore, tags. */

import { field, onModel } from '../../auth/access-rule.js';
import type { App, RouteContext } from '../../context.js';
import { queryBool, queryInt, S } from '../../schema.js';
import { keyParam, nameParam, noContent, pageQuery, responses, stringMap } from './common.js';

const tags = ['models'];
const nameOnly = S.object({ name: nameParam });

export function modelRoutes(app: App, ctx: RouteContext): void {
  const { registry } = ctx;

  app.post(
    '/api/v1/models',
    {
      config: { access: 'user' },
      schema: {
        tags,
        summary: 'Create a registered model',
        body: S.object({
          name: S.string({ minLength: 1, maxLength: 1000 }),
          description: S.optional(S.string()),
          owner: S.optional(S.string()),
          tags: S.optional(stringMap),
        }),
        response: responses({ 201: S.ref('RegisteredModel') }),
      },
    },
    async (req, reply) => {
      const model = await registry.createModel({ ...req.body, actor: ctx.actor(req) });
      return reply.status(201).send(model);
    },
  );

  app.get(
    '/api/v1/models',
    {
      config: { access: 'user' },
      schema: {
        tags,
        summary: 'List registered models by name',
        querystring: S.object({ ...pageQuery, includeDeleted: S.optional(S.queryBool()) }),
        response: responses({ 200: S.ref('ModelPage') }),
      },
    },
    async (req) => {
      // Only models the user may read, in full pages.
      return registry.listModels(
        {
          pageToken: req.query.pageToken,
          maxResults: queryInt(req.query.maxResults),
          includeDeleted: queryBool(req.query.includeDeleted),
        },
        await ctx.auth.readScope(req),
      );
    },
  );

  app.get(
    '/api/v1/models/:name',
    {
      config: { access: onModel('READ', (req) => field(req, 'name')) },
      schema: {
        tags,
        summary: 'Get a registered model',
        params: nameOnly,
        querystring: S.object({ includeDeleted: S.optional(S.queryBool()) }),
        response: responses({ 200: S.ref('RegisteredModel') }),
      },
    },
    async (req) =>
      registry.getModel(req.params.name, { includeDeleted: queryBool(req.query.includeDeleted) }),
  );

  app.patch(
    '/api/v1/models/:name',
    {
      config: { access: onModel('EDIT', (req) => field(req, 'name')) },
      schema: {
        tags,
        summary: "Update a model's description (null clears it)",
        params: nameOnly,
        body: S.object({ description: S.optional(S.nullable(S.string())) }),
        response: responses({ 200: S.ref('RegisteredModel') }),
      },
    },
    async (req) => registry.updateModel(req.params.name, req.body, { actor: ctx.actor(req) }),
  );

  app.post(
    '/api/v1/models/:name/rename',
    {
      config: { access: onModel('EDIT', (req) => field(req, 'name')) },
      schema: {
        tags,
        summary: 'Rename a model (its versions, aliases and tags follow)',
        params: nameOnly,
        body: S.object({ newName: S.string({ maxLength: 1000 }) }),
        response: responses({ 200: S.ref('RegisteredModel') }),
      },
    },
    async (req) =>
      registry.renameModel(req.params.name, req.body.newName, { actor: ctx.actor(req) }),
  );

  app.delete(
    '/api/v1/models/:name',
    {
      config: { access: onModel('MANAGE', (req) => field(req, 'name')) },
      schema: {
        tags,
        summary: 'Soft-delete a model (restorable)',
        params: nameOnly,
        response: responses({ 204: noContent }),
      },
    },
    async (req, reply) => {
      await registry.deleteModel(req.params.name, { actor: ctx.actor(req) });
      return reply.status(204).send();
    },
  );

  app.post(
    '/api/v1/models/:name/restore',
    {
      config: { access: onModel('MANAGE', (req) => field(req, 'name')) },
      schema: {
        tags,
        summary: 'Restore a soft-deleted model',
        params: nameOnly,
        response: responses({ 200: S.ref('RegisteredModel') }),
      },
    },
    async (req) => registry.restoreModel(req.params.name, { actor: ctx.actor(req) }),
  );

  app.put(
    '/api/v1/models/:name/tags/:key',
    {
      config: { access: onModel('EDIT', (req) => field(req, 'name')) },
      schema: {
        tags,
        summary: 'Set a model tag',
        params: S.object({ name: nameParam, key: keyParam }),
        body: S.object({ value: S.string() }),
        response: responses({ 204: noContent }),
      },
    },
    async (req, reply) => {
      await registry.setModelTag(req.params.name, req.params.key, req.body.value, {
        actor: ctx.actor(req),
      });
      return reply.status(204).send();
    },
  );

  app.delete(
    '/api/v1/models/:name/tags/:key',
    {
      config: { access: onModel('EDIT', (req) => field(req, 'name')) },
      schema: {
        tags,
        summary: 'Delete a model tag (idempotent)',
        params: S.object({ name: nameParam, key: keyParam }),
        response: responses({ 200: S.object({ deleted: S.boolean() }) }),
      },
    },
    async (req) => ({
      deleted: await registry.deleteModelTag(req.params.name, req.params.key, {
        actor: ctx.actor(req),
      }),
    }),
  );
}

/**
 * MLflow's registered-model endpoints (model_registry.proto) over the RegistryApi:
 * create, get, rename, update (PATCH), delete (DELETE with a JSON body), search,
 * get-latest-versions, set-tag, delete-tag, and alias (POST / GET / DELETE).
 * Every mutation is audited by the registry with the caller as actor.
 */
import type { FastifyRequest } from 'fastify';
import { validateAlias, validateModelName } from '../../../core/names.js';
import type { RegisteredModel } from '../../../core/registry-api.js';
import { field, onModel } from '../../auth/access-rule.js';
import type { App, RouteContext } from '../../context.js';
import { S } from '../../schema.js';
import {
  LOOSE,
  maxResults,
  mlflowModelVersion,
  mlflowRegisteredModel,
  NAME,
  registeredModelOrderBy,
  SEARCH_QUERY,
  TAG_LIST,
  tagRecord,
  VERSION,
  versionNumber,
} from './registry-shapes.js';

const R = '/mlflow/registered-models';

export function registeredModelRoutes(scope: App, ctx: RouteContext): void {
  const { registry, mlflowVersions } = ctx;
  const as = (req: FastifyRequest) => ({ actor: ctx.actor(req) });

  async function shaped(m: RegisteredModel) {
    return mlflowRegisteredModel(m, await mlflowVersions.latestVersions(m.name));
  }

  scope.post(
    `${R}/create`,
    {
      config: { access: 'user' },
      schema: {
        body: S.object(
          {
            name: NAME,
            tags: S.optional(TAG_LIST),
            description: S.optional(S.string({ maxLength: 100_000 })),
          },
          LOOSE,
        ),
      },
    },
    async (req) => {
      const m = await registry.createModel({
        name: req.body.name,
        tags: tagRecord(req.body.tags),
        ...(req.body.description ? { description: req.body.description } : {}),
        ...as(req),
      });
      return { registered_model: mlflowRegisteredModel(m, []) };
    },
  );

  scope.get(
    `${R}/get`,
    {
      config: { access: onModel('READ', (req) => field(req, 'name')) },
      schema: { querystring: S.object({ name: NAME }, LOOSE) },
    },
    async (req) => ({ registered_model: await shaped(await registry.getModel(req.query.name)) }),
  );

  scope.post(
    `${R}/rename`,
    {
      config: { access: onModel('EDIT', (req) => field(req, 'name')) },
      schema: { body: S.object({ name: NAME, new_name: NAME }, LOOSE) },
    },
    async (req) => {
      const m = await registry.renameModel(req.body.name, req.body.new_name, as(req));
      return { registered_model: await shaped(m) };
    },
  );

  scope.patch(
    `${R}/update`,
    {
      config: { access: onModel('EDIT', (req) => field(req, 'name')) },
      schema: {
        body: S.object(
          { name: NAME, description: S.optional(S.string({ maxLength: 100_000 })) },
          LOOSE,
        ),
      },
    },
    async (req) => {
      const m =
        req.body.description === undefined
          ? await registry.getModel(req.body.name)
          : await registry.updateModel(
              req.body.name,
              { description: req.body.description === '' ? null : req.body.description },
              as(req),
            );
      return { registered_model: await shaped(m) };
    },
  );

  scope.delete(
    `${R}/delete`,
    {
      config: { access: onModel('MANAGE', (req) => field(req, 'name')) },
      schema: { body: S.object({ name: NAME }, LOOSE) },
    },
    async (req) => {
      await registry.deleteModel(req.body.name, as(req));
      return {};
    },
  );

  scope.get(
    `${R}/search`,
    {
      config: { access: 'user' },
      schema: {
        querystring: SEARCH_QUERY,
      },
    },
    async (req) => {
      const q = req.query;
      // Only models the user may read, in full pages.
      const page = await registry.searchModels(
        {
          ...(q.filter ? { filter: q.filter } : {}),
          orderBy: registeredModelOrderBy(q.order_by),
          maxResults: maxResults(q.max_results, 100, 1000),
          ...(q.page_token ? { pageToken: q.page_token } : {}),
        },
        await ctx.auth.readScope(req),
      );
      const registered_models = [];
      for (const m of page.items) {
        registered_models.push(await shaped(m));
      }
      return {
        ...(registered_models.length > 0 ? { registered_models } : {}),
        ...(page.nextPageToken ? { next_page_token: page.nextPageToken } : {}),
      };
    },
  );

  const latest = async (name: string, stages: readonly string[] | undefined) => {
    const versions = await mlflowVersions.latestVersions(name, stages ?? []);
    return versions.length > 0 ? { model_versions: versions.map(mlflowModelVersion) } : {};
  };
  scope.post(
    `${R}/get-latest-versions`,
    {
      config: { access: onModel('READ', (req) => field(req, 'name')) },
      schema: {
        body: S.object(
          { name: NAME, stages: S.optional(S.array(S.string({ maxLength: 50 }))) },
          LOOSE,
        ),
      },
    },
    async (req) => latest(req.body.name, req.body.stages),
  );
  scope.get(
    `${R}/get-latest-versions`,
    {
      config: { access: onModel('READ', (req) => field(req, 'name')) },
      schema: { querystring: S.object({ name: NAME, stages: S.optional(S.unknown()) }, LOOSE) },
    },
    async (req) => {
      const raw = req.query.stages;
      const stages = raw === undefined ? [] : (Array.isArray(raw) ? raw : [raw]).map(String);
      return latest(req.query.name, stages);
    },
  );

  scope.post(
    `${R}/set-tag`,
    {
      config: { access: onModel('EDIT', (req) => field(req, 'name')) },
      schema: {
        body: S.object(
          {
            name: NAME,
            key: S.string({ maxLength: 1000 }),
            // Optional, as in MLflow (proto default: the empty string).
            value: S.optional(S.string({ maxLength: 100_000 })),
          },
          LOOSE,
        ),
      },
    },
    async (req) => {
      await registry.setModelTag(req.body.name, req.body.key, req.body.value ?? '', as(req));
      return {};
    },
  );

  scope.delete(
    `${R}/delete-tag`,
    {
      config: { access: onModel('EDIT', (req) => field(req, 'name')) },
      schema: { body: S.object({ name: NAME, key: S.string({ maxLength: 1000 }) }, LOOSE) },
    },
    async (req) => {
      // Idempotent, as MLflow's stores are: a missing tag is not an error.
      await registry.deleteModelTag(req.body.name, req.body.key, as(req));
      return {};
    },
  );

  const ALIAS = S.string({ maxLength: 1000 });
  scope.post(
    `${R}/alias`,
    {
      config: { access: onModel('EDIT', (req) => field(req, 'name')) },
      schema: { body: S.object({ name: NAME, alias: ALIAS, version: VERSION }, LOOSE) },
    },
    async (req) => {
      await registry.setAlias(
        req.body.name,
        req.body.alias,
        versionNumber(req.body.version),
        as(req),
      );
      return {};
    },
  );
  scope.delete(
    `${R}/alias`,
    {
      config: { access: onModel('EDIT', (req) => field(req, 'name')) },
      schema: { body: S.object({ name: NAME, alias: ALIAS }, LOOSE) },
    },
    async (req) => {
      await registry.deleteAlias(req.body.name, req.body.alias, as(req));
      return {};
    },
  );
  scope.get(
    `${R}/alias`,
    {
      config: { access: onModel('READ', (req) => field(req, 'name')) },
      schema: { querystring: S.object({ name: NAME, alias: ALIAS }, LOOSE) },
    },
    async (req) => {
      const alias = validateAlias(req.query.alias);
      const v = await registry.getVersion(`${validateModelName(req.query.name)}@${alias}`);
      return { model_version: mlflowModelVersion(v) };
    },
  );
}

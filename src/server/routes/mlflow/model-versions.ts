/**
 * MLflow's model-version endpoints (model_registry.proto) over the RegistryApi: create
 * (which freezes its source, registry/mlflow-version-service.ts), get, update (PATCH),
 * delete (DELETE with a JSON body; its aliases go with it, as in MLflow), search,
 * get-download-uri, transition-stage, set-tag, delete-tag. Every mutation is audited by
 * the registry with the caller as actor.
 */
import type { FastifyRequest } from 'fastify';
import { validateModelName } from '../../../core/names.js';
import { field, onModel, sourceResources } from '../../auth/access-rule.js';
import type { App, RouteContext } from '../../context.js';
import { S } from '../../schema.js';
import {
  LOOSE,
  maxResults,
  mlflowModelVersion,
  NAME,
  orderByList,
  REGISTRY_PAGE_LIMIT,
  SEARCH_QUERY,
  TAG_LIST,
  tagRecord,
  VERSION,
  versionNumber,
} from './registry-shapes.js';

const V = '/mlflow/model-versions';

export function modelVersionRoutes(scope: App, ctx: RouteContext): void {
  const { registry, mlflowVersions } = ctx;
  const as = (req: FastifyRequest) => ({ actor: ctx.actor(req) });
  /** `name@N`, validated (a version reference must not be an alias in disguise). */
  const ref = (name: string, version: unknown) =>
    `${validateModelName(name)}@${versionNumber(version)}`;
  const nameVersion = { name: NAME, version: VERSION };

  scope.post(
    `${V}/create`,
    {
      config: {
        access: {
          level: 'EDIT',
          resources: (req) => {
            const source = sourceResources(field(req, 'source'), field(req, 'run_id'));
            const name = field(req, 'name');
            if (source === 'admin') return 'admin';
            return name ? [{ kind: 'registered_model', name }, ...source] : source;
          },
        },
      },
      schema: {
        body: S.object(
          {
            name: NAME,
            source: S.string({ maxLength: 8192 }),
            run_id: S.optional(S.string({ maxLength: 1000 })),
            tags: S.optional(TAG_LIST),
            run_link: S.optional(S.string({ maxLength: 8192 })),
            description: S.optional(S.string({ maxLength: 100_000 })),
          },
          LOOSE,
        ),
      },
    },
    async (req) => {
      const b = req.body;
      const v = await mlflowVersions.createFromSource({
        name: b.name,
        source: b.source,
        ...(b.run_id ? { runId: b.run_id } : {}),
        tags: tagRecord(b.tags),
        ...(b.description ? { description: b.description } : {}),
        ...as(req),
      });
      return { model_version: mlflowModelVersion(v) };
    },
  );

  scope.get(
    `${V}/get`,
    {
      config: { access: onModel('READ', (req) => field(req, 'name')) },
      schema: { querystring: S.object(nameVersion, LOOSE) },
    },
    async (req) => ({
      model_version: mlflowModelVersion(
        await registry.getVersion(ref(req.query.name, req.query.version)),
      ),
    }),
  );

  scope.patch(
    `${V}/update`,
    {
      config: { access: onModel('EDIT', (req) => field(req, 'name')) },
      schema: {
        body: S.object(
          { ...nameVersion, description: S.optional(S.string({ maxLength: 100_000 })) },
          LOOSE,
        ),
      },
    },
    async (req) => {
      const r = ref(req.body.name, req.body.version);
      const d = req.body.description;
      const v =
        d === undefined
          ? await registry.getVersion(r)
          : await registry.updateVersion(r, { description: d === '' ? null : d }, as(req));
      return { model_version: mlflowModelVersion(v) };
    },
  );

  scope.delete(
    `${V}/delete`,
    {
      config: { access: onModel('MANAGE', (req) => field(req, 'name')) },
      schema: { body: S.object(nameVersion, LOOSE) },
    },
    async (req) => {
      await mlflowVersions.deleteVersion(
        validateModelName(req.body.name),
        versionNumber(req.body.version),
        as(req),
      );
      return {};
    },
  );

  scope.get(
    `${V}/search`,
    {
      config: { access: 'user' },
      schema: {
        querystring: SEARCH_QUERY,
      },
    },
    async (req) => {
      const q = req.query;
      // MLflow allows pages of up to 200 000; larger than ours, they come in several pages.
      const n = Math.min(maxResults(q.max_results, 10_000, 200_000), REGISTRY_PAGE_LIMIT);
      // Only versions of models the user may read, in full pages.
      const page = await registry.searchVersions(
        {
          ...(q.filter ? { filter: q.filter } : {}),
          orderBy: orderByList(q.order_by),
          maxResults: n,
          ...(q.page_token ? { pageToken: q.page_token } : {}),
          // MLflow's ModelVersion shows the row, tags and aliases only: nothing else is read.
          listing: true,
        },
        await ctx.auth.readScope(req),
      );
      const items = page.items;
      return {
        ...(items.length > 0 ? { model_versions: items.map(mlflowModelVersion) } : {}),
        ...(page.nextPageToken ? { next_page_token: page.nextPageToken } : {}),
      };
    },
  );

  scope.get(
    `${V}/get-download-uri`,
    {
      config: { access: onModel('READ', (req) => field(req, 'name')) },
      schema: { querystring: S.object(nameVersion, LOOSE) },
    },
    async (req) => ({
      artifact_uri: await mlflowVersions.downloadUri(
        validateModelName(req.query.name),
        versionNumber(req.query.version),
      ),
    }),
  );

  scope.post(
    `${V}/transition-stage`,
    {
      config: { access: onModel('EDIT', (req) => field(req, 'name')) },
      schema: {
        body: S.object(
          {
            ...nameVersion,
            stage: S.string({ maxLength: 50 }),
            archive_existing_versions: S.optional(S.unknown()),
          },
          LOOSE,
        ),
      },
    },
    async (req) => {
      const archive = req.body.archive_existing_versions;
      const v = await registry.transitionStage(
        ref(req.body.name, req.body.version),
        req.body.stage,
        {
          archiveExisting: archive === true || archive === 'true',
          ...as(req),
        },
      );
      return { model_version: mlflowModelVersion(v) };
    },
  );

  scope.post(
    `${V}/set-tag`,
    {
      config: { access: onModel('EDIT', (req) => field(req, 'name')) },
      schema: {
        body: S.object(
          {
            ...nameVersion,
            key: S.string({ maxLength: 1000 }),
            // Optional, as in MLflow (proto default: the empty string).
            value: S.optional(S.string({ maxLength: 100_000 })),
          },
          LOOSE,
        ),
      },
    },
    async (req) => {
      await registry.setVersionTag(
        ref(req.body.name, req.body.version),
        req.body.key,
        req.body.value ?? '',
        as(req),
      );
      return {};
    },
  );

  scope.delete(
    `${V}/delete-tag`,
    {
      config: { access: onModel('EDIT', (req) => field(req, 'name')) },
      schema: { body: S.object({ ...nameVersion, key: S.string({ maxLength: 1000 }) }, LOOSE) },
    },
    async (req) => {
      // Idempotent, as MLflow's stores are: a missing tag is not an error.
      await registry.deleteVersionTag(ref(req.body.name, req.body.version), req.body.key, as(req));
      return {};
    },
  );
}

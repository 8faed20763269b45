/** Search (MLflow filter syntax) and version diffs. */

import { field, modelOfRef, onModel } from '../../auth/access-rule.js';
import type { App, RouteContext } from '../../context.js';
import { queryBool, S } from '../../schema.js';
import { refParam, responses } from './common.js';

const searchBody = S.object({
  filter: S.optional(S.string({ maxLength: 64 * 1024 })),
  orderBy: S.optional(S.array(S.string({ maxLength: 1000 }), { maxItems: 100 })),
  pageToken: S.optional(S.string({ maxLength: 4096 })),
  maxResults: S.optional(S.integer()),
  includeDeleted: S.optional(S.boolean()),
});

export function searchRoutes(app: App, ctx: RouteContext): void {
  const { registry } = ctx;

  app.post(
    '/api/v1/search/models',
    {
      config: { access: 'user' },
      schema: {
        tags: ['search'],
        summary: 'Search registered models',
        description: "Filter example: `name LIKE 'fraud%' AND tags.team = 'risk'`.",
        body: searchBody,
        response: responses({ 200: S.ref('ModelPage') }),
      },
    },
    async (req) => {
      // Only models the user may read, in full pages.
      return registry.searchModels(req.body, await ctx.auth.readScope(req));
    },
  );

  app.post(
    '/api/v1/search/versions',
    {
      config: { access: 'user' },
      schema: {
        tags: ['search'],
        summary: 'Search model versions',
        description: "Filter example: `metrics.auc > 0.93 AND tags.team = 'risk'`.",
        body: searchBody,
        response: responses({ 200: S.ref('VersionPage') }),
      },
    },
    async (req) => {
      // Only versions of models the user may read, in full pages.
      return registry.searchVersions(req.body, await ctx.auth.readScope(req));
    },
  );

  app.get(
    '/api/v1/diff',
    {
      config: {
        access: onModel('READ', (req) => [
          modelOfRef(field(req, 'a')),
          modelOfRef(field(req, 'b')),
        ]),
      },
      schema: {
        tags: ['versions'],
        summary: 'Compare two versions (a is the base)',
        description:
          '`tensors=true` adds a tensor-level comparison; `stats=true` also computes numeric statistics of changed tensors (reads their bytes).',
        querystring: S.object({
          a: refParam,
          b: refParam,
          tensors: S.optional(S.queryBool()),
          stats: S.optional(S.queryBool()),
        }),
        response: responses({ 200: S.ref('VersionDiff') }),
      },
    },
    async (req) => {
      const tensors = queryBool(req.query.tensors) === true;
      const stats = queryBool(req.query.stats) === true;
      return tensors
        ? registry.diffVersions(req.query.a, req.query.b, { tensors, stats })
        : registry.diffVersions(req.query.a, req.query.b);
    },
  );
}

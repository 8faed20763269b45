/** Aliases: set, delete, history, rollback. */

import { field, onModel } from '../../auth/access-rule.js';
import type { App, RouteContext } from '../../context.js';
import { S } from '../../schema.js';
import { nameParam, responses } from './common.js';

const tags = ['aliases'];
const aliasParams = S.object({
  name: nameParam,
  alias: S.string({ minLength: 1, maxLength: 1000 }),
});

export function aliasRoutes(app: App, ctx: RouteContext): void {
  const { registry } = ctx;

  app.put(
    '/api/v1/models/:name/aliases/:alias',
    {
      config: { access: onModel('EDIT', (req) => field(req, 'name')) },
      schema: {
        tags,
        summary: 'Point an alias at a version',
        params: aliasParams,
        body: S.object({ version: S.integer({ minimum: 1 }) }),
        response: responses({ 200: S.ref('AliasChange') }),
      },
    },
    async (req) =>
      registry.setAlias(req.params.name, req.params.alias, req.body.version, {
        actor: ctx.actor(req),
      }),
  );

  app.delete(
    '/api/v1/models/:name/aliases/:alias',
    {
      config: { access: onModel('EDIT', (req) => field(req, 'name')) },
      schema: {
        tags,
        summary: 'Delete an alias (idempotent)',
        params: aliasParams,
        response: responses({ 200: S.ref('AliasChange') }),
      },
    },
    async (req) =>
      registry.deleteAlias(req.params.name, req.params.alias, { actor: ctx.actor(req) }),
  );

  app.post(
    '/api/v1/models/:name/aliases/:alias/rollback',
    {
      config: { access: onModel('EDIT', (req) => field(req, 'name')) },
      schema: {
        tags,
        summary: 'Move an alias back to its previous target',
        params: aliasParams,
        response: responses({ 200: S.ref('AliasChange') }),
      },
    },
    async (req) => registry.rollback(req.params.name, req.params.alias, { actor: ctx.actor(req) }),
  );

  app.get(
    '/api/v1/models/:name/alias-history',
    {
      config: { access: onModel('READ', (req) => field(req, 'name')) },
      schema: {
        tags,
        summary: "Every move of the model's aliases (or of one), oldest first",
        params: S.object({ name: nameParam }),
        querystring: S.object({ alias: S.optional(S.string({ minLength: 1, maxLength: 1000 })) }),
        response: responses({ 200: S.object({ entries: S.array(S.ref('AliasHistoryEntry')) }) }),
      },
    },
    async (req) => ({ entries: await registry.aliasHistory(req.params.name, req.query.alias) }),
  );
}

/**
 * Promotion policies: list, set, delete, and check a version against one (docs/api.md).
 * A policy guards one alias or one stage of one model, or (without `model`) of every
 * model that has no policy of its own for that target. Enforcement is in the registry.
 *
 * Who may change them: MANAGE on the model for a model's policy (whoever may manage its
 * grants may decide what it takes to promote it; EDIT, which moves aliases, may not, so
 * an editor cannot loosen the rule that binds them); a registry admin for the defaults,
 * which bind every model. Reading: READ on the model (a model's policies, checks); the
 * unfiltered list shows the defaults and the policies of models the user may read.
 */
import type { FastifyRequest } from 'fastify';
import type { PolicyRules } from '../../../core/registry-api.js';
import { field, modelOfRef, onModel, type ResourceRule } from '../../auth/access-rule.js';
import type { App, RouteContext } from '../../context.js';
import { S } from '../../schema.js';
import { responses } from './common.js';

const tags = ['policies'];
const aliasName = S.string({ minLength: 1, maxLength: 1000 });
const stageName = S.string({ minLength: 1, maxLength: 50, description: 'None, Staging, …' });
const modelName = S.string({ minLength: 1, maxLength: 1000 });

/** MANAGE on the model a policy change names; a registry admin for a default (no model). */
const managePolicy: ResourceRule = {
  level: 'MANAGE',
  resources: (req: FastifyRequest) => {
    const model = field(req, 'model');
    return model === undefined || model === ''
      ? 'admin'
      : [{ kind: 'registered_model', name: model }];
  },
};

export function policyRoutes(app: App, ctx: RouteContext): void {
  const { registry } = ctx;

  app.get(
    '/api/v1/policies',
    {
      config: { access: onModel('READ', (req) => field(req, 'model')) },
      schema: {
        tags,
        summary: 'Promotion policies (registry-wide defaults first), or one model’s',
        querystring: S.object({ model: S.optional(modelName) }),
        response: responses({ 200: S.object({ policies: S.array(S.ref('PromotionPolicy')) }) }),
      },
    },
    async (req) => {
      const policies = await registry.listPolicies(
        req.query.model === undefined ? {} : { model: req.query.model },
      );
      // Defaults (model null) are for everyone; a model's policies for its readers only.
      const readable = new Set(
        await ctx.auth.filterModels(
          req,
          policies.flatMap((p) => (p.model === null ? [] : [p.model])),
          (m) => m,
        ),
      );
      return { policies: policies.filter((p) => p.model === null || readable.has(p.model)) };
    },
  );

  app.put(
    '/api/v1/policies',
    {
      config: { access: managePolicy },
      schema: {
        tags,
        summary: 'Create or replace the policy of an alias or a stage (MANAGE; admin for defaults)',
        description:
          'Without `model`, the registry-wide default for that alias or stage. Give exactly one of `alias` and `stage`. Audited as `policy.set`.',
        body: S.object({
          model: S.optional(S.nullable(modelName)),
          alias: S.optional(aliasName),
          stage: S.optional(stageName),
          rules: S.ref('PolicyRules'),
        }),
        response: responses({ 200: S.ref('PromotionPolicy') }),
      },
    },
    async (req) =>
      registry.setPolicy({
        ...req.body,
        rules: req.body.rules as PolicyRules, // validated by the PolicyRules schema
        actor: ctx.actor(req),
      }),
  );

  app.delete(
    '/api/v1/policies',
    {
      config: { access: managePolicy },
      schema: {
        tags,
        summary:
          'Delete the policy of an alias or a stage (idempotent; MANAGE; admin for defaults)',
        querystring: S.object({
          model: S.optional(modelName),
          alias: S.optional(aliasName),
          stage: S.optional(stageName),
        }),
        response: responses({ 200: S.object({ deleted: S.boolean() }) }),
      },
    },
    async (req) => ({
      deleted: await registry.deletePolicy(req.query, { actor: ctx.actor(req) }),
    }),
  );

  app.post(
    '/api/v1/policies/check',
    {
      config: { access: onModel('READ', (req) => modelOfRef(field(req, 'ref'))) },
      schema: {
        tags,
        summary: 'Would promoting this version to the alias or stage be allowed now?',
        description:
          'Evaluates the policy that applies, rule by rule, without changing anything. `ok` is false when a rule fails (the answer is still 200).',
        body: S.object({
          ref: S.string({ minLength: 1, maxLength: 1200 }),
          alias: S.optional(aliasName),
          stage: S.optional(stageName),
        }),
        response: responses({ 200: S.ref('PolicyCheck') }),
      },
    },
    async (req) => {
      const { ref, ...target } = req.body;
      return registry.checkPolicy(ref, target);
    },
  );
}

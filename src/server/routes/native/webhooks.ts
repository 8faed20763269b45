/**
 * Webhooks: subscribe, list, delete, the delivery log, and a test delivery. The secret is
 * in the creation answer only. The server's dispatcher (webhook-dispatcher.ts) sends.
 */
import { WEBHOOK_EVENTS } from '../../../core/registry-api.js';
import type { App, RouteContext } from '../../context.js';
import { queryInt, S } from '../../schema.js';
import { responses } from './common.js';

const tags = ['webhooks'];
const idParams = S.object({ id: S.string({ minLength: 1, maxLength: 100 }) });

export function webhookRoutes(app: App, ctx: RouteContext): void {
  const { registry } = ctx;

  app.post(
    '/api/v1/webhooks',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'Subscribe a URL to events (the answer holds the secret, shown once)',
        body: S.object({
          url: S.string({ minLength: 1, maxLength: 2048 }),
          events: S.array(S.enum([...WEBHOOK_EVENTS, '*']), { minItems: 1, maxItems: 100 }),
          model: S.optional(S.nullable(S.string({ minLength: 1, maxLength: 1000 }))),
          description: S.optional(S.string({ maxLength: 64 * 1024 })),
        }),
        response: responses({ 201: S.ref('CreatedWebhook') }),
      },
    },
    async (req, reply) =>
      reply.status(201).send(await registry.createWebhook({ ...req.body, actor: ctx.actor(req) })),
  );

  app.get(
    '/api/v1/webhooks',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'Webhooks (without their secrets)',
        response: responses({ 200: S.object({ webhooks: S.array(S.ref('Webhook')) }) }),
      },
    },
    async () => ({ webhooks: await registry.listWebhooks() }),
  );

  app.delete(
    '/api/v1/webhooks/:id',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'Delete a webhook; its pending deliveries are dropped (idempotent)',
        params: idParams,
        response: responses({ 200: S.object({ deleted: S.boolean() }) }),
      },
    },
    async (req) => ({
      deleted: await registry.deleteWebhook(req.params.id, { actor: ctx.actor(req) }),
    }),
  );

  app.get(
    '/api/v1/webhooks/:id/deliveries',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: "A webhook's deliveries, newest first (state, attempts, last status or error)",
        params: idParams,
        querystring: S.object({
          maxResults: S.optional(S.queryInt({ description: '1..10000, default 100' })),
        }),
        response: responses({
          200: S.object({ deliveries: S.array(S.ref('WebhookDelivery')) }),
        }),
      },
    },
    async (req) => {
      const max = queryInt(req.query.maxResults);
      return {
        deliveries: await registry.webhookDeliveries(
          req.params.id,
          max === undefined ? {} : { maxResults: max },
        ),
      };
    },
  );

  app.post(
    '/api/v1/webhooks/:id/test',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'Send a webhook.test event now (one attempt) and answer its outcome',
        params: idParams,
        response: responses({ 200: S.ref('WebhookDelivery') }),
      },
    },
    async (req) => registry.testWebhook(req.params.id),
  );
}

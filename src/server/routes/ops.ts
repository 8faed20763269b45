/** Operations: liveness/readiness at /health and Prometheus metrics at /metrics. */
import { ModelvaultError } from '../../core/errors.js';
import type { App, RouteContext } from '../context.js';
import { S } from '../schema.js';
import { responses } from './native/common.js';

export function opsRoutes(app: App, ctx: RouteContext): void {
  app.get(
    '/health',
    {
      config: { access: 'public' },
      schema: {
        tags: ['operations'],
        summary: 'Health: 200 when the metadata database answers, 503 otherwise',
        response: responses({
          200: S.object({ status: S.enum(['ok']), version: S.string() }),
        }),
      },
    },
    async (req) => {
      try {
        await ctx.ping();
      } catch (e) {
        req.log.error({ err: e }, 'health check failed');
        throw new ModelvaultError('UNAVAILABLE', 'the metadata database does not answer');
      }
      return { status: 'ok' as const, version: ctx.version };
    },
  );

  app.get(
    '/metrics',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics (text exposition format 0.0.4)',
        response: responses({ 200: S.string() }),
      },
    },
    async (_req, reply) =>
      reply.type('text/plain; version=0.0.4; charset=utf-8').send(ctx.metrics.render()),
  );
}

/** The audit trail: query, verify, export (NDJSON, streamed). */
import { Readable } from 'node:stream';
import type { AuditEvent } from '../../../core/registry-api.js';
import { modelOrAdmin } from '../../auth/access-rule.js';
import type { App, RouteContext } from '../../context.js';
import { queryInt, S } from '../../schema.js';
import { pageQuery, responses } from './common.js';

const tags = ['audit'];

const filterQuery = {
  model: S.optional(S.string({ maxLength: 1000 })),
  actor: S.optional(S.string({ maxLength: 1000 })),
  actions: S.optional(S.string({ maxLength: 4096, description: 'comma-separated actions' })),
  since: S.optional(S.queryInt({ description: 'inclusive lower bound on time (ms)' })),
  until: S.optional(S.queryInt({ description: 'exclusive upper bound on time (ms)' })),
};

function filters(q: {
  model?: string;
  actor?: string;
  actions?: string;
  since?: string;
  until?: string;
}) {
  return {
    model: q.model,
    actor: q.actor,
    actions: q.actions === undefined ? undefined : q.actions.split(',').filter((a) => a !== ''),
    since: queryInt(q.since),
    until: queryInt(q.until),
  };
}

async function* ndjson(events: AsyncIterable<AuditEvent>): AsyncGenerator<string> {
  for await (const e of events) yield `${JSON.stringify(e)}\n`;
}

export function auditRoutes(app: App, ctx: RouteContext): void {
  const { registry } = ctx;

  app.get(
    '/api/v1/audit',
    {
      config: { access: modelOrAdmin },
      schema: {
        tags,
        summary: 'Audit events, newest first by default',
        querystring: S.object({
          ...pageQuery,
          ...filterQuery,
          order: S.optional(S.enum(['asc', 'desc'])),
        }),
        response: responses({ 200: S.ref('AuditPage') }),
      },
    },
    async (req) =>
      registry.auditLog({
        ...filters(req.query),
        order: req.query.order,
        pageToken: req.query.pageToken,
        maxResults: queryInt(req.query.maxResults),
      }),
  );

  app.get(
    '/api/v1/audit/verify',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'Recompute the hash chain and report the first broken link',
        response: responses({ 200: S.ref('AuditVerifyResult') }),
      },
    },
    async () => registry.auditVerify(),
  );

  app.get(
    '/api/v1/audit/checkpoints',
    {
      config: { access: 'user' },
      schema: {
        tags,
        summary: "Signed checkpoints of the audit chain (the server's ed25519 key), oldest first",
        response: responses({ 200: S.object({ checkpoints: S.array(S.ref('AuditCheckpoint')) }) }),
      },
    },
    async () => ({ checkpoints: await registry.auditCheckpoints() }),
  );

  app.post(
    '/api/v1/audit/checkpoints',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'Sign a checkpoint of the current head now (or return the one that covers it)',
        response: responses({
          200: S.object({ checkpoint: S.nullable(S.ref('AuditCheckpoint')) }),
        }),
      },
    },
    async () => ({ checkpoint: await registry.createAuditCheckpoint() }),
  );

  app.get(
    '/api/v1/audit/export',
    {
      config: { access: modelOrAdmin },
      schema: {
        tags,
        summary: 'Every matching event, oldest first, as NDJSON (one event per line)',
        querystring: S.object(filterQuery),
        response: responses({ 200: S.unknown({ description: 'application/x-ndjson' }) }),
      },
    },
    async (req, reply) => {
      const source = registry.auditExport(filters(req.query));
      // Read the first event before answering, so a bad query is still a JSON 4xx.
      const it = source[Symbol.asyncIterator]();
      const first = await it.next();
      async function* all(): AsyncGenerator<AuditEvent> {
        if (first.done) return;
        yield first.value;
        for (let n = await it.next(); !n.done; n = await it.next()) yield n.value;
      }
      return reply.type('application/x-ndjson').send(Readable.from(ndjson(all())));
    },
  );
}

/** Schemas and helpers shared by the native route modules. */
import { S, type TSchema } from '../../schema.js';

export const TAG_LIMIT = 1000;

export const nameParam = S.string({
  minLength: 1,
  maxLength: 1000,
  description: 'registered model name (URL-encoded: team%2Ffraud)',
});
export const refParam = S.string({
  minLength: 1,
  maxLength: 1200,
  description: 'version reference, URL-encoded: fraud%403, fraud%40production, models:%2Ffraud%2F3',
});
export const keyParam = S.string({ minLength: 1, maxLength: 1000 });
export const sha256Param = S.string({ pattern: '^[0-9a-f]{64}$', description: 'file SHA-256' });

export const pageQuery = {
  pageToken: S.optional(S.string({ maxLength: 4096 })),
  maxResults: S.optional(S.queryInt({ description: '1..10000, default 100' })),
};

export const stringMap = S.record(S.string(), { maxProperties: TAG_LIMIT });

/** Response map for the docs: the success schema(s), and the error shape for the rest. */
export function responses(ok: Record<number, TSchema>): Record<string, TSchema> {
  const out: Record<string, TSchema> = {};
  for (const [status, schema] of Object.entries(ok)) out[status] = schema;
  out['4xx'] = S.ref('Error');
  out['5xx'] = S.ref('Error');
  return out;
}

export const noContent = S.unknown({ description: 'no content' });

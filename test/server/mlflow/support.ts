/** Raw HTTP calls to the MLflow API: JSON bodies for POST/PATCH/DELETE, query strings for GET. */
import { expect } from 'vitest';

export interface MlflowReply {
  readonly status: number;
  // biome-ignore lint/suspicious/noExplicitAny: test replies are read field by field
  readonly body: any;
}

type Query = Record<string, string | number | readonly (string | number)[] | undefined>;

/** Builds a query string with repeated keys for lists, as MLflow's clients send them. */
export function queryString(q: Query): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined) continue;
    for (const item of Array.isArray(v) ? v : [v]) p.append(k, String(item));
  }
  const s = p.toString();
  return s === '' ? '' : `?${s}`;
}

export function mlflowClient(baseUrl: string, prefix = '/api/2.0') {
  async function call(method: string, path: string, payload?: unknown): Promise<MlflowReply> {
    const url = `${baseUrl}${prefix}/${path}`;
    const res =
      method === 'GET'
        ? await fetch(`${url}${queryString((payload ?? {}) as Query)}`)
        : await fetch(url, {
            method,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(payload ?? {}),
          });
    const text = await res.text();
    return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
  }
  return {
    call,
    get: (path: string, query: Query = {}) => call('GET', path, query),
    post: (path: string, body: unknown = {}) => call('POST', path, body),
    /** Like post, but throws unless the answer is 200; returns the body. */
    ok: async (path: string, body: unknown = {}, method = 'POST') => {
      const r = await call(method, path, body);
      if (r.status !== 200) throw new Error(`${path}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    },
  };
}

export type MlflowTestClient = ReturnType<typeof mlflowClient>;

/** Asserts an MLflow error reply: its status, error_code and, when given, its message. */
export function expectError(
  r: { status: number; body: unknown },
  status: number,
  code: string,
  message?: RegExp,
) {
  expect(r.status).toBe(status);
  expect(r.body).toMatchObject({ error_code: code });
  if (message) expect((r.body as { message: string }).message).toMatch(message);
}

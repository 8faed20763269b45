/**
 * Raw HTTP against the MLflow-compatible API, the way MLflow's Python client talks to a
 * tracking server: JSON bodies on POST/PATCH/DELETE, query strings on GET, raw bytes on
 * artifact PUTs. Returns the status, the parsed JSON body (or the bytes) and the headers.
 */
import { request as httpRequest } from 'node:http';

export interface MlflowReply {
  readonly status: number;
  // biome-ignore lint/suspicious/noExplicitAny: replies are checked field by field in tests
  readonly json: any;
  readonly headers: Headers;
}

export type Query = Record<string, string | number | readonly string[] | undefined>;

/** `/api/2.0/` + `path`, with `query` (arrays become repeated keys). */
export function mlflowUrl(
  base: string,
  path: string,
  query: Query = {},
  prefix = '/api/2.0',
): string {
  const u = new URL(`${base}${prefix}/${path.replace(/^\//, '')}`);
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined) continue;
    for (const item of Array.isArray(v) ? v : [v]) u.searchParams.append(k, String(item));
  }
  return u.toString();
}

/** A JSON call: GET with `query`, other methods with `body` as JSON. */
export async function mlflowCall(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  query: Query = {},
): Promise<MlflowReply> {
  const res = await fetch(mlflowUrl(base, path, query), {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const text = await res.text();
  return {
    status: res.status,
    json: text === '' ? undefined : JSON.parse(text),
    headers: res.headers,
  };
}

/** PUT of raw bytes to `url` (an artifact path or a multipart credential URL). */
export async function putBytes(
  url: string,
  bytes: Uint8Array,
  contentType?: string,
): Promise<MlflowReply> {
  const res = await fetch(url, {
    method: 'PUT',
    body: bytes,
    ...(contentType ? { headers: { 'content-type': contentType } } : {}),
  });
  const text = await res.text();
  return {
    status: res.status,
    json: text === '' ? undefined : JSON.parse(text),
    headers: res.headers,
  };
}

/** GET of raw bytes; `headers` such as Range. */
export async function getBytes(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; bytes: Uint8Array; headers: Headers }> {
  const res = await fetch(url, { headers });
  return {
    status: res.status,
    bytes: new Uint8Array(await res.arrayBuffer()),
    headers: res.headers,
  };
}

/** The artifact proxy URL of `path`. */
export function artifactUrl(base: string, path: string, prefix = '/api/2.0'): string {
  return `${base}${prefix}/mlflow-artifacts/artifacts/${path}`;
}

/**
 * A request whose path is sent exactly as given (fetch normalises `..` and `%2E%2E` away,
 * so path-traversal checks need the raw form).
 */
export function rawRequest(
  base: string,
  method: string,
  rawPath: string,
  body?: Uint8Array,
): Promise<MlflowReply> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, method, path: rawPath }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers)) {
          if (typeof v === 'string') headers.set(k, v);
        }
        resolve({
          status: res.statusCode ?? 0,
          json: text === '' ? undefined : JSON.parse(text),
          headers,
        });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

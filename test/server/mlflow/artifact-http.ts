/**
 * Raw bytes against MLflow's artifact proxy, as MLflow's Python client sends them: PUTs of
 * file bodies, GETs of bytes (Range), and requests whose path must reach the server
 * un-normalised. JSON calls go through `support.ts`.
 */
import { request as httpRequest } from 'node:http';
import type { MlflowReply } from './support.js';

export interface RawReply extends MlflowReply {
  readonly headers: Headers;
}

/** PUT of raw bytes to `url` (an artifact path or a multipart credential URL). */
export async function putBytes(
  url: string,
  bytes: Uint8Array,
  contentType?: string,
): Promise<RawReply> {
  const res = await fetch(url, {
    method: 'PUT',
    body: bytes,
    ...(contentType ? { headers: { 'content-type': contentType } } : {}),
  });
  const text = await res.text();
  return {
    status: res.status,
    body: text === '' ? undefined : JSON.parse(text),
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
): Promise<RawReply> {
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
          body: text === '' ? undefined : JSON.parse(text),
          headers,
        });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

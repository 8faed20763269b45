/** Low-level upload helpers: build file specs and chunk batch bodies by hand. */
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import {
  CHUNK_BATCH_MAGIC,
  CHUNK_BATCH_MEDIA_TYPE,
  encodeChunkFrameHeader,
  type UploadFileSpec,
} from '../../../src/core/upload-protocol.js';

/** Parsed JSON of a response, read freely by assertions. */
// biome-ignore lint/suspicious/noExplicitAny: tests inspect arbitrary response bodies
export type Json = any;

export const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

export interface RawFile {
  readonly spec: UploadFileSpec;
  readonly chunks: readonly { readonly id: string; readonly bytes: Uint8Array }[];
}

/** A file spec cutting `bytes` into fixed-size chunks (any cut points are valid). */
export function rawFile(path: string, bytes: Uint8Array, chunkSize = 8192): RawFile {
  const chunks: { id: string; bytes: Uint8Array }[] = [];
  for (let at = 0; at < bytes.length; at += chunkSize) {
    const b = bytes.subarray(at, Math.min(bytes.length, at + chunkSize));
    chunks.push({ id: sha256(b), bytes: b });
  }
  return {
    spec: {
      path,
      size: bytes.length,
      sha256: sha256(bytes),
      chunks: chunks.map((c) => ({ id: c.id, length: c.bytes.length })),
    },
    chunks,
  };
}

/** A chunk batch body of the given frames (ids are not checked: tests lie on purpose). */
export function batchBody(
  frames: readonly { readonly id: string; readonly bytes: Uint8Array }[],
): Buffer {
  const parts: Uint8Array[] = [CHUNK_BATCH_MAGIC];
  for (const f of frames) parts.push(encodeChunkFrameHeader(f.id, f.bytes.length), f.bytes);
  return Buffer.concat(parts);
}

export async function postJson(base: string, path: string, body: unknown) {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

export async function postBatch(base: string, uploadId: string, body: Uint8Array) {
  const res = await fetch(`${base}/api/v1/uploads/${uploadId}/chunks`, {
    method: 'POST',
    headers: { 'content-type': CHUNK_BATCH_MEDIA_TYPE },
    body,
  });
  return { status: res.status, body: (await res.json()) as Json };
}

/**
 * Sends `bytes` as a chunked request body (no Content-Length) to `path`, then, if
 * `destroyAfter` is set, kills the connection without ending the body.
 */
export function rawRequest(
  base: string,
  options: {
    method: string;
    path: string;
    headers?: Record<string, string>;
    body?: Uint8Array;
    destroyAfterWrite?: boolean;
  },
): Promise<{ status: number; body: string } | { destroyed: true }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: options.method,
        path: options.path,
        headers: options.headers,
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', (e) => {
      if (options.destroyAfterWrite) resolve({ destroyed: true });
      else reject(e);
    });
    if (options.destroyAfterWrite) {
      // Once the bytes are handed to the OS (so they reach the server before the FIN),
      // drop the connection in the middle of the chunked body.
      req.write(options.body ?? new Uint8Array(0), () => {
        req.destroy();
        resolve({ destroyed: true });
      });
      return;
    }
    if (options.body) req.write(options.body);
    req.end();
  });
}

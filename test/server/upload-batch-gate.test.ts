/**
 * The server-wide bound on chunk batches received at once (UploadService
 * `maxConcurrentBatches`): a batch beyond it waits, its body unread, until a place frees
 * up; past `batchWaitMs` it is refused with 503 UNAVAILABLE and Retry-After, stores
 * nothing, and the SDK retries it by itself. Every step is observed through /metrics
 * (active and waiting batches), never by timing.
 */
import { request } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { retryDelay } from '../../src/client/http-client.js';
import { ModelvaultError } from '../../src/core/errors.js';
import { CHUNK_BATCH_MEDIA_TYPE, type UploadSession } from '../../src/core/upload-protocol.js';
import { pseudoRandomBytes } from '../fixtures/model-files.js';
import { batchBody, type Json, postBatch, postJson, rawFile } from './support/raw-upload.js';
import { startTestServer, type TestServer, writeTree } from './support/test-server.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function gauge(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(new RegExp(`^modelvault_upload_batches_${name} (\\d+)$`, 'm').exec(text)?.[1]);
}

/** Polls until `read` gives `want` (each poll a real request; no deadline but the test's). */
async function until(read: () => Promise<number>, want: number): Promise<void> {
  while ((await read()) !== want) await new Promise((r) => setTimeout(r, 10));
}

/**
 * A chunk batch sent in two parts over node:http: `head` now, the rest when `finish` is
 * called, so the server holds the batch open for as long as the test wants.
 */
function heldBatch(url: string, uploadId: string, body: Buffer, head: number) {
  const u = new URL(url);
  let finish!: () => void;
  const response = new Promise<{ status: number; body: Json }>((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        method: 'POST',
        path: `/api/v1/uploads/${uploadId}/chunks`,
        headers: { 'content-type': CHUNK_BATCH_MEDIA_TYPE, 'content-length': body.length },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: JSON.parse(Buffer.concat(parts).toString('utf8')),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.write(body.subarray(0, head));
    finish = () => req.end(body.subarray(head));
  });
  return { response, finish: () => finish() };
}

/** An open session for two files, and one batch body per file. */
async function twoBatches(url: string) {
  const a = rawFile('a.bin', pseudoRandomBytes(71, 40_000));
  const b = rawFile('b.bin', pseudoRandomBytes(72, 40_000));
  const created = await postJson(url, '/api/v1/uploads', { files: [a.spec, b.spec] });
  expect(created.status).toBe(201);
  const session = created.body as UploadSession;
  expect(session.missing).toHaveLength(a.chunks.length + b.chunks.length);
  return { session, a: batchBody(a.chunks), b: batchBody(b.chunks), a2: a, b2: b };
}

describe('chunk batches received at once are bounded server-wide', () => {
  it('a batch beyond the limit waits with its body unread, then is received', async () => {
    server = await startTestServer({ uploads: { maxConcurrentBatches: 1, batchWaitMs: 600_000 } });
    const { url } = server;
    const { session, a, b } = await twoBatches(url);

    const first = heldBatch(url, session.id, a, 100);
    await until(() => gauge(url, 'active'), 1);
    const second = postBatch(url, session.id, b);
    await until(() => gauge(url, 'waiting'), 1);
    // The second batch is queued, not received: nothing of it is stored yet.
    const status = (await (await fetch(`${url}/api/v1/uploads/${session.id}`)).json()) as Json;
    expect(status.missing).toHaveLength(session.missing.length);
    expect(await gauge(url, 'active')).toBe(1);

    first.finish();
    expect((await first.response).status).toBe(200);
    const s = await second;
    expect(s.status).toBe(200);
    expect(s.body.stored).toBeGreaterThan(0);
    expect(await gauge(url, 'active')).toBe(0);
    expect(await gauge(url, 'waiting')).toBe(0);
    const after = (await (await fetch(`${url}/api/v1/uploads/${session.id}`)).json()) as Json;
    expect(after.missing).toEqual([]);
  });

  it('past the wait it is refused with 503 and Retry-After, storing nothing; resent later it is received', async () => {
    server = await startTestServer({ uploads: { maxConcurrentBatches: 1, batchWaitMs: 0 } });
    const { url } = server;
    const { session, a, b, b2 } = await twoBatches(url);

    const first = heldBatch(url, session.id, a, 100);
    await until(() => gauge(url, 'active'), 1);
    const refused = await fetch(`${url}/api/v1/uploads/${session.id}/chunks`, {
      method: 'POST',
      headers: { 'content-type': CHUNK_BATCH_MEDIA_TYPE },
      body: b,
    });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    const body = (await refused.json()) as Json;
    expect(body.error.code).toBe('UNAVAILABLE');
    expect(body.error.details.retryAfterSeconds).toBe(1);
    const status = (await (await fetch(`${url}/api/v1/uploads/${session.id}`)).json()) as Json;
    for (const c of b2.chunks) expect(status.missing).toContain(c.id);

    first.finish();
    expect((await first.response).status).toBe(200);
    await until(() => gauge(url, 'active'), 0);
    const resent = await postBatch(url, session.id, b);
    expect(resent.status).toBe(200);
    expect(resent.body.stored).toBe(new Set(b2.chunks.map((c) => c.id)).size);
  });

  it('the SDK waits out a busy refusal (Retry-After) and completes its push', async () => {
    server = await startTestServer({ uploads: { maxConcurrentBatches: 1, batchWaitMs: 0 } });
    const { url } = server;
    const { session, a } = await twoBatches(url);
    const first = heldBatch(url, session.id, a, 100);
    await until(() => gauge(url, 'active'), 1);

    const src = join(server.dir, 'model');
    await writeTree(src, { 'w.bin': pseudoRandomBytes(73, 50_000) });
    const push = server.client().push(src, { model: 'busy' });
    // Let it be refused at least once, then free the place.
    const refusals = async () => {
      const text = await (await fetch(`${url}/metrics`)).text();
      return /route="\/api\/v1\/uploads\/:id\/chunks",status="503"\} (\d+)/.exec(text) ? 1 : 0;
    };
    await until(refusals, 1);
    first.finish();
    await first.response;
    const pushed = await push;
    expect(pushed.version.version).toBe(1);
    const pulled = await server.client().pull('busy@1', join(server.dir, 'pulled'));
    expect(pulled.files).toBe(1);
  });

  it("the SDK's retry delay is the server's Retry-After when that is longer than its backoff", () => {
    const busy = new ModelvaultError('UNAVAILABLE', 'busy', { retryAfterSeconds: 2 });
    expect(retryDelay(busy, 1, 5)).toBe(2000);
    expect(retryDelay(busy, 12, 5)).toBe(5 * 2 ** 11);
    expect(retryDelay(new ModelvaultError('UNAVAILABLE', 'down'), 3, 5)).toBe(20);
    expect(
      retryDelay(new ModelvaultError('UNAVAILABLE', 'x', { retryAfterSeconds: 1e9 }), 1, 5),
    ).toBe(60_000);
  });
});

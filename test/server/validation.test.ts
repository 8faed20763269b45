/**
 * Hostile and broken input: invalid JSON, wrong types, oversized bodies, lying chunks and
 * files, path traversal in every route that takes a name, reference, digest, id or path.
 * Each gets a clear 4xx in the API's error shape, nothing is stored, and the server keeps
 * serving.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHUNK_BATCH_MEDIA_TYPE } from '../../src/core/upload-protocol.js';
import { pseudoRandomBytes } from '../fixtures/model-files.js';
import {
  batchBody,
  type Json,
  postBatch,
  postJson,
  rawFile,
  rawRequest,
  sha256,
} from './support/raw-upload.js';
import { startTestServer, type TestServer } from './support/test-server.js';

const MAX_BATCH = 64 * 1024;

async function expectServing(server: TestServer) {
  const r = await fetch(`${server.url}/health`);
  expect(r.status).toBe(200);
}

function expectError(res: { status: number; body: Json }, status: number, code: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body.error.code).toBe(code);
  expect(typeof res.body.error.message).toBe('string');
}

/** GET with the path sent exactly as written (no client-side normalisation of `..`). */
function rawGet(server: TestServer, path: string) {
  return rawRequest(server.url, { method: 'GET', path }) as Promise<{
    status: number;
    body: string;
  }>;
}

describe('input validation at the edge', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ uploads: { maxBatchBytes: MAX_BATCH } });
    await server.client().push(
      await (async () => {
        const { mkdtemp, writeFile } = await import('node:fs/promises');
        const { tmpdir } = await import('node:os');
        const { join } = await import('node:path');
        const d = await mkdtemp(join(tmpdir(), 'mv-val-'));
        await writeFile(join(d, 'weights.bin'), pseudoRandomBytes(5, 30_000));
        return d;
      })(),
      { model: 'm' },
    );
  });
  afterAll(async () => server.close());

  it('refuses invalid JSON, wrong types, unknown and missing fields with 400', async () => {
    const bodies: [string, string][] = [
      ['{"name": ', 'invalid JSON'],
      ['{"name": 123}', 'wrong type'],
      ['{"name": "x", "owner": ["a"]}', 'wrong nested type'],
      ['{"name": "x", "nmae": "y"}', 'unknown field'],
      ['{}', 'missing field'],
      ['[]', 'array instead of object'],
      ['"name"', 'string instead of object'],
    ];
    for (const [body, what] of bodies) {
      const r = await fetch(`${server.url}/api/v1/models`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      const json = await r.json();
      expect(r.status, what).toBe(400);
      expect((json as Json).error.code, what).toBe('INVALID_ARGUMENT');
    }
    // No coercion: "3" is not a version number.
    expectError(
      await fetch(`${server.url}/api/v1/models/m/aliases/prod`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: '{"version": "1"}',
      }).then(async (r) => ({ status: r.status, body: await r.json() })),
      400,
      'INVALID_ARGUMENT',
    );
    // A body of another media type.
    const text = await fetch(`${server.url}/api/v1/models`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'name=x',
    });
    expect(text.status).toBe(400);
    expect(((await text.json()) as Json).error.code).toBe('INVALID_ARGUMENT');
    // Bad query values.
    const q = await fetch(`${server.url}/api/v1/models?maxResults=lots`);
    expect(q.status).toBe(400);
    await expectServing(server);
  });

  it('refuses oversized JSON bodies and chunk batches with 413, and keeps serving', async () => {
    const big = JSON.stringify({ name: 'x', description: 'y'.repeat(2 * 1024 * 1024) });
    const r = await fetch(`${server.url}/api/v1/models`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: big,
    });
    expect(r.status).toBe(413);
    expect(((await r.json()) as Json).error.code).toBe('TOO_LARGE');
    await expectServing(server);

    const file = rawFile('big.bin', pseudoRandomBytes(77, 80 * 1024), 8192);
    const session = await postJson(server.url, '/api/v1/uploads', { files: [file.spec] });
    expect(session.status).toBe(201);
    // Declared too large: refused before the body is read.
    const declared = await postBatch(server.url, session.body.id, batchBody(file.chunks));
    expectError(declared, 413, 'TOO_LARGE');
    // Streamed without Content-Length: refused when the limit is crossed.
    const streamed = await rawRequest(server.url, {
      method: 'POST',
      path: `/api/v1/uploads/${session.body.id}/chunks`,
      headers: { 'content-type': CHUNK_BATCH_MEDIA_TYPE, 'transfer-encoding': 'chunked' },
      body: batchBody(file.chunks),
    });
    expect('status' in streamed && streamed.status).toBe(413);
    await expectServing(server);
    // The frames before the limit were verified and kept; the rest are still missing.
    const status = await fetch(`${server.url}/api/v1/uploads/${session.body.id}`);
    const missing = ((await status.json()) as Json).missing as string[];
    expect(missing.length).toBeGreaterThan(0);
    expect(missing.length).toBeLessThan(file.chunks.length);
  });

  it('refuses a chunk whose bytes do not match its id, and stores nothing for it', async () => {
    const file = rawFile('liar.bin', pseudoRandomBytes(11, 20_000), 8192);
    const session = await postJson(server.url, '/api/v1/uploads', { files: [file.spec] });
    const [c0] = file.chunks;
    const forged = { id: c0!.id, bytes: pseudoRandomBytes(12, c0!.bytes.length) };
    expectError(
      await postBatch(server.url, session.body.id, batchBody([forged])),
      400,
      'INVALID_ARGUMENT',
    );
    expect((await server.backend.store.index.locate([c0!.id])).size).toBe(0);
    expect(await server.backend.store.index.locate([sha256(forged.bytes)])).toEqual(new Map());

    // A chunk the session did not declare, a wrong length, bad magic, a truncated frame.
    const stranger = { id: sha256(new Uint8Array([1, 2, 3])), bytes: new Uint8Array([1, 2, 3]) };
    expectError(
      await postBatch(server.url, session.body.id, batchBody([stranger])),
      400,
      'INVALID_ARGUMENT',
    );
    const short = { id: c0!.id, bytes: c0!.bytes.subarray(0, 100) };
    expectError(
      await postBatch(server.url, session.body.id, batchBody([short])),
      400,
      'INVALID_ARGUMENT',
    );
    const body = batchBody([c0!]);
    const badMagic = Buffer.from(body);
    badMagic[0] = 0x58;
    expectError(await postBatch(server.url, session.body.id, badMagic), 400, 'INVALID_ARGUMENT');
    expectError(
      await postBatch(server.url, session.body.id, body.subarray(0, body.length - 1)),
      400,
      'INVALID_ARGUMENT',
    );

    // Committing before every chunk is there: 409 naming what is missing.
    const early = await postJson(server.url, `/api/v1/uploads/${session.body.id}/commit`, {
      model: 'liar',
    });
    expectError(early, 409, 'CONFLICT');
    expect(early.body.error.details.missing.length).toBeGreaterThan(0);
    await expect(server.client().getModel('liar')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expectServing(server);
  });

  it('refuses a file whose chunks do not hash to its declared sha256, and registers nothing', async () => {
    const bytes = pseudoRandomBytes(21, 20_000);
    const honest = rawFile('w.bin', bytes, 8192);
    const lie = { ...honest.spec, sha256: sha256(new Uint8Array([0])) };
    const session = await postJson(server.url, '/api/v1/uploads', { files: [lie] });
    expect(session.status).toBe(201);
    expect((await postBatch(server.url, session.body.id, batchBody(honest.chunks))).status).toBe(
      200,
    );
    const commit = await postJson(server.url, `/api/v1/uploads/${session.body.id}/commit`, {
      model: 'lie',
    });
    expectError(commit, 422, 'VERIFICATION_FAILED');
    expect(commit.body.error.details.actual).toBe(honest.spec.sha256);
    await expect(server.client().getModel('lie')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await server.backend.store.hasFile(lie.sha256 as never)).toBe(false);
    // The error is reported once; the session stays open for an honest retry.
    const again = await fetch(`${server.url}/api/v1/uploads/${session.body.id}`);
    expect(((await again.json()) as Json).state).toBe('open');
  });

  it('refuses declared sizes that contradict a stored file', async () => {
    const manifest = await server.client().manifest('m@1');
    const stored = manifest.files[0]!;
    const r = await postJson(server.url, '/api/v1/uploads', {
      files: [
        {
          path: 'x.bin',
          size: 5,
          sha256: stored.sha256,
          chunks: [{ id: 'a'.repeat(64), length: 5 }],
        },
      ],
    });
    expectError(r, 400, 'INVALID_ARGUMENT');
    const sums = await postJson(server.url, '/api/v1/uploads', {
      files: [
        {
          path: 'x.bin',
          size: 6,
          sha256: 'b'.repeat(64),
          chunks: [{ id: 'a'.repeat(64), length: 5 }],
        },
      ],
    });
    expectError(sums, 400, 'INVALID_ARGUMENT');
  });

  it('rejects path traversal in upload file paths', async () => {
    const evil = [
      '../evil',
      '../../etc/passwd',
      '/etc/passwd',
      'a/../../b',
      'a/./b',
      'a\\..\\b',
      'C:/windows/x',
      'a//b',
      'nul\u0000.bin',
      '.',
      '..',
    ];
    for (const path of evil) {
      const r = await postJson(server.url, '/api/v1/uploads', {
        files: [{ path, size: 0, sha256: sha256(new Uint8Array(0)), chunks: [] }],
      });
      expect(r.status, path).toBe(400);
      expect(r.body.error.code, path).toBe('INVALID_ARGUMENT');
    }
  });

  it('rejects path traversal in every path-taking route', async () => {
    const encoded = [
      encodeURIComponent('../../etc/passwd'),
      encodeURIComponent('..'),
      '%2e%2e%2f%2e%2e%2fetc',
      encodeURIComponent('/etc/passwd'),
      encodeURIComponent('m\u0000'),
      encodeURIComponent('..\\..\\x'),
    ];
    const routes = (x: string) => [
      `/api/v1/models/${x}`,
      `/api/v1/models/${x}/versions`,
      `/api/v1/models/${x}/alias-history`,
      `/api/v1/versions/${x}`,
      `/api/v1/versions/${x}/manifest`,
      `/api/v1/versions/${x}/files/weights.bin`,
      `/api/v1/versions/m%401/files/${x}`,
      `/api/v1/versions/${x}/metrics/loss`,
      `/api/v1/files/${x}`,
      `/api/v1/files/${x}/chunks`,
      `/api/v1/uploads/${x}`,
      `/api/v1/diff?a=${x}&b=m%401`,
    ];
    for (const x of encoded) {
      for (const path of routes(x)) {
        const r = await rawGet(server, path);
        expect(r.status, path).toBe(400);
        expect(JSON.parse(r.body).error.code, path).toBe('INVALID_ARGUMENT');
      }
    }
    // Literal dot segments: either no route matches (404) or the value is refused (400);
    // never a file.
    for (const path of [
      '/api/v1/versions/m%401/files/../../../../etc/passwd',
      '/api/v1/versions/m%401/files/a/../../x',
      '/api/v1/models/../../../etc/passwd',
      '/api/v1/files/../../metadata.db',
      '/api/v1/versions/../files/x',
    ]) {
      const r = await rawGet(server, path);
      expect([400, 404], path).toContain(r.status);
      expect(JSON.parse(r.body).error.code, path).toMatch(/^(INVALID_ARGUMENT|NOT_FOUND)$/);
    }
    // Mutations too.
    for (const [method, path] of [
      ['PUT', `/api/v1/models/${encodeURIComponent('../x')}/tags/k`],
      ['PUT', `/api/v1/versions/${encodeURIComponent('../x')}/tags/k`],
      ['PUT', `/api/v1/models/${encodeURIComponent('../x')}/aliases/prod`],
      ['PUT', `/api/v1/models/m/aliases/${encodeURIComponent('../prod')}`],
      ['DELETE', `/api/v1/models/${encodeURIComponent('../x')}`],
    ] as const) {
      const r = await fetch(`${server.url}${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        body:
          method === 'PUT'
            ? JSON.stringify(path.includes('aliases') ? { version: 1 } : { value: 'v' })
            : undefined,
      });
      expect(r.status, `${method} ${path}`).toBe(400);
    }
    await expectServing(server);
  });
});

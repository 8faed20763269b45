/**
 * Interrupted pushes: a connection killed in the middle of a chunk batch keeps what was
 * verified, and re-posting the file list lists only the chunks still missing; the SDK
 * recovers from a broken batch by itself; commits are idempotent per commit id; open
 * sessions keep their chunks through garbage collection.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chunkLocalFile } from '../../src/client/chunk-file.js';
import { CHUNK_BATCH_MEDIA_TYPE, type UploadSession } from '../../src/core/upload-protocol.js';
import type { UploadTables } from '../../src/metadata/upload-schema.js';
import { liveUploadChunkIds } from '../../src/registry/upload-service.js';
import { buildApp } from '../../src/server/app.js';
import { collectGarbage } from '../../src/storage/garbage-collector.js';
import { pseudoRandomBytes } from '../fixtures/model-files.js';
import { batchBody, postJson, rawFile, rawRequest } from './support/raw-upload.js';
import {
  startTestServer,
  TEST_CHUNKING,
  type TestServer,
  writeTree,
} from './support/test-server.js';

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  for (let i = 0; ; i++) {
    const v = await read();
    if (ok(v) || i >= 200) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('resumable uploads', () => {
  let server: TestServer;
  let work: string;

  beforeAll(async () => {
    server = await startTestServer();
    work = await mkdtemp(join(tmpdir(), 'mv-resume-'));
  });
  afterAll(async () => {
    await server.close();
    await rm(work, { recursive: true, force: true });
  });

  it('a batch cut off mid-frame keeps the frames before the cut; the push resumes from there', async () => {
    const src = join(work, 'cut');
    await writeTree(src, { 'weights.bin': pseudoRandomBytes(31, 300_000) });
    const c = await chunkLocalFile(join(src, 'weights.bin'), TEST_CHUNKING);
    expect(c.chunks.length).toBeGreaterThan(30);
    // The same file list the SDK will send, so its push resumes this session.
    const spec = {
      path: 'weights.bin',
      size: c.size,
      sha256: c.sha256,
      format: c.format,
      chunks: c.chunks.map((k) => ({ id: k.id, length: k.length })),
    };
    const created = await postJson(server.url, '/api/v1/uploads', { files: [spec] });
    expect(created.status).toBe(201);
    const session = created.body as UploadSession;
    expect(session.missing).toHaveLength(new Set(c.chunks.map((k) => k.id)).size);

    const bytes = pseudoRandomBytes(31, 300_000);
    const frames = c.chunks.map((k) => ({
      id: k.id,
      bytes: bytes.subarray(k.offset, k.offset + k.length),
    }));
    const sent = 10;
    const body = batchBody(frames.slice(0, sent + 1));
    // Ten whole frames and half of the eleventh, then the connection dies.
    const cut = body.length - Math.floor(frames[sent]!.bytes.length / 2);
    const r = await rawRequest(server.url, {
      method: 'POST',
      path: `/api/v1/uploads/${session.id}/chunks`,
      headers: { 'content-type': CHUNK_BATCH_MEDIA_TYPE, 'transfer-encoding': 'chunked' },
      body: body.subarray(0, cut),
      destroyAfterWrite: true,
    });
    expect(r).toEqual({ destroyed: true });

    const expected = session.missing.filter(
      (id) => !frames.slice(0, sent).some((f) => f.id === id),
    );
    // The server finishes the aborted request on its own time: poll until it has.
    const resumed = await until(
      async () =>
        (await postJson(server.url, '/api/v1/uploads', { files: [spec] })).body as UploadSession,
      (s) => s.missing.length === expected.length,
    );
    expect(resumed.id).toBe(session.id);
    expect(resumed.resumed).toBe(true);
    expect(resumed.missing).toEqual(expected);

    // The SDK's push resumes the same session and sends only what is left.
    const { version, stats } = await server.client().push(src, { model: 'cut' });
    expect(version.version).toBe(1);
    expect(stats.newChunks).toBe(expected.length);
    const dest = join(work, 'cut-pulled');
    await server.client().pull('cut@1', dest);
    const { readFile } = await import('node:fs/promises');
    expect(Buffer.from(await readFile(join(dest, 'weights.bin'))).equals(Buffer.from(bytes))).toBe(
      true,
    );
  });

  it('the SDK recovers from a connection broken in the middle of a batch', async () => {
    const src = join(work, 'flaky');
    await writeTree(src, {
      'a.bin': pseudoRandomBytes(41, 200_000),
      'b.bin': pseudoRandomBytes(42, 200_000),
    });
    const negotiated: number[] = [];
    let broken = 0;
    const flaky: typeof fetch = async (input, init) => {
      const url = String(input);
      const type = new Headers(init?.headers).get('content-type');
      if (type === CHUNK_BATCH_MEDIA_TYPE && broken === 0 && init?.body instanceof Uint8Array) {
        broken++;
        // Send half the batch, then fail the body stream: the connection is cut mid-body.
        const half = init.body.subarray(0, Math.floor(init.body.length / 2));
        const stream = new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(half);
            setTimeout(() => controller.error(new Error('cable pulled')), 20);
          },
        });
        return fetch(input, { ...init, body: stream, duplex: 'half' } as RequestInit);
      }
      const res = await fetch(input, init);
      if (url.endsWith('/api/v1/uploads') && init?.method === 'POST' && res.ok) {
        negotiated.push(((await res.clone().json()) as UploadSession).missing.length);
      }
      return res;
    };
    const client = server.client({
      fetch: flaky,
      transfer: { batchBytes: 48 * 1024, parallel: 2 },
    });
    const { version, stats } = await client.push(src, { model: 'flaky' });
    expect(broken).toBe(1);
    expect(version.fileCount).toBe(2);
    expect(negotiated.length).toBeGreaterThanOrEqual(2);
    // The second negotiation no longer lists what the first round stored.
    expect(negotiated[1]!).toBeLessThan(negotiated[0]!);
    expect(stats.newChunks).toBeLessThanOrEqual(negotiated[0]!);
    const dest = join(work, 'flaky-pulled');
    await server.client().pull('flaky@1', dest);
  });

  it('commits are idempotent per commit id, and wait out (202) or take over another committer', async () => {
    const file = rawFile('x.bin', pseudoRandomBytes(51, 30_000), 8192);
    const created = await postJson(server.url, '/api/v1/uploads', { files: [file.spec] });
    const id = created.body.id as string;
    const res = await fetch(`${server.url}/api/v1/uploads/${id}/chunks`, {
      method: 'POST',
      headers: { 'content-type': CHUNK_BATCH_MEDIA_TYPE },
      body: batchBody(file.chunks),
    });
    expect(res.status).toBe(200);
    const first = await postJson(server.url, `/api/v1/uploads/${id}/commit`, {
      model: 'idem',
      commitId: 'c1',
    });
    expect(first.status).toBe(201);
    const again = await postJson(server.url, `/api/v1/uploads/${id}/commit`, {
      model: 'idem',
      commitId: 'c1',
    });
    expect(again.status).toBe(201);
    expect(again.body.version.version).toBe(first.body.version.version);
    const other = await postJson(server.url, `/api/v1/uploads/${id}/commit`, {
      model: 'idem',
      commitId: 'c2',
    });
    expect(other.body.version.version).toBe(first.body.version.version + 1);
    expect(other.body.version.digest).toBe(first.body.version.digest);

    // Another process is committing (a fresh lease): the request answers 202, and once
    // that committer's lease lapses (it died), the same request takes over and commits.
    const file2 = rawFile('y.bin', pseudoRandomBytes(52, 30_000), 8192);
    const s2 = (await postJson(server.url, '/api/v1/uploads', { files: [file2.spec] })).body.id;
    await fetch(`${server.url}/api/v1/uploads/${s2}/chunks`, {
      method: 'POST',
      headers: { 'content-type': CHUNK_BATCH_MEDIA_TYPE },
      body: batchBody(file2.chunks),
    });
    const db = server.backend.store.index.storageDb.db as unknown as Kysely<UploadTables>;
    await db
      .updateTable('upload_sessions')
      .set({ state: 'committing', committer: 'elsewhere:1:x', updated_at: Date.now() })
      .where('id', '=', s2)
      .execute();
    // A second server over the same registry, answering after 100 ms instead of 25 s.
    const impatient = await buildApp({ backend: server.backend, logger: false, commitWaitMs: 100 });
    try {
      const pending = await impatient.app.inject({
        method: 'POST',
        url: `/api/v1/uploads/${s2}/commit`,
        payload: { model: 'idem', commitId: 'c3' },
      });
      expect(pending.statusCode).toBe(202);
      expect(pending.json()).toEqual({ state: 'committing' });
    } finally {
      await impatient.app.close();
    }
    await db.updateTable('upload_sessions').set({ updated_at: 0 }).where('id', '=', s2).execute();
    const done = await postJson(server.url, `/api/v1/uploads/${s2}/commit`, {
      model: 'idem',
      commitId: 'c3',
    });
    expect(done.status).toBe(201);
    expect(done.body.version.version).toBe(3);
  });

  it('garbage collection keeps the chunks of open sessions when told about them', async () => {
    const file = rawFile('gc.bin', pseudoRandomBytes(61, 30_000), 8192);
    const created = await postJson(server.url, '/api/v1/uploads', { files: [file.spec] });
    await fetch(`${server.url}/api/v1/uploads/${created.body.id}/chunks`, {
      method: 'POST',
      headers: { 'content-type': CHUNK_BATCH_MEDIA_TYPE },
      body: batchBody(file.chunks),
    });
    const ids = file.chunks.map((c) => c.id);
    const live = await server.uploads.liveChunkIds();
    for (const id of ids) expect(live.has(id)).toBe(true);
    expect(await liveUploadChunkIds(server.backend.store)).toEqual(live);

    const { store, registry } = server.backend;
    const manifests = new Set<string>();
    for (const m of (await registry.listModels({ includeDeleted: true })).items) {
      for (const v of (await registry.listVersions(m.name, { includeDeleted: true })).items) {
        manifests.add(v.digest);
      }
    }
    const later = Date.now() + 10 * 24 * 3600 * 1000;
    await collectGarbage(store, {
      liveManifests: manifests,
      liveChunks: live,
      graceMs: 0,
      now: later,
    });
    expect((await store.index.liveChunks(ids)).size).toBe(ids.length);
    // Without them, the same collection would tombstone the session's chunks.
    await collectGarbage(store, {
      liveManifests: manifests,
      graceMs: 0,
      now: later,
      dryRun: true,
    }).then((report) => expect(report.chunksTombstoned).toBeGreaterThanOrEqual(ids.length));
    // The session still commits.
    const commit = await postJson(server.url, `/api/v1/uploads/${created.body.id}/commit`, {
      model: 'gc',
    });
    expect(commit.status).toBe(201);
  });
});

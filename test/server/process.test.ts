/**
 * The server as a real process: `mvault serve` through commander and `npm start`'s entry.
 * SIGTERM lets an in-flight chunk batch finish before exiting; SIGKILL in the middle of a
 * batch leaves nothing visible, and the push resumes against the restarted server.
 */

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chunkLocalFile } from '../../src/client/chunk-file.js';
import { RemoteRegistry } from '../../src/client/remote-registry.js';
import {
  CHUNK_BATCH_MEDIA_TYPE,
  type ServerInfo,
  type UploadSession,
} from '../../src/core/upload-protocol.js';
import { METADATA_DB_FILE } from '../../src/storage/store-layout.js';
import { pseudoRandomBytes } from '../fixtures/model-files.js';
import {
  BUILT_CLI,
  BUILT_MAIN,
  type ChildServer,
  runChild,
  startChild,
} from './support/child-server.js';
import { batchBody, postJson } from './support/raw-upload.js';
import { writeTree } from './support/test-server.js';

const SERVE = BUILT_CLI;
const MAIN = BUILT_MAIN;

async function until(ok: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500 && !(await ok()); i++) await new Promise((r) => setTimeout(r, 20));
}

describe('server process', () => {
  let work: string;
  let registryDir: string;
  let src: string;
  let bytes: Uint8Array;
  const children: ChildServer[] = [];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'mv-proc-'));
    registryDir = join(work, 'registry');
    src = join(work, 'model');
    bytes = pseudoRandomBytes(71, 400_000);
    await writeTree(src, { 'weights.bin': bytes });
  });
  afterAll(async () => {
    for (const c of children) if (c.child.exitCode === null) c.child.kill('SIGKILL');
    await rm(work, { recursive: true, force: true });
  });

  /** The upload spec the SDK would send for `src`, with the server's chunking. */
  async function specFor(url: string) {
    const info = (await (await fetch(`${url}/api/v1/info`)).json()) as ServerInfo;
    const c = await chunkLocalFile(join(src, 'weights.bin'), info.chunking);
    return {
      c,
      spec: {
        path: 'weights.bin',
        size: c.size,
        sha256: c.sha256,
        format: c.format,
        chunks: c.chunks.map((k) => ({ id: k.id, length: k.length })),
      },
    };
  }

  it('refuses a non-loopback host without --insecure', async () => {
    const r = await runChild(MAIN, ['--host', '0.0.0.0', '--port', '0', '--registry', registryDir]);
    expect(r.code).toBe(2);
    expect(r.output).toContain('--insecure');
  });

  it('refuses an unknown log level', async () => {
    const r = await runChild(MAIN, ['--port', '0', '--registry', registryDir], {
      MODELVAULT_LOG_LEVEL: 'loud',
    });
    expect(r.code).toBe(2);
    expect(r.output).toContain("invalid log level 'loud'");
  });

  it('tells stderr about a database upgrade it applies before listening, and nothing when creating', async () => {
    const dir = join(work, 'upgraded');
    const first = await startChild(MAIN, ['--port', '0', '--registry', dir]);
    children.push(first);
    first.child.kill('SIGTERM');
    await first.exited;
    expect(first.output()).not.toContain('migration');
    // The registry as it was before migration 0401 (frozen history, so this stays true).
    const db = new Database(join(dir, METADATA_DB_FILE));
    db.exec(`delete from kysely_migration where name = '0401-capability-epoch';
      alter table users drop column capability_epoch`);
    db.close();
    const again = await startChild(MAIN, ['--port', '0', '--registry', dir]);
    children.push(again);
    const health = await fetch(`${again.url}/health`);
    expect(health.status).toBe(200);
    again.child.kill('SIGTERM');
    await again.exited;
    const lines = again.output().split('\n');
    const at = (text: string) => lines.findIndex((l) => l.startsWith(text));
    const plan = at(
      'mvault serve: upgrading the metadata database: 1 migration to apply (0401-capability-epoch)',
    );
    const start = at('mvault serve: applying migration 0401-capability-epoch…');
    const done = at('mvault serve: applied migration 0401-capability-epoch in ');
    const serving = at('Modelvault serving ');
    expect([plan, start, done].every((i) => i >= 0)).toBe(true);
    // In order, and while opening: before the server listens and says where.
    expect(plan < start && start < done && done < serving).toBe(true);
  });

  it('logs one JSON line per request, when it completes, without credentials', async () => {
    const server = await startChild(MAIN, ['--port', '0', '--registry', registryDir]);
    children.push(server);
    const res = await fetch(`${server.url}/health?probe=1`, {
      headers: { authorization: 'Bearer mvt_not-a-real-token' },
    });
    await res.arrayBuffer();
    await until(() => server.output().includes('request completed'));
    server.child.kill('SIGTERM');
    await server.exited;
    const lines = server
      .output()
      .split('\n')
      .filter((l) => l.includes('/health?probe=1'));
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!);
    expect(line).toMatchObject({
      msg: 'request completed',
      req: { method: 'GET', url: '/health?probe=1' },
      res: { statusCode: res.status },
    });
    expect(typeof line.responseTime).toBe('number');
    expect(lines[0]).not.toContain('mvt_not-a-real-token');
  });

  it('SIGTERM lets an in-flight upload finish, then exits; the push completes after restart', async () => {
    // No --registry: the embedded default (MODELVAULT_HOME here) is created on first use.
    const server = await startChild(SERVE, ['serve', '--port', '0'], {
      MODELVAULT_HOME: registryDir,
      MODELVAULT_REGISTRY: '',
      // At debug the server logs each request as it begins, which the test waits for.
      MODELVAULT_LOG_LEVEL: 'debug',
    });
    children.push(server);
    const { c, spec } = await specFor(server.url);
    const session = (await postJson(server.url, '/api/v1/uploads', { files: [spec] }))
      .body as UploadSession;
    const frames = c.chunks.map((k) => ({
      id: k.id,
      bytes: bytes.subarray(k.offset, k.offset + k.length),
    }));
    const half = Math.floor(frames.length / 2);
    const first = batchBody(frames.slice(0, half));
    const rest = batchBody(frames.slice(half)).subarray(4); // no second magic

    const url = new URL(server.url);
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          method: 'POST',
          path: `/api/v1/uploads/${session.id}/chunks`,
          headers: { 'content-type': CHUNK_BATCH_MEDIA_TYPE, 'transfer-encoding': 'chunked' },
        },
        (res) => {
          let body = '';
          res.on('data', (d: Buffer) => {
            body += d.toString('utf8');
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.write(first, async () => {
        // Once the server has begun this request (at debug it logs "incoming request" with
        // its URL), ask it to stop: a request it had not yet read would rightly get a 503.
        await until(() => server.output().includes(`/api/v1/uploads/${session.id}/chunks`));
        server.child.kill('SIGTERM');
        await until(() => server.output().includes('shutting down'));
        req.end(rest);
      });
    });
    const done = await response;
    expect(done.status).toBe(200);
    expect(JSON.parse(done.body)).toMatchObject({ received: frames.length });
    expect(await server.exited).toBe(0);

    const again = await startChild(SERVE, ['serve', '--port', '0', '--registry', registryDir]);
    children.push(again);
    const resumed = (await postJson(again.url, '/api/v1/uploads', { files: [spec] }))
      .body as UploadSession;
    expect(resumed.id).toBe(session.id);
    expect(resumed.missing).toEqual([]);
    const client = new RemoteRegistry(again.url);
    const { version, stats } = await client.push(src, { model: 'graceful' });
    expect(version.version).toBe(1);
    expect(stats.newBytes).toBe(0);
    again.child.kill('SIGTERM');
    expect(await again.exited).toBe(0);
  });

  it('SIGKILL mid-batch leaves nothing visible; the push resumes against the restarted server', async () => {
    await writeTree(src, { 'weights.bin': pseudoRandomBytes(72, 400_000) });
    bytes = await readFile(join(src, 'weights.bin'));
    const server = await startChild(MAIN, ['--port', '0', '--registry', registryDir]);
    children.push(server);
    const { c, spec } = await specFor(server.url);
    const session = (await postJson(server.url, '/api/v1/uploads', { files: [spec] }))
      .body as UploadSession;
    const frames = c.chunks.map((k) => ({
      id: k.id,
      bytes: bytes.subarray(k.offset, k.offset + k.length),
    }));
    const url = new URL(server.url);
    await new Promise<void>((resolve) => {
      const req = request({
        host: url.hostname,
        port: url.port,
        method: 'POST',
        path: `/api/v1/uploads/${session.id}/chunks`,
        headers: { 'content-type': CHUNK_BATCH_MEDIA_TYPE, 'transfer-encoding': 'chunked' },
      });
      req.on('error', () => undefined);
      req.write(batchBody(frames.slice(0, Math.floor(frames.length / 2))), () => {
        server.child.kill('SIGKILL');
        resolve();
      });
    });
    expect(await server.exited).toBe('SIGKILL');

    const again = await startChild(MAIN, ['--port', '0', '--registry', registryDir]);
    children.push(again);
    const client = new RemoteRegistry(again.url);
    // Nothing of the interrupted push is visible.
    expect((await client.listVersions('killed').catch((e) => e)).code).toBe('NOT_FOUND');
    const resumed = (await postJson(again.url, '/api/v1/uploads', { files: [spec] }))
      .body as UploadSession;
    expect(resumed.id).toBe(session.id);
    const { version, stats } = await client.push(src, { model: 'killed' });
    expect(version.version).toBe(1);
    expect(stats.newChunks).toBe(resumed.missing.length);
    const dest = join(work, 'killed-pulled');
    await client.pull('killed@1', dest);
    expect(Buffer.from(await readFile(join(dest, 'weights.bin'))).equals(Buffer.from(bytes))).toBe(
      true,
    );
    again.child.kill('SIGTERM');
    expect(await again.exited).toBe(0);
  });
});

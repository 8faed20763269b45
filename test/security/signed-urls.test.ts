/**
 * Signed download URLs against a real server with authentication on: minted by a signed-in
 * user for one download path, fetched with no credentials; refused when expired, tampered
 * with, used for another path or method, or after the user lost access; never minted for
 * anything but downloads; and redacted from request logs.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestLogFields } from '../../src/server/app.js';
import { RequestSigner } from '../../src/server/auth/request-signer.js';
import {
  modelFiles,
  startTestServer,
  type TestServer,
  writeTree,
} from '../server/support/test-server.js';

let server: TestServer;
let work: string;
let ritaToken = '';
const files = modelFiles(0);
const fileName = Object.keys(files).find((f) => f.endsWith('.safetensors'))!;
const filePath = `/api/v1/versions/${encodeURIComponent('m@1')}/files/${fileName}`;

beforeAll(async () => {
  server = await startTestServer();
  work = await mkdtemp(join(tmpdir(), 'mv-signed-'));
  await writeTree(join(work, 'm'), files);
  await server.client().push(join(work, 'm'), { model: 'm' }); // open: no users yet
  const { access } = server.backend;
  await access.users.create({ name: 'root', password: 'root-password', admin: true }, 'setup');
  await access.users.create({ name: 'rita', password: 'rita-password' }, 'setup');
  ritaToken = (await access.users.createToken({ name: 'ui', user: 'rita' }, 'setup')).token;
  await access.permissions.setDefaultLevel('NO_PERMISSIONS', 'setup');
  await access.permissions.grant(
    { user: 'rita', kind: 'registered_model', resource: 'm', level: 'READ' },
    'setup',
  );
}, 120_000);

afterAll(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

async function mint(path: string, token = ritaToken, ttlSeconds?: number) {
  return fetch(`${server.url}/api/v1/signed-urls`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ path, ...(ttlSeconds ? { ttlSeconds } : {}) }),
  });
}

describe('signed download URLs', () => {
  it('downloads one file without credentials until the URL expires', async () => {
    const before = Date.now();
    const r = await mint(filePath);
    expect(r.status).toBe(200);
    const { url, expiresAt } = (await r.json()) as { url: string; expiresAt: number };
    expect(url.startsWith(`${filePath}?mv_sig=mvs1.`)).toBe(true);
    expect(url).not.toContain(ritaToken);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 299_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 301_000);
    const got = await fetch(`${server.url}${url}`);
    expect(got.status).toBe(200);
    expect(Buffer.from(await got.arrayBuffer()).equals(Buffer.from(files[fileName]!))).toBe(true);
    expect((await fetch(`${server.url}${url}`, { method: 'HEAD' })).status).toBe(200);
    // Without the signature: 401.
    expect((await fetch(`${server.url}${filePath}`)).status).toBe(401);

    // The same capability signed with the server's secret by a clock an hour back: expired.
    const past = new RequestSigner(server.backend.serverSecret!, () => Date.now() - 3600_000);
    const { capability } = past.sign({
      user: 'rita',
      epoch: 0,
      methods: ['GET'],
      path: filePath,
      ttlSeconds: 300,
    });
    expect((await fetch(`${server.url}${filePath}?mv_sig=${capability}`)).status).toBe(401);
    // And a fresh one from that signer's key works (the secret is the server's).
    const now = new RequestSigner(server.backend.serverSecret!);
    const fresh = now.sign({
      user: 'rita',
      epoch: 0, // rita's capability epoch: never raised in this file
      methods: ['GET'],
      path: filePath,
      ttlSeconds: 60,
    });
    expect((await fetch(`${server.url}${filePath}?mv_sig=${fresh.capability}`)).status).toBe(200);
  });

  it('refuses a tampered signature, another path, another method', async () => {
    const { url } = (await (await mint(filePath)).json()) as { url: string };
    const sig = url.slice(url.indexOf('mv_sig=') + 'mv_sig='.length);
    // Change the signature's first character: every bit of it is significant (the last
    // character of a 32-byte MAC in base64url has spare bits).
    const macAt = sig.lastIndexOf('.') + 1;
    const flipped = `${sig.slice(0, macAt)}${sig[macAt] === 'A' ? 'B' : 'A'}${sig.slice(macAt + 1)}`;
    expect((await fetch(`${server.url}${filePath}?mv_sig=${flipped}`)).status).toBe(401);
    const other = Object.keys(files).find((f) => f !== fileName)!;
    const otherPath = `/api/v1/versions/${encodeURIComponent('m@1')}/files/${other}`;
    expect((await fetch(`${server.url}${otherPath}?mv_sig=${sig}`)).status).toBe(401);
    // Only GET/HEAD read the query parameter: a DELETE carrying it is unauthenticated.
    const del = await fetch(`${server.url}/api/v1/models/m?mv_sig=${sig}`, { method: 'DELETE' });
    expect(del.status).toBe(401);
    expect(await server.backend.registry.getModel('m')).toMatchObject({ name: 'm' });
  });

  it('checks the user’s permissions when the URL is used, not only when minted', async () => {
    const { url } = (await (await mint(filePath)).json()) as { url: string };
    await server.backend.access.permissions.grant(
      { user: 'rita', kind: 'registered_model', resource: 'm', level: 'NO_PERMISSIONS' },
      'setup',
    );
    try {
      expect((await fetch(`${server.url}${url}`)).status).toBe(404);
    } finally {
      await server.backend.access.permissions.grant(
        { user: 'rita', kind: 'registered_model', resource: 'm', level: 'READ' },
        'setup',
      );
    }
    expect((await fetch(`${server.url}${url}`)).status).toBe(200);
  });

  it('signs downloads only, for signed-in users only, within the lifetime cap', async () => {
    for (const path of [
      '/api/v1/models/m',
      '/api/v1/users',
      `${filePath}?x=1`,
      'api/v1/files/abc',
      `/api/v1/files/${'0'.repeat(63)}`,
    ]) {
      const r = await mint(path);
      expect(r.status, path).toBe(400);
    }
    expect((await mint(filePath, ritaToken, 7200)).status).toBe(400);
    const anonymous = await fetch(`${server.url}/api/v1/signed-urls`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ path: filePath }),
    });
    expect(anonymous.status).toBe(401);
  });

  it('keeps the signature out of request logs', () => {
    const fields = requestLogFields({
      method: 'GET',
      url: `${filePath}?mv_sig=mvs1.payload.mac`,
      hostname: 'h',
      ip: '127.0.0.1',
    });
    expect(JSON.stringify(fields)).not.toContain('mvs1.payload.mac');
    expect(fields.url).toBe(`${filePath}?mv_sig=%5Bredacted%5D`);
  });
});

describe('MLflow multipart uploads with authentication on', () => {
  it('each part credential carries a capability for its one PUT; a part without it is refused', async () => {
    const { tracking, access } = server.backend;
    const expId = await tracking.createExperiment({ name: 'mpu-exp' });
    const runId = (await tracking.createRun({ experimentId: expId, tags: [] })).info.run_id;
    await access.permissions.grant(
      { user: 'rita', kind: 'experiment', resource: expId, level: 'EDIT' },
      'setup',
    );
    const dir = `${expId}/${runId}/artifacts/big`;
    const post = (path: string, body: unknown) =>
      fetch(`${server.url}/api/2.0/mlflow-artifacts/mpu/${path}/${dir}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ritaToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const created = await post('create', { path: 'weights.bin', num_parts: 2 });
    expect(created.status).toBe(200);
    const { upload_id, credentials } = (await created.json()) as {
      upload_id: string;
      credentials: { url: string; part_number: number; headers: Record<string, string> }[];
    };
    expect(credentials[0]!.headers.Authorization).toMatch(/^Bearer mvs1\./);
    expect(JSON.stringify(credentials)).not.toContain(ritaToken);
    const bytes = [Buffer.from('first part '), Buffer.from('second part')];
    // As MLflow's client sends a part: its URL, its headers, nothing else.
    const put = (i: number, headers: Record<string, string>, url = credentials[i]!.url) =>
      fetch(url, { method: 'PUT', headers, body: bytes[i]! });
    expect((await put(0, {})).status).toBe(401);
    // Part 1's capability does not open part 2's URL.
    expect((await put(1, credentials[0]!.headers)).status).toBe(401);
    const parts = [];
    for (const i of [0, 1]) {
      const r = await put(i, credentials[i]!.headers);
      expect(r.status).toBe(200);
      parts.push({ part_number: i + 1, etag: r.headers.get('etag')! });
    }
    const done = await post('complete', { path: 'weights.bin', upload_id, parts });
    expect(done.status).toBe(200);
    const got = await fetch(`${server.url}/api/2.0/mlflow-artifacts/artifacts/${dir}/weights.bin`, {
      headers: { authorization: `Bearer ${ritaToken}` },
    });
    expect(Buffer.from(await got.arrayBuffer()).toString()).toBe('first part second part');
  });
});

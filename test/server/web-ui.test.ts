/**
 * The web UI's routes on a real server (HTTP on loopback): index.html for `/` and client
 * routes without caching, hashed assets cached forever, and nothing else taken over — the
 * API's JSON 404 stays for unknown paths, including the MLflow prefixes.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './support/test-server.js';

describe('web UI routes', () => {
  let webRoot: string;
  let server: TestServer;
  let unbuilt: TestServer;

  beforeAll(async () => {
    webRoot = await mkdtemp(join(tmpdir(), 'mv-webroot-'));
    await mkdir(join(webRoot, 'assets'));
    await writeFile(
      join(webRoot, 'index.html'),
      '<!doctype html><title>UI</title><div id="root"></div>',
    );
    await writeFile(join(webRoot, 'assets', 'index-abc123.js'), 'console.log(1)');
    server = await startTestServer({ webRoot });
    unbuilt = await startTestServer({ webRoot: join(webRoot, 'missing') });
  });
  afterAll(async () => {
    await server?.close();
    await unbuilt?.close();
    await rm(webRoot, { recursive: true, force: true });
  });

  it('serves index.html at / and at every client route, never cached', async () => {
    for (const path of [
      '/',
      '/models',
      '/models/team%2Ffraud',
      '/models/team%2Ffraud/versions/3',
      '/models/a/compare?versions=1,2',
      '/audit?model=x',
      '/experiments/1/runs/abc',
    ]) {
      const res = await fetch(`${server.url}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(await res.text()).toContain('<div id="root">');
    }
  });

  it('serves hashed assets as immutable, and 404s unknown ones', async () => {
    const res = await fetch(`${server.url}/assets/index-abc123.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(res.headers.get('content-type')).toMatch(/javascript/);
    expect(await res.text()).toBe('console.log(1)');
    expect((await fetch(`${server.url}/assets/nope.js`)).status).toBe(404);
    const traversal = await fetch(`${server.url}/assets/%2e%2e/index.html`);
    expect(traversal.status).toBeGreaterThanOrEqual(400);
    expect(await traversal.text()).not.toContain('<div id="root">');
  });

  it('leaves the API, docs, operations and the MLflow prefixes alone', async () => {
    expect(await (await fetch(`${server.url}/health`)).json()).toMatchObject({ status: 'ok' });
    const models = await fetch(`${server.url}/api/v1/models`);
    expect(models.headers.get('content-type')).toMatch(/json/);
    expect(await models.json()).toEqual({ items: [] });
    expect((await fetch(`${server.url}/docs/`)).status).toBe(200);
    for (const path of ['/nope', '/api/v1/nope']) {
      const res = await fetch(`${server.url}${path}`);
      expect(res.status, path).toBe(404);
      expect((await res.json()) as unknown).toMatchObject({ error: { code: 'NOT_FOUND' } });
    }
    // The MLflow prefixes answer in MLflow's own error shape, never with the UI's page.
    for (const path of ['/api/2.0/mlflow/no-such-thing', '/ajax-api/2.0/mlflow/no-such-thing']) {
      const res = await fetch(`${server.url}${path}`);
      expect(res.status, path).toBe(404);
      expect(res.headers.get('content-type'), path).toMatch(/json/);
    }
    // So does the Git LFS prefix, in git-lfs's shape.
    const lfs = await fetch(`${server.url}/lfs/team/repo/no-such-thing`);
    expect(lfs.status).toBe(404);
    expect(lfs.headers.get('content-type')).toMatch(/^application\/vnd\.git-lfs\+json/);
    const spec = (await (await fetch(`${server.url}/api/v1/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
    };
    expect(
      Object.keys(spec.paths).filter(
        (p) =>
          !p.startsWith('/api/') &&
          !p.startsWith('/ajax-api/') &&
          p !== '/health' &&
          p !== '/metrics',
      ),
    ).toEqual([]);
  });

  it('says how to build the UI when it is not built', async () => {
    const res = await fetch(`${unbuilt.url}/models/x`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('npm run build');
    expect((await fetch(`${unbuilt.url}/assets/index-abc123.js`)).status).toBe(404);
  });
});

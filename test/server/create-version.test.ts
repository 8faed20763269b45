/**
 * POST /api/v1/models/:name/versions against a real server on each dialect: the route reads
 * the manifest once (its size check) and hands it to the registry, and the version comes
 * back as written, not read back. Both must give exactly what a read of the version gives,
 * and the route's errors must stay as they were.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelVersion } from '../../src/core/registry-api.js';
import { writeTorchZip } from '../fixtures/inspect-files.js';
import { OS_SYSTEM_PICKLE, STACK_GLOBAL_EXEC_PICKLE } from '../fixtures/pickle-files.js';
import { type FreshDatabase, freshDatabase, TEST_DIALECTS } from '../support/dialects.js';
import { modelFiles, startTestServer, type TestServer, writeTree } from './support/test-server.js';

describe.each(TEST_DIALECTS)('%s', (dialect) => {
  let server: TestServer;
  let fresh: FreshDatabase;
  let work: string;
  let pickled: ModelVersion;
  let clean: ModelVersion;

  beforeAll(async () => {
    fresh = await freshDatabase(dialect);
    server = await startTestServer({ database: fresh.config });
    work = await mkdtemp(join(tmpdir(), 'mv-create-version-'));
    await writeTree(join(work, 'pickled'), {
      ...modelFiles(2),
      'z/model.pt': writeTorchZip([{ name: 'w', storage: 'FloatStorage', shape: [8] }], 'archive'),
      'tools/exec.pickle': STACK_GLOBAL_EXEC_PICKLE,
      'extra/evil.pkl': OS_SYSTEM_PICKLE,
    });
    await writeTree(join(work, 'clean'), modelFiles(0));
    const client = server.client();
    pickled = (
      await client.push(join(work, 'pickled'), { model: 'src', createModelIfMissing: true })
    ).version;
    clean = (await client.push(join(work, 'clean'), { model: 'src' })).version;
    await client.createModel({ name: 'm' });
  });
  afterAll(async () => {
    await server?.close();
    await fresh?.cleanup();
    await rm(work, { recursive: true, force: true });
  });

  async function post(model: string, body: unknown): Promise<{ status: number; text: string }> {
    const res = await fetch(`${server.url}/api/v1/models/${model}/versions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, text: await res.text() };
  }
  async function read(ref: string): Promise<string> {
    const res = await fetch(`${server.url}/api/v1/versions/${encodeURIComponent(ref)}`);
    expect(res.status).toBe(200);
    return res.text();
  }
  const manifestOf = (v: ModelVersion) => ({
    digest: v.digest,
    size: v.size,
    fileCount: v.fileCount,
  });

  it('answers exactly what a read of the version gives: scan, summary, lineage and all', async () => {
    const created = await post('m', {
      manifest: manifestOf(pickled),
      description: 'from the route ✓',
      metrics: { loss: 0.5, acc: -0 },
      params: { lr: '3e-4' },
      tags: { team: 'risk', A: '' },
      runId: 'run-7',
      source: 's3://bucket/run-7',
      lineage: {
        parents: ['src@2', 'src@1'],
        datasets: [{ name: 'val' }, { name: 'train', uri: 's3://b/t', digest: 'sha256:ab' }],
        code: { gitRemote: 'git@x:y.git', gitCommit: 'c0ffee', gitDirty: false },
      },
    });
    expect(created.status).toBe(201);
    const v = JSON.parse(created.text) as ModelVersion;
    expect(v.scan).toEqual({
      verdict: 'dangerous',
      files: 3,
      dangerous: ['extra/evil.pkl', 'tools/exec.pickle'],
    });
    expect(v.summary).not.toBeNull();
    expect(created.text).toBe(await read(`m@${v.version}`));

    // A manifest without pickle-based files: a scan of none; nothing optional given.
    const bare = await post('m', { manifest: manifestOf(clean) });
    expect(bare.status).toBe(201);
    const b = JSON.parse(bare.text) as ModelVersion;
    expect(b.scan).toEqual({ verdict: 'none', files: 0, dangerous: [] });
    expect(bare.text).toBe(await read(`m@${b.version}`));
    // Its audit event, as before.
    const events = await server.backend.registry.auditLog({ actions: ['version.created'] });
    expect(events.items[0]).toMatchObject({
      subject: `m@${b.version}`,
      data: { digest: clean.digest, size: clean.size, fileCount: clean.fileCount },
    });
  });

  it('keeps its errors: unknown manifest, wrong size or count, bad digest, bad input', async () => {
    const unknown = 'ab'.repeat(32);
    const missing = await post('m', { manifest: { digest: unknown, size: 1, fileCount: 1 } });
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.text).error).toMatchObject({
      code: 'NOT_FOUND',
      message: `manifest ${unknown} not found`,
      details: { manifest: unknown },
    });
    const wrong = await post('m', {
      manifest: { ...manifestOf(clean), fileCount: clean.fileCount + 1 },
    });
    expect(wrong.status).toBe(400);
    expect(JSON.parse(wrong.text).error).toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: `manifest ${clean.digest} has ${clean.fileCount} files and ${clean.size} bytes, not ${clean.fileCount + 1} and ${clean.size}`,
      details: { manifest: clean.digest },
    });
    const bad = await post('m', { manifest: { digest: 'nope', size: 1, fileCount: 1 } });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text).error.message).toBe(
      "invalid manifest digest 'nope': expected 64 hex characters",
    );
    const noModel = await post('absent', { manifest: manifestOf(clean) });
    expect(noModel.status).toBe(404);
    expect(JSON.parse(noModel.text).error.message).toBe("model 'absent' not found");
    const badMetric = await post('m', { manifest: manifestOf(clean), metrics: { '': 1 } });
    expect(badMetric.status).toBe(400);
  });

  it('reads the manifest itself when handed one of another digest', async () => {
    const registry = server.backend.registry;
    const other = await server.backend.store.getManifest(clean.digest as never);
    const v = await registry.createVersion(
      { model: 'm', manifest: manifestOf(pickled) },
      { manifest: other },
    );
    expect(v.scan?.dangerous).toEqual(['extra/evil.pkl', 'tools/exec.pickle']);
    expect(v).toEqual(await registry.getVersion(`m@${v.version}`));
  });
});

/**
 * The native REST API through the SDK: every RegistryApi operation maps to an endpoint and
 * comes back with the local registry's types and error classes. Plus the operational
 * endpoints and the OpenAPI document.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RemoteRegistry } from '../../src/client/remote-registry.js';
import {
  AlreadyExistsError,
  ConflictError,
  InvalidArgumentError,
  ModelvaultError,
  NotFoundError,
} from '../../src/core/errors.js';
import type { AuditEvent } from '../../src/core/registry-api.js';
import { modelFiles, startTestServer, type TestServer, writeTree } from './support/test-server.js';

describe('native API through the SDK', () => {
  let server: TestServer;
  let client: RemoteRegistry;
  let work: string;

  beforeAll(async () => {
    server = await startTestServer();
    client = server.client();
    work = await mkdtemp(join(tmpdir(), 'mv-api-'));
    await writeTree(join(work, 'm'), modelFiles(0));
  });
  afterAll(async () => {
    await server.close();
    await rm(work, { recursive: true, force: true });
  });

  it('manages models: create, get, list with pages, update, tags, delete, restore', async () => {
    const created = await client.createModel({
      name: 'team/fraud',
      description: 'fraud model',
      tags: { team: 'risk' },
      actor: 'mallory', // ignored: the server acts as its own identity
    });
    expect(created).toMatchObject({ name: 'team/fraud', owner: 'alice', tags: { team: 'risk' } });
    await expect(client.createModel({ name: 'team/fraud' })).rejects.toBeInstanceOf(
      AlreadyExistsError,
    );
    for (const n of ['a1', 'a2', 'a3']) await client.createModel({ name: n });
    const first = await client.listModels({ maxResults: 2 });
    expect(first.items.map((m) => m.name)).toEqual(['a1', 'a2']);
    const second = await client.listModels({ maxResults: 2, pageToken: first.nextPageToken });
    expect(second.items.map((m) => m.name)).toEqual(['a3', 'team/fraud']);
    expect(second.nextPageToken).toBeUndefined();

    expect((await client.updateModel('team/fraud', { description: null })).description).toBeNull();
    await client.setModelTag('team/fraud', 'tier', 'gold');
    expect((await client.getModel('team/fraud')).tags).toEqual({ team: 'risk', tier: 'gold' });
    expect(await client.deleteModelTag('team/fraud', 'tier')).toBe(true);
    expect(await client.deleteModelTag('team/fraud', 'tier')).toBe(false);

    await client.deleteModel('a3');
    await expect(client.getModel('a3')).rejects.toBeInstanceOf(NotFoundError);
    expect((await client.getModel('a3', { includeDeleted: true })).deletedAt).not.toBeNull();
    expect((await client.restoreModel('a3')).deletedAt).toBeNull();
    await expect(client.restoreModel('a3')).rejects.toBeInstanceOf(ConflictError);
  });

  it('renames a model: versions and tags follow, taken names are refused, audited', async () => {
    await client.createModel({ name: 'old/name', tags: { t: '1' } });
    await client.push(join(work, 'm'), { model: 'old/name' });
    await client.createModel({ name: 'taken' });
    const renamed = await client.renameModel('old/name', 'new-name');
    expect(renamed).toMatchObject({ name: 'new-name', tags: { t: '1' }, latestVersion: 1 });
    expect((await client.getVersion('new-name@1')).model).toBe('new-name');
    await expect(client.getModel('old/name')).rejects.toBeInstanceOf(NotFoundError);
    await expect(client.renameModel('new-name', 'taken')).rejects.toBeInstanceOf(
      AlreadyExistsError,
    );
    await expect(client.renameModel('nope', 'x')).rejects.toBeInstanceOf(NotFoundError);
    await expect(client.renameModel('new-name', 'bad..name')).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    const events = await client.auditLog({ actions: ['model.renamed'] });
    expect(events.items[0]).toMatchObject({
      actor: 'alice',
      subject: 'new-name',
      data: { from: 'old/name', to: 'new-name' },
    });
  });

  it('manages versions, metrics, stages, reviews and aliases', async () => {
    const { version: v1 } = await client.push(join(work, 'm'), {
      model: 'clf',
      metrics: { auc: 0.8 },
    });
    // A second version from the same manifest, registered directly.
    const v2 = await client.createVersion({
      model: 'clf',
      manifest: { digest: v1.digest, size: v1.size, fileCount: v1.fileCount },
      metrics: { auc: 0.95 },
      tags: { stage: 'candidate' },
    });
    expect(v2.version).toBe(2);
    await expect(
      client.createVersion({
        model: 'clf',
        manifest: { digest: 'ab'.repeat(32), size: 1, fileCount: 1 },
      }),
    ).rejects.toBeInstanceOf(NotFoundError);
    await expect(
      client.createVersion({
        model: 'clf',
        manifest: { digest: v1.digest, size: v1.size + 1, fileCount: v1.fileCount },
      }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);

    expect((await client.getVersion('clf')).version).toBe(2);
    expect((await client.getVersion('models:/clf/1')).version).toBe(1);
    expect((await client.getVersion(`clf@sha256:${v1.digest}`)).version).toBe(2);
    expect((await client.listVersions('clf')).items.map((v) => v.version)).toEqual([2, 1]);

    expect((await client.updateVersion('clf@1', { description: 'baseline' })).description).toBe(
      'baseline',
    );
    await client.setVersionTag('clf@1', 'k', 'v');
    expect(await client.deleteVersionTag('clf@1', 'k')).toBe(true);

    const logged = await client.logVersionMetrics('clf@1', [
      { key: 'loss', value: 0.5, step: 1 },
      { key: 'loss', value: 0.3, step: 2 },
    ]);
    expect(logged.metrics).toMatchObject({ auc: 0.8, loss: 0.3 });
    expect((await client.getMetricHistory('clf@1', 'loss')).map((p) => p.value)).toEqual([
      0.5, 0.3,
    ]);

    expect((await client.transitionStage('clf@2', 'production')).stage).toBe('Production');
    expect((await client.getVersion('models:/clf/Production')).version).toBe(2);
    const approved = await client.approve('clf@2', { comment: 'ok' });
    expect(approved.approval).toMatchObject({
      state: 'approved',
      reviewer: 'alice',
      comment: 'ok',
    });
    expect((await client.reject('clf@1')).approval.state).toBe('rejected');

    expect(await client.setAlias('clf', 'prod', 1)).toMatchObject({ version: 1, changed: true });
    expect(await client.setAlias('clf', 'prod', 2)).toMatchObject({
      version: 2,
      previousVersion: 1,
    });
    expect((await client.getVersion('clf@prod')).version).toBe(2);
    expect((await client.rollback('clf', 'prod')).version).toBe(1);
    const history = await client.aliasHistory('clf', 'prod');
    expect(history.map((h) => h.action)).toEqual(['set', 'set', 'rolled_back']);
    await expect(client.deleteVersion('clf@1')).rejects.toBeInstanceOf(ConflictError);
    expect((await client.deleteAlias('clf', 'prod')).changed).toBe(true);
    expect((await client.deleteAlias('clf', 'prod')).changed).toBe(false);
    await client.deleteVersion('clf@1');
    await expect(client.getVersion('clf@1')).rejects.toBeInstanceOf(NotFoundError);
    expect((await client.restoreVersion('clf@1')).deletedAt).toBeNull();

    const diff = await client.diffVersions('clf@1', 'clf@2');
    expect(diff.sameContent).toBe(true);
    expect(diff.metrics.find((m) => m.key === 'auc')?.delta).toBeCloseTo(0.15);
  });

  it('searches with MLflow filters and reports parse errors as InvalidArgumentError', async () => {
    const found = await client.searchVersions({ filter: "name = 'clf' AND metrics.auc > 0.9" });
    expect(found.items.map((v) => v.version)).toEqual([2]);
    const models = await client.searchModels({ filter: "name LIKE 'a%'", orderBy: ['name DESC'] });
    expect(models.items.map((m) => m.name)).toEqual(['a3', 'a2', 'a1']);
    const bad = client.searchVersions({ filter: 'metrics.auc >>> 1' });
    await expect(bad).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('reads, verifies and exports the audit trail', async () => {
    const page = await client.auditLog({ model: 'clf', maxResults: 3 });
    expect(page.items).toHaveLength(3);
    expect(page.items[0]!.seq).toBeGreaterThan(page.items[2]!.seq);
    const asc = await client.auditLog({ actions: ['model.created'], order: 'asc' });
    expect(asc.items.every((e) => e.action === 'model.created')).toBe(true);
    const verify = await client.auditVerify();
    expect(verify).toMatchObject({ ok: true, problems: [] });
    const exported: AuditEvent[] = [];
    for await (const e of client.auditExport()) exported.push(e);
    expect(exported).toHaveLength(verify.checked);
    expect(exported.map((e) => e.seq)).toEqual(exported.map((_, i) => i + 1));
    expect(exported.at(-1)?.hash).toBe(verify.headHash);
  });

  it('returns typed errors for unknown routes and bad references', async () => {
    await expect(client.getVersion('clf@')).rejects.toBeInstanceOf(InvalidArgumentError);
    const r = await fetch(`${server.url}/api/v1/nothing-here`);
    expect(r.status).toBe(404);
    expect(await r.json()).toEqual({
      error: { code: 'NOT_FOUND', message: 'no route GET /api/v1/nothing-here' },
    });
  });

  it('maps an unreachable server to UNAVAILABLE', async () => {
    const { RemoteRegistry } = await import('../../src/client/remote-registry.js');
    const dead = new RemoteRegistry('http://127.0.0.1:1', { retries: 0 });
    const e = await dead.getModel('x').catch((err: unknown) => err);
    expect(e).toBeInstanceOf(ModelvaultError);
    expect((e as ModelvaultError).code).toBe('UNAVAILABLE');
  });

  it('serves /health, /metrics, request ids, the OpenAPI document and /docs', async () => {
    const health = await fetch(`${server.url}/health`, { headers: { 'x-request-id': 'req-42' } });
    expect(health.status).toBe(200);
    expect(health.headers.get('x-request-id')).toBe('req-42');
    expect(await health.json()).toMatchObject({ status: 'ok' });
    const generated = await fetch(`${server.url}/health`, {
      headers: { 'x-request-id': 'bad id!' },
    });
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);

    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(
      /modelvault_http_requests_total\{method="GET",route="\/health",status="200"\} \d+/,
    );
    expect(metrics).toContain('modelvault_http_request_duration_seconds_bucket');
    expect(metrics).toMatch(/modelvault_upload_chunks_stored_total \d+/);
    expect(metrics).toMatch(/modelvault_upload_chunks_deduplicated_total \d+/);
    for (const gauge of [
      'process_resident_memory_bytes',
      'nodejs_heap_used_bytes',
      'nodejs_external_memory_bytes',
      'nodejs_array_buffers_bytes',
    ]) {
      expect(
        Number(new RegExp(`^modelvault_${gauge} (\\d+)$`, 'm').exec(metrics)?.[1]),
      ).toBeGreaterThan(0);
    }
    expect(metrics).toMatch(/^modelvault_upload_batches_active 0$/m);
    expect(metrics).toMatch(/^modelvault_upload_batches_waiting 0$/m);
    expect(metrics).toMatch(
      /modelvault_http_request_bytes_total\{route="\/api\/v1\/uploads\/:id\/chunks"\} \d+/,
    );

    const res = await fetch(`${server.url}/api/v1/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as {
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
      components: { schemas: Record<string, unknown> };
    };
    expect(doc.openapi).toBe('3.1.0');
    for (const path of [
      '/api/v1/models',
      '/api/v1/models/{name}',
      '/api/v1/versions/{ref}',
      '/api/v1/versions/{ref}/manifest',
      '/api/v1/files/{sha256}',
      '/api/v1/uploads',
      '/api/v1/uploads/{id}/chunks',
      '/api/v1/uploads/{id}/commit',
      '/api/v1/audit',
      '/health',
      '/metrics',
    ]) {
      expect(doc.paths, path).toHaveProperty([path]);
    }
    // Every $ref points at a component that exists.
    const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? [];
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of refs) {
      const name = ref.slice('"$ref":"#/components/schemas/'.length, -1);
      expect(doc.components.schemas, ref).toHaveProperty([name]);
    }
    const docs = await fetch(`${server.url}/docs`, { redirect: 'follow' });
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain('swagger');
  });
});

/**
 * Promotion policies against a real server: set through the local registry and through
 * the SDK (native REST API), enforced on every way of moving an alias or a stage — the
 * native routes, MLflow's set-alias and transition-stage, rollback — with real pushes
 * (a pickle the scanner calls dangerous) and real signatures.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  generateSigningKeyPair,
  keyIdOf,
  loadPrivateKey,
  loadPublicKey,
  signVersion,
} from '../../src/core/model-signing.js';
import type { RegistryApi } from '../../src/core/registry-api.js';
import { OS_SYSTEM_PICKLE } from '../fixtures/pickle-files.js';
import { mlflowClient } from '../server/mlflow/support.js';
import {
  modelFiles,
  startTestServer,
  type TestServer,
  writeTree,
} from '../server/support/test-server.js';

let server: TestServer;
let work: string;
const release = generateSigningKeyPair();
const releaseId = keyIdOf(loadPublicKey(release.publicKey));

beforeAll(async () => {
  server = await startTestServer();
  work = await mkdtemp(join(tmpdir(), 'mv-policies-'));
  await writeTree(join(work, 'v1'), modelFiles(0));
  await writeTree(join(work, 'v2'), modelFiles(1));
  await writeTree(join(work, 'evil'), { ...modelFiles(2), 'pipeline.pkl': OS_SYSTEM_PICKLE });
});
afterAll(async () => {
  await server?.close();
  await rm(work, { recursive: true, force: true });
});

async function sign(registry: RegistryApi, ref: string): Promise<void> {
  const v = await registry.getVersion(ref);
  const m = await registry.getManifest(ref);
  const bundle = signVersion(
    { model: v.model, version: v.version, digest: v.digest, files: m.files },
    loadPrivateKey(release.privateKey),
  );
  await registry.addSignature(ref, { bundle, publicKey: release.publicKey });
}

describe.each([
  ['local', () => server.backend.registry],
  ['remote', () => server.client()],
] as const)('%s registry', (kind, open) => {
  const model = `guarded-${kind}`;

  it('refuses promotions that break the policy, on every path, and allows them once met', async () => {
    const registry = open();
    await registry.push(join(work, 'v1'), { model, metrics: { auc: 0.93 } }); // v1
    await registry.push(join(work, 'evil'), { model, metrics: { auc: 0.97 } }); // v2
    await registry.push(join(work, 'v2'), { model, metrics: { auc: 0.88 } }); // v3
    await registry.setAlias(model, 'production', 1); // before the policy
    const policy = await registry.setPolicy({
      model,
      alias: 'production',
      rules: {
        require: 'metrics.auc >= 0.9',
        signedBy: [releaseId],
        scan: 'no-dangerous',
        approval: 'approved',
      },
    });
    expect(policy).toMatchObject({ model, alias: 'production', updatedBy: 'alice' });
    expect(await registry.listPolicies({ model })).toEqual([policy]);

    // v2 is dangerous, unsigned and unapproved; v3's auc is too low.
    const c2 = await registry.checkPolicy(`${model}@2`, { alias: 'production' });
    expect(c2.ok).toBe(false);
    expect(c2.results.filter((r) => !r.ok).map((r) => r.rule)).toEqual([
      'signedBy',
      'scan: no-dangerous',
      'approval: approved',
    ]);
    expect(c2.results.find((r) => r.rule === 'scan: no-dangerous')?.message).toBe(
      'scan verdict dangerous: pipeline.pkl',
    );
    const refused = await registry.setAlias(model, 'production', 2).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'POLICY_VIOLATION', name: 'PolicyViolationError' });
    expect((refused as { details: { failed: unknown[] } }).details.failed).toHaveLength(3);

    // Native route: 409 with the failed rules.
    const res = await fetch(`${server.url}/api/v1/models/${model}/aliases/production`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ version: 3 }),
    });
    expect(res.status).toBe(409);
    const body = (await res.json()) as {
      error: { code: string; message: string; details: { failed: { rule: string }[] } };
    };
    expect(body.error.code).toBe('POLICY_VIOLATION');
    expect(body.error.message).toContain(
      'require: metrics.auc >= 0.9: not met (metrics.auc is 0.88)',
    );
    expect(body.error.details.failed.map((f) => f.rule)).toEqual([
      'require: metrics.auc >= 0.9',
      'signedBy',
      'approval: approved',
    ]);

    // Meeting the rules: v1 signed and approved may go (again), and production moved nowhere.
    expect((await registry.getVersion(`${model}@production`)).version).toBe(1);
    await sign(registry, `${model}@1`);
    await registry.approve(`${model}@1`);
    await registry.setAlias(model, 'candidate', 3);
    await registry.setAlias(model, 'candidate', 1);
    await registry.deleteAlias(model, 'production');
    expect(await registry.setAlias(model, 'production', 1)).toMatchObject({ changed: true });

    // Rollback obeys the policy too: 'candidate' was 3 before 1, but 'candidate' has no
    // policy; a registry-wide default on it refuses rolling back to v3.
    await registry.setPolicy({ alias: 'candidate', rules: { require: 'metrics.auc >= 0.9' } });
    await expect(registry.rollback(model, 'candidate')).rejects.toMatchObject({
      code: 'POLICY_VIOLATION',
      details: { version: 3, alias: 'candidate', policy: 'default' },
    });
    expect(await registry.deletePolicy({ alias: 'candidate' })).toBe(true);
    expect(await registry.rollback(model, 'candidate')).toMatchObject({ version: 3 });
  });

  it('guards stages through the native API', async () => {
    const registry = open();
    const m = `staged-${kind}`;
    await registry.push(join(work, 'v1'), { model: m, metrics: { auc: 0.5 } });
    await registry.setPolicy({
      model: m,
      stage: 'production',
      rules: { require: 'metrics.auc > 0.9' },
    });
    await expect(registry.transitionStage(`${m}@1`, 'Production')).rejects.toMatchObject({
      code: 'POLICY_VIOLATION',
      details: { stage: 'Production' },
    });
    await registry.logVersionMetrics(`${m}@1`, [{ key: 'auc', value: 0.95, step: 1 }]);
    expect((await registry.transitionStage(`${m}@1`, 'Production')).stage).toBe('Production');
  });
});

describe('MLflow API', () => {
  it('set-alias and transition-stage answer 409 RESOURCE_CONFLICT naming the failed rules', async () => {
    const registry = server.backend.registry;
    const model = 'guarded-mlflow';
    await registry.push(join(work, 'v1'), { model, metrics: { auc: 0.7 } });
    await registry.setPolicy({
      model,
      alias: 'champion',
      rules: { require: 'metrics.auc >= 0.9' },
    });
    await registry.setPolicy({ model, stage: 'Staging', rules: { approval: 'approved' } });
    for (const prefix of ['/api/2.0', '/ajax-api/2.0']) {
      const api = mlflowClient(server.url, prefix);
      const alias = await api.post('mlflow/registered-models/alias', {
        name: model,
        alias: 'champion',
        version: '1',
      });
      expect(alias.status).toBe(409);
      expect(alias.body.error_code).toBe('RESOURCE_CONFLICT');
      expect(alias.body.message).toBe(
        "alias 'champion' of 'guarded-mlflow' refuses guarded-mlflow@1: require: metrics.auc >= 0.9: not met (metrics.auc is 0.7)",
      );
      const stage = await api.post('mlflow/model-versions/transition-stage', {
        name: model,
        version: '1',
        stage: 'Staging',
        archive_existing_versions: false,
      });
      expect(stage.status).toBe(409);
      expect(stage.body.message).toContain('approval: approved: the version is pending');
    }
    await registry.approve(`${model}@1`);
    const api = mlflowClient(server.url);
    const ok = await api.post('mlflow/model-versions/transition-stage', {
      name: model,
      version: '1',
      stage: 'Staging',
      archive_existing_versions: false,
    });
    expect(ok.status).toBe(200);
    expect(ok.body.model_version.current_stage).toBe('Staging');
    const events = await registry.auditLog({ model, actions: ['alias.set', 'stage.transitioned'] });
    expect(events.items.map((e) => e.action)).toEqual(['stage.transitioned']);
  });

  it('the policies routes validate their input', async () => {
    const put = (body: unknown) =>
      fetch(`${server.url}/api/v1/policies`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    for (const body of [
      { alias: 'production', rules: { scan: 'clean' } },
      { alias: 'production', rules: { signedBy: ['xyz'] } },
      { alias: 'production', rules: { require: 'metrics.auc >' } },
      { alias: 'production', stage: 'Production', rules: { scan: 'safe' } },
      { rules: { scan: 'safe' } },
      { alias: 'production', rules: {} },
      { stage: 'Nope', rules: { scan: 'safe' } },
    ]) {
      const r = await put(body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe('INVALID_ARGUMENT');
    }
    expect(
      (await put({ model: 'no-such-model', alias: 'p', rules: { scan: 'safe' } })).status,
    ).toBe(404);
    const check = await fetch(`${server.url}/api/v1/policies/check`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ref: 'guarded-mlflow@1', alias: 'champion' }),
    });
    expect(check.status).toBe(200);
    expect(await check.json()).toMatchObject({ ok: false, alias: 'champion', stage: null });
  });
});

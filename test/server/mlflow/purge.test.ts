/**
 * MLflow's `mlflow gc`, end to end: a run deleted through the MLflow API longer ago than the
 * retention period is purged by the registry's gc (what `mvault gc` runs on the server's
 * host): the bytes only it used are freed, a version registered from its model still
 * downloads byte for byte, runs/get answers as for a run that never existed, and a run
 * deleted more recently is untouched and can be restored.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RegistryMaintenance } from '../../../src/core/registry-api.js';
import { DELETED_RETENTION_MS } from '../../../src/registry/retention.js';
import { pseudoRandomBytes } from '../../fixtures/model-files.js';
import { type FreshDatabase, freshDatabase, TEST_DIALECTS } from '../../support/dialects.js';
import { fakeClock } from '../../support/temp-registry.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { artifactUrl, getBytes, putBytes } from './artifact-http.js';
import { expectError, type MlflowTestClient, mlflowClient } from './support.js';

const text = (s: string) => new TextEncoder().encode(s);
const DAY = 24 * 60 * 60 * 1000;

describe.each(TEST_DIALECTS)('purging deleted MLflow runs on %s', (dialect) => {
  let server: TestServer;
  let fresh: FreshDatabase | undefined;
  let api: MlflowTestClient;
  const clock = fakeClock(Date.now());

  beforeEach(async () => {
    clock.set(Date.now());
    fresh = dialect === 'sqlite' ? undefined : await freshDatabase(dialect);
    server = await startTestServer({ clock, ...(fresh ? { database: fresh.config } : {}) });
    api = mlflowClient(server.url);
  });
  afterEach(async () => {
    await server.close();
    await fresh?.cleanup();
  });

  async function storedBytes(): Promise<number> {
    const db = server.backend.store.index.storageDb.db;
    const rows = await db.selectFrom('chunks').select(['length']).execute();
    return rows.reduce((s, r) => s + Number(r.length), 0);
  }

  /** A run of `experimentId` and its artifact root in the proxy. */
  async function newRun(experimentId: string): Promise<{ id: string; root: string }> {
    const info = (await api.ok('mlflow/runs/create', { experiment_id: experimentId })).run.info;
    return { id: info.run_id, root: info.artifact_uri.slice('mlflow-artifacts:/'.length) };
  }

  it('frees a purged run’s bytes, keeps the version registered from it, and spares a recent deletion', async () => {
    const registry = server.backend.registry as unknown as RegistryMaintenance;
    const experimentId = (await api.ok('mlflow/experiments/create', { name: 'purge' }))
      .experiment_id;
    const old = await newRun(experimentId);
    await api.ok('mlflow/runs/log-batch', {
      run_id: old.id,
      metrics: [{ key: 'loss', value: 0.5, timestamp: 1, step: 0 }],
      params: [{ key: 'alpha', value: '0.5' }],
    });
    const weights = pseudoRandomBytes(11, 120_000);
    const mlmodel = text('artifact_path: model\nflavors:\n  python_function: {}\n');
    for (const [path, bytes] of [
      ['model/MLmodel', mlmodel],
      ['model/weights.bin', weights],
    ] as const) {
      expect((await putBytes(artifactUrl(server.url, `${old.root}/${path}`), bytes)).status).toBe(
        200,
      );
    }
    await api.ok('mlflow/registered-models/create', { name: 'purged-source' });
    const created = await api.ok('mlflow/model-versions/create', {
      name: 'purged-source',
      source: `runs:/${old.id}/model`,
      run_id: old.id,
    });
    expect(created.model_version).toMatchObject({ version: '1', run_id: old.id });
    // Logged after the registration: bytes nothing else refers to.
    const unique = pseudoRandomBytes(12, 200_000);
    await putBytes(artifactUrl(server.url, `${old.root}/checkpoints/last.bin`), unique);
    await api.ok('mlflow/runs/delete', { run_id: old.id });

    clock.set(clock() + DELETED_RETENTION_MS + DAY);
    const recent = await newRun(experimentId);
    const recentBytes = pseudoRandomBytes(13, 50_000);
    await putBytes(artifactUrl(server.url, `${recent.root}/data.bin`), recentBytes);
    await api.ok('mlflow/runs/delete', { run_id: recent.id });

    const before = await storedBytes();
    const first = await registry.gc({ graceMs: 0 });
    const second = await registry.gc({ graceMs: 0 }); // sweeps what the first tombstoned
    expect(first.runsPurged).toBe(1);
    expect(second.runsPurged).toBe(0);
    expect(first.bytesFreed + second.bytesFreed).toBeGreaterThanOrEqual(unique.length * 0.9);
    const freed = before - (await storedBytes());
    expect(freed).toBeGreaterThanOrEqual(unique.length * 0.9);
    expect(freed).toBeLessThan(unique.length + weights.length);

    // The purged run is gone as MLflow says of a run it does not have, artifacts included.
    expectError(
      await api.get('mlflow/runs/get', { run_id: old.id }),
      404,
      'RESOURCE_DOES_NOT_EXIST',
    );
    expect((await getBytes(artifactUrl(server.url, `${old.root}/model/weights.bin`))).status).toBe(
      404,
    );
    // The version is intact: its record and its files, byte for byte.
    const version = await api.get('mlflow/model-versions/get', {
      name: 'purged-source',
      version: '1',
    });
    expect(version.body.model_version).toMatchObject({ run_id: old.id, status: 'READY' });
    const frozen = await getBytes(
      artifactUrl(server.url, '_modelvault/models/purged-source@1/weights.bin'),
    );
    expect(frozen.status).toBe(200);
    expect(Buffer.from(frozen.bytes).equals(Buffer.from(weights))).toBe(true);
    const native = await server.backend.registry.getVersion('purged-source@1');
    expect(native.metrics).toEqual({ loss: 0.5 });
    expect(native.params).toEqual({ alpha: '0.5' });

    // The run deleted a moment ago keeps everything and comes back.
    const kept = await api.get('mlflow/runs/get', { run_id: recent.id });
    expect(kept.body.run.info.lifecycle_stage).toBe('deleted');
    await api.ok('mlflow/runs/restore', { run_id: recent.id });
    const back = await getBytes(artifactUrl(server.url, `${recent.root}/data.bin`));
    expect(Buffer.from(back.bytes).equals(Buffer.from(recentBytes))).toBe(true);
    expect((await server.backend.registry.auditVerify()).ok).toBe(true);
  });
});

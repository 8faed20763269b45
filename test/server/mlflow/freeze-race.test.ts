/**
 * MLflow's model-versions/create from a source freezes the artifact tree into a new
 * manifest, which no version refers to until the version commits. A GC with no grace
 * period run in between collects it; the registry then refuses the version, and the
 * service must freeze again and succeed — not fail the call, and never commit a version
 * over a manifest that is gone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sha256Hex } from '../../../src/core/digest.js';
import type { RegistryMaintenance } from '../../../src/core/registry-api.js';
import { ArtifactService } from '../../../src/registry/artifact-service.js';
import { FrozenArtifactView } from '../../../src/registry/frozen-artifact-view.js';
import { MlflowVersionService } from '../../../src/registry/mlflow-version-service.js';
import { pseudoRandomBytes } from '../../fixtures/model-files.js';
import { clockTick } from '../../support/clock-tick.js';
import { withOverrides } from '../../support/with-overrides.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

describe('model-versions/create from a source, racing a grace-0 GC', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.close();
  });

  it('freezes the source again when the GC took the first frozen manifest', async () => {
    const { store, tracking } = server.backend;
    const registry = server.backend.registry as typeof server.backend.registry &
      RegistryMaintenance;
    const artifacts = new ArtifactService({ store });
    const bytes = pseudoRandomBytes(41, 50_000);
    await artifacts.put('0/race-run/artifacts/model/weights.bin', once(bytes));
    await registry.createModel({ name: 'frozen-race' });

    // The first createVersion runs a real GC just before it: the frozen manifest goes.
    let calls = 0;
    let collected = 0;
    const racing = withOverrides(registry, {
      // The frozen manifest is handed over too (ManifestAlreadyRead): the version's
      // transaction must still find it collected.
      createVersion: async (
        input: Parameters<typeof registry.createVersion>[0],
        read?: Parameters<typeof registry.createVersion>[1],
      ) => {
        calls++;
        if (calls === 1) {
          await clockTick();
          collected += (await registry.gc({ graceMs: 0 })).manifestsDeleted;
        }
        return registry.createVersion(input, read);
      },
    });
    const service = new MlflowVersionService(
      racing,
      store,
      artifacts,
      new FrozenArtifactView(registry, store),
      tracking,
    );
    const version = await service.createFromSource({
      name: 'frozen-race',
      source: 'mlflow-artifacts:/0/race-run/artifacts/model',
    });
    expect(collected).toBeGreaterThanOrEqual(1);
    expect(calls).toBe(2);
    expect(version.version).toBe(1);
    // The version's manifest is stored, and its file reads back.
    const manifest = await store.getManifest(version.digest.replace(/^sha256:/, '') as Sha256Hex);
    expect(manifest.entries.map((e) => [e.path, e.size])).toEqual([['weights.bin', bytes.length]]);
  });
});

/**
 * MLflow's model-versions/create from a run's logged model takes shortcuts that must not
 * change what it stores or returns: the run's metrics and params are read by
 * `TrackingService.getRunValues` (one statement on SQLite) instead of getRun, and the frozen
 * manifest is handed to createVersion instead of being read back from the store. Each is
 * compared with the straightforward path on every dialect.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TEST_DIALECTS } from '../../test/support/dialects.js';
import {
  openTempRegistryDirectory,
  type TempRegistryDirectory,
} from '../../test/support/temp-registry.js';
import { withOverrides } from '../../test/support/with-overrides.js';
import type { CreateVersionInput, ModelVersion } from '../core/registry-api.js';
import { ArtifactService } from './artifact-service.js';
import { FrozenArtifactView } from './frozen-artifact-view.js';
import { MlflowVersionService } from './mlflow-version-service.js';
import type { RegistryDirectory } from './registry-directory.js';
import { runValuesOf, type TrackingService } from './tracking-service.js';

async function* once(bytes: Uint8Array) {
  yield bytes;
}

/** A minimal protocol-2 pickle of `{}` (the scanner finds it clean). */
const PICKLE = Uint8Array.from([0x80, 0x02, 0x7d, 0x71, 0x00, 0x2e]);

describe.each(TEST_DIALECTS)('MLflow version creation on %s', (dialect) => {
  let temp: TempRegistryDirectory;
  let rd: RegistryDirectory;
  let t: TrackingService;

  beforeEach(async () => {
    temp = await openTempRegistryDirectory(dialect, 'mv-mlflow-version-');
    rd = temp.rd;
    t = rd.tracking;
  });
  afterEach(() => temp.cleanup());

  /** A run with awkward metric values, keys out of order (integer-like ones too), params. */
  async function awkwardRun(): Promise<string> {
    const id = (await t.createRun({ runName: 'r' })).info.run_id;
    await t.logBatch(id, {
      metrics: [
        { key: 'z', value: 0.1 + 0.2, timestamp: 1_700_000_000_123, step: 3 },
        { key: 'nan', value: Number.NaN, timestamp: 1, step: 0 },
        { key: 'inf', value: Number.POSITIVE_INFINITY, timestamp: 1, step: 0 },
        { key: 'neg_inf', value: Number.NEGATIVE_INFINITY, timestamp: 1, step: -2 },
        { key: 'big', value: 1.7976931348623157e308, timestamp: 2, step: 2 ** 40 },
        { key: 'tiny', value: -5e-324, timestamp: 2, step: 0 },
        { key: 'third', value: 1 / 3, timestamp: 2, step: 0 },
        { key: 'neg_zero', value: -0, timestamp: 2, step: 0 },
        { key: '10', value: 10, timestamp: 2, step: 0 },
        { key: '2', value: 2, timestamp: 2, step: 0 },
        { key: 'a b:c/d', value: -1.5, timestamp: 2, step: 0 },
        // An older point of a key does not replace the latest.
        { key: 'z', value: 7, timestamp: 1, step: 1 },
      ],
      params: [
        { key: 'b', value: '' },
        { key: 'a', value: '{"json": [1, 2]} \\ \n 𝄞' },
        { key: '1', value: 'one' },
      ],
      tags: [{ key: 't', value: 'v' }],
    });
    return id;
  }

  it('getRunValues is what getRun gives: finite latest metrics and params, in its order', async () => {
    const same = async (id: string) => {
      const fast = await t.getRunValues(id);
      const plain = runValuesOf(await t.getRun(id));
      expect(Object.entries(fast.metrics)).toEqual(Object.entries(plain.metrics));
      expect(Object.entries(fast.params)).toEqual(Object.entries(plain.params));
      // Bit for bit, -0 included.
      for (const [key, value] of Object.entries(plain.metrics)) {
        expect(Object.is(fast.metrics[key], value)).toBe(true);
      }
      return fast;
    };
    const bare = (await t.createRun({ runName: 'bare' })).info.run_id;
    expect(await same(bare)).toEqual({ metrics: {}, params: {} });
    const full = await awkwardRun();
    const values = await same(full);
    expect(Object.keys(values.metrics).sort()).toEqual(
      ['10', '2', 'big', 'neg_zero', 'third', 'tiny', 'z', 'a b:c/d'].sort(),
    );
    expect(values.metrics.z).toBe(0.1 + 0.2);
    expect(values.params).toEqual({ '1': 'one', a: '{"json": [1, 2]} \\ \n 𝄞', b: '' });
    await t.deleteRun(full);
    await same(full);
    // The same errors.
    for (const id of ['0'.repeat(32), '../x']) {
      const error = await t.getRun(id).catch((e: Error) => e);
      expect(error).toBeInstanceOf(Error);
      await expect(t.getRunValues(id)).rejects.toEqual(error);
    }
  });

  it('creates from a source as the straightforward path does: same version, rows, scan and audit', async () => {
    const runId = await awkwardRun();
    const store = rd.store;
    const artifacts = new ArtifactService({ store });
    const root = `0/${runId}/artifacts/model`;
    await artifacts.put(`${root}/MLmodel`, once(new TextEncoder().encode('flavors: {}\n')));
    await artifacts.put(`${root}/python_model.pkl`, once(PICKLE));
    const fast = new MlflowVersionService(
      rd.registry,
      store,
      artifacts,
      new FrozenArtifactView(rd.registry, store),
      t,
    );
    // The straightforward path: the model is checked with getModel, createVersion reads the
    // manifest itself, and the run is read whole with getRun.
    let manifestsHandedOver = 0;
    const target = rd.registry;
    const registry = withOverrides(target, {
      requireModel: async (name: string) => void (await target.getModel(name)),
      createVersion: (input: CreateVersionInput, read?: unknown) => {
        if (read !== undefined) manifestsHandedOver++;
        return target.createVersion(input);
      },
    });
    const tracking = withOverrides(t, {
      getRunValues: async (id: string) => runValuesOf(await t.getRun(id)),
    });
    const plain = new MlflowVersionService(
      registry,
      store,
      artifacts,
      new FrozenArtifactView(rd.registry, store),
      tracking,
    );
    const source = `mlflow-artifacts:/${root}`;
    const versions: Record<string, ModelVersion> = {};
    for (const [name, service] of [
      ['fast', fast],
      ['plain', plain],
    ] as const) {
      await rd.registry.createModel({ name });
      versions[name] = await service.createFromSource({
        name,
        source,
        runId,
        tags: { k: 'v' },
        description: 'd',
        actor: 'bob',
      });
    }
    expect(manifestsHandedOver).toBe(1);
    /** A version without what differs between the two models (name, clock ticks). */
    const comparable = (v: ModelVersion) => ({
      ...v,
      model: undefined,
      createdAt: undefined,
      updatedAt: undefined,
    });
    expect(comparable(versions.fast!)).toEqual(comparable(versions.plain!));
    expect(versions.fast!.scan).toMatchObject({ files: 1 });
    expect(Object.keys(versions.fast!.metrics)).toHaveLength(8);
    // What a read gives back is what the creation returned, and the same on both paths.
    const read = {
      fast: await rd.registry.getVersion('fast@1'),
      plain: await rd.registry.getVersion('plain@1'),
    };
    expect(JSON.stringify(read.fast)).toBe(JSON.stringify(versions.fast));
    expect(comparable(read.fast)).toEqual(comparable(read.plain));
    const scanOf = async (ref: string) => ({
      ...(await rd.registry.getScan(ref)),
      model: undefined,
      scannedAt: undefined,
    });
    expect(await scanOf('fast@1')).toEqual(await scanOf('plain@1'));
    // The audit events carry the same data, and the chain verifies.
    const events = (await rd.registry.auditLog({ actions: ['version.created'] })).items;
    const dataOf = (subject: string) => events.find((e) => e.subject === subject)?.data;
    expect(dataOf('fast@1')).toBeDefined();
    expect(dataOf('fast@1')).toEqual(dataOf('plain@1'));
    expect((await rd.registry.auditVerify()).ok).toBe(true);

    // A model that is not there (never created, deleted, or not a valid name) fails both
    // paths the same way, before the source or the run is looked at.
    await rd.registry.createModel({ name: 'gone' });
    await rd.registry.deleteModel('gone');
    for (const name of ['missing', 'gone', 'bad/name', '']) {
      const expected = await rd.registry.getModel(name).catch((e: Error) => e);
      expect(expected).toBeInstanceOf(Error);
      for (const service of [fast, plain]) {
        await expect(
          service.createFromSource({ name, source: 'bogus:/x', runId: 'f'.repeat(32) }),
        ).rejects.toEqual(expected);
      }
    }
  });
});

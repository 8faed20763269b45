import { afterEach, describe, expect, it } from 'vitest';
import { TEST_DIALECTS } from '../../test/support/dialects.js';
import {
  fakeDigest,
  openTempRegistry,
  type TempRegistry,
} from '../../test/support/temp-registry.js';
import type { ManifestEntry } from '../storage/content-store.js';
import type { ManifestEntriesReader } from './diff-service.js';

describe.each(TEST_DIALECTS)('%s', (dialect) => {
  const entry = (path: string, content: string, size = content.length) =>
    ({ path, size, sha256: fakeDigest(content) }) as ManifestEntry;

  const MANIFESTS = new Map<string, ManifestEntry[]>([
    [
      fakeDigest('m3'),
      [entry('config.json', 'c1'), entry('model.safetensors', 'w1', 1000), entry('old.txt', 'o')],
    ],
    [
      fakeDigest('m4'),
      [
        entry('config.json', 'c1'),
        entry('model.safetensors', 'w2', 1200),
        entry('tokenizer.json', 't'),
      ],
    ],
  ]);

  let t: TempRegistry | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });

  async function setup(manifests?: ManifestEntriesReader) {
    t = await openTempRegistry({ ...(manifests ? { manifests } : {}), dialect });
    const r = t.registry;
    await r.createModel({ name: 'fraud' });
    await r.createVersion({
      model: 'fraud',
      manifest: { digest: fakeDigest('m3'), size: 1003, fileCount: 3 },
      metrics: { auc: 0.9, loss: 0.3 },
      params: { lr: '3e-4', epochs: '5', dropout: '0.1' },
      tags: { team: 'risk' },
    });
    await r.createVersion({
      model: 'fraud',
      manifest: { digest: fakeDigest('m4'), size: 1203, fileCount: 3 },
      metrics: { auc: 0.95, f1: 0.7 },
      params: { lr: '1e-4', epochs: '5', batch: '64' },
      tags: { team: 'risk', validated: 'yes' },
    });
    await r.createVersion({
      model: 'fraud',
      manifest: { digest: fakeDigest('m4'), size: 1203, fileCount: 3 },
    });
    return r;
  }

  describe('diffVersions', () => {
    it('compares metrics with deltas, params, tags and files', async () => {
      const r = await setup(async (d) => {
        const entries = MANIFESTS.get(d);
        if (!entries) throw new Error(`no manifest ${d}`);
        return entries;
      });
      const diff = await r.diffVersions('fraud@1', 'fraud@2');
      expect(diff.a).toEqual({ model: 'fraud', version: 1, digest: fakeDigest('m3'), size: 1003 });
      expect(diff.sameContent).toBe(false);
      expect(diff.metrics).toEqual([
        { key: 'auc', a: 0.9, b: 0.95, delta: expect.closeTo(0.05, 10) },
        { key: 'f1', a: null, b: 0.7, delta: null },
        { key: 'loss', a: 0.3, b: null, delta: null },
      ]);
      expect(diff.params).toEqual({
        added: [{ key: 'batch', value: '64' }],
        removed: [{ key: 'dropout', value: '0.1' }],
        changed: [{ key: 'lr', a: '3e-4', b: '1e-4' }],
      });
      expect(diff.tags).toEqual({
        added: [{ key: 'validated', value: 'yes' }],
        removed: [],
        changed: [],
      });
      expect(diff.files).toEqual({
        added: [{ path: 'tokenizer.json', size: 1, sha256: fakeDigest('t') }],
        removed: [{ path: 'old.txt', size: 1, sha256: fakeDigest('o') }],
        changed: [
          {
            path: 'model.safetensors',
            a: { path: 'model.safetensors', size: 1000, sha256: fakeDigest('w1') },
            b: { path: 'model.safetensors', size: 1200, sha256: fakeDigest('w2') },
          },
        ],
        unchanged: 1,
      });
    });

    it('needs no manifest reader when the content is the same, and says null otherwise', async () => {
      const r = await setup();
      const same = await r.diffVersions('fraud@2', 'fraud@latest');
      expect(same.sameContent).toBe(true);
      expect(same.files).toEqual({ added: [], removed: [], changed: [], unchanged: 3 });
      expect((await r.diffVersions('fraud@1', 'fraud@2')).files).toBeNull();
    });

    it('names a missing side', async () => {
      const r = await setup();
      await expect(r.diffVersions('fraud@1', 'fraud@9')).rejects.toThrow(
        "version 'fraud@9' not found",
      );
    });
  });
});

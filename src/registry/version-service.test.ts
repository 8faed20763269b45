import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TEST_DIALECTS } from '../../test/support/dialects.js';
import {
  fakeDigest,
  manifest,
  openTempRegistry,
  type TempRegistry,
} from '../../test/support/temp-registry.js';
import type { CreateVersionInput, MetricInput } from '../core/registry-api.js';

describe.each(TEST_DIALECTS)('%s', (dialect) => {
  let t: TempRegistry;
  beforeEach(async () => {
    t = await openTempRegistry({ dialect });
  });
  afterEach(async () => {
    await t.cleanup();
  });

  describe('createVersion', () => {
    it('returns the version exactly as a read gives it back: metrics and params in key order, -0 as 0', async () => {
      await t.registry.createModel({ name: 'm' });
      // Keys in no particular order (upper case sorts first, '-' '.' '/' before digits);
      // values at the edges of a double. Written from the input, never read back.
      const metrics: Record<string, number> = {
        zeta: 1,
        'eval/f1 macro': 0.1 + 0.2,
        Alpha: -5.5,
        'a-b': 1e-300,
        'a.b': 1.7976931348623157e308,
        a_b: -0,
        a: 5e-324,
        B9: 123456789.123,
        // Code-unit order, not code-point order: U+1D49C (a surrogate pair) before U+FF5A.
        ｚ: 2,
        𝒜: 3,
      };
      const params = { lr: '3e-4', 'Opt/beta1': '0.9', empty: '', 'a b': 'ünïcode ✓' };
      const created = await t.registry.createVersion({
        model: 'm',
        manifest: manifest('one'),
        metrics,
        params,
        tags: { t: '1' },
      });
      const read = await t.registry.getVersion('m@1');
      expect(created).toEqual(read);
      expect(Object.keys(created.metrics)).toEqual(Object.keys(read.metrics));
      expect(Object.keys(created.params)).toEqual(Object.keys(read.params));
      expect(Object.keys(read.metrics)).toEqual(Object.keys(metrics).sort());
      for (const [k, value] of Object.entries(metrics)) {
        // Object.is: -0 comes back as 0 both ways, every other value bit for bit.
        expect(Object.is(created.metrics[k], value || 0)).toBe(true);
        expect(Object.is(read.metrics[k], value || 0)).toBe(true);
      }
      expect(read.params).toEqual(params);
      // The same after the history's points: a page read (search) agrees too.
      const [found] = (await t.registry.searchVersions({ filter: "name = 'm'" })).items;
      expect(found).toEqual(created);
    });

    it('returns the version as a read gives it, key order and all, with every detail set', async () => {
      await t.registry.createModel({ name: 'm' });
      await t.registry.createModel({ name: 'b-features' });
      await t.registry.createVersion({ model: 'm', manifest: manifest('1') });
      await t.registry.createVersion({ model: 'm', manifest: manifest('2') });
      await t.registry.createVersion({ model: 'b-features', manifest: manifest('f') });
      const input: CreateVersionInput = {
        model: 'm',
        manifest: manifest('3', 12345, 7),
        description: 'retrained ✓',
        modelCard: '# Card\n\nwith ünïcode and 𝒜',
        metrics: { zeta: 1, alpha: -0, 'eval/f1': 0.1 + 0.2 },
        params: { lr: '3e-4', Opt: 'adam' },
        tags: { z: '1', A: '', 'team/x': 'risk ✓' },
        runId: 'run-1',
        source: 'mlflow-artifacts:/1/run-1/artifacts/model',
        lineage: {
          // Out of order, one twice (by number and as latest): stored once, read sorted.
          parents: ['m@2', 'b-features@1', 'm@1', 'm@latest'],
          datasets: [
            { name: 'val', uri: 's3://b/val.parquet' },
            { name: 'Train', digest: 'sha256:abc' },
            { name: 'test', uri: 's3://b/test.parquet', digest: 'sha256:def' },
          ],
          code: { gitRemote: 'git@example.com:ml/m.git', gitCommit: 'abc123', gitDirty: true },
        },
        actor: 'bob',
      };
      const created = await t.registry.createVersion(input);
      const read = await t.registry.getVersion('m@3');
      // The same JSON text: every value and every key in the same order.
      expect(JSON.stringify(created)).toBe(JSON.stringify(read));
      expect(created.lineage.parents).toEqual([
        { model: 'b-features', version: 1 },
        { model: 'm', version: 1 },
        { model: 'm', version: 2 },
      ]);
      // Nothing optional given: nulls and empty lists, as read.
      const bare = await t.registry.createVersion({ model: 'm', manifest: manifest('4') });
      expect(JSON.stringify(bare)).toBe(JSON.stringify(await t.registry.getVersion('m@4')));
      // Code with only a dirty flag, datasets without uri or digest.
      const partial = await t.registry.createVersion({
        model: 'm',
        manifest: manifest('5'),
        lineage: { code: { gitDirty: false }, datasets: [{ name: 'only' }] },
      });
      expect(JSON.stringify(partial)).toBe(JSON.stringify(await t.registry.getVersion('m@5')));
    });

    it('returns texts as stored when they do not read back as given (lone surrogates)', async () => {
      await t.registry.createModel({ name: 'm' });
      // SQLite keeps a lone surrogate's bytes (read back as three U+FFFD), PostgreSQL stores
      // U+FFFD: either way not the text given, so the creation reads its version back.
      const created = await t.registry.createVersion({
        model: 'm',
        manifest: manifest('1'),
        description: 'half a pair: \ud800 and \udc00',
        lineage: {
          datasets: [{ name: 'x\udbff', uri: 'u' }],
          code: { gitRemote: 'r', gitCommit: 'c\ud83d' },
        },
      });
      const read = await t.registry.getVersion('m@1');
      expect(JSON.stringify(created)).toBe(JSON.stringify(read));
      expect(created.description).not.toContain('\ud800');
    });

    it('registers a version with metrics, params, tags, lineage and one audit event', async () => {
      await t.registry.createModel({ name: 'fraud' });
      const v1 = await t.registry.createVersion({ model: 'fraud', manifest: manifest('one') });
      await t.registry.createModel({ name: 'features' });
      await t.registry.createVersion({ model: 'features', manifest: manifest('f') });
      const v2 = await t.registry.createVersion({
        model: 'fraud',
        manifest: { digest: `sha256:${fakeDigest('two').toUpperCase()}`, size: 1234, fileCount: 3 },
        description: 'retrained on Q3',
        metrics: { auc: 0.941, loss: 0.2 },
        params: { lr: '3e-4' },
        tags: { team: 'risk' },
        runId: 'run-1',
        source: 'mlflow-artifacts:/1/run-1/artifacts/model',
        lineage: {
          parents: ['fraud@1', 'features@latest'],
          datasets: [{ name: 'train', uri: 's3://bucket/q3.parquet', digest: 'sha256:abc' }],
          code: { gitRemote: 'git@example.com:ml/fraud.git', gitCommit: 'abc123', gitDirty: false },
        },
        actor: 'bob',
      });
      expect(v1.version).toBe(1);
      expect(v2).toMatchObject({
        model: 'fraud',
        version: 2,
        digest: fakeDigest('two'),
        size: 1234,
        fileCount: 3,
        description: 'retrained on Q3',
        createdBy: 'bob',
        status: 'READY',
        stage: 'None',
        approval: { state: 'pending', reviewer: null, comment: null, time: null },
        runId: 'run-1',
        metrics: { auc: 0.941, loss: 0.2 },
        params: { lr: '3e-4' },
        tags: { team: 'risk' },
        aliases: [],
        lineage: {
          parents: [
            { model: 'features', version: 1 },
            { model: 'fraud', version: 1 },
          ],
          datasets: [{ name: 'train', uri: 's3://bucket/q3.parquet', digest: 'sha256:abc' }],
          code: { gitRemote: 'git@example.com:ml/fraud.git', gitCommit: 'abc123', gitDirty: false },
        },
        deletedAt: null,
      });
      expect(await t.registry.getVersion('fraud@2')).toEqual(v2);
      expect(await t.registry.getVersion('models:/fraud/2')).toEqual(v2);
      const events = await t.registry.auditLog({ model: 'fraud', actions: ['version.created'] });
      expect(events.items.map((e) => e.subject)).toEqual(['fraud@2', 'fraud@1']);
      expect(events.items[0]?.data).toMatchObject({
        digest: fakeDigest('two'),
        parents: ['fraud@1', 'features@1'],
        metrics: { auc: 0.941, loss: 0.2 },
      });
      expect((await t.registry.getModel('fraud')).latestVersion).toBe(2);
    });

    it('needs the model unless createModelIfMissing, which writes both events', async () => {
      await expect(
        t.registry.createVersion({ model: 'nope', manifest: manifest('x') }),
      ).rejects.toMatchObject({ code: 'NOT_FOUND', message: "model 'nope' not found" });
      const v = await t.registry.createVersion({
        model: 'nope',
        manifest: manifest('x'),
        createModelIfMissing: true,
      });
      expect(v.version).toBe(1);
      expect((await t.registry.getModel('nope')).owner).toBe('alice');
      const actions = (await t.registry.auditLog({ order: 'asc' })).items.map((e) => e.action);
      expect(actions).toEqual(['model.created', 'version.created']);
    });

    it('keeps the model card, null when none is given, and checks its size', async () => {
      const plain = await t.registry.createVersion({
        model: 'carded',
        manifest: manifest('c1'),
        createModelIfMissing: true,
      });
      expect(plain.modelCard).toBeNull();
      const card = '# Fraud detector\n\nTrained on Q3.\n';
      const v = await t.registry.createVersion({
        model: 'carded',
        manifest: manifest('c2'),
        modelCard: card,
      });
      expect(v.modelCard).toBe(card);
      expect((await t.registry.getVersion('carded@2')).modelCard).toBe(card);
      await expect(
        t.registry.createVersion({
          model: 'carded',
          manifest: manifest('c3'),
          modelCard: 'x'.repeat(1024 * 1024 + 1),
        }),
      ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    });

    it('validates its input before writing anything', async () => {
      await t.registry.createModel({ name: 'm' });
      const bad = [
        { model: 'm', manifest: { digest: 'nothex', size: 1, fileCount: 1 } },
        { model: 'm', manifest: { digest: fakeDigest('a'), size: -1, fileCount: 1 } },
        { model: 'm', manifest: { digest: fakeDigest('a'), size: 1, fileCount: 1.5 } },
        { model: 'm', manifest: manifest('a'), metrics: { auc: Number.NaN } },
        { model: 'm', manifest: manifest('a'), metrics: { auc: '0.9' as unknown as number } },
        { model: 'm', manifest: manifest('a'), params: { lr: 3 as unknown as string } },
        { model: 'm', manifest: manifest('a'), tags: { '': 'x' } },
        { model: 'm', manifest: manifest('a'), lineage: { parents: ['not a ref'] } },
        {
          model: 'm',
          manifest: manifest('a'),
          lineage: { datasets: [{ name: 'train' }, { name: 'train' }] },
        },
        { model: 'm@1', manifest: manifest('a') },
        { model: 'm', manifest: manifest('a'), lineage: { datasets: 'train' } },
        { model: 'm', manifest: manifest('a'), lineage: { datasets: [null] } },
        { model: 'm', manifest: manifest('a'), lineage: { parents: 'm@1' } },
        { model: 'm', manifest: manifest('a'), lineage: { code: 'abc' } },
        { model: 'm', manifest: manifest('a'), metrics: [1, 2] },
        { model: 'm' },
      ] as unknown as CreateVersionInput[];
      for (const input of bad) {
        await expect(t.registry.createVersion(input), JSON.stringify(input)).rejects.toMatchObject({
          code: 'INVALID_ARGUMENT',
        });
      }
      await expect(
        t.registry.createVersion({
          model: 'm',
          manifest: manifest('a'),
          lineage: { parents: ['m@9'] },
        }),
      ).rejects.toMatchObject({ code: 'NOT_FOUND', message: "version 'm@9' not found" });
      // Nothing was allocated by the failures: the first version is still 1.
      expect(
        (await t.registry.createVersion({ model: 'm', manifest: manifest('a') })).version,
      ).toBe(1);
    });
  });

  describe('getVersion', () => {
    beforeEach(async () => {
      await t.registry.createModel({ name: 'm' });
      await t.registry.createVersion({ model: 'm', manifest: manifest('a') });
      await t.registry.createVersion({ model: 'm', manifest: manifest('b') });
      await t.registry.createVersion({ model: 'm', manifest: manifest('a') });
    });

    it('resolves numbers, latest, digests (newest match), aliases and stages', async () => {
      await t.registry.setAlias('m', 'production', 2);
      await t.registry.transitionStage('m@1', 'Staging');
      expect((await t.registry.getVersion('m@latest')).version).toBe(3);
      expect((await t.registry.getVersion(`m@sha256:${fakeDigest('a')}`)).version).toBe(3);
      expect((await t.registry.getVersion('m@production')).version).toBe(2);
      expect((await t.registry.getVersion('models:/m@production')).version).toBe(2);
      expect((await t.registry.getVersion('models:/m/staging')).version).toBe(1);
    });

    it("names what is missing: version 'm@7' not found", async () => {
      await expect(t.registry.getVersion('m@7')).rejects.toMatchObject({
        code: 'NOT_FOUND',
        message: "version 'm@7' not found",
      });
      await expect(t.registry.getVersion('x@7')).rejects.toThrow("model 'x' not found");
      await expect(t.registry.getVersion('m@champion')).rejects.toThrow(
        "alias 'm@champion' not found",
      );
      await expect(t.registry.getVersion('models:/m/Production')).rejects.toThrow(
        "no version of 'm' is in stage 'Production'",
      );
      // A bare name means the latest live version.
      expect((await t.registry.getVersion('m')).version).toBe(3);
      await expect(t.registry.getVersion('m@')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    });

    it('lists versions newest first, across pages', async () => {
      const first = await t.registry.listVersions('m', { maxResults: 2 });
      expect(first.items.map((v) => v.version)).toEqual([3, 2]);
      const second = await t.registry.listVersions('m', {
        maxResults: 2,
        pageToken: first.nextPageToken,
      });
      expect(second.items.map((v) => v.version)).toEqual([1]);
      expect(second.nextPageToken).toBeUndefined();
      await expect(t.registry.listVersions('zz')).rejects.toThrow("model 'zz' not found");
    });
  });

  describe('version mutations', () => {
    beforeEach(async () => {
      await t.registry.createModel({ name: 'm' });
      await t.registry.createVersion({
        model: 'm',
        manifest: manifest('a'),
        metrics: { auc: 0.8 },
      });
    });

    it('updates the description and tags', async () => {
      const v = await t.registry.updateVersion('m@1', { description: 'card' });
      expect(v.description).toBe('card');
      await t.registry.setVersionTag('m@1', 'validated', 'yes');
      expect((await t.registry.getVersion('m@1')).tags).toEqual({ validated: 'yes' });
      expect(await t.registry.deleteVersionTag('m@1', 'validated')).toBe(true);
      expect(await t.registry.deleteVersionTag('m@1', 'validated')).toBe(false);
      await expect(t.registry.setVersionTag('m@2', 'k', 'v')).rejects.toThrow(
        "version 'm@2' not found",
      );
      const actions = (await t.registry.auditLog({ model: 'm', order: 'asc' })).items.map(
        (e) => e.action,
      );
      expect(actions).toEqual([
        'model.created',
        'version.created',
        'version.updated',
        'version.tag_set',
        'version.tag_deleted',
      ]);
    });

    it('keeps metric history and the latest value per key', async () => {
      await t.registry.logVersionMetrics('m@1', [
        { key: 'auc', value: 0.85, step: 2, timestamp: 10 },
        { key: 'auc', value: 0.83, step: 1, timestamp: 20 },
        { key: 'loss', value: 0.3 },
      ]);
      const v = await t.registry.getVersion('m@1');
      expect(v.metrics).toEqual({ auc: 0.85, loss: 0.3 });
      const history = await t.registry.getMetricHistory('m@1', 'auc');
      // Metrics given at creation are stamped with the version's creation time.
      expect(history[0]?.timestamp).toBe(v.createdAt);
      expect(history.map((p) => [p.step, p.value])).toEqual([
        [0, 0.8],
        [1, 0.83],
        [2, 0.85],
      ]);
      await expect(
        t.registry.logVersionMetrics('m@1', [{ key: 'auc', value: Number.POSITIVE_INFINITY }]),
      ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(
        t.registry.logVersionMetrics('m@1', [{ key: 'auc', value: 1, step: 0.5 }]),
      ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(
        t.registry.logVersionMetrics('m@1', { auc: 1 } as unknown as MetricInput[]),
      ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    });

    it('soft-deletes and restores; a deleted number is never reused', async () => {
      await t.registry.createVersion({ model: 'm', manifest: manifest('b') });
      await t.registry.deleteVersion('m@2');
      await expect(t.registry.getVersion('m@2')).rejects.toThrow("version 'm@2' not found");
      expect((await t.registry.getVersion('m@latest')).version).toBe(1);
      expect((await t.registry.listVersions('m')).items.map((v) => v.version)).toEqual([1]);
      expect(
        (await t.registry.listVersions('m', { includeDeleted: true })).items.map((v) => v.version),
      ).toEqual([2, 1]);
      expect((await t.registry.searchVersions({ filter: "name = 'm'" })).items).toHaveLength(1);
      expect(
        (await t.registry.getVersion('m@2', { includeDeleted: true })).deletedAt,
      ).not.toBeNull();
      expect((await t.registry.getModel('m')).latestVersion).toBe(1);

      const v3 = await t.registry.createVersion({ model: 'm', manifest: manifest('c') });
      expect(v3.version).toBe(3);

      await expect(t.registry.restoreVersion('m@1')).rejects.toMatchObject({ code: 'CONFLICT' });
      await expect(t.registry.restoreVersion('m@latest')).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
      const restored = await t.registry.restoreVersion('m@2');
      expect(restored.deletedAt).toBeNull();
      expect((await t.registry.listVersions('m')).items.map((v) => v.version)).toEqual([3, 2, 1]);
    });

    it('refuses to delete a version an alias points at', async () => {
      await t.registry.setAlias('m', 'production', 1);
      await expect(t.registry.deleteVersion('m@1')).rejects.toMatchObject({
        code: 'CONFLICT',
        details: { aliases: ['production'] },
      });
    });

    it('versions of a deleted model are invisible until it is restored', async () => {
      await t.registry.deleteModel('m');
      await expect(t.registry.getVersion('m@1')).rejects.toThrow("model 'm' not found");
      expect((await t.registry.searchVersions()).items).toEqual([]);
      await t.registry.restoreModel('m');
      expect((await t.registry.getVersion('m@1')).version).toBe(1);
    });
  });

  describe('stages and approval', () => {
    beforeEach(async () => {
      await t.registry.createModel({ name: 'm' });
      for (const label of ['a', 'b', 'c']) {
        await t.registry.createVersion({ model: 'm', manifest: manifest(label) });
      }
    });

    it('transitions stages, archiving the others in the target stage when asked', async () => {
      await t.registry.transitionStage('m@1', 'production');
      await t.registry.transitionStage('m@2', 'Production');
      expect((await t.registry.getVersion('m@1')).stage).toBe('Production');
      const v3 = await t.registry.transitionStage('m@3', 'Production', { archiveExisting: true });
      expect(v3.stage).toBe('Production');
      expect((await t.registry.getVersion('m@1')).stage).toBe('Archived');
      expect((await t.registry.getVersion('m@2')).stage).toBe('Archived');
      const last = (await t.registry.auditLog({ model: 'm', maxResults: 1 })).items[0];
      expect(last).toMatchObject({
        action: 'stage.transitioned',
        subject: 'm@3',
        data: { from: 'None', to: 'Production', archived: [1, 2] },
      });
      // Same stage again: nothing to do, no event.
      await t.registry.transitionStage('m@3', 'Production');
      expect((await t.registry.auditLog({ model: 'm', maxResults: 1 })).items[0]?.seq).toBe(
        last?.seq,
      );
    });

    it('rejects unknown stages and archiveExisting outside Staging/Production', async () => {
      await expect(t.registry.transitionStage('m@1', 'Prod')).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
      await expect(
        t.registry.transitionStage('m@1', 'Archived', { archiveExisting: true }),
      ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    });

    it('records approval and rejection with the reviewer and comment', async () => {
      const approved = await t.registry.approve('m@1', { actor: 'carol', comment: 'looks good' });
      expect(approved.approval).toMatchObject({
        state: 'approved',
        reviewer: 'carol',
        comment: 'looks good',
      });
      expect(approved.approval.time).toEqual(expect.any(Number));
      const rejected = await t.registry.reject('m@1', { actor: 'dave' });
      expect(rejected.approval).toMatchObject({
        state: 'rejected',
        reviewer: 'dave',
        comment: null,
      });
      const events = (
        await t.registry.auditLog({
          model: 'm',
          actions: ['version.approved', 'version.rejected'],
          order: 'asc',
        })
      ).items;
      expect(events.map((e) => [e.action, e.actor])).toEqual([
        ['version.approved', 'carol'],
        ['version.rejected', 'dave'],
      ]);
      expect(events[1]?.data).toEqual({
        comment: null,
        previous: { state: 'approved', reviewer: 'carol' },
      });
    });
  });
});

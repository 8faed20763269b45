import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TEST_DIALECTS } from '../../test/support/dialects.js';
import { manifest, openTempRegistry, type TempRegistry } from '../../test/support/temp-registry.js';
import { DELETED_RETENTION_MS } from './retention.js';

describe.each(TEST_DIALECTS)('%s', (dialect) => {
  let t: TempRegistry;
  beforeEach(async () => {
    t = await openTempRegistry({ dialect });
  });
  afterEach(async () => {
    await t.cleanup();
  });

  describe('models', () => {
    it('creates and reads a model with description, owner and tags', async () => {
      const created = await t.registry.createModel({
        name: 'fraud-detector',
        description: 'catches fraud',
        tags: { team: 'risk' },
      });
      expect(created).toMatchObject({
        name: 'fraud-detector',
        description: 'catches fraud',
        owner: 'alice',
        tags: { team: 'risk' },
        aliases: {},
        latestVersion: null,
        deletedAt: null,
      });
      expect(await t.registry.getModel('fraud-detector')).toEqual(created);
      const events = await t.registry.auditLog({ model: 'fraud-detector' });
      expect(events.items.map((e) => [e.action, e.subject, e.actor])).toEqual([
        ['model.created', 'fraud-detector', 'alice'],
      ]);
    });

    it('rejects bad names, bad tag keys and over-long descriptions', async () => {
      await expect(t.registry.createModel({ name: '' })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
      await expect(t.registry.createModel({ name: 'a//b' })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
      await expect(
        t.registry.createModel({ name: 'ok', tags: { 'bad\nkey': 'x' } }),
      ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(
        t.registry.createModel({ name: 'ok', description: 'x'.repeat(300_000) }),
      ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(t.registry.createModel({ name: 'ok', actor: '' })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
      // Nothing half-written: no model, no audit event.
      expect((await t.registry.listModels()).items).toEqual([]);
      expect((await t.registry.auditLog()).items).toEqual([]);
    });

    it('refuses a duplicate name', async () => {
      await t.registry.createModel({ name: 'm' });
      await expect(t.registry.createModel({ name: 'm' })).rejects.toMatchObject({
        code: 'ALREADY_EXISTS',
        message: "model 'm' already exists",
      });
    });

    it("says which model is not found: model 'x' not found", async () => {
      await expect(t.registry.getModel('x')).rejects.toMatchObject({
        code: 'NOT_FOUND',
        message: "model 'x' not found",
      });
      await expect(t.registry.updateModel('x', { description: 'd' })).rejects.toThrow(
        "model 'x' not found",
      );
      await expect(t.registry.setModelTag('x', 'k', 'v')).rejects.toThrow("model 'x' not found");
    });

    it('updates the description, and writes no event when nothing changes', async () => {
      await t.registry.createModel({ name: 'm', description: 'old' });
      const updated = await t.registry.updateModel('m', { description: 'new' }, { actor: 'bob' });
      expect(updated.description).toBe('new');
      expect(updated.updatedAt).toBeGreaterThan(updated.createdAt);
      await t.registry.updateModel('m', { description: 'new' });
      expect((await t.registry.updateModel('m', { description: null })).description).toBeNull();
      const events = await t.registry.auditLog({ model: 'm', order: 'asc' });
      expect(events.items.map((e) => [e.action, e.actor, e.data])).toEqual([
        ['model.created', 'alice', { description: 'old', owner: 'alice', tags: {} }],
        ['model.updated', 'bob', { description: { from: 'old', to: 'new' } }],
        ['model.updated', 'alice', { description: { from: 'new', to: null } }],
      ]);
    });

    it('sets, overwrites and deletes tags; deleting a missing tag is a no-op', async () => {
      await t.registry.createModel({ name: 'm' });
      await t.registry.setModelTag('m', 'team', 'risk');
      await t.registry.setModelTag('m', 'team', 'fraud');
      await t.registry.setModelTag('m', 'team', 'fraud');
      expect((await t.registry.getModel('m')).tags).toEqual({ team: 'fraud' });
      expect(await t.registry.deleteModelTag('m', 'team')).toBe(true);
      expect(await t.registry.deleteModelTag('m', 'team')).toBe(false);
      expect((await t.registry.getModel('m')).tags).toEqual({});
      const actions = (await t.registry.auditLog({ model: 'm', order: 'asc' })).items.map(
        (e) => e.action,
      );
      expect(actions).toEqual([
        'model.created',
        'model.tag_set',
        'model.tag_set',
        'model.tag_deleted',
      ]);
    });

    it('soft-deletes and restores; a deleted name cannot be reused', async () => {
      await t.registry.createModel({ name: 'm' });
      await t.registry.createModel({ name: 'n' });
      await t.registry.deleteModel('m');
      await expect(t.registry.getModel('m')).rejects.toThrow("model 'm' not found");
      expect((await t.registry.listModels()).items.map((m) => m.name)).toEqual(['n']);
      const all = await t.registry.listModels({ includeDeleted: true });
      expect(all.items.map((m) => [m.name, m.deletedAt !== null])).toEqual([
        ['m', true],
        ['n', false],
      ]);
      await expect(t.registry.deleteModel('m')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(t.registry.createModel({ name: 'm' })).rejects.toMatchObject({
        code: 'CONFLICT',
      });
      await expect(t.registry.restoreModel('n')).rejects.toMatchObject({ code: 'CONFLICT' });
      await expect(t.registry.restoreModel('zzz')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      const restored = await t.registry.restoreModel('m');
      expect(restored.deletedAt).toBeNull();
      expect((await t.registry.getModel('m')).name).toBe('m');
    });

    it('can restore a model only within the retention period', async () => {
      await t.registry.createModel({ name: 'old' });
      await t.registry.createModel({ name: 'recent' });
      const start = t.clock();
      await t.registry.deleteModel('old');
      t.clock.set(start + DELETED_RETENTION_MS - 1000);
      await t.registry.deleteModel('recent');
      t.clock.set(start + DELETED_RETENTION_MS + 1000);
      await expect(t.registry.restoreModel('old')).rejects.toMatchObject({
        code: 'CONFLICT',
        message:
          "model 'old' was deleted more than 30 days ago: its files may have been garbage-collected, so it cannot be restored",
      });
      expect((await t.registry.restoreModel('recent')).deletedAt).toBeNull();
    });

    it('lists models by name across pages', async () => {
      for (const name of ['c', 'a', 'e', 'b', 'd']) await t.registry.createModel({ name });
      const first = await t.registry.listModels({ maxResults: 2 });
      expect(first.items.map((m) => m.name)).toEqual(['a', 'b']);
      const second = await t.registry.listModels({ maxResults: 2, pageToken: first.nextPageToken });
      expect(second.items.map((m) => m.name)).toEqual(['c', 'd']);
      const third = await t.registry.listModels({ maxResults: 2, pageToken: second.nextPageToken });
      expect(third.items.map((m) => m.name)).toEqual(['e']);
      expect(third.nextPageToken).toBeUndefined();
    });

    it('gives each model of a page its highest live version, or null when it has none', async () => {
      for (const name of ['a', 'b', 'c', 'd']) await t.registry.createModel({ name });
      for (let i = 0; i < 3; i++) {
        await t.registry.createVersion({ model: 'a', manifest: manifest(`a${i}`) });
      }
      for (let i = 0; i < 3; i++) {
        await t.registry.createVersion({ model: 'b', manifest: manifest(`b${i}`) });
      }
      await t.registry.createVersion({ model: 'c', manifest: manifest('c0') });
      // b's newest is deleted (the one below it is the latest); c's only version too.
      await t.registry.deleteVersion('b@3');
      await t.registry.deleteVersion('c@1');
      const expected = { a: 3, b: 2, c: null, d: null };
      const page = await t.registry.listModels();
      expect(Object.fromEntries(page.items.map((m) => [m.name, m.latestVersion]))).toEqual(
        expected,
      );
      for (const [name, latest] of Object.entries(expected)) {
        expect((await t.registry.getModel(name)).latestVersion).toBe(latest);
      }
      // A deleted version never comes back as the latest, even after a newer one is deleted.
      await t.registry.createVersion({ model: 'b', manifest: manifest('b3') });
      await t.registry.deleteVersion('b@4');
      expect((await t.registry.getModel('b')).latestVersion).toBe(2);
    });
  });
});

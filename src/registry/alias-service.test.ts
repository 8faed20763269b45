import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TEST_DIALECTS } from '../../test/support/dialects.js';
import { manifest, openTempRegistry, type TempRegistry } from '../../test/support/temp-registry.js';

describe.each(TEST_DIALECTS)('%s', (dialect) => {
  let t: TempRegistry;
  beforeEach(async () => {
    t = await openTempRegistry({ dialect });
    await t.registry.createModel({ name: 'm' });
    for (const label of ['a', 'b', 'c', 'd']) {
      await t.registry.createVersion({ model: 'm', manifest: manifest(label) });
    }
  });
  afterEach(async () => {
    await t.cleanup();
  });

  const target = async (alias: string) => (await t.registry.getVersion(`m@${alias}`)).version;

  describe('aliases', () => {
    it('sets and moves an alias; the model and version show it', async () => {
      expect(await t.registry.setAlias('m', 'production', 1)).toEqual({
        model: 'm',
        alias: 'production',
        version: 1,
        previousVersion: null,
        changed: true,
      });
      const moved = await t.registry.setAlias('m', 'production', 2, { actor: 'bob' });
      expect(moved).toMatchObject({ version: 2, previousVersion: 1, changed: true });
      expect(await target('production')).toBe(2);
      expect((await t.registry.getModel('m')).aliases).toEqual({ production: 2 });
      expect((await t.registry.getVersion('m@2')).aliases).toEqual(['production']);
      expect((await t.registry.getVersion('m@1')).aliases).toEqual([]);
      // Setting it where it already points changes nothing and writes no event.
      expect(await t.registry.setAlias('m', 'production', 2)).toMatchObject({ changed: false });
      const history = await t.registry.aliasHistory('m', 'production');
      expect(history.map((h) => [h.action, h.version, h.previousVersion, h.actor])).toEqual([
        ['set', 1, null, 'alice'],
        ['set', 2, 1, 'bob'],
      ]);
    });

    it('validates the alias and the target', async () => {
      await expect(t.registry.setAlias('m', 'latest', 1)).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
      await expect(t.registry.setAlias('m', 'bad alias', 1)).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
      await expect(t.registry.setAlias('m', 'prod', 0)).rejects.toMatchObject({
        code: 'NOT_FOUND',
      });
      await expect(t.registry.setAlias('m', 'prod', 9)).rejects.toMatchObject({
        code: 'NOT_FOUND',
        message: "version 'm@9' not found",
      });
      await expect(t.registry.setAlias('x', 'prod', 1)).rejects.toThrow("model 'x' not found");
      await t.registry.deleteVersion('m@4');
      await expect(t.registry.setAlias('m', 'prod', 4)).rejects.toThrow("version 'm@4' not found");
    });

    it('deletes an alias idempotently', async () => {
      await t.registry.setAlias('m', 'staging', 3);
      expect(await t.registry.deleteAlias('m', 'staging')).toMatchObject({
        version: null,
        previousVersion: 3,
        changed: true,
      });
      expect(await t.registry.deleteAlias('m', 'staging')).toMatchObject({ changed: false });
      await expect(t.registry.getVersion('m@staging')).rejects.toThrow(
        "alias 'm@staging' not found",
      );
      const history = await t.registry.aliasHistory('m');
      expect(history.map((h) => [h.alias, h.action, h.version])).toEqual([
        ['staging', 'set', 3],
        ['staging', 'deleted', null],
      ]);
    });

    it('rolls back step by step to earlier targets, then refuses', async () => {
      await t.registry.setAlias('m', 'production', 1);
      await t.registry.setAlias('m', 'production', 2);
      await t.registry.setAlias('m', 'production', 3);
      await t.registry.setAlias('m', 'champion', 4); // other aliases do not interfere
      expect(await t.registry.rollback('m', 'production')).toMatchObject({
        version: 2,
        previousVersion: 3,
        changed: true,
      });
      expect(await target('production')).toBe(2);
      expect((await t.registry.rollback('m', 'production')).version).toBe(1);
      await expect(t.registry.rollback('m', 'production')).rejects.toMatchObject({
        code: 'CONFLICT',
        message: "alias 'm@production' has no previous target to roll back to",
      });
      expect(await target('production')).toBe(1);
      // A new move after rollbacks starts from the current position.
      await t.registry.setAlias('m', 'production', 4);
      expect((await t.registry.rollback('m', 'production')).version).toBe(1);
      const history = await t.registry.aliasHistory('m', 'production');
      expect(history.map((h) => [h.action, h.version])).toEqual([
        ['set', 1],
        ['set', 2],
        ['set', 3],
        ['rolled_back', 2],
        ['rolled_back', 1],
        ['set', 4],
        ['rolled_back', 1],
      ]);
    });

    it('rollback after a delete restores the last target', async () => {
      await t.registry.setAlias('m', 'production', 1);
      await t.registry.setAlias('m', 'production', 2);
      await t.registry.deleteAlias('m', 'production');
      expect((await t.registry.rollback('m', 'production')).version).toBe(2);
      expect(await target('production')).toBe(2);
    });

    it('refuses to roll back to a deleted version, and without history', async () => {
      await expect(t.registry.rollback('m', 'production')).rejects.toMatchObject({
        code: 'CONFLICT',
      });
      await t.registry.setAlias('m', 'production', 1);
      await expect(t.registry.rollback('m', 'production')).rejects.toMatchObject({
        code: 'CONFLICT',
      });
      await t.registry.setAlias('m', 'production', 2);
      await t.registry.setAlias('m', 'production', 3);
      await t.registry.deleteVersion('m@2');
      await expect(t.registry.rollback('m', 'production')).rejects.toMatchObject({
        code: 'CONFLICT',
        message: "cannot roll back alias 'm@production': its previous target 'm@2' is deleted",
      });
      expect(await target('production')).toBe(3);
    });

    it('every move is an audit event with subject model@alias', async () => {
      await t.registry.setAlias('m', 'production', 1);
      await t.registry.setAlias('m', 'production', 2);
      await t.registry.rollback('m', 'production');
      await t.registry.deleteAlias('m', 'production');
      const events = await t.registry.auditLog({
        model: 'm',
        actions: ['alias.set', 'alias.rolled_back', 'alias.deleted'],
        order: 'asc',
      });
      expect(events.items.map((e) => [e.action, e.subject, e.data])).toEqual([
        ['alias.set', 'm@production', { alias: 'production', version: 1, previousVersion: null }],
        ['alias.set', 'm@production', { alias: 'production', version: 2, previousVersion: 1 }],
        [
          'alias.rolled_back',
          'm@production',
          { alias: 'production', version: 1, previousVersion: 2 },
        ],
        [
          'alias.deleted',
          'm@production',
          { alias: 'production', version: null, previousVersion: 1 },
        ],
      ]);
      expect((await t.registry.auditVerify()).ok).toBe(true);
    });
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { TEST_DIALECTS } from '../../test/support/dialects.js';
import { openTempRegistry, type TempRegistry } from '../../test/support/temp-registry.js';
import { openLocalRegistry } from './local-registry.js';

describe.each(TEST_DIALECTS)('%s', (dialect) => {
  let t: TempRegistry | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });

  describe('LocalRegistry', () => {
    it('reports push and pull as unsupported without a content store', async () => {
      t = await openTempRegistry({ dialect });
      await expect(t.registry.push('./model', { model: 'm' })).rejects.toMatchObject({
        code: 'UNSUPPORTED',
      });
      await expect(t.registry.pull('m@1', './out')).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    });

    it('uses the default actor, and an explicit one when given', async () => {
      t = await openTempRegistry({ defaultActor: 'ci-bot', dialect });
      await t.registry.createModel({ name: 'a' });
      await t.registry.createModel({ name: 'b', actor: 'erin' });
      const events = await t.registry.auditLog({ order: 'asc' });
      expect(events.items.map((e) => e.actor)).toEqual(['ci-bot', 'erin']);
      expect((await t.registry.getModel('b')).owner).toBe('erin');
    });

    it('persists across reopen', async () => {
      t = await openTempRegistry({ dialect });
      await t.registry.createModel({ name: 'kept' });
      await t.registry.close();
      await t.registry.close(); // idempotent
      const again = await openLocalRegistry({ db: t.fresh.config });
      try {
        expect((await again.getModel('kept')).name).toBe('kept');
        expect((await again.auditVerify()).ok).toBe(true);
      } finally {
        await again.close();
      }
    });
  });
});

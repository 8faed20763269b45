import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TEST_DIALECTS } from '../../test/support/dialects.js';
import { manifest, openTempRegistry, type TempRegistry } from '../../test/support/temp-registry.js';
import type { AuditEvent } from '../core/registry-api.js';

describe.each(TEST_DIALECTS)('%s', (dialect) => {
  let t: TempRegistry;

  /** Some history: 2 models, 3 versions, tags, an alias move — 9 events. */
  async function populate() {
    await t.registry.createModel({ name: 'fraud' }); // 1
    await t.registry.createModel({ name: 'fraud-v2', actor: 'bob' }); // 2
    await t.registry.createVersion({ model: 'fraud', manifest: manifest('a') }); // 3
    await t.registry.createVersion({ model: 'fraud', manifest: manifest('b'), actor: 'bob' }); // 4
    await t.registry.createVersion({ model: 'fraud-v2', manifest: manifest('c') }); // 5
    await t.registry.setModelTag('fraud', 'team', 'risk'); // 6
    await t.registry.setAlias('fraud', 'production', 1); // 7
    await t.registry.setAlias('fraud', 'production', 2, { actor: 'bob' }); // 8
    await t.registry.setVersionTag('fraud-v2@1', 'k', 'v'); // 9
  }

  /** Tamper with the database directly, as an attacker with access to it would. */
  function tamper(statements: string[]) {
    return t.exec(statements);
  }

  beforeEach(async () => {
    t = await openTempRegistry({ dialect });
  });
  afterEach(async () => {
    await t.cleanup();
  });

  describe('audit log', () => {
    it('chains events: seq 1..n, each linking to the previous hash', async () => {
      await populate();
      const all = await t.registry.auditLog({ order: 'asc' });
      expect(all.items.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(all.items[0]?.prevHash).toBe('0'.repeat(64));
      for (let i = 1; i < all.items.length; i++) {
        expect(all.items[i]?.prevHash).toBe(all.items[i - 1]?.hash);
      }
      expect(new Set(all.items.map((e) => e.hash)).size).toBe(9);
    });

    it('filters by model (not a name prefix), actor, actions and time range', async () => {
      await populate();
      const fraud = await t.registry.auditLog({ model: 'fraud', order: 'asc' });
      expect(fraud.items.map((e) => e.subject)).toEqual([
        'fraud',
        'fraud@1',
        'fraud@2',
        'fraud',
        'fraud@production',
        'fraud@production',
      ]);
      const bob = await t.registry.auditLog({ actor: 'bob', order: 'asc' });
      expect(bob.items.map((e) => e.seq)).toEqual([2, 4, 8]);
      const created = await t.registry.auditLog({ actions: ['version.created'] });
      expect(created.items.map((e) => e.seq)).toEqual([5, 4, 3]);
      const all = (await t.registry.auditLog({ order: 'asc' })).items;
      const window = await t.registry.auditLog({
        since: all[2]!.time,
        until: all[5]!.time,
        order: 'asc',
      });
      expect(window.items.map((e) => e.seq)).toEqual([3, 4, 5]);
      expect((await t.registry.auditLog({ actions: [] })).items).toEqual([]);
    });

    it('pages newest first with opaque tokens bound to the query', async () => {
      await populate();
      const seen: number[] = [];
      let token: string | undefined;
      do {
        const page = await t.registry.auditLog({ maxResults: 4, pageToken: token });
        seen.push(...page.items.map((e) => e.seq));
        token = page.nextPageToken;
      } while (token);
      expect(seen).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1]);
      const first = await t.registry.auditLog({ maxResults: 4 });
      await expect(
        t.registry.auditLog({ maxResults: 4, actor: 'bob', pageToken: first.nextPageToken }),
      ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(t.registry.auditLog({ pageToken: 'garbage!' })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
      await expect(t.registry.auditLog({ maxResults: 0 })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
      await expect(
        t.registry.auditLog({ since: '2024' as unknown as number }),
      ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(t.registry.auditLog({ order: 'sideways' as 'asc' })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
    });

    it('exports everything oldest first as a stream, with filters', async () => {
      await populate();
      const events: AuditEvent[] = [];
      for await (const e of t.registry.auditExport()) events.push(e);
      expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
      const bob: number[] = [];
      for await (const e of t.registry.auditExport({ actor: 'bob' })) bob.push(e.seq);
      expect(bob).toEqual([2, 4, 8]);
    });

    it('a failed mutation leaves no event', async () => {
      await t.registry.createModel({ name: 'm' });
      await expect(t.registry.createModel({ name: 'm' })).rejects.toThrow();
      await expect(t.registry.setAlias('m', 'prod', 1)).rejects.toThrow();
      expect((await t.registry.auditLog()).items.map((e) => e.action)).toEqual(['model.created']);
    });
  });

  describe('audit verify', () => {
    it('passes on an intact trail, and on an empty one', async () => {
      expect(await t.registry.auditVerify()).toEqual({
        ok: true,
        checked: 0,
        lastSeq: null,
        headHash: null,
        problems: [],
      });
      await populate();
      const result = await t.registry.auditVerify();
      const last = (await t.registry.auditLog({ maxResults: 1 })).items[0];
      expect(result).toEqual({
        ok: true,
        checked: 9,
        lastSeq: 9,
        headHash: last?.hash,
        problems: [],
      });
    });

    it('names the event whose data was modified by hand', async () => {
      await populate();
      await tamper([
        `update audit_events set data = replace(data, '"team"', '"tribe"') where seq = 6`,
      ]);
      const result = await t.registry.auditVerify();
      expect(result.ok).toBe(false);
      expect(result.problems).toEqual([
        { seq: 6, kind: 'hash_mismatch', message: expect.stringContaining('event 6') },
      ]);
    });

    it('detects a modified actor or time, and a re-hashed event by its broken link', async () => {
      await populate();
      await tamper([`update audit_events set actor = 'mallory' where seq = 3`]);
      expect((await t.registry.auditVerify()).problems.map((p) => [p.seq, p.kind])).toEqual([
        [3, 'hash_mismatch'],
      ]);
      // An attacker who also recomputes the hash breaks the next event's link instead.
      await tamper([
        `update audit_events set actor = 'alice', hash = '${'f'.repeat(64)}' where seq = 3`,
      ]);
      expect((await t.registry.auditVerify()).problems.map((p) => [p.seq, p.kind])).toEqual([
        [3, 'hash_mismatch'],
        [4, 'prev_hash_mismatch'],
      ]);
    });

    it('reports the gap left by a deleted event', async () => {
      await populate();
      await tamper(['delete from audit_events where seq = 4']);
      const result = await t.registry.auditVerify();
      expect(result.ok).toBe(false);
      expect(result.checked).toBe(8);
      expect(result.problems).toEqual([{ seq: 4, kind: 'gap', message: 'event 4 is missing' }]);
      await tamper(['delete from audit_events where seq in (6, 7)']);
      expect((await t.registry.auditVerify()).problems.map((p) => [p.seq, p.message])).toEqual([
        [4, 'event 4 is missing'],
        [6, 'events 6..7 are missing'],
      ]);
    });

    it('detects two events whose seqs were swapped', async () => {
      await populate();
      await tamper([
        'update audit_events set seq = -1 where seq = 5',
        'update audit_events set seq = 5 where seq = 6',
        'update audit_events set seq = 6 where seq = -1',
      ]);
      const result = await t.registry.auditVerify();
      expect(result.ok).toBe(false);
      expect(result.problems[0]).toMatchObject({ seq: 5, kind: 'hash_mismatch' });
      // Both moved events fail their hashes, and event 7 no longer links to what is at 6.
      expect(result.problems.map((p) => [p.seq, p.kind])).toEqual([
        [5, 'hash_mismatch'],
        [6, 'hash_mismatch'],
        [7, 'prev_hash_mismatch'],
      ]);
    });

    it('reports unreadable data', async () => {
      await populate();
      await tamper([`update audit_events set data = '{not json' where seq = 2`]);
      expect((await t.registry.auditVerify()).problems).toEqual([
        { seq: 2, kind: 'unreadable', message: 'event 2 has invalid data' },
      ]);
    });

    it('keeps verifying after a broken link, and new events chain to the stored head', async () => {
      await populate();
      await tamper([`update audit_events set subject = 'x' where seq = 2`]);
      await t.registry.createModel({ name: 'later' });
      const result = await t.registry.auditVerify();
      expect(result.checked).toBe(10);
      expect(result.problems.map((p) => p.seq)).toEqual([2]);
    });
  });
});

import { describe, expect, it } from 'vitest';
import { AdmissionGate } from './admission-gate.js';
import { ModelvaultError } from './errors.js';

describe('AdmissionGate', () => {
  it('admits up to the limit, queues the rest in arrival order, and hands places on', async () => {
    const gate = new AdmissionGate({ limit: 2, maxWaitMs: 60_000, what: 'jobs' });
    const a = await gate.enter();
    const b = await gate.enter();
    expect([gate.active, gate.waiting]).toEqual([2, 0]);
    const order: string[] = [];
    const entered = async (name: string) => {
      const release = await gate.enter();
      order.push(name);
      return release;
    };
    const c = entered('c');
    const d = entered('d');
    expect([gate.active, gate.waiting]).toEqual([2, 2]);
    a();
    a(); // a second call does nothing
    const releaseC = await c;
    expect(order).toEqual(['c']);
    expect([gate.active, gate.waiting]).toEqual([2, 1]);
    b();
    const releaseD = await d;
    expect(order).toEqual(['c', 'd']);
    releaseC();
    releaseD();
    expect([gate.active, gate.waiting]).toEqual([0, 0]);
  });

  it('refuses with UNAVAILABLE and retryAfterSeconds when no place frees up in time', async () => {
    const now = new AdmissionGate({ limit: 1, maxWaitMs: 0, what: 'chunk batches' });
    const held = await now.enter();
    const e = await now.enter().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ModelvaultError);
    expect((e as ModelvaultError).code).toBe('UNAVAILABLE');
    expect((e as ModelvaultError).details).toMatchObject({ retryAfterSeconds: 1, limit: 1 });
    expect((e as ModelvaultError).message).toContain('1 chunk batches');
    held();

    const later = new AdmissionGate({ limit: 1, maxWaitMs: 5, what: 'jobs' });
    const busy = await later.enter();
    await expect(later.enter()).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    // The refused caller left the queue: the place goes back to the gate, not to it.
    expect(later.waiting).toBe(0);
    busy();
    expect(later.active).toBe(0);
    (await later.enter())();
  });

  it('rejects a limit below 1 or a negative wait', () => {
    expect(() => new AdmissionGate({ limit: 0, maxWaitMs: 0, what: 'x' })).toThrow(/limit/);
    expect(() => new AdmissionGate({ limit: 1, maxWaitMs: -1, what: 'x' })).toThrow(/wait/);
  });
});

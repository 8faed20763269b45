import type { FileHandle } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { FileHandleCache } from './file-handle-cache.js';

/** A stand-in for a FileHandle that records whether it was closed. */
function fakeHandle(name: string) {
  const h = {
    name,
    closed: false,
    close: async () => {
      h.closed = true;
    },
  };
  return h;
}
type Fake = ReturnType<typeof fakeHandle>;
const asHandle = (f: Fake) => f as unknown as FileHandle;
const tick = () => new Promise((r) => setTimeout(r, 0));

describe('FileHandleCache', () => {
  it('shares one open between concurrent acquires of the same path', async () => {
    const cache = new FileHandleCache(4);
    let opens = 0;
    const open = async () => {
      opens++;
      await tick();
      return asHandle(fakeHandle('a'));
    };
    const [l1, l2] = await Promise.all([cache.acquire('a', open), cache.acquire('a', open)]);
    expect(opens).toBe(1);
    expect(l1.handle).toBe(l2.handle);
    l1.release();
    l2.release();
    await cache.acquire('a', open).then((l) => l.release());
    expect(opens).toBe(1);
  });

  it('evicts the least recently used handle, closing it only once released', async () => {
    const cache = new FileHandleCache(2);
    const made: Record<string, Fake> = {};
    const open = (p: string) => async () => {
      made[p] = fakeHandle(p);
      return asHandle(made[p]);
    };
    const a = await cache.acquire('a', open('a'));
    (await cache.acquire('b', open('b'))).release();
    (await cache.acquire('a', open('a'))).release(); // a is now the most recent
    (await cache.acquire('c', open('c'))).release(); // evicts b
    await tick();
    expect(made.b!.closed).toBe(true);
    expect(made.a!.closed).toBe(false);
    (await cache.acquire('d', open('d'))).release(); // evicts a, still leased
    await tick();
    expect(made.a!.closed).toBe(false);
    a.release();
    await tick();
    expect(made.a!.closed).toBe(true);
    expect(cache.size).toBe(2);
  });

  it('does not cache a failed open', async () => {
    const cache = new FileHandleCache(2);
    await expect(
      cache.acquire('x', async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(cache.size).toBe(0);
    const l = await cache.acquire('x', async () => asHandle(fakeHandle('x')));
    l.release();
  });

  it('closes on invalidate and on closeAll, and refuses acquires after closeAll', async () => {
    const cache = new FileHandleCache(4);
    const x = fakeHandle('x');
    const y = fakeHandle('y');
    (await cache.acquire('x', async () => asHandle(x))).release();
    const ly = await cache.acquire('y', async () => asHandle(y));
    cache.invalidate('x');
    await tick();
    expect(x.closed).toBe(true);
    await cache.closeAll();
    expect(y.closed).toBe(false); // still leased
    ly.release();
    ly.release(); // a second release is ignored
    await tick();
    expect(y.closed).toBe(true);
    await expect(cache.acquire('z', async () => asHandle(fakeHandle('z')))).rejects.toThrow(
      /closed/,
    );
  });
});

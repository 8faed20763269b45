import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeObjectBackendConformance } from '../../../test/conformance/object-backend-conformance.js';
import { IoError } from '../../core/errors.js';
import { FaultyBackend } from './faulty-backend.js';
import { FsBackend } from './fs/fs-backend.js';
import { LimitedBackend } from './limited-backend.js';
import type { ObjectBackend, ObjectInfo } from './object-backend.js';
import { RetryBackend, type RetryEvent, type RetryOptions } from './retry-backend.js';
import { TransientError } from './transient-error.js';

async function makeStack(options: RetryOptions = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'mv-retry-'));
  const fs = new FsBackend(join(dir, 'objects'));
  const faulty = new FaultyBackend(fs);
  const events: RetryEvent[] = [];
  const slept: number[] = [];
  const backend = new RetryBackend(faulty, {
    onRetry: (e) => events.push(e),
    sleep: async (ms) => {
      slept.push(ms);
    },
    ...options,
  });
  return {
    fs,
    faulty,
    backend,
    events,
    slept,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

// Transparent without failures: the decorators pass the suite over the filesystem too.
describeObjectBackendConformance('RetryBackend over LimitedBackend over FsBackend', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mv-retry-'));
  return {
    backend: new RetryBackend(new LimitedBackend(new FsBackend(join(dir, 'objects')), 3)),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

const transient = () => new TransientError('connection reset (injected)');

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const i of items) out.push(i);
  return out;
}

describe('RetryBackend', () => {
  let t: Awaited<ReturnType<typeof makeStack>>;
  beforeEach(async () => {
    t = await makeStack();
  });
  afterEach(async () => {
    await t.backend.close();
    await t.cleanup();
  });

  it('retries transient failures of each call with growing delays, then succeeds', async () => {
    const data = randomBytes(1000);
    await t.fs.put('k', data);
    t.faulty.inject({ ops: 'getRange', times: 3, error: transient });
    expect(Buffer.from(await t.backend.getRange('k', 10, 100))).toEqual(data.subarray(10, 110));
    expect(t.faulty.calls('getRange')).toBe(4);
    expect(t.events.map((e) => [e.op, e.key, e.attempt])).toEqual([
      ['getRange', 'k', 1],
      ['getRange', 'k', 2],
      ['getRange', 'k', 3],
    ]);
    // Exponential with jitter: each delay lies in [ceiling/2, ceiling], ceiling = 100·2^(n-1).
    t.slept.forEach((ms, i) => {
      const ceiling = 100 * 2 ** i;
      expect(ms).toBeGreaterThanOrEqual(ceiling / 2);
      expect(ms).toBeLessThanOrEqual(ceiling);
    });
  });

  it('does not retry other errors', async () => {
    t.faulty.inject({ ops: 'put', error: () => new IoError('no space left') });
    await expect(t.backend.put('k', Buffer.from('v'))).rejects.toBeInstanceOf(IoError);
    expect(t.faulty.calls('put')).toBe(1);
    await expect(t.backend.getRange('missing', 0, 1)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(t.events).toEqual([]);
  });

  it('gives up after maxAttempts with the last transient error', async () => {
    t.faulty.inject({ ops: 'stat', error: transient });
    await expect(t.backend.stat('k')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(t.faulty.calls('stat')).toBe(5);
    expect(t.events).toHaveLength(4);
  });

  it('repeats a put whose acknowledgement was lost; the object is stored once', async () => {
    t.faulty.inject({ ops: ['put', 'putFile'], times: 1, when: 'after', error: transient });
    await t.backend.put('acked/late', Buffer.from('same bytes'));
    expect(t.faulty.calls('put')).toBe(2);
    expect(await collect(t.fs.list(''))).toEqual([{ key: 'acked/late', size: 10 }]);
  });

  it('finishes a stream that broke part-way with ranged reads, byte for byte', async () => {
    const data = randomBytes(9 * 1024 * 1024 + 17); // the fs backend streams 1 MiB pieces
    await t.fs.put('big', data);
    t.faulty.inject({ ops: 'getStream', times: 1, when: 'after', error: transient });
    t.faulty.inject({ ops: 'getRange', times: 1, error: transient }); // and one resume fails
    const got = Buffer.concat(await collect(await t.backend.getStream('big')));
    expect(got.equals(data)).toBe(true);
    expect(t.events.map((e) => e.op)).toEqual(['getStream', 'getRange']);
  });

  it('restarts a broken listing without repeating keys', async () => {
    for (const k of ['a/1', 'a/2', 'a/3', 'b/1']) await t.fs.put(k, Buffer.from(k));
    t.faulty.inject({ ops: 'list', times: 2, when: 'after', error: transient });
    const keys = (await collect(t.backend.list(''))).map((o: ObjectInfo) => o.key).sort();
    expect(keys).toEqual(['a/1', 'a/2', 'a/3', 'b/1']);
    expect(t.faulty.calls('list')).toBe(3);
  });

  it('caps delays at maxDelayMs and checks its options', async () => {
    const b = new RetryBackend(t.fs, { baseDelayMs: 100, maxDelayMs: 1000, random: () => 0.999 });
    expect(b.delayFor(1)).toBe(100);
    expect(b.delayFor(4)).toBe(800);
    expect(b.delayFor(30)).toBe(1000);
    expect(() => new RetryBackend(t.fs, { maxAttempts: 0 })).toThrow(/maxAttempts/);
    expect(() => new RetryBackend(t.fs, { baseDelayMs: 10, maxDelayMs: 5 })).toThrow(/delays/);
  });
});

/** Counts calls in flight in the backend it wraps (the most at once). */
class InFlightProbe extends FaultyBackend {
  now = 0;
  most = 0;
  constructor(inner: ObjectBackend) {
    super(inner);
  }
  private async track<T>(call: () => Promise<T>): Promise<T> {
    this.most = Math.max(this.most, ++this.now);
    try {
      // Stay in flight across a few turns of the event loop so that calls overlap.
      await new Promise((r) => setTimeout(r, 2));
      return await call();
    } finally {
      this.now--;
    }
  }
  override getRange(key: string, offset: number, length: number) {
    return this.track(() => super.getRange(key, offset, length));
  }
  override put(key: string, data: Uint8Array) {
    return this.track(() => super.put(key, data));
  }
}

describe('LimitedBackend', () => {
  it('never runs more than its limit of calls at once, and runs them all', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mv-limited-'));
    const probe = new InFlightProbe(new FsBackend(join(dir, 'objects')));
    const limited = new LimitedBackend(probe, 3);
    try {
      await Promise.all(
        Array.from({ length: 40 }, (_, i) => limited.put(`k/${i}`, Buffer.from(`v${i}`))),
      );
      expect(probe.most).toBe(3);
      probe.most = 0;
      const got = await Promise.all(
        Array.from({ length: 40 }, (_, i) => limited.getRange(`k/${i}`, 0, 2)),
      );
      expect(got.map((g) => Buffer.from(g).toString())).toEqual(
        Array.from({ length: 40 }, (_, i) => `v${i}`.slice(0, 2)),
      );
      expect(probe.most).toBe(3);
      expect(limited.running).toBe(0);
      // A failing call frees its slot too.
      probe.inject({ ops: 'getRange', times: 5, error: transient });
      const settled = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) => limited.getRange(`k/${i}`, 0, 1)),
      );
      expect(settled.filter((s) => s.status === 'rejected')).toHaveLength(5);
      expect(limited.running).toBe(0);
      expect(() => new LimitedBackend(probe, 0)).toThrow(/positive integer/);
    } finally {
      await limited.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

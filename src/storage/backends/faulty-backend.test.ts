import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeObjectBackendConformance } from '../../../test/conformance/object-backend-conformance.js';
import { IoError } from '../../core/errors.js';
import { FaultyBackend } from './faulty-backend.js';
import { FsBackend } from './fs/fs-backend.js';

async function makeFaulty() {
  const dir = await mkdtemp(join(tmpdir(), 'mv-faulty-'));
  const inner = new FsBackend(join(dir, 'objects'));
  return {
    dir,
    inner,
    backend: new FaultyBackend(inner),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

describeObjectBackendConformance('FaultyBackend without faults', makeFaulty);

describe('FaultyBackend', () => {
  let t: Awaited<ReturnType<typeof makeFaulty>>;
  const disk = () => new IoError('put failed: no space left');

  beforeEach(async () => {
    t = await makeFaulty();
  });
  afterEach(async () => {
    await t.backend.close();
    await t.cleanup();
  });

  const collect = async <T>(items: AsyncIterable<T>) => {
    const out: T[] = [];
    for await (const i of items) out.push(i);
    return out;
  };

  it('fails only the chosen operations and keys, before reaching the inner backend', async () => {
    const b = t.backend;
    const fault = b.inject({ ops: 'put', key: (k) => k.startsWith('packs/'), error: disk });
    await expect(b.put('packs/ab/x', Buffer.from('x'))).rejects.toBeInstanceOf(IoError);
    expect(await t.inner.stat('packs/ab/x')).toBeUndefined();
    await b.put('other', Buffer.from('y')); // key does not match
    await expect(b.getRange('other', 0, 1)).resolves.toHaveLength(1); // op does not match
    expect(fault).toMatchObject({ matched: 1, failures: 1 });
    expect(b.calls('put')).toBe(2);
    expect(b.calls()).toBe(3);
  });

  it('lets N calls through, then fails a given number of times', async () => {
    const b = t.backend;
    const err = new Error('third and fourth fail');
    const fault = b.inject({ ops: ['put', 'delete'], after: 2, times: 2, error: err });
    const outcomes: string[] = [];
    for (let i = 0; i < 6; i++) {
      outcomes.push(
        await b.put(`k${i}`, Buffer.from('v')).then(
          () => 'ok',
          (e) => (e === err ? 'fail' : 'other'),
        ),
      );
    }
    expect(outcomes).toEqual(['ok', 'ok', 'fail', 'fail', 'ok', 'ok']);
    expect(fault).toMatchObject({ matched: 6, failures: 2 });
  });

  it("with when 'after', performs the write and then reports failure", async () => {
    const b = t.backend;
    b.inject({ ops: 'put', when: 'after', times: 1, error: disk });
    await expect(b.put('lost-ack', Buffer.from('stored'))).rejects.toBeInstanceOf(IoError);
    expect(await t.inner.stat('lost-ack')).toEqual({ key: 'lost-ack', size: 6 });
    await b.put('lost-ack', Buffer.from('stored')); // the retry a caller would make
  });

  it("with when 'after', breaks a stream and a listing after their first piece", async () => {
    const b = t.backend;
    await b.put('big', Buffer.alloc(3 * 1024 * 1024, 7));
    await b.put('list/a', Buffer.from('a'));
    await b.put('list/b', Buffer.from('b'));
    b.inject({ ops: ['getStream', 'list'], when: 'after', error: () => new Error('dropped') });
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const piece of await b.getStream('big')) seen.push(piece.length);
      })(),
    ).rejects.toThrow('dropped');
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeLessThan(3 * 1024 * 1024);
    await expect(collect(b.list('list/'))).rejects.toThrow('dropped');
  });

  it('fails streams and listings up front by default', async () => {
    const b = t.backend;
    await b.put('s', Buffer.from('s'));
    b.inject({ ops: '*', error: (op, key) => new Error(`${op} ${key}`) });
    await expect(b.getStream('s')).rejects.toThrow('getStream s');
    await expect(collect(b.list('x/'))).rejects.toThrow('list x/');
    await expect(b.stat('s')).rejects.toThrow('stat s');
    await expect(b.delete('s')).rejects.toThrow('delete s');
    await expect(b.putFile('s', '/nonexistent')).rejects.toThrow('putFile s');
  });

  it('stops failing once a fault is removed or cleared', async () => {
    const b = t.backend;
    const f = b.inject({ ops: 'stat', error: disk });
    await expect(b.stat('a')).rejects.toBeInstanceOf(IoError);
    f.remove();
    f.remove();
    await expect(b.stat('a')).resolves.toBeUndefined();
    b.inject({ ops: 'stat', error: disk });
    b.clear();
    await expect(b.stat('a')).resolves.toBeUndefined();
  });

  it('fires only the first due rule, while every matching rule counts the call', async () => {
    const b = t.backend;
    const first = b.inject({ ops: 'stat', times: 1, error: new Error('first') });
    const second = b.inject({ ops: 'stat', error: new Error('second') });
    await expect(b.stat('a')).rejects.toThrow('first');
    await expect(b.stat('a')).rejects.toThrow('second');
    expect(first).toMatchObject({ matched: 2, failures: 1 });
    expect(second).toMatchObject({ matched: 2, failures: 1 });
  });

  it('describes itself after the backend it wraps', () => {
    expect(t.backend.location).toBe(`faulty+${t.inner.location}`);
    expect(t.backend.capabilities).toBe(t.inner.capabilities);
  });
});

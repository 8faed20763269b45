/**
 * The behaviour every ObjectBackend must have, as one vitest suite. A backend's own test
 * file calls `describeObjectBackendConformance` with a factory and adds only what is
 * specific to it. Each test gets a fresh, empty backend from the factory; after the test the
 * suite closes the backend and then calls `cleanup`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ObjectBackend, ObjectInfo } from '../../src/storage/backends/object-backend.js';

export interface BackendUnderTest {
  readonly backend: ObjectBackend;
  /** Removes whatever the backend stored (called after `backend.close()`). */
  cleanup(): Promise<void>;
}

export type BackendFactory = () => Promise<BackendUnderTest>;

export const INVALID_KEYS: readonly string[] = [
  '',
  '/abs',
  '/',
  'a//b',
  'a/',
  '.',
  '..',
  '../x',
  'a/../b',
  'a/..',
  './a',
  'a/./b',
  'a\\b',
  '..\\x',
  'a\0b',
  'a\nb',
  'x'.repeat(256),
  `${'abcdefgh/'.repeat(120)}x`,
  'lone\ud800surrogate',
];

export const AWKWARD_VALID_KEYS: readonly string[] = [
  'with space/file name.bin',
  'unicode/模型/ünïcødé-🚀.bin',
  'percent/100%25%2F.bin',
  'hash/a#b?c&d=e+f.bin',
  'dots/a..b/...x/.hidden',
  'tilde~/quote\'s/"double"/[brackets]/(parens)',
  `long/${'y'.repeat(255)}`,
];

export function describeObjectBackendConformance(name: string, factory: BackendFactory): void {
  describe(`ObjectBackend conformance: ${name}`, () => {
    let b: ObjectBackend;
    let under: BackendUnderTest;
    const scratch: string[] = [];

    beforeEach(async () => {
      under = await factory();
      b = under.backend;
    });

    afterEach(async () => {
      await b.close();
      await under.cleanup();
      for (const dir of scratch.splice(0)) await rm(dir, { recursive: true, force: true });
    });

    async function scratchDir(): Promise<string> {
      const dir = await mkdtemp(join(tmpdir(), 'mv-conformance-'));
      scratch.push(dir);
      return dir;
    }

    it('round-trips put through getRange, getStream and stat', async () => {
      const data = randomBytes(100_000);
      await b.put('a/b/object.bin', data);
      expect(Buffer.from(await b.getRange('a/b/object.bin', 0, data.length))).toEqual(data);
      expect(await readAll(b, 'a/b/object.bin')).toEqual(data);
      expect(await b.stat('a/b/object.bin')).toEqual({ key: 'a/b/object.bin', size: data.length });
    });

    it('stores an empty object', async () => {
      await b.put('empty', new Uint8Array(0));
      expect(await b.stat('empty')).toEqual({ key: 'empty', size: 0 });
      expect((await b.getRange('empty', 0, 0)).length).toBe(0);
      expect((await readAll(b, 'empty')).length).toBe(0);
    });

    it('accepts overwriting a key with the same content', async () => {
      const data = randomBytes(4096);
      await b.put('same', data);
      await b.put('same', data);
      expect(Buffer.from(await b.getRange('same', 0, data.length))).toEqual(data);
      expect(await listAll(b, '')).toEqual([{ key: 'same', size: data.length }]);
    });

    it('reads ranges at the start, middle and end', async () => {
      const data = randomBytes(10_000);
      await b.put('r', data);
      expect(Buffer.from(await b.getRange('r', 0, 10))).toEqual(data.subarray(0, 10));
      expect(Buffer.from(await b.getRange('r', 4321, 1234))).toEqual(data.subarray(4321, 5555));
      expect(Buffer.from(await b.getRange('r', 9990, 10))).toEqual(data.subarray(9990));
      expect(Buffer.from(await b.getRange('r', 9999, 1))).toEqual(data.subarray(9999));
    });

    it('reads a range given a buffer to read into (used or not, the bytes are right)', async () => {
      const data = randomBytes(10_000);
      await b.put('into', data);
      const into = Buffer.alloc(3000, 0xee);
      const got = await b.getRange('into', 4000, 2500, into);
      expect(Buffer.from(got)).toEqual(data.subarray(4000, 6500));
      // A buffer too small is never overrun: the read goes elsewhere.
      const small = Buffer.alloc(10, 0xee);
      expect(Buffer.from(await b.getRange('into', 0, 20, small))).toEqual(data.subarray(0, 20));
      expect(small).toEqual(Buffer.alloc(10, 0xee));
    });

    it('returns an empty array for zero-length ranges inside or at the end', async () => {
      await b.put('z', randomBytes(100));
      expect((await b.getRange('z', 0, 0)).length).toBe(0);
      expect((await b.getRange('z', 50, 0)).length).toBe(0);
      expect((await b.getRange('z', 100, 0)).length).toBe(0);
    });

    it('throws CorruptionError for ranges past the end', async () => {
      await b.put('short', randomBytes(100));
      await expect(b.getRange('short', 90, 11)).rejects.toMatchObject({ code: 'CORRUPT' });
      await expect(b.getRange('short', 100, 1)).rejects.toMatchObject({ code: 'CORRUPT' });
      await expect(b.getRange('short', 500, 10)).rejects.toMatchObject({ code: 'CORRUPT' });
      await expect(b.getRange('short', 101, 0)).rejects.toMatchObject({ code: 'CORRUPT' });
    });

    it('rejects invalid ranges with InvalidArgumentError', async () => {
      await b.put('x', randomBytes(10));
      for (const [o, l] of [
        [-1, 1],
        [0, -1],
        [0.5, 1],
        [0, Number.NaN],
        [Number.MAX_SAFE_INTEGER, 10],
      ] as const) {
        await expect(b.getRange('x', o, l)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      }
    });

    it('reports missing objects: NotFoundError for reads, undefined for stat', async () => {
      await b.put('present/x', randomBytes(10));
      for (const key of ['missing', 'present/missing', 'present', 'no/such/dir/x']) {
        await expect(b.getRange(key, 0, 1)).rejects.toMatchObject({ code: 'NOT_FOUND' });
        await expect(b.getRange(key, 0, 0)).rejects.toMatchObject({ code: 'NOT_FOUND' });
        await expect(b.getStream(key)).rejects.toMatchObject({ code: 'NOT_FOUND' });
        expect(await b.stat(key)).toBeUndefined();
      }
    });

    it('stores a 20 MiB file with putFile and streams it back in bounded pieces', async () => {
      const dir = await scratchDir();
      const src = join(dir, 'big.bin');
      const size = 20 * 1024 * 1024 + 12_345;
      const want = await writeRandomFile(src, size);
      await b.putFile('big/file.bin', src);
      // The backend either moved the file or copied it; the caller removes what is left.
      await rm(src, { force: true });

      expect(await b.stat('big/file.bin')).toEqual({ key: 'big/file.bin', size });
      const hash = createHash('sha256');
      let total = 0;
      let largest = 0;
      for await (const piece of await b.getStream('big/file.bin')) {
        hash.update(piece);
        total += piece.length;
        largest = Math.max(largest, piece.length);
      }
      expect(total).toBe(size);
      expect(hash.digest('hex')).toBe(want);
      // Streaming, not one buffer holding the whole object.
      expect(largest).toBeLessThanOrEqual(8 * 1024 * 1024);
      const tail = await b.getRange('big/file.bin', size - 100, 100);
      expect(tail.length).toBe(100);
    });

    it('rejects putFile of a missing source with NotFoundError', async () => {
      const dir = await scratchDir();
      await expect(b.putFile('k', join(dir, 'nope'))).rejects.toMatchObject({
        code: 'NOT_FOUND',
      });
      expect(await b.stat('k')).toBeUndefined();
    });

    it('lets a consumer stop reading a stream early', async () => {
      await b.put('s', randomBytes(3 * 1024 * 1024));
      for await (const piece of await b.getStream('s')) {
        expect(piece.length).toBeGreaterThan(0);
        break;
      }
      await b.delete('s');
      expect(await b.stat('s')).toBeUndefined();
    });

    it('lists by prefix: nested, partial segment, empty and nonexistent', async () => {
      const keys = ['a/b/c', 'a/b/d', 'a/bx', 'a/e/f/g', 'f', 'packs/ab/1.pack', 'packs/ac/2'];
      for (const [i, k] of keys.entries()) await b.put(k, new Uint8Array(i + 1));
      const sizes = new Map(keys.map((k, i) => [k, i + 1]));
      const expectKeys = (got: ObjectInfo[], want: string[]) => {
        expect(got.map((o) => o.key)).toEqual([...want].sort());
        for (const o of got) expect(o.size).toBe(sizes.get(o.key));
      };
      expectKeys(await listAll(b, ''), keys);
      expectKeys(await listAll(b, 'a/'), ['a/b/c', 'a/b/d', 'a/bx', 'a/e/f/g']);
      expectKeys(await listAll(b, 'a/b/'), ['a/b/c', 'a/b/d']);
      expectKeys(await listAll(b, 'a/b'), ['a/b/c', 'a/b/d', 'a/bx']);
      expectKeys(await listAll(b, 'a/e/f/g'), ['a/e/f/g']);
      expectKeys(await listAll(b, 'packs/a'), ['packs/ab/1.pack', 'packs/ac/2']);
      expectKeys(await listAll(b, 'packs/ab/'), ['packs/ab/1.pack']);
      expectKeys(await listAll(b, 'nope/'), []);
      expectKeys(await listAll(b, 'nope'), []);
      expectKeys(await listAll(b, 'a/b/c/d'), []);
      expectKeys(await listAll(b, 'f/'), []);
    });

    it('lists nothing in an empty backend', async () => {
      expect(await listAll(b, '')).toEqual([]);
      expect(await listAll(b, 'packs/')).toEqual([]);
    });

    it('deletes idempotently', async () => {
      await b.put('d/x', randomBytes(10));
      await b.put('d/y', randomBytes(10));
      await b.getRange('d/x', 0, 10); // may leave a cached handle behind
      await b.delete('d/x');
      expect(await b.stat('d/x')).toBeUndefined();
      await expect(b.getRange('d/x', 0, 10)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(b.getStream('d/x')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await b.delete('d/x');
      await b.delete('never/existed');
      await b.delete('d'); // only a prefix of other keys
      expect((await listAll(b, '')).map((o) => o.key)).toEqual(['d/y']);
    });

    it('reads the new object after delete and put of the same key', async () => {
      await b.put('again', Buffer.from('first content'));
      expect(Buffer.from(await b.getRange('again', 0, 5)).toString()).toBe('first');
      await b.delete('again');
      await b.put('again', Buffer.from('other content'));
      expect(Buffer.from(await b.getRange('again', 0, 5)).toString()).toBe('other');
    });

    it('round-trips awkward but valid keys exactly', async () => {
      for (const [i, key] of AWKWARD_VALID_KEYS.entries()) {
        await b.put(key, Buffer.from(`value ${i}`));
      }
      for (const [i, key] of AWKWARD_VALID_KEYS.entries()) {
        expect(Buffer.from(await b.getRange(key, 0, 6 + String(i).length)).toString()).toBe(
          `value ${i}`,
        );
        expect(await b.stat(key)).toEqual({ key, size: 6 + String(i).length });
      }
      expect((await listAll(b, '')).map((o) => o.key)).toEqual([...AWKWARD_VALID_KEYS].sort());
      expect((await listAll(b, 'unicode/模')).map((o) => o.key)).toEqual([AWKWARD_VALID_KEYS[1]]);
      for (const key of AWKWARD_VALID_KEYS) await b.delete(key);
      expect(await listAll(b, '')).toEqual([]);
    });

    it('rejects invalid keys on every operation with InvalidArgumentError', async () => {
      const dir = await scratchDir();
      const src = join(dir, 'src');
      await writeRandomFile(src, 10);
      for (const key of INVALID_KEYS) {
        const ops: [string, () => Promise<unknown>][] = [
          ['put', () => b.put(key, new Uint8Array(1))],
          ['putFile', () => b.putFile(key, src)],
          ['getRange', () => b.getRange(key, 0, 1)],
          ['getStream', () => b.getStream(key)],
          ['stat', () => b.stat(key)],
          ['delete', () => b.delete(key)],
        ];
        for (const [op, run] of ops) {
          await expect(run(), `${op}(${JSON.stringify(key)})`).rejects.toMatchObject({
            code: 'INVALID_ARGUMENT',
          });
        }
      }
      expect((await stat(src)).size).toBe(10); // a rejected putFile leaves its source alone
      for (const prefix of ['/x', '../', 'a/../', 'a//', 'a\\', 'a\0']) {
        await expect(listAll(b, prefix), `list(${JSON.stringify(prefix)})`).rejects.toMatchObject({
          code: 'INVALID_ARGUMENT',
        });
      }
      expect(await listAll(b, '')).toEqual([]);
    });

    it('survives concurrent puts of the same key', async () => {
      const data = randomBytes(256 * 1024);
      await Promise.all(Array.from({ length: 16 }, () => b.put('contended/key', data)));
      expect(Buffer.from(await b.getRange('contended/key', 0, data.length))).toEqual(data);
      expect(await listAll(b, '')).toEqual([{ key: 'contended/key', size: data.length }]);
    });

    it('handles 100 concurrent small puts', async () => {
      const items = Array.from({ length: 100 }, (_, i) => ({
        key: `many/${(i % 7).toString().padStart(2, '0')}/item-${i}`,
        data: randomBytes(1 + i * 10),
      }));
      await Promise.all(items.map((it) => b.put(it.key, it.data)));
      const listed = await listAll(b, 'many/');
      expect(listed).toEqual(
        items.map((it) => ({ key: it.key, size: it.data.length })).sort(byKey),
      );
      const read = await Promise.all(items.map((it) => b.getRange(it.key, 0, it.data.length)));
      read.forEach((bytes, i) => {
        expect(Buffer.from(bytes)).toEqual(items[i]!.data);
      });
    });

    it('serves many concurrent ranged reads of many objects', async () => {
      const objects = await Promise.all(
        Array.from({ length: 80 }, async (_, i) => {
          const data = randomBytes(4096);
          await b.put(`reads/${i}`, data);
          return data;
        }),
      );
      const reads = Array.from({ length: 400 }, (_, n) => {
        const i = (n * 37) % objects.length;
        const off = (n * 101) % 4000;
        return b
          .getRange(`reads/${i}`, off, 96)
          .then((got) => expect(Buffer.from(got)).toEqual(objects[i]!.subarray(off, off + 96)));
      });
      await Promise.all(reads);
    });

    it('tolerates close being called twice', async () => {
      await b.close();
      await b.close();
    });
  });
}

function byKey(a: ObjectInfo, b: ObjectInfo): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

async function listAll(b: ObjectBackend, prefix: string): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  for await (const o of b.list(prefix)) out.push({ key: o.key, size: o.size });
  return out.sort(byKey);
}

async function readAll(b: ObjectBackend, key: string): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const p of await b.getStream(key)) parts.push(p);
  return Buffer.concat(parts);
}

/** Writes `size` random bytes to `path` in 1 MiB pieces; returns their SHA-256 hex. */
async function writeRandomFile(path: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  async function* pieces() {
    for (let left = size; left > 0; ) {
      const piece = randomBytes(Math.min(left, 1024 * 1024));
      hash.update(piece);
      left -= piece.length;
      yield piece;
    }
  }
  await pipeline(pieces(), createWriteStream(path));
  return hash.digest('hex');
}

import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Sha256Hex } from '../core/digest.js';
import {
  encodeFooter,
  encodeTrailer,
  PACK_HEADER,
  type PackEntry,
  packIdOfTrailer,
} from './pack-format.js';
import { PackWriter } from './pack-writer.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex') as Sha256Hex;

/** The bytes a pack of these chunks must have, built independently of the writer. */
function expectedPack(chunks: readonly Uint8Array[]) {
  const entries: PackEntry[] = [];
  const seen = new Set<string>();
  const data: Uint8Array[] = [];
  let offset = PACK_HEADER.length;
  for (const c of chunks) {
    const id = sha(c);
    if (seen.has(id)) continue;
    seen.add(id);
    entries.push({ id, offset, length: c.length, flags: 0 });
    data.push(c);
    offset += c.length;
  }
  const trailer = encodeTrailer(entries);
  const packId = packIdOfTrailer(trailer);
  const footer = encodeFooter({
    entryCount: entries.length,
    trailerOffset: offset,
    trailerSha256: packId,
  });
  return { packId, entries, bytes: Buffer.concat([PACK_HEADER, ...data, trailer, footer]) };
}

describe('PackWriter', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mv-pack-writer-'));
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await rm(dir, { recursive: true, force: true });
  });

  async function writeAll(chunks: readonly Uint8Array[], bufferSize?: number) {
    const w = await PackWriter.create(join(dir, 'tmp'), { bufferSize });
    const offsets: number[] = [];
    for (const c of chunks) offsets.push(await w.add(sha(c), c));
    return { w, offsets, sealed: await w.seal() };
  }

  it('writes exactly the documented bytes, with chunks crossing buffer boundaries', async () => {
    // 4 KiB buffers, chunks of awkward sizes including ones larger than a buffer.
    const chunks = [1, 4095, 4096, 4097, 10_000, 0, 3, 20_000].map((n) => randomBytes(n));
    const want = expectedPack(chunks);
    const { offsets, sealed } = await writeAll(chunks, 4096);
    expect(sealed.packId).toBe(want.packId);
    expect(sealed.entries).toEqual(want.entries);
    expect(offsets).toEqual(want.entries.map((e) => e.offset));
    expect(sealed.size).toBe(want.bytes.length);
    expect((await readFile(sealed.path)).equals(want.bytes)).toBe(true);
  });

  it('writes an empty pack', async () => {
    const { sealed } = await writeAll([]);
    const want = expectedPack([]);
    expect(sealed.size).toBe(64);
    expect(sealed.packId).toBe(want.packId);
    expect((await readFile(sealed.path)).equals(want.bytes)).toBe(true);
  });

  it('gives the same id to the same chunks in the same order, and another otherwise', async () => {
    const chunks = [randomBytes(100), randomBytes(200)];
    const a = await writeAll(chunks);
    const b = await writeAll(chunks);
    const c = await writeAll([...chunks].reverse());
    expect(a.sealed.packId).toBe(b.sealed.packId);
    expect(a.sealed.path).not.toBe(b.sealed.path);
    expect(c.sealed.packId).not.toBe(a.sealed.packId);
  });

  it('stores a repeated chunk once and returns its first offset', async () => {
    const x = randomBytes(50);
    const y = randomBytes(60);
    const { offsets, sealed } = await writeAll([x, y, x]);
    expect(offsets).toEqual([8, 58, 8]);
    expect(sealed.entries).toHaveLength(2);
    expect(sealed.size).toBe(8 + 110 + 2 * 48 + 56);
  });

  it('tracks size, sealed size and entry count as chunks are added', async () => {
    const w = await PackWriter.create(dir);
    expect([w.size, w.sealedSize, w.entryCount]).toEqual([8, 64, 0]);
    const c = randomBytes(1000);
    await w.add(sha(c), c);
    expect([w.size, w.sealedSize, w.entryCount, w.has(sha(c))]).toEqual([1008, 1112, 1, true]);
    const sealed = await w.seal();
    expect(sealed.size).toBe(1112);
    expect((await stat(sealed.path)).size).toBe(1112);
  });

  it('lets the caller reuse its buffer once add resolves', async () => {
    const w = await PackWriter.create(dir, { bufferSize: 4096 });
    const scratch = Buffer.alloc(3000);
    const copies: Buffer[] = [];
    for (let i = 0; i < 10; i++) {
      scratch.fill(i);
      copies.push(Buffer.from(scratch));
      await w.add(sha(scratch), scratch);
    }
    const sealed = await w.seal();
    expect((await readFile(sealed.path)).equals(expectedPack(copies).bytes)).toBe(true);
  });

  it('removes its temp file on abort, idempotently, and keeps it once sealed', async () => {
    const w = await PackWriter.create(dir);
    await w.add(sha(Buffer.from('x')), Buffer.from('x'));
    expect(await readdir(dir)).toHaveLength(1);
    await w.abort();
    await w.abort();
    expect(await readdir(dir)).toEqual([]);

    const { w: sealedWriter, sealed } = await writeAll([Buffer.from('y')]);
    await sealedWriter.abort();
    expect((await stat(sealed.path)).isFile()).toBe(true);
  });

  it('refuses misuse: bad ids, calls after seal or abort, overlapping calls, bad buffer sizes', async () => {
    const w = await PackWriter.create(dir);
    await expect(w.add('nope' as Sha256Hex, new Uint8Array(1))).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    const big = randomBytes(5 * 1024 * 1024); // larger than the buffer: its write is awaited
    const first = w.add(sha(big), big);
    await expect(w.add(sha(Buffer.from('z')), Buffer.from('z'))).rejects.toThrow(
      /before the previous call settled/,
    );
    await first;
    await w.seal();
    await expect(w.add(sha(Buffer.from('z')), Buffer.from('z'))).rejects.toThrow(
      /after the pack was sealed/,
    );
    await expect(w.seal()).rejects.toThrow(/after the pack was sealed/);
    const aborted = await PackWriter.create(dir);
    await aborted.abort();
    await expect(aborted.seal()).rejects.toThrow(/after the pack was aborted/);
    for (const bufferSize of [0, 100, 1.5, 2 ** 30]) {
      await expect(PackWriter.create(dir, { bufferSize })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
    }
  });

  it('fdatasyncs while filling and at the seal, unless created with sync: false', async () => {
    // 20 MiB through 1 MiB buffers: early syncs every EARLY_SYNC_BYTES, then the seal's.
    const chunks = Array.from({ length: 80 }, () => randomBytes(256 * 1024));
    const want = expectedPack(chunks);
    for (const sync of [true, false]) {
      const w = await PackWriter.create(join(dir, String(sync)), { sync });
      const proto = Object.getPrototypeOf((w as unknown as { fh: object }).fh);
      const datasync = vi.spyOn(proto, 'datasync');
      for (const c of chunks) await w.add(sha(c), c);
      const sealed = await w.seal();
      expect(datasync.mock.calls.length >= 2).toBe(sync);
      if (!sync) expect(datasync).not.toHaveBeenCalled();
      vi.restoreAllMocks();
      expect(sealed.packId).toBe(want.packId);
      expect((await readFile(sealed.path)).equals(want.bytes)).toBe(true);
    }
  });

  it('reports a failed write as IoError, stays failed, and aborts cleanly', async () => {
    const w = await PackWriter.create(dir, { bufferSize: 4096 });
    const proto = Object.getPrototypeOf((w as unknown as { fh: object }).fh);
    vi.spyOn(proto, 'write').mockRejectedValue(
      Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }),
    );
    const chunk = randomBytes(3000);
    let error: unknown;
    for (let i = 0; i < 5 && !error; i++) {
      chunk[0] = i;
      await w.add(sha(chunk), chunk).catch((e: unknown) => {
        error = e;
      });
    }
    expect(error).toMatchObject({ code: 'IO', message: /no space left/ });
    await expect(w.seal()).rejects.toThrow(/failed earlier; abort it/);
    vi.restoreAllMocks();
    await w.abort();
    expect(await readdir(dir)).toEqual([]);
  });
});

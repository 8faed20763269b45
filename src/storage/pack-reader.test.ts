import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Sha256Hex } from '../core/digest.js';
import { FsBackend } from './backends/fs/fs-backend.js';
import {
  encodeFooter,
  encodeTrailer,
  PACK_HEADER,
  type PackEntry,
  packIdOfTrailer,
} from './pack-format.js';
import { readPackTrailer, verifyPack } from './pack-reader.js';
import { PackWriter } from './pack-writer.js';
import { packKey } from './store-layout.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex') as Sha256Hex;

describe('pack reader', () => {
  let dir: string;
  let backend: FsBackend;

  async function openBackend(streamChunkSize?: number) {
    await backend?.close();
    backend = new FsBackend(join(dir, 'objects'), { streamChunkSize });
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mv-pack-reader-'));
    await openBackend();
  });
  afterEach(async () => {
    await backend.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Writes chunks through PackWriter and stores the pack; returns its key and chunks. */
  async function storePack(chunks: readonly Uint8Array[], bufferSize?: number) {
    const w = await PackWriter.create(join(dir, 'tmp'), { bufferSize });
    for (const c of chunks) await w.add(sha(c), c);
    const sealed = await w.seal();
    const key = packKey(sealed.packId);
    await backend.putFile(key, sealed.path);
    return { key, sealed };
  }

  async function bytesOf(key: string): Promise<Buffer> {
    const info = await backend.stat(key);
    return Buffer.from(await backend.getRange(key, 0, info!.size));
  }

  /** Stores `bytes` under the pack key its (possibly doctored) trailer hashes to. */
  async function storeCrafted(entries: PackEntry[], data: Buffer, footerPatch = {}) {
    const trailer = encodeTrailer(entries);
    const packId = packIdOfTrailer(trailer);
    const footer = encodeFooter({
      entryCount: entries.length,
      trailerOffset: PACK_HEADER.length + data.length,
      trailerSha256: packId,
      ...footerPatch,
    });
    const key = packKey(packId);
    await backend.put(key, Buffer.concat([PACK_HEADER, data, trailer, footer]));
    return key;
  }

  const corrupt = (re: RegExp) =>
    expect.objectContaining({ code: 'CORRUPT', message: expect.stringMatching(re) });

  it('reads back the trailer of a written pack and every chunk by range', async () => {
    const chunks = Array.from({ length: 20 }, (_, i) => randomBytes(1000 + i * 97));
    const { key, sealed } = await storePack(chunks);
    const entries = await readPackTrailer(backend, key);
    expect(entries).toEqual(sealed.entries);
    expect(entries.at(-1)!.offset + entries.at(-1)!.length).toBe(sealed.size - 20 * 48 - 56);
    for (const [i, e] of entries.entries()) {
      expect(Buffer.from(await backend.getRange(key, e.offset, e.length))).toEqual(chunks[i]);
    }
    expect(await readPackTrailer(backend, key, { size: sealed.size })).toEqual(entries);
    expect(await verifyPack(backend, key)).toEqual([]);
  });

  it('reads an empty pack', async () => {
    const { key, sealed } = await storePack([]);
    expect(await readPackTrailer(backend, key)).toEqual([]);
    expect(await verifyPack(backend, key)).toEqual([]);
    expect(sealed.size).toBe(64);
    expect(sealed.packId).toBe(sha(new Uint8Array(0)));
  });

  it('reads a trailer longer than the first tail read', async () => {
    // 3000 entries = 144,000 bytes of trailer, beyond the 64 KiB read from the end.
    const chunks = Array.from({ length: 3000 }, () => randomBytes(20));
    const { key, sealed } = await storePack(chunks);
    expect(await readPackTrailer(backend, key)).toEqual(sealed.entries);
    expect(await verifyPack(backend, key)).toEqual([]);
  });

  it('names every chunk whose bytes were flipped, and only those', async () => {
    await openBackend(7); // odd stream pieces: chunks and header straddle them
    const chunks = Array.from({ length: 8 }, () => randomBytes(100));
    const { key, sealed } = await storePack(chunks);
    const bytes = await bytesOf(key);
    bytes[sealed.entries[2]!.offset + 50]! ^= 0x01;
    bytes[sealed.entries[7]!.offset]! ^= 0x80;
    await backend.put(key, bytes);
    await expect(readPackTrailer(backend, key)).resolves.toBeDefined(); // structure is fine
    expect(await verifyPack(backend, key)).toEqual([sealed.entries[2]!.id, sealed.entries[7]!.id]);
  });

  it('rejects a flipped byte in the trailer or in the footer checksum', async () => {
    const { key, sealed } = await storePack([randomBytes(100), randomBytes(100)]);
    const good = await bytesOf(key);
    const trailerAt = sealed.size - 56 - 96;
    for (const at of [trailerAt, trailerAt + 40, sealed.size - 56 - 1, sealed.size - 56 + 20]) {
      const bytes = Buffer.from(good);
      bytes[at]! ^= 0x04;
      await backend.put(key, bytes);
      await expect(readPackTrailer(backend, key)).rejects.toEqual(
        corrupt(/trailer checksum mismatch/),
      );
      await expect(verifyPack(backend, key)).rejects.toEqual(corrupt(/trailer checksum mismatch/));
    }
  });

  it('rejects truncated packs', async () => {
    const { key } = await storePack([randomBytes(1000)]);
    const good = await bytesOf(key);
    for (const [len, re] of [
      [good.length - 1, /bad footer magic/],
      [good.length - 56, /bad footer magic/],
      [500, /bad footer magic/],
      [63, /63 bytes is smaller than the smallest pack \(64\)/],
      [0, /0 bytes is smaller/],
    ] as const) {
      await backend.put(key, good.subarray(0, len));
      await expect(readPackTrailer(backend, key), `length ${len}`).rejects.toEqual(corrupt(re));
    }
  });

  it('rejects a pack whose footer does not match its size', async () => {
    const { key } = await storePack([randomBytes(1000)]);
    const good = await bytesOf(key);
    // Extra bytes before the footer: the footer is intact but the geometry is off.
    const grown = Buffer.concat([
      good.subarray(0, good.length - 56),
      Buffer.alloc(3),
      good.subarray(-56),
    ]);
    await backend.put(key, grown);
    await expect(readPackTrailer(backend, key)).rejects.toEqual(
      corrupt(/footer describes \d+ bytes .* but the pack has/),
    );
  });

  it('rejects bad header magic, and a newer format version as unsupported', async () => {
    const { key } = await storePack([randomBytes(10)]);
    const good = await bytesOf(key);
    const bad = Buffer.from(good);
    bad[0] = 0x4e;
    await backend.put(key, bad);
    await expect(readPackTrailer(backend, key)).rejects.toEqual(
      corrupt(/bad header magic "NVPACK\\u0000"/),
    );
    const newer = Buffer.from(good);
    newer[7] = 2;
    await backend.put(key, newer);
    await expect(readPackTrailer(backend, key)).rejects.toMatchObject({ code: 'UNSUPPORTED' });
  });

  it('rejects a sound pack stored under another pack id', async () => {
    const { key } = await storePack([randomBytes(10)]);
    const other = packKey(sha(Buffer.from('another pack')));
    await backend.put(other, await bytesOf(key));
    await expect(readPackTrailer(backend, other)).rejects.toEqual(
      corrupt(/not to the pack id in its key/),
    );
  });

  it('rejects entries that point past the data region, overlap or go backwards', async () => {
    const data = randomBytes(300);
    const e = (offset: number, length: number): PackEntry => ({
      id: sha(data.subarray(offset - 8, offset - 8 + length)),
      offset,
      length,
      flags: 0,
    });
    const cases: [PackEntry[], RegExp][] = [
      [
        [e(8, 100), e(108, 201)],
        /entry 1 \(chunk [0-9a-f]{64}\) ends at 309, past the data region end 308/,
      ],
      [[e(8, 100), e(100, 10)], /entry 1 .* starts at 100, before the previous entry ends at 108/],
      [[e(200, 10), e(8, 10)], /before the previous entry/],
      [[{ ...e(8, 10), offset: 2 }], /starts at 2, inside the header/],
    ];
    for (const [entries, re] of cases) {
      const key = await storeCrafted(entries, data);
      await expect(readPackTrailer(backend, key)).rejects.toEqual(corrupt(re));
      await expect(verifyPack(backend, key)).rejects.toEqual(corrupt(re));
    }
    const flagged = await storeCrafted([{ ...e(8, 10), flags: 1 }], data);
    await expect(readPackTrailer(backend, flagged)).rejects.toMatchObject({ code: 'UNSUPPORTED' });
  });

  it('verifies a crafted pack with a gap between entries', async () => {
    const data = randomBytes(100);
    const key = await storeCrafted(
      [
        { id: sha(data.subarray(0, 10)), offset: 8, length: 10, flags: 0 },
        { id: sha(data.subarray(50, 60)), offset: 58, length: 10, flags: 0 },
      ],
      data,
    );
    expect(await verifyPack(backend, key)).toEqual([]);
  });

  it('reports missing packs and non-pack keys', async () => {
    const missing = packKey(sha(Buffer.from('missing')));
    await expect(readPackTrailer(backend, missing)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(verifyPack(backend, missing)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(readPackTrailer(backend, 'packs/ab/x.pack')).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });

  it('round-trips random chunk sets (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 6000 }), { maxLength: 40 }),
        fc.integer({ min: 4096, max: 20_000 }),
        fc.constantFrom(1, 5, 64, 4096, 1 << 20),
        fc.option(fc.nat(), { nil: undefined }),
        async (arrays, bufferSize, streamChunkSize, flipAt) => {
          await openBackend(streamChunkSize);
          // Repeats are likely among short arrays: the writer stores each id once.
          const chunks = arrays.map((a) => Buffer.from(a));
          const { key, sealed } = await storePack(chunks, bufferSize);
          const unique = [...new Map(chunks.map((c) => [sha(c), c])).values()];
          const entries = await readPackTrailer(backend, key);
          expect(entries.map((e) => e.id)).toEqual(unique.map(sha));
          let offset = 8;
          for (const [i, e] of entries.entries()) {
            expect(e.offset).toBe(offset);
            offset += e.length;
            expect(Buffer.from(await backend.getRange(key, e.offset, e.length))).toEqual(unique[i]);
          }
          expect(await verifyPack(backend, key)).toEqual([]);
          const again = await storePack(chunks, 8192);
          expect(again.sealed.packId).toBe(sealed.packId);

          // Flip one data byte, if there is any: exactly the chunk holding it is damaged.
          const dataLength = offset - 8;
          if (flipAt !== undefined && dataLength > 0) {
            const at = 8 + (flipAt % dataLength);
            const bytes = await bytesOf(key);
            bytes[at]! ^= 0xff;
            await backend.put(key, bytes);
            const hit = entries.find((e) => at >= e.offset && at < e.offset + e.length)!;
            expect(await verifyPack(backend, key)).toEqual([hit.id]);
          }
          await backend.delete(key);
        },
      ),
      { numRuns: 60 },
    );
  });
});

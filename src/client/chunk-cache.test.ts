/**
 * The SDK's chunk cache against real files: cached chunking gives exactly the chunks of a
 * full read; a file entry applies only while the file's identity is unchanged (a touch, a
 * rewrite of the same size with its mtime put back, another inode, a racy write all miss);
 * damaged entries are ignored.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pseudoRandomBytes, writeSafetensors } from '../../test/fixtures/model-files.js';
import { ChunkCache, defaultChunkCacheDir } from './chunk-cache.js';
import { type ChunkedFile, chunkLocalFile } from './chunk-file.js';

const PARAMS = { minSize: 1024, avgSize: 4096, maxSize: 16 * 1024 };
const MiB = 1024 * 1024;
const PAST = new Date(Date.now() - 3600_000);
/** Lets the clock move past a file's last change, so a file entry is recorded (racyMs 0). */
const settle = () => new Promise((r) => setTimeout(r, 20));

/** Two tensors large enough for piece entries, two small ones that stream through FastCDC. */
function model(variant = 0): Uint8Array {
  return writeSafetensors([
    { name: 'a', dtype: 'U8', shape: [MiB + 333], data: pseudoRandomBytes(1, MiB + 333) },
    { name: 'small', dtype: 'U8', shape: [50_000], data: pseudoRandomBytes(2 + variant, 50_000) },
    { name: 'b', dtype: 'U8', shape: [MiB], data: pseudoRandomBytes(3 + variant * 10, MiB) },
    { name: 'tail', dtype: 'U8', shape: [7_000], data: pseudoRandomBytes(4, 7_000) },
  ]);
}

const strip = (c: ChunkedFile) => ({
  sha256: c.sha256,
  size: c.size,
  format: c.format,
  chunks: c.chunks,
});

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(join(e.parentPath, e.name));
  }
  return out;
}

describe('chunk cache', () => {
  let work: string;
  let cache: ChunkCache;
  let path: string;

  beforeEach(async () => {
    work = await mkdtemp(join(tmpdir(), 'mv-chunk-cache-'));
    cache = new ChunkCache(join(work, 'cache'), { racyMs: 0 });
    path = join(work, 'model.safetensors');
  });
  afterEach(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('chunks exactly as a full read does, from pieces and then from the file entry', async () => {
    await writeFile(path, model());
    await settle();
    const plain = strip(await chunkLocalFile(path, PARAMS));
    expect(plain.format).toBe('safetensors');
    expect(plain.sha256).toBe(
      createHash('sha256')
        .update(await readFile(path))
        .digest('hex'),
    );

    const first = await chunkLocalFile(path, PARAMS, { cache });
    expect(strip(first)).toEqual(plain);
    expect(cache.stats).toMatchObject({ fileHits: 0, pieceHits: 0, pieceMisses: 2 });
    expect(first.fromCache).toEqual({ file: false, pieces: [] });

    const second = await chunkLocalFile(path, PARAMS, { cache });
    expect(strip(second)).toEqual(plain);
    expect(cache.stats.fileHits).toBe(1);
    expect(second.fromCache?.file).toBe(true);

    // A new file sharing tensor 'a' reuses its piece entry, not the file entry.
    const other = join(work, 'next.safetensors');
    await writeFile(other, model(1));
    const next = await chunkLocalFile(other, PARAMS, { cache });
    expect(strip(next)).toEqual(strip(await chunkLocalFile(other, PARAMS)));
    expect(cache.stats.pieceHits).toBe(1);
    expect(next.fromCache?.pieces).toHaveLength(1);
  });

  /** Chunks `path` so its file entry is recorded, and checks that it answers. */
  const cached = async () => {
    await settle();
    await chunkLocalFile(path, PARAMS, { cache });
    const hit = await chunkLocalFile(path, PARAMS, { cache });
    expect(hit.fromCache?.file).toBe(true);
  };
  const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

  it('misses once the file is touched, rewritten with the same size, or replaced', async () => {
    const original = model();
    await writeFile(path, original);
    await utimes(path, PAST, PAST);
    await cached();

    // Touched: same bytes, another mtime.
    await utimes(path, new Date(PAST.getTime() + 1000), new Date(PAST.getTime() + 1000));
    expect((await chunkLocalFile(path, PARAMS, { cache })).fromCache?.file).toBe(false);

    // Rewritten in place with other bytes of the same size, its mtime put back: only the
    // ctime tells.
    await utimes(path, PAST, PAST);
    await cached();
    const changed = model(1);
    expect(changed.length).toBe(original.length);
    await writeFile(path, changed);
    await utimes(path, PAST, PAST);
    const rewritten = await chunkLocalFile(path, PARAMS, { cache });
    expect(rewritten.fromCache?.file).toBe(false);
    expect(rewritten.sha256).toBe(sha(changed));

    // Replaced by another inode with the same size and mtime.
    await cached();
    const replacement = model(2);
    await writeFile(join(work, 'tmp'), replacement);
    await utimes(join(work, 'tmp'), PAST, PAST);
    await rename(join(work, 'tmp'), path);
    const replaced = await chunkLocalFile(path, PARAMS, { cache });
    expect(replaced.fromCache?.file).toBe(false);
    expect(replaced.sha256).toBe(sha(replacement));
  });

  it('does not record a file modified just before it was read', async () => {
    cache = new ChunkCache(join(work, 'cache')); // the default: 2 s
    await writeFile(path, model());
    await chunkLocalFile(path, PARAMS, { cache });
    await chunkLocalFile(path, PARAMS, { cache });
    expect(cache.stats.fileHits).toBe(0);
    expect(cache.stats.pieceHits).toBe(2); // the pieces are content-keyed: always safe
  });

  it('ignores damaged entries', async () => {
    await writeFile(path, model());
    await settle();
    const plain = strip(await chunkLocalFile(path, PARAMS, { cache }));
    const entries = await files(join(work, 'cache'));
    expect(entries).toHaveLength(3); // one file entry, two pieces
    for (const e of entries) {
      const bytes = await readFile(e);
      bytes[40] = (bytes[40] ?? 0) ^ 0xff;
      await writeFile(e, bytes);
    }
    const again = await chunkLocalFile(path, PARAMS, { cache });
    expect(strip(again)).toEqual(plain);
    expect(again.fromCache).toEqual({ file: false, pieces: [] });
    expect(cache.stats.invalid).toBe(3);
    // Rewritten whole: the next read hits.
    expect((await chunkLocalFile(path, PARAMS, { cache })).fromCache?.file).toBe(true);
  });

  it('a write-only view records but never answers', async () => {
    await writeFile(path, model());
    await settle();
    await chunkLocalFile(path, PARAMS, { cache: cache.writeOnly() });
    const view = cache.writeOnly();
    expect((await chunkLocalFile(path, PARAMS, { cache: view })).fromCache?.file).toBe(false);
    expect((await chunkLocalFile(path, PARAMS, { cache })).fromCache?.file).toBe(true);
  });

  it('lives where MODELVAULT_CACHE_DIR or XDG_CACHE_HOME say, or nowhere', () => {
    expect(defaultChunkCacheDir({ MODELVAULT_CACHE_DIR: '/x/c' })).toBe('/x/c');
    expect(defaultChunkCacheDir({ MODELVAULT_CACHE_DIR: 'off' })).toBeUndefined();
    expect(defaultChunkCacheDir({ XDG_CACHE_HOME: '/x/xdg' })).toBe('/x/xdg/modelvault');
    expect(defaultChunkCacheDir({})).toMatch(/\.cache\/modelvault$/);
  });
});

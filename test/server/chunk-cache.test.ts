/**
 * The SDK's chunk cache against a real server: a repeat push reads nothing it knows, and a
 * wrong yet well-formed cache entry never makes a wrong version — the server refuses it
 * (a chunk whose bytes do not match its id is never sent; a file whose chunks do not hash
 * to its digest is not committed), and the client drops what it used and chunks afresh.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ChunkCache } from '../../src/client/chunk-cache.js';
import { chunkLocalFile } from '../../src/client/chunk-file.js';
import { chunkCacheFor } from '../../src/client/node-transfer.js';
import { pieceCacheKeyPrefix } from '../../src/storage/chunking/piece-cache-key.js';
import { pseudoRandomBytes, writeSafetensors } from '../fixtures/model-files.js';
import { startTestServer, TEST_CHUNKING, type TestServer } from './support/test-server.js';

const MiB = 1024 * 1024;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** A checkpoint whose first tensor (1 MiB, a piece-cache entry) is `first`. */
function checkpoint(first: Uint8Array, seed: number): Uint8Array {
  return writeSafetensors([
    { name: 'a', dtype: 'U8', shape: [first.length], data: first },
    { name: 'b', dtype: 'U8', shape: [30_000], data: pseudoRandomBytes(seed, 30_000) },
  ]);
}

describe('push with the chunk cache', () => {
  let server: TestServer;
  let work: string;
  let cacheDir: string;
  let n = 0;
  const A = pseudoRandomBytes(11, MiB);
  const A2 = pseudoRandomBytes(12, MiB); // same length, other bytes
  const keyOf = (t: Uint8Array) =>
    createHash('sha256').update(pieceCacheKeyPrefix(TEST_CHUNKING)).update(t).digest('hex');

  beforeAll(async () => {
    server = await startTestServer();
    work = await mkdtemp(join(tmpdir(), 'mv-push-cache-'));
  });
  afterAll(async () => {
    await server?.close();
    await rm(work, { recursive: true, force: true });
  });
  beforeEach(() => {
    cacheDir = join(work, `cache-${++n}`);
  });

  const client = () => server.client({ transfer: { cacheDir } });
  const cache = () => chunkCacheFor({ cacheDir })!;

  async function dir(name: string, bytes: Uint8Array): Promise<string> {
    const d = join(work, `${name}-${n}`);
    await rm(d, { recursive: true, force: true });
    await mkdir(d, { recursive: true });
    await writeFile(join(d, 'model.safetensors'), bytes);
    return d;
  }

  async function pulled(ref: string): Promise<Buffer> {
    const d = join(work, `pulled-${n}-${ref.replace('@', '-')}`);
    await client().pull(ref, d);
    return readFile(join(d, 'model.safetensors'));
  }

  /** Makes the entry of tensor A say A2's chunks: well-formed, checksummed, wrong. */
  async function poisonA(): Promise<void> {
    const c = new ChunkCache(cacheDir);
    const a2 = await c.getPiece(keyOf(A2), A2.length);
    expect(a2).toBeDefined();
    await c.putPiece(keyOf(A), a2!);
  }

  it('a repeat push reads nothing it knows and sends nothing', async () => {
    const bytes = checkpoint(A, 1);
    const d = await dir('repeat', bytes);
    const first = await client().push(d, { model: `repeat-${n}` });
    await new Promise((r) => setTimeout(r, 2100)); // past the racy window: recorded next time
    await client().push(d, { model: `repeat-${n}` });
    const hits = cache().stats.fileHits;
    const third = await client().push(d, { model: `repeat-${n}` });
    expect(cache().stats.fileHits).toBe(hits + 1);
    expect(third.stats.newBytes).toBe(0);
    expect(third.version.digest).toBe(first.version.digest);
    expect(await pulled(`repeat-${n}@3`)).toEqual(Buffer.from(bytes));
  });

  it('a wrong piece entry whose chunks the server lacks: never sent, re-chunked', async () => {
    // The cache learns A2 locally only: its chunks are not on the server.
    const a2 = join(await dir('a2', checkpoint(A2, 2)), 'model.safetensors');
    await chunkLocalFile(a2, TEST_CHUNKING, { cache: new ChunkCache(cacheDir) });
    await poisonA();
    const bytes = checkpoint(A, 3);
    const { version } = await client().push(await dir('a', bytes), { model: `lack-${n}` });
    expect(version.version).toBe(1);
    expect(await pulled(`lack-${n}@1`)).toEqual(Buffer.from(bytes));
    // The entry was replaced by the true one.
    const fixed = await new ChunkCache(cacheDir).getPiece(keyOf(A), A.length);
    expect(fixed).toBeDefined();
    expect(fixed).not.toEqual(await new ChunkCache(cacheDir).getPiece(keyOf(A2), A2.length));
  });

  it('a wrong piece entry whose chunks the server has: the commit refuses it, re-chunked', async () => {
    // A2's chunks are on the server, so the wrong chunk list asks for nothing: only the
    // server's file digest check can catch it.
    await client().push(await dir('a2', checkpoint(A2, 4)), { model: `has-${n}` });
    await poisonA();
    const bytes = checkpoint(A, 5);
    const { version } = await client().push(await dir('a', bytes), { model: `has-${n}` });
    expect(version.version).toBe(2);
    expect(version.digest).not.toBe((await client().getVersion(`has-${n}@1`)).digest);
    expect(sha(await pulled(`has-${n}@2`))).toBe(sha(bytes));
    const fixed = await new ChunkCache(cacheDir).getPiece(keyOf(A), A.length);
    expect(fixed).not.toEqual(await new ChunkCache(cacheDir).getPiece(keyOf(A2), A2.length));
  });

  it('a wrong file entry (digest of other bytes): refused, dropped, re-chunked', async () => {
    const bytes = checkpoint(A, 6);
    const d = await dir('file', bytes);
    const path = join(d, 'model.safetensors');
    await new Promise((r) => setTimeout(r, 2100)); // past the racy window: recorded
    const c = new ChunkCache(cacheDir);
    const truth = await chunkLocalFile(path, TEST_CHUNKING, { cache: c });
    expect((await chunkLocalFile(path, TEST_CHUNKING, { cache: c })).fromCache?.file).toBe(true);
    await c.putFile(TEST_CHUNKING, path, await stat(path, { bigint: true }), Date.now(), {
      ...truth,
      sha256: sha(pseudoRandomBytes(99, 100)),
    });
    const { version } = await client().push(d, { model: `file-${n}` });
    expect(version.version).toBe(1);
    expect(await pulled(`file-${n}@1`)).toEqual(Buffer.from(bytes));
    expect((await chunkLocalFile(path, TEST_CHUNKING, { cache: c })).sha256).toBe(sha(bytes));
  });
});

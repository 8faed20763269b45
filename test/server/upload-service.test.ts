/**
 * UploadService on its own (no HTTP): session expiry and abandonment, limits, and what
 * resumption matches on. Uses a controllable clock.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelvaultError } from '../../src/core/errors.js';
import type { RegistryMaintenance } from '../../src/core/registry-api.js';
import { UploadService } from '../../src/registry/upload-service.js';
import { pseudoRandomBytes } from '../fixtures/model-files.js';
import { clockTick } from '../support/clock-tick.js';
import { withOverrides } from '../support/with-overrides.js';
import { batchBody, rawFile } from './support/raw-upload.js';
import { startTestServer, type TestServer } from './support/test-server.js';

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

describe('UploadService', () => {
  let server: TestServer;
  let now = Date.UTC(2026, 0, 1);
  let uploads: UploadService;

  beforeAll(async () => {
    server = await startTestServer();
    uploads = new UploadService({
      registry: server.backend.registry,
      store: server.backend.store,
      ttlMs: 60_000,
      maxFiles: 3,
      maxChunks: 20,
      now: () => now,
    });
    await uploads.init();
  });
  afterAll(async () => {
    await uploads.close();
    await server.close();
  });

  it('expires sessions after their TTL and then forgets their chunks', async () => {
    const file = rawFile('a.bin', pseudoRandomBytes(1, 20_000), 8192);
    const s = await uploads.create({ files: [file.spec] });
    expect(s.expiresAt).toBe(now + 60_000);
    await uploads.receiveChunks(s.id, once(batchBody(file.chunks.slice(0, 1))));
    expect((await uploads.liveChunkIds()).has(file.chunks[0]!.id)).toBe(true);

    now += 59_000;
    // Activity extends the session.
    expect((await uploads.status(s.id)).missing).toHaveLength(2);
    expect((await uploads.create({ files: [file.spec] })).id).toBe(s.id);
    now += 59_000;
    expect((await uploads.status(s.id)).id).toBe(s.id);

    now += 61_000;
    await expect(uploads.status(s.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await uploads.expire()).toBeGreaterThanOrEqual(1);
    expect((await uploads.liveChunkIds()).has(file.chunks[0]!.id)).toBe(false);
    // The same files now open a new session; the chunk sent before is still stored.
    const again = await uploads.create({ files: [file.spec] });
    expect(again.id).not.toBe(s.id);
    expect(again.missing).toHaveLength(2);
  });

  /**
   * Commits one new file through `raced` (an UploadService whose registry or store runs a
   * real GC with no grace period at the racy step) as model `model`: the commit must answer
   * CONFLICT `collected` (the SDK pushes again), after the GC did collect, and register
   * nothing.
   */
  async function expectCollected(
    raced: UploadService,
    model: string,
    seed: number,
    collected: () => number,
  ): Promise<void> {
    await raced.init();
    try {
      const file = rawFile(`${model}.bin`, pseudoRandomBytes(seed, 12_000), 8192);
      const s = await raced.create({ files: [file.spec] });
      await raced.receiveChunks(s.id, once(batchBody(file.chunks)));
      await expect(raced.commit(s.id, { model })).rejects.toMatchObject({
        code: 'CONFLICT',
        details: { collected: true },
      });
      expect(collected()).toBeGreaterThanOrEqual(1);
      await expect(server.backend.registry.getModel(model)).rejects.toMatchObject({
        code: 'NOT_FOUND',
      });
    } finally {
      await raced.close();
    }
  }

  it('answers CONFLICT collected when a GC takes the new manifest before the version', async () => {
    // A real GC with no grace period, run just as the commit asks for the version: it
    // collects the manifest the commit has just stored (no version refers to it yet). The
    // commit must refuse (the SDK pushes again on `collected`), not create a version whose
    // manifest is gone.
    // The server's registry is a RegistryDirectory: it has the store's maintenance too.
    const registry = server.backend.registry as typeof server.backend.registry &
      RegistryMaintenance;
    let collected = 0;
    const racing = withOverrides(registry, {
      createVersion: async (input: Parameters<typeof registry.createVersion>[0]) => {
        await clockTick();
        collected += (await registry.gc({ graceMs: 0 })).manifestsDeleted;
        return registry.createVersion(input);
      },
    });
    const raced = new UploadService({ registry: racing, store: server.backend.store });
    await expectCollected(raced, 'raced', 7, () => collected);
  });

  it('answers CONFLICT collected when a GC takes a committed file before the manifest', async () => {
    // The same race one step earlier: the commit has stored the session's file (or found
    // it stored) and a GC with no grace period collects it, no manifest referring to it
    // yet, before the version's manifest is stored. That manifest then names a file that
    // is not stored: the commit must answer `collected` (the SDK pushes again, sending the
    // chunks anew), not NOT_FOUND, which the SDK reports as a failure.
    const registry = server.backend.registry as typeof server.backend.registry &
      RegistryMaintenance;
    const store = server.backend.store;
    let collected = 0;
    const racing = withOverrides(store, {
      commitManifest: async (...args: Parameters<typeof store.commitManifest>) => {
        await clockTick();
        collected += (await registry.gc({ graceMs: 0 })).filesDeleted;
        return store.commitManifest(...args);
      },
    });
    const raced = new UploadService({ registry, store: racing });
    await expectCollected(raced, 'raced-file', 8, () => collected);
  });

  it('abandons sessions idempotently', async () => {
    const file = rawFile('b.bin', pseudoRandomBytes(2, 10_000), 8192);
    const s = await uploads.create({ files: [file.spec] });
    await uploads.abandon(s.id);
    await uploads.abandon(s.id);
    await expect(uploads.status(s.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('resumes only the same file list of the same actor', async () => {
    const a = rawFile('c.bin', pseudoRandomBytes(3, 10_000), 8192);
    const b = rawFile('d.bin', pseudoRandomBytes(4, 10_000), 8192);
    const s1 = await uploads.create({ files: [a.spec, b.spec] });
    // Order of the list does not matter; content does.
    expect((await uploads.create({ files: [b.spec, a.spec] })).id).toBe(s1.id);
    expect((await uploads.create({ files: [a.spec] })).id).not.toBe(s1.id);
    expect((await uploads.create({ files: [a.spec, b.spec] }, 'bob')).id).not.toBe(s1.id);
    await expect(uploads.status(s1.id, 'bob')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('enforces its limits and the consistency of the file list', async () => {
    const f = (i: number) => rawFile(`f${i}.bin`, pseudoRandomBytes(10 + i, 100), 50).spec;
    const tooMany = await uploads.create({ files: [f(1), f(2), f(3), f(4)] }).catch((e) => e);
    expect(tooMany).toBeInstanceOf(ModelvaultError);
    expect(tooMany.code).toBe('TOO_LARGE');
    const big = rawFile('big.bin', pseudoRandomBytes(5, 21 * 100), 100).spec;
    expect((await uploads.create({ files: [big] }).catch((e) => e)).code).toBe('TOO_LARGE');
    const dup = f(1);
    expect((await uploads.create({ files: [dup, { ...dup }] }).catch((e) => e)).code).toBe(
      'INVALID_ARGUMENT',
    );
    const twoLengths = {
      path: 'x.bin',
      size: 3,
      sha256: 'c'.repeat(64),
      chunks: [
        { id: 'a'.repeat(64), length: 1 },
        { id: 'a'.repeat(64), length: 2 },
      ],
    };
    expect((await uploads.create({ files: [twoLengths] }).catch((e) => e)).code).toBe(
      'INVALID_ARGUMENT',
    );
    const oversizedChunk = {
      path: 'y.bin',
      size: 1_000_000,
      sha256: 'c'.repeat(64),
      chunks: [{ id: 'a'.repeat(64), length: 1_000_000 }],
    };
    expect((await uploads.create({ files: [oversizedChunk] }).catch((e) => e)).code).toBe(
      'INVALID_ARGUMENT',
    );
  });
});

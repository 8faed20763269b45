/**
 * Full disk and failing storage: the registry's packs behind a FaultyBackend
 * (src/storage/backends/faulty-backend.ts) that fails writes or reads at chosen points with
 * the error a full disk gives (ENOSPC). Pushes fail with a clear IO error and register
 * nothing, a lost acknowledgement leaves only garbage that repair indexes, pulls fail
 * without leaving partial files, the store stays consistent (fsck, audit trail), and a
 * server keeps serving reads while its writes fail.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RemoteRegistry } from '../../src/client/remote-registry.js';
import { IoError } from '../../src/core/errors.js';
import {
  openRegistryDirectory,
  type RegistryDirectory,
} from '../../src/registry/registry-directory.js';
import { buildApp } from '../../src/server/app.js';
import { FaultyBackend } from '../../src/storage/backends/faulty-backend.js';
import { FsBackend } from '../../src/storage/backends/fs/fs-backend.js';
import { pseudoRandomBytes } from '../fixtures/model-files.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const diskFull = (op: string, key: string) =>
  new IoError(`${op} '${key}' failed: ENOSPC: no space left on device`, { key });

let base: string;
let faulty: FaultyBackend;
let dir: RegistryDirectory;

async function source(n: number): Promise<string> {
  const src = join(base, `src-${n}`);
  await mkdir(src, { recursive: true });
  await writeFile(join(src, 'weights.bin'), pseudoRandomBytes(200 + n, 80_000));
  return src;
}

async function expectConsistent(versions: number) {
  const fsck = await dir.registry.fsck();
  expect(fsck.problems).toEqual([]);
  expect((await dir.registry.auditVerify()).ok).toBe(true);
  expect((await dir.registry.listVersions('m')).items).toHaveLength(versions);
}

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'mv-reliability-storage-'));
  faulty = new FaultyBackend(new FsBackend(join(base, 'registry', 'objects')));
  dir = await openRegistryDirectory(join(base, 'registry'), {
    create: true,
    defaultActor: 'alice',
    backend: faulty,
    packTargetSize: 32 * 1024,
    chunking: { minSize: 1024, avgSize: 4096, maxSize: 16 * 1024 },
  });
  await dir.registry.push(await source(1), { model: 'm' });
});
afterEach(async () => {
  await dir.close();
  await rm(base, { recursive: true, force: true });
});

describe('a registry over failing storage', () => {
  for (const after of [0, 1]) {
    it(`a disk that fills up ${after === 0 ? 'at the first pack' : 'after one pack'}: the push fails with IO, registers nothing, and succeeds once there is room`, async () => {
      const fault = faulty.inject({ ops: ['put', 'putFile'], after, error: diskFull });
      const err = await dir.registry.push(await source(2), { model: 'm' }).catch((e) => e);
      expect(err).toMatchObject({ code: 'IO', message: expect.stringContaining('ENOSPC') });
      expect(fault.failures).toBe(1);
      // A pack that made it before the disk filled is stored and indexed, but no version
      // refers to it: consistent, and gc reclaims it.
      await expectConsistent(1);
      expect(
        await readdir(
          join(base, 'registry', 'tmp', (await readdir(join(base, 'registry', 'tmp')))[0]!),
        ),
      ).toEqual([]);

      fault.remove();
      const { version } = await dir.registry.push(await source(2), { model: 'm' });
      expect(version.version).toBe(2);
      await expectConsistent(2);
    });
  }

  it('a disk that fills while later packs are still filling: one IO error, no unhandled rejection', async () => {
    // Packs are stored in the background while the next one fills; a failed store used to
    // reject with nobody listening until the push flushed (found in the tiny-filesystem
    // test), which Node reports as an unhandled rejection.
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const fault = faulty.inject({ ops: ['put', 'putFile'], error: diskFull });
      const src = join(base, 'src-big');
      await mkdir(src, { recursive: true });
      // About 60 packs of 32 KiB: the first store fails long before the last pack fills.
      await writeFile(join(src, 'weights.bin'), pseudoRandomBytes(300, 2_000_000));
      const err = await dir.registry.push(src, { model: 'm' }).catch((e) => e);
      expect(err).toMatchObject({ code: 'IO', message: expect.stringContaining('ENOSPC') });
      expect(fault.failures).toBe(1);
      // Let any stray rejection reach the process before looking.
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).toEqual([]);
      await expectConsistent(1);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('a lost acknowledgement (stored, then reported failed): the push fails, repair indexes the stray pack', async () => {
    faulty.inject({ ops: ['put', 'putFile'], when: 'after', times: 1, error: diskFull });
    await expect(dir.registry.push(await source(2), { model: 'm' })).rejects.toMatchObject({
      code: 'IO',
    });
    const fsck = await dir.registry.fsck();
    // The stored pack is unreferenced garbage, not damage.
    expect(fsck.problems.map((p) => p.kind)).toEqual(['pack-unindexed']);
    expect(fsck.damagedVersions).toEqual([]);
    const repaired = await dir.registry.repair();
    expect(repaired.after.problems).toEqual([]);
    await dir.registry.push(await source(2), { model: 'm' });
    await expectConsistent(2);
  });

  it('failing reads: a pull fails with IO naming the file and leaves no partial file', async () => {
    faulty.inject({ ops: ['getRange', 'getStream'], error: diskFull });
    const dest = join(base, 'out');
    await expect(dir.registry.pull('m@1', dest)).rejects.toMatchObject({
      code: 'IO',
      message: expect.stringContaining("'weights.bin'"),
    });
    expect(await readdir(dest)).toEqual([]);
    faulty.clear();
    await dir.registry.pull('m@1', join(base, 'out2'));
    expect(sha(await readFile(join(base, 'out2', 'weights.bin')))).toBe(
      sha(pseudoRandomBytes(201, 80_000)),
    );
  });

  it('a server keeps serving reads while every write to storage fails', async () => {
    const { app } = await buildApp({
      backend: {
        registry: dir.registry,
        store: dir.store,
        tracking: dir.tracking,
        lfs: dir.lfs,
        access: dir.access,
        ping: () => dir.ping(),
      },
      logger: false,
      expireEveryMs: 0,
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const address = app.server.address() as { port: number };
      const url = `http://127.0.0.1:${address.port}`;
      const client = new RemoteRegistry(url, { retryDelayMs: 1, retries: 1 });
      faulty.inject({ ops: ['put', 'putFile', 'delete'], error: diskFull });

      const write = await client.push(await source(3), { model: 'm' }).catch((e) => e);
      expect(write).toMatchObject({ code: 'IO' });
      // Reads: metadata, the manifest, and the file's bytes, while writes keep failing.
      for (let i = 0; i < 3; i++) {
        expect((await client.getVersion('m@1')).version).toBe(1);
        const res = await fetch(`${url}/api/v1/versions/m@1/files/weights.bin`);
        expect(res.status).toBe(200);
        expect(sha(new Uint8Array(await res.arrayBuffer()))).toBe(
          sha(pseudoRandomBytes(201, 80_000)),
        );
        const again = await client.push(await source(3), { model: 'm' }).catch((e) => e);
        expect(again).toMatchObject({ code: 'IO' });
      }
      await client.pull('m@1', join(base, 'via-server'));
      faulty.clear();
      expect((await client.push(await source(3), { model: 'm' })).version.version).toBe(2);
      await expectConsistent(2);
    } finally {
      await app.close();
    }
  });
});

/**
 * Damage at rest, one kind at a time, to a registry of three versions whose files live in
 * separate packs: a flipped byte in a pack, a truncated pack, a deleted pack, and database
 * rows changed behind the registry's back (chunk index rows lost or pointing at the wrong
 * offset, a version pointing at a manifest that does not exist). Each time: pulling the
 * damaged version fails naming its damaged file, the other versions pull byte-identical,
 * fsck names exactly the damage (and no more), and repair restores what the packs still
 * hold; what they no longer hold comes back by pushing the same files again.
 *
 * (test/cli/integrity.test.ts covers the CLI's exit codes for a flipped byte, and
 * test/storage/store.test.ts the store-level checks; this adds the other damage kinds.)
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Sha256Hex } from '../../src/core/digest.js';
import type { FsckResult } from '../../src/core/registry-api.js';
import {
  openRegistryDirectory,
  type RegistryDirectory,
} from '../../src/registry/registry-directory.js';
import { chunkIdsToHex } from '../../src/storage/index/chunk-index.js';
import { packKey } from '../../src/storage/store-layout.js';
import { pseudoRandomBytes } from '../fixtures/model-files.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

let base: string;
let dir: RegistryDirectory;
/** The files of m@1..3: a shared config plus a weights file of its own. */
const content = (n: number) => ({
  'config.json': Buffer.from('{"hidden": 64}'),
  [`weights-${n}.bin`]: Buffer.from(pseudoRandomBytes(100 + n, 60_000)),
});

async function push(n: number, model = 'm') {
  const src = join(base, `src-${model}-${n}`);
  await mkdir(src, { recursive: true });
  for (const [path, bytes] of Object.entries(content(n))) await writeFile(join(src, path), bytes);
  return (await dir.registry.push(src, { model })).version;
}

const open_ = () =>
  openRegistryDirectory(join(base, 'registry'), {
    create: true,
    defaultActor: 'alice',
    packTargetSize: 16 * 1024,
    chunking: { minSize: 1024, avgSize: 4096, maxSize: 16 * 1024 },
  });

/** Damage is found by the next process: close the registry, damage it, open it again. */
async function damageAtRest(damage: () => Promise<unknown>) {
  await dir.close();
  await damage();
  dir = await open_();
}

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'mv-reliability-corruption-'));
  dir = await open_();
  for (const n of [1, 2, 3]) await push(n);
});
afterEach(async () => {
  await dir.close();
  await rm(base, { recursive: true, force: true });
});

/** Where m@2's weights file lives: its sha256, chunks and the packs holding them. */
async function weights2() {
  const manifest = await dir.registry.getManifest('m@2');
  const file = manifest.files.find((f) => f.path === 'weights-2.bin')!;
  const record = (await dir.store.index.getFile(file.sha256 as Sha256Hex))!;
  const chunkIds = chunkIdsToHex(record.chunkIds);
  const locations = await dir.store.index.locate(chunkIds);
  const loc = locations.get(chunkIds[1]!)!;
  const packPath = join(
    base,
    'registry',
    'objects',
    ...packKey(loc.packId as Sha256Hex).split('/'),
  );
  const chunksInPack = chunkIds.filter((id) => locations.get(id)!.packId === loc.packId);
  return { file, manifest, chunk: loc, packPath, chunksInPack };
}

/** The problems as `kind id` lines, sorted. */
const named = (r: FsckResult) => r.problems.map((p) => `${p.kind} ${p.id}`).sort();

async function expectPullsIdentical(versions: number[]) {
  for (const n of versions) {
    const dest = join(base, `pull-${n}-${Math.random()}`);
    await dir.registry.pull(`m@${n}`, dest);
    for (const [path, bytes] of Object.entries(content(n))) {
      expect(sha(await readFile(join(dest, path))), `m@${n} ${path}`).toBe(sha(bytes));
    }
  }
}

async function expectPullFails(n: number, path: string, code: string) {
  const err = await dir.registry.pull(`m@${n}`, join(base, `failed-${Math.random()}`)).then(
    () => undefined,
    (e: unknown) => e as { code: string; message: string },
  );
  expect(err, `pull of m@${n} should fail`).toBeDefined();
  expect(err!.code).toBe(code);
  expect(err!.message).toContain(`'${path}'`);
}

describe('damaged packs', () => {
  it('a flipped byte: m@2 fails naming its file and chunk, the others pull, fsck names the chunk, a push heals it', async () => {
    const w = await weights2();
    await damageAtRest(async () => {
      const fh = await open(w.packPath, 'r+');
      const byte = Buffer.alloc(1);
      await fh.read(byte, 0, 1, w.chunk.offset + 5);
      await fh.write(Buffer.from([byte[0]! ^ 0xff]), 0, 1, w.chunk.offset + 5);
      await fh.close();
    });

    await expectPullFails(2, 'weights-2.bin', 'CORRUPT');
    await expectPullsIdentical([1, 3]);
    const fsck = await dir.registry.fsck();
    expect(named(fsck)).toEqual(
      [
        `chunk-damaged ${w.chunk.id}`,
        `file-damaged ${w.file.sha256}`,
        `manifest-damaged ${w.manifest.digest}`,
      ].sort(),
    );
    expect(fsck.damagedVersions).toEqual(['m@2']);

    // The lost bytes are in no pack: repair drops the chunk from the index and still
    // reports m@2; pushing the same files again stores the chunk again and heals it. The
    // damaged copy stays in its pack (repair never deletes a pack), unused.
    const repaired = await dir.registry.repair();
    expect(repaired.chunksRemoved).toBe(1);
    expect(repaired.after.damagedVersions).toEqual(['m@2']);
    await push(2, 'copy');
    const healed = await dir.registry.fsck();
    expect(named(healed)).toEqual([`chunk-damaged ${w.chunk.id}`]);
    expect(healed.damagedVersions).toEqual([]);
    await expectPullsIdentical([1, 2, 3]);
  });

  for (const damage of ['truncated', 'deleted'] as const) {
    it(`a ${damage} pack: m@2 fails naming its file, the others pull, fsck names the pack, a push heals it`, async () => {
      const w = await weights2();
      const packId = w.chunk.packId;
      await damageAtRest(() =>
        damage === 'truncated' ? truncate(w.packPath, 100) : rm(w.packPath),
      );

      await expectPullFails(2, 'weights-2.bin', 'CORRUPT');
      await expectPullsIdentical([1, 3]);
      const fsck = await dir.registry.fsck();
      expect(named(fsck)).toEqual(
        [
          `${damage === 'truncated' ? 'pack-unreadable' : 'pack-missing'} ${packId}`,
          `file-damaged ${w.file.sha256}`,
          `manifest-damaged ${w.manifest.digest}`,
        ].sort(),
      );
      expect(fsck.damagedVersions).toEqual(['m@2']);

      const repaired = await dir.registry.repair();
      expect(repaired.chunksRemoved).toBe(w.chunksInPack.length);
      expect(repaired.after.damagedVersions).toEqual(['m@2']);
      // The same chunks make the same pack (pack ids are content hashes): the push
      // writes the damaged pack anew.
      await push(2, 'copy');
      expect((await dir.registry.fsck()).problems).toEqual([]);
      await expectPullsIdentical([1, 2, 3]);
    });
  }
});

describe('damaged database rows', () => {
  it('lost chunk index rows: fsck names the missing chunk, repair restores them from the pack', async () => {
    const w = await weights2();
    await sql`delete from chunks where pack_id = (select pack_id from chunks where id = ${Buffer.from(w.chunk.id, 'hex')})`.execute(
      dir.store.index.storageDb.db,
    );
    await expectPullFails(2, 'weights-2.bin', 'CORRUPT');
    await expectPullsIdentical([1, 3]);
    const fsck = await dir.registry.fsck();
    expect(named(fsck)).toEqual(
      [
        `chunk-missing ${w.chunksInPack[0]}`,
        `file-damaged ${w.file.sha256}`,
        `manifest-damaged ${w.manifest.digest}`,
      ].sort(),
    );
    expect(fsck.damagedVersions).toEqual(['m@2']);

    const repaired = await dir.registry.repair();
    expect(repaired.chunksAdded).toBe(w.chunksInPack.length);
    expect(repaired.after.problems).toEqual([]);
    await expectPullsIdentical([1, 2, 3]);
  });

  it('an index row pointing at the wrong offset: fsck names it, repair repoints it', async () => {
    const w = await weights2();
    await sql`update chunks set "offset" = "offset" + 1 where id = ${Buffer.from(w.chunk.id, 'hex')}`.execute(
      dir.store.index.storageDb.db,
    );
    await expectPullFails(2, 'weights-2.bin', 'CORRUPT');
    await expectPullsIdentical([1, 3]);
    const fsck = await dir.registry.fsck();
    expect(named(fsck)).toEqual(
      [
        `index-mismatch ${w.chunk.id}`,
        `file-damaged ${w.file.sha256}`,
        `manifest-damaged ${w.manifest.digest}`,
      ].sort(),
    );
    const repaired = await dir.registry.repair();
    expect(repaired.chunksRepointed).toBe(1);
    expect(repaired.after.problems).toEqual([]);
    await expectPullsIdentical([1, 2, 3]);
  });

  it('a version row pointing at a manifest that does not exist: fsck names the version', async () => {
    const bogus = 'f'.repeat(64);
    await sql`update model_versions set manifest_digest = ${bogus} where version = 2`.execute(
      dir.store.index.storageDb.db,
    );
    await expect(dir.registry.pull('m@2', join(base, 'out'))).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringContaining(bogus),
    });
    await expectPullsIdentical([1, 3]);
    const fsck = await dir.registry.fsck();
    expect(named(fsck)).toEqual(['version-content-missing m@2']);
    expect(fsck.damagedVersions).toEqual(['m@2']);
    // No pack holds what the row lost: repair changes nothing and says so.
    expect((await dir.registry.repair()).after.damagedVersions).toEqual(['m@2']);
  });
});

import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pseudoRandomBytes, writeSafetensors } from '../../test/fixtures/model-files.js';
import { clockTick } from '../../test/support/clock-tick.js';
import { flipByte } from '../../test/support/flip-byte.js';
import { fakeClock } from '../../test/support/temp-registry.js';
import { openRegistryDirectory, type RegistryDirectory } from './registry-directory.js';
import { DELETED_RETENTION_MS } from './retention.js';

/** A model directory: a safetensors file whose tensor `changed` is seeded by `seed`. */
async function writeModel(dir: string, seed: number, readme?: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const tensors = ['embed', 'layer0', 'layer1', 'head'].map((name, i) => ({
    name,
    dtype: 'F32',
    shape: [64 * 1024],
    data: pseudoRandomBytes(name === 'layer1' ? seed : 1000 + i, 256 * 1024),
  }));
  await writeFile(join(dir, 'model.safetensors'), writeSafetensors(tensors));
  await writeFile(join(dir, 'config.json'), '{"layers":2}');
  if (readme !== undefined) await writeFile(join(dir, 'README.md'), readme);
}

async function listFiles(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

let tmp: string;
let rd: RegistryDirectory;
const clock = fakeClock(Date.now());

beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'mv-regdir-'));
  clock.set(Date.now());
  rd = await openRegistryDirectory(join(tmp, '.modelvault'), {
    create: true,
    clock,
    defaultActor: 'alice',
    packTargetSize: 256 * 1024,
  });
});
afterEach(async () => {
  await rd.close();
  await rm(tmp, { recursive: true, force: true });
});

describe('push and pull', () => {
  it('pushes a directory as a version, deduplicating against earlier versions', async () => {
    const src = join(tmp, 'model');
    await writeModel(src, 1, '# Fraud detector\n\nGradient-boosted.\n');
    const one = await rd.registry.push(src, {
      model: 'fraud',
      metrics: { auc: 0.9 },
      params: { lr: '3e-4' },
      tags: { team: 'risk' },
      description: 'first',
    });
    expect(one.version).toMatchObject({
      model: 'fraud',
      version: 1,
      fileCount: 3,
      modelCard: '# Fraud detector\n\nGradient-boosted.\n',
      metrics: { auc: 0.9 },
      params: { lr: '3e-4' },
      tags: { team: 'risk' },
      description: 'first',
      createdBy: 'alice',
      lineage: { code: null },
    });
    expect(one.stats.newBytes).toBe(one.stats.bytes);
    expect(one.version.size).toBe(one.stats.bytes);

    await writeModel(src, 2, '# Fraud detector\n\nGradient-boosted.\n');
    const two = await rd.registry.push(src, {
      model: 'fraud',
      metrics: { auc: 0.93 },
      lineage: { parents: ['fraud@1'] },
    });
    expect(two.version.version).toBe(2);
    expect(two.version.lineage.parents).toEqual([{ model: 'fraud', version: 1 }]);
    // One tensor of four changed: about a quarter of the bytes are new.
    expect(two.stats.newBytes).toBeLessThan(two.stats.bytes / 2);
    expect(two.stats.newBytes).toBeGreaterThanOrEqual(256 * 1024);

    const diff = await rd.registry.diffVersions('fraud@1', 'fraud@2');
    expect(diff.metrics).toEqual([{ key: 'auc', a: 0.9, b: 0.93, delta: 0.93 - 0.9 }]);
    expect(diff.files?.added).toEqual([]);
    expect(diff.files?.removed).toEqual([]);
    expect(diff.files?.unchanged).toBe(2);
    const tensorsSize = (await stat(join(src, 'model.safetensors'))).size;
    expect(diff.files?.changed.map((c) => [c.path, c.a.size, c.b.size])).toEqual([
      ['model.safetensors', tensorsSize, tensorsSize],
    ]);
    expect(diff.files?.changed[0]?.a.sha256).not.toBe(diff.files?.changed[0]?.b.sha256);

    const out = join(tmp, 'out');
    const pulled = await rd.registry.pull('fraud@1', out);
    expect(pulled).toMatchObject({ files: 3, bytes: one.version.size });
    expect(await listFiles(out)).toEqual(['README.md', 'config.json', 'model.safetensors']);
    await writeModel(join(tmp, 'expected'), 1, '# Fraud detector\n\nGradient-boosted.\n');
    for (const f of await listFiles(out)) {
      expect((await readFile(join(out, f))).equals(await readFile(join(tmp, 'expected', f)))).toBe(
        true,
      );
    }
    await expect(rd.registry.pull('fraud@2', out)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });

  it('reports progress with growing byte counts up to the total', async () => {
    const src = join(tmp, 'model');
    await writeModel(src, 1);
    const seen: number[] = [];
    const { version } = await rd.registry.push(src, {
      model: 'm',
      onProgress: (p) => seen.push(p.bytesDone),
    });
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.at(-1)).toBe(version.size);
    const pulledSeen: number[] = [];
    await rd.registry.pull('m', join(tmp, 'out'), {
      onProgress: (p) => pulledSeen.push(p.bytesDone),
    });
    expect(pulledSeen.at(-1)).toBe(version.size);
    expect([...pulledSeen].sort((a, b) => a - b)).toEqual(pulledSeen);
  });

  it('checks names, keys and parents before ingesting anything', async () => {
    const src = join(tmp, 'model');
    await writeModel(src, 1);
    await expect(
      rd.registry.push(src, { model: 'm', metrics: { 'bad!key': 1 } }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(rd.registry.push(src, { model: 'bad name' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(
      rd.registry.push(src, { model: 'm', lineage: { parents: ['other@1'] } }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND', message: "model 'other' not found" });
    await expect(
      rd.registry.push(src, { model: 'm', createModelIfMissing: false }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const check = await rd.registry.fsck();
    expect(check).toMatchObject({ ok: true, files: 0, manifests: 0, chunks: 0 });
  });

  it('keeps no model card for a README that is not UTF-8 text', async () => {
    const src = join(tmp, 'model');
    await writeModel(src, 1);
    await writeFile(join(src, 'README.md'), Buffer.from([0xff, 0xfe, 0x00, 0x41]));
    const { version } = await rd.registry.push(src, { model: 'm' });
    expect(version.fileCount).toBe(3);
    expect(version.modelCard).toBeNull();
  });
});

describe('code lineage from git', () => {
  const git = (cwd: string, ...args: string[]) =>
    execFileSync('git', args, {
      cwd,
      encoding: 'utf8',
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 't',
        GIT_AUTHOR_EMAIL: 't@example.com',
        GIT_COMMITTER_NAME: 't',
        GIT_COMMITTER_EMAIL: 't@example.com',
      },
    }).trim();

  it('records remote (without credentials), HEAD and the dirty flag of the work tree', async () => {
    const repo = join(tmp, 'repo');
    await mkdir(repo);
    git(repo, 'init', '-q');
    git(repo, 'remote', 'add', 'origin', 'https://bob:s3cret@git.example.com/ml/fraud.git');
    await writeFile(join(repo, 'train.py'), 'print(1)\n');
    git(repo, 'add', 'train.py');
    git(repo, 'commit', '-q', '-m', 'train');
    const head = git(repo, 'rev-parse', 'HEAD');
    await writeModel(join(repo, 'out'), 1);

    const clean = await rd.registry.push(join(repo, 'out'), { model: 'm' });
    expect(clean.version.lineage.code).toEqual({
      gitRemote: 'https://git.example.com/ml/fraud.git',
      gitCommit: head,
      gitDirty: false,
    });
    await writeFile(join(repo, 'train.py'), 'print(2)\n');
    const dirty = await rd.registry.push(join(repo, 'out', 'config.json'), { model: 'm' });
    expect(dirty.version.lineage.code).toEqual({ ...clean.version.lineage.code, gitDirty: true });

    const given = await rd.registry.push(join(repo, 'out'), {
      model: 'm',
      lineage: { code: { gitCommit: 'abc' } },
    });
    expect(given.version.lineage.code).toEqual({
      gitRemote: null,
      gitCommit: 'abc',
      gitDirty: null,
    });
  });
});

describe('retention, gc and fsck', () => {
  it('refuses a version whose manifest a GC collected before it committed, leaving nothing', async () => {
    const src = join(tmp, 'raced');
    await writeModel(src, 3);
    const { manifest } = await rd.store.ingestTree(src);
    // Another connection installs what a racing GC would do: delete the manifest just as
    // the version row goes in (same transaction, so the refusal rolls it back too).
    const other = new Database(join(tmp, '.modelvault', 'metadata.db'));
    other.exec(`CREATE TRIGGER collect_on_insert AFTER INSERT ON model_versions BEGIN
      DELETE FROM manifest_files WHERE manifest_digest = NEW.manifest_digest;
      DELETE FROM manifests WHERE digest = NEW.manifest_digest;
    END`);
    try {
      const input = {
        model: 'raced',
        manifest: {
          digest: manifest.digest,
          size: manifest.totalSize,
          fileCount: manifest.entries.length,
        },
        createModelIfMissing: true,
      };
      const refused = { code: 'CONFLICT', details: { digest: manifest.digest, collected: true } };
      await expect(rd.registry.createVersion(input)).rejects.toMatchObject(refused);
      // A push ingests again and retries; the trigger collects every time, so it gives up.
      await expect(rd.registry.push(src, { model: 'raced' })).rejects.toMatchObject(refused);
    } finally {
      other.exec('DROP TRIGGER collect_on_insert');
      other.close();
    }
    // Nothing half-made: no model, no version; the manifest is still stored.
    await expect(rd.registry.getModel('raced')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await rd.store.getManifest(manifest.digest)).digest).toBe(manifest.digest);
    const { version } = await rd.registry.push(src, { model: 'raced' });
    expect(version.version).toBe(1);
  });

  it('refuses a version whose manifest a GC collected before the version was even asked for', async () => {
    // The other interleaving (seen on replicas under load): an upload commits its manifest,
    // a GC with no grace period collects it at once (no version refers to it yet), and only
    // then does the upload create the version. Found nothing to scan, the version must
    // still be refused, not committed over a manifest that is gone.
    const src = join(tmp, 'early');
    await writeModel(src, 2);
    const { manifest } = await rd.store.ingestTree(src);
    await clockTick();
    const gc = await rd.registry.gc({ graceMs: 0 });
    expect(gc.manifestsDeleted).toBe(1);
    await expect(rd.store.getManifest(manifest.digest)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    const input = {
      model: 'early',
      manifest: { digest: manifest.digest, size: manifest.totalSize, fileCount: 2 },
      createModelIfMissing: true,
    };
    // Not in the store: refused (the upload service reads this as "collected", having
    // just stored the manifest, and the SDK pushes again; upload-service.test.ts).
    await expect(rd.registry.createVersion(input)).rejects.toMatchObject({
      code: 'NOT_FOUND',
      details: { manifest: manifest.digest },
    });
    await expect(rd.registry.getModel('early')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // A push ingests again (re-storing what was swept) and gets its version.
    const { version } = await rd.registry.push(src, { model: 'early' });
    expect(version.digest.replace(/^sha256:/, '')).toBe(manifest.digest);
    expect((await rd.store.getManifest(manifest.digest)).entries).toHaveLength(2);
  });

  it('keeps a deleted version restorable for the retention period, then collects it', async () => {
    const src = join(tmp, 'model');
    await writeModel(src, 1);
    await rd.registry.push(src, { model: 'm' });
    await writeModel(src, 2);
    await rd.registry.push(src, { model: 'm' });
    await rd.registry.deleteVersion('m@1');

    const kept = await rd.registry.gc({ graceMs: 0 });
    expect(kept).toMatchObject({ liveManifests: 2, manifestsDeleted: 0, packsDeleted: 0 });
    await rd.registry.restoreVersion('m@1');
    await rd.registry.deleteVersion('m@1');

    clock.set(Date.now() + DELETED_RETENTION_MS + 1000);
    await expect(rd.registry.restoreVersion('m@1')).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining('more than 30 days ago'),
    });
    const dry = await rd.registry.gc({ graceMs: 0, dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, liveManifests: 1, manifestsDeleted: 1 });
    const collected = await rd.registry.gc({ graceMs: 0 });
    expect(collected).toMatchObject({ liveManifests: 1, manifestsDeleted: 1, filesDeleted: 1 });
    expect(collected.bytesFreed).toBeGreaterThan(0);

    await rd.registry.pull('m@2', join(tmp, 'out'));
    expect(await rd.registry.fsck()).toMatchObject({ ok: true, versions: 1, manifests: 1 });
    // The row stays, for history.
    expect((await rd.registry.getVersion('m@1', { includeDeleted: true })).deletedAt).not.toBe(
      null,
    );
  });

  it('fsck names the damaged chunk and the versions it affects; repair keeps reporting it', async () => {
    const src = join(tmp, 'model');
    await writeModel(src, 1);
    await rd.registry.push(src, { model: 'm' });
    await rd.registry.push(src, { model: 'copy' });
    expect((await rd.registry.fsck()).ok).toBe(true);

    const packsDir = join(rd.root, 'objects', 'packs');
    const [pack] = (await readdir(packsDir, { recursive: true })).filter((p) =>
      p.endsWith('.pack'),
    );
    await flipByte(join(packsDir, pack!), 20);

    const report = await rd.registry.fsck();
    expect(report.ok).toBe(false);
    expect(report.problems.some((p) => p.kind === 'chunk-damaged')).toBe(true);
    expect(report.damagedVersions).toEqual(['copy@1', 'm@1']);
    const repaired = await rd.registry.repair();
    expect(repaired.after.ok).toBe(false);
    expect(repaired.after.damagedVersions).toEqual(['copy@1', 'm@1']);
    await expect(rd.registry.pull('m@1', join(tmp, 'out'))).rejects.toMatchObject({
      code: 'CORRUPT',
    });
  });
});

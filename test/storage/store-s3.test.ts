/**
 * The storage engine, unchanged, over S3: packs in a bucket of a real S3 server, the index
 * in the store directory's SQLite. Ingest, dedup, ranged and whole reads, materialize, GC
 * and fsck, checked from outside through the bucket itself.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Sha256Hex } from '../../src/core/digest.js';
import { IoError } from '../../src/core/errors.js';
import { openStoreDirectory, type StoreDirectory } from '../../src/registry/store-directory.js';
import { FaultyBackend } from '../../src/storage/backends/faulty-backend.js';
import { LimitedBackend } from '../../src/storage/backends/limited-backend.js';
import { RetryBackend } from '../../src/storage/backends/retry-backend.js';
import { S3Backend } from '../../src/storage/backends/s3/s3-backend.js';
import { collectGarbage } from '../../src/storage/garbage-collector.js';
import { checkStore } from '../../src/storage/store-checker.js';
import { objectsDir } from '../../src/storage/store-layout.js';
import { pseudoRandomBytes, writeSafetensors } from '../fixtures/model-files.js';
import { mvault, mvaultOk } from '../support/cli.js';
import { describeWithS3 } from '../support/s3-server.js';

const KiB = 1024;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function collect(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const p of it) parts.push(p);
  return Buffer.concat(parts);
}

/** A safetensors model of four 256 KiB tensors; `seed` changes the last one only. */
function model(seed: number): Uint8Array {
  return writeSafetensors(
    ['embed', 'layer.0', 'layer.1', 'head'].map((name, i) => ({
      name,
      dtype: 'F32',
      shape: [64 * KiB],
      data: pseudoRandomBytes(i === 3 ? seed : 100 + i, 256 * KiB),
    })),
    { format: 'pt' },
  );
}

describeWithS3('Store over S3', (server) => {
  let dir: string;
  let s3: S3Backend;
  let sd: StoreDirectory;
  const gets = { n: 0 };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mv-store-s3-'));
    s3 = new S3Backend({
      bucket: server().bucket,
      prefix: server().uniquePrefix(),
      endpoint: server().endpoint,
      region: server().region,
      credentials: server().credentials,
    });
    gets.n = 0;
    s3.client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'GetObjectCommand') gets.n++;
        return next(args);
      },
      { step: 'initialize' },
    );
    sd = await openStoreDirectory(join(dir, 'store'), {
      create: true,
      packTargetSize: 256 * KiB,
      backend: new RetryBackend(new LimitedBackend(s3, 8)),
    });
  });
  afterEach(async () => {
    await sd.close();
    await server().emptyPrefix(s3.keyPrefix);
    await rm(dir, { recursive: true, force: true });
  });

  /** Pack keys in the bucket, as S3 lists them (backend-relative). */
  async function packsInBucket(): Promise<string[]> {
    const out = await server().client.send(
      new ListObjectsV2Command({ Bucket: server().bucket, Prefix: `${s3.keyPrefix}packs/` }),
    );
    return (out.Contents ?? []).map((o) => o.Key!.slice(s3.keyPrefix.length)).sort();
  }

  it('ingests a safetensors file and a tree, reads ranges with one GET per run, materializes', async () => {
    const src = join(dir, 'model');
    await mkdir(join(src, 'tokenizer'), { recursive: true });
    const weights = model(1);
    const files: Record<string, Uint8Array> = {
      'model.safetensors': weights,
      'config.json': Buffer.from('{"hidden": 64}'),
      'tokenizer/vocab.txt': pseudoRandomBytes(9, 300 * KiB),
      'empty.txt': new Uint8Array(0),
    };
    for (const [p, b] of Object.entries(files)) await writeFile(join(src, p), b);

    const single = await sd.store.ingestFile(join(src, 'model.safetensors'));
    expect(single.sha256).toBe(sha(weights));
    expect(single.format).toBe('safetensors');
    const alone = await sd.store.commitManifest([
      { path: 'model.safetensors', size: single.size, sha256: single.sha256 },
    ]);
    const { manifest, stats } = await sd.store.ingestTree(src);
    expect(stats.newBytes).toBe(stats.bytes - weights.length); // the weights were stored already
    for (const e of manifest.entries) expect(e.sha256).toBe(sha(files[e.path]!));

    // Packs are in the bucket, under the prefix, and not on the local disk.
    const packs = await packsInBucket();
    expect(packs.length).toBeGreaterThan(3);
    expect(packs.every((k) => /^packs\/[0-9a-f]{2}\/[0-9a-f]{64}\.pack$/.test(k))).toBe(true);
    await expect(stat(objectsDir(join(dir, 'store')))).rejects.toMatchObject({ code: 'ENOENT' });

    // A range inside one tensor, several chunks long, contiguous in one pack: one GET.
    gets.n = 0;
    const offset = weights.length - 200 * KiB;
    const range = await collect(sd.store.readFile(single.sha256, { offset, length: 150 * KiB }));
    expect(range.equals(Buffer.from(weights.subarray(offset, offset + 150 * KiB)))).toBe(true);
    expect(gets.n).toBe(1);

    gets.n = 0;
    expect((await collect(sd.store.readFile(single.sha256))).equals(Buffer.from(weights))).toBe(
      true,
    );
    expect(gets.n).toBeGreaterThan(1);
    expect(gets.n).toBeLessThanOrEqual(packs.length);

    const out = join(dir, 'out');
    await sd.store.materialize(manifest.digest, out);
    for (const [p, b] of Object.entries(files)) {
      expect((await readFile(join(out, p))).equals(Buffer.from(b))).toBe(true);
    }
    expect((await sd.store.getManifest(alone.digest)).entries).toHaveLength(1);
  });

  it('uploads two packs at once; a failed upload fails the ingest, leaves no temp file, and a retry stores everything', async () => {
    const faulty = new FaultyBackend(new LimitedBackend(s3, 8));
    const other = await openStoreDirectory(join(dir, 'faulty-store'), {
      create: true,
      packTargetSize: 256 * KiB,
      backend: faulty,
    });
    try {
      expect(other.store.packUploads).toBe(2);
      const path = join(dir, 'big.bin');
      const bytes = pseudoRandomBytes(7, 3 * 1024 * KiB); // ~12 packs
      await writeFile(path, bytes);
      const fault = faulty.inject({
        ops: 'putFile',
        after: 3,
        times: 1,
        error: new IoError('upload refused (injected)'),
      });
      await expect(other.store.ingestFile(path)).rejects.toThrow(/injected/);
      expect(fault.failures).toBe(1);
      expect(await readdir(other.store.tmpDir).catch(() => [])).toEqual([]);
      expect(await other.store.index.getFile(sha(bytes) as Sha256Hex)).toBeUndefined();

      const again = await other.store.ingestFile(path);
      expect(again.sha256).toBe(sha(bytes));
      expect((await collect(other.store.readFile(again.sha256))).equals(Buffer.from(bytes))).toBe(
        true,
      );
      expect((await checkStore(other.store)).problems).toEqual([]);
    } finally {
      await other.close();
    }
  });

  it('dedups a second version, collects garbage in the bucket and passes fsck', async () => {
    const v1 = join(dir, 'v1.safetensors');
    const v2 = join(dir, 'v2.safetensors');
    await writeFile(v1, model(1));
    await writeFile(v2, model(2));
    const f1 = await sd.store.ingestFile(v1);
    const f2 = await sd.store.ingestFile(v2);
    // Only the changed tensor (and the chunk around the header) is new.
    expect(f2.stats.newBytes).toBeLessThan(f2.size / 2);
    const m1 = await sd.store.commitManifest([
      { path: 'w.safetensors', size: f1.size, sha256: f1.sha256 },
    ]);
    const m2 = await sd.store.commitManifest([
      { path: 'w.safetensors', size: f2.size, sha256: f2.sha256 },
    ]);

    const before = await checkStore(sd.store);
    expect(before.problems).toEqual([]);
    expect(before.packs).toBe((await packsInBucket()).length);

    // Only v2 is live: v1's own tensor goes, from the index and from the bucket.
    const report = await collectGarbage(sd.store, { liveManifests: [m2.digest], graceMs: 0 });
    expect(report.manifestsDeleted).toBe(1);
    expect(report.packsDeleted + report.packsRepacked).toBeGreaterThan(0);
    expect(report.bytesFreed).toBeGreaterThan(0);
    const after = await checkStore(sd.store);
    expect(after.problems).toEqual([]);
    expect(after.packs).toBe((await packsInBucket()).length);
    await expect(sd.store.getManifest(m1.digest)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const out = join(dir, 'out');
    await sd.store.materialize(m2.digest, out);
    expect(sha(await readFile(join(out, 'w.safetensors')))).toBe(f2.sha256);

    // fsck sees what happens in the bucket: a pack deleted behind the store's back.
    const victim = (await packsInBucket())[0]!;
    await server().client.send(
      new DeleteObjectCommand({ Bucket: server().bucket, Key: s3.keyPrefix + victim }),
    );
    const damaged = await checkStore(sd.store);
    expect(damaged.problems.map((p) => p.kind)).toContain('pack-missing');
    expect(damaged.damagedFiles).toContain(f2.sha256 as Sha256Hex);
  });

  it("the CLI keeps a registry's packs in S3 (recorded at init) and its metadata local", async () => {
    const prefix = server().uniquePrefix();
    const url = `s3://${server().bucket}/${prefix}`;
    const env = {
      AWS_ACCESS_KEY_ID: server().credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: server().credentials.secretAccessKey,
      MODELVAULT_S3_ENDPOINT: undefined,
      AWS_ENDPOINT_URL: undefined,
      AWS_ENDPOINT_URL_S3: undefined,
    };
    const cwd = dir;
    try {
      await mkdir(join(dir, 'model'));
      await writeFile(join(dir, 'model', 'model.safetensors'), model(3));
      await writeFile(join(dir, 'model', 'config.json'), '{"layers": 2}');
      const endpoint = server().endpoint;
      const reg = ['--registry', join(dir, 'reg')];
      // Bad input is refused before anything is created.
      const bad = await mvault([...reg, 'init', '--blobs', 's3://Bad_Bucket/x'], { cwd, env });
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/invalid s3 bucket name/);
      const noBucket = await mvault(
        [...reg, 'init', '--blobs', 's3://mv-absent-bucket', '--s3-endpoint', endpoint],
        { cwd, env },
      );
      expect(noBucket.stderr).toMatch(/bucket 'mv-absent-bucket' does not exist/);
      expect(noBucket.code).toBe(3);

      await mvaultOk([...reg, 'init', '--blobs', url, '--s3-endpoint', endpoint], { cwd, env });
      const config = JSON.parse(await readFile(join(dir, 'reg', 'modelvault.json'), 'utf8'));
      expect(config.blobs).toEqual({ url, endpoint });
      await mvaultOk([...reg, 'push', 'm', './model', '--json'], { cwd, env });
      await mvaultOk([...reg, 'pull', 'm@1', './out'], { cwd, env });
      expect(
        (await readFile(join(dir, 'out', 'model.safetensors'))).equals(Buffer.from(model(3))),
      ).toBe(true);
      const packs = await server().client.send(
        new ListObjectsV2Command({ Bucket: server().bucket, Prefix: `${prefix}/packs/` }),
      );
      expect(packs.KeyCount).toBeGreaterThan(0);
      await expect(stat(join(dir, 'reg', 'objects'))).rejects.toMatchObject({ code: 'ENOENT' });
      const fsck = (await mvaultOk([...reg, 'fsck', '--json'], { cwd, env })).json();
      expect(fsck).toMatchObject({ ok: true, packs: packs.KeyCount });
      // Without credentials the store cannot be opened: a clear error, not a crash.
      const denied = await mvault([...reg, 'pull', 'm@1', './out2'], {
        cwd,
        env: { ...env, AWS_SECRET_ACCESS_KEY: 'wrong' },
      });
      expect(denied.code).not.toBe(0);
      expect(denied.stderr).toMatch(/denied/);
    } finally {
      await server().emptyPrefix(`${prefix}/`);
    }
  });
});

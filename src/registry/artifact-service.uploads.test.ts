/**
 * MLflow multipart uploads expire (artifact-service.ts, `expireUploads`), on every
 * dialect: an upload that received no part for its time to live is refused, and garbage
 * collection drops it with its parts, freeing bytes nothing else uses; every part
 * received restarts the time to live, so a slow upload that keeps sending completes.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pseudoRandomBytes } from '../../test/fixtures/model-files.js';
import { TEST_DIALECTS } from '../../test/support/dialects.js';
import {
  openTempRegistryDirectory,
  type TempRegistryDirectory,
} from '../../test/support/temp-registry.js';
import { ArtifactService, DEFAULT_UPLOAD_TTL_MS } from './artifact-service.js';
import type { RegistryDirectory } from './registry-directory.js';

async function* once(bytes: Uint8Array) {
  yield bytes;
}

const HOUR = 60 * 60 * 1000;

describe.each(TEST_DIALECTS)('multipart upload expiry on %s', (dialect) => {
  let temp: TempRegistryDirectory;
  let rd: RegistryDirectory;
  let artifacts: ArtifactService;

  beforeEach(async () => {
    temp = await openTempRegistryDirectory(dialect, 'mv-uploads-');
    rd = temp.rd;
    // The registry's clock, which gc's expiry reads too.
    artifacts = new ArtifactService({ store: rd.store, now: temp.clock });
  });
  afterEach(() => temp.cleanup());

  const advance = (ms: number) => temp.clock.set(temp.clock() + ms);

  async function storedBytes(): Promise<number> {
    const rows = await rd.store.index.storageDb.db.selectFrom('chunks').select('length').execute();
    return rows.reduce((s, r) => s + Number(r.length), 0);
  }

  async function partRows(): Promise<string[]> {
    const rows = await rd.store.index.storageDb.db
      .selectFrom('mlflow_artifact_parts' as never)
      .select(['upload_id as u', 'part_number as n'] as never)
      .orderBy('upload_id' as never)
      .orderBy('part_number' as never)
      .execute();
    return (rows as { u: string; n: number }[]).map((r) => `${r.u}#${r.n}`);
  }

  async function readAll(sha256: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of rd.store.readFile(sha256 as never)) chunks.push(Buffer.from(c));
    return Buffer.concat(chunks);
  }

  it('refuses an idle upload after its time to live; gc drops it with its parts and frees their bytes', async () => {
    const abandoned = await artifacts.createUpload('0/r1/artifacts/big.bin', 2);
    await artifacts.putPart(abandoned.uploadId, 1, once(pseudoRandomBytes(11, 200_000)));
    advance(DEFAULT_UPLOAD_TTL_MS - HOUR);
    // A slow upload: each part restarts its time to live.
    const slow = await artifacts.createUpload('0/r2/artifacts/slow.bin', 2);
    const first = pseudoRandomBytes(12, 120_000);
    const second = pseudoRandomBytes(13, 80_000);
    const etag1 = await artifacts.putPart(slow.uploadId, 1, once(first));
    advance(2 * HOUR);

    // The abandoned upload's last part is now older than the time to live.
    const expired = { code: 'NOT_FOUND', message: expect.stringContaining('expire') };
    await expect(
      artifacts.putPart(abandoned.uploadId, 2, once(new Uint8Array(10))),
    ).rejects.toMatchObject(expired);
    await expect(
      artifacts.completeUpload(abandoned.uploadId, '0/r1/artifacts/big.bin', [
        { partNumber: 1, etag: 'x' },
      ]),
    ).rejects.toMatchObject(expired);
    await expect(artifacts.abortUpload(abandoned.uploadId)).rejects.toMatchObject(expired);

    const before = await storedBytes();
    const partsBefore = await partRows();
    expect(partsBefore).toEqual(
      [`${abandoned.uploadId}#1`, `${slow.uploadId}#1`].sort((a, b) => (a < b ? -1 : 1)),
    );
    const dry = await rd.registry.gc({ graceMs: 0, dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, uploadsExpired: 1 });
    expect(await partRows()).toEqual(partsBefore);
    expect(await storedBytes()).toBe(before);

    const gc = await rd.registry.gc({ graceMs: 0 });
    expect(gc).toMatchObject({ dryRun: false, uploadsExpired: 1 });
    expect(await partRows()).toEqual([`${slow.uploadId}#1`]);
    // The abandoned part's 200,000 unique bytes are freed, the slow upload's part is kept.
    expect(before - (await storedBytes())).toBe(200_000);
    expect(await rd.registry.gc({ graceMs: 0 })).toMatchObject({ uploadsExpired: 0 });

    // 23 hours after its first part and 48 after it began, the slow upload completes.
    advance(DEFAULT_UPLOAD_TTL_MS - 3 * HOUR);
    const etag2 = await artifacts.putPart(slow.uploadId, 2, once(second));
    advance(DEFAULT_UPLOAD_TTL_MS - HOUR);
    expect(await rd.registry.gc({ graceMs: 0 })).toMatchObject({ uploadsExpired: 0 });
    const file = await artifacts.completeUpload(slow.uploadId, '0/r2/artifacts/slow.bin', [
      { partNumber: 1, etag: etag1 },
      { partNumber: 2, etag: etag2 },
    ]);
    expect((await readAll(file.sha256)).equals(Buffer.concat([first, second]))).toBe(true);
    expect(await partRows()).toEqual([]);
    expect(await rd.registry.fsck()).toMatchObject({ ok: true });
  });

  it('counts the time to live from creation for an upload that never received a part', async () => {
    const empty = await artifacts.createUpload('0/r3/artifacts/never.bin', 1);
    advance(DEFAULT_UPLOAD_TTL_MS - 60_000);
    // Not yet: the rule is "idle longer than the time to live".
    expect(await rd.registry.gc({ graceMs: 0, dryRun: true })).toMatchObject({
      uploadsExpired: 0,
    });
    advance(120_000);
    await expect(
      artifacts.putPart(empty.uploadId, 1, once(new Uint8Array(1))),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await rd.registry.gc({ graceMs: 0 })).toMatchObject({ uploadsExpired: 1 });
  });
});

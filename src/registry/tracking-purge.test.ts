/**
 * Garbage collection purges MLflow runs and experiments deleted longer ago than the
 * retention period (MLflow's `mlflow gc`; tracking-purge.ts), on every dialect: everything
 * of a purged run goes — history, params, tags, inputs, artifacts and their bytes unless
 * something else still uses them — while a version registered from it stays whole, a run
 * deleted more recently or restored keeps everything, a dry run changes nothing, every
 * purge is audited (the chain verifies), and a run restored while gc runs is not purged.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pseudoRandomBytes } from '../../test/fixtures/model-files.js';
import { TEST_DIALECTS } from '../../test/support/dialects.js';
import {
  openTempRegistryDirectory,
  type TempRegistryDirectory,
} from '../../test/support/temp-registry.js';
import { withOverrides } from '../../test/support/with-overrides.js';
import { ArtifactService } from './artifact-service.js';
import { AuditService } from './audit-service.js';
import { FrozenArtifactView } from './frozen-artifact-view.js';
import { MlflowVersionService } from './mlflow-version-service.js';
import type { RegistryContext } from './registry-context.js';
import type { RegistryDirectory } from './registry-directory.js';
import { DELETED_RETENTION_MS } from './retention.js';
import { TrackingPurge } from './tracking-purge.js';
import type { TrackingService } from './tracking-service.js';

async function* once(bytes: Uint8Array) {
  yield bytes;
}

const DAY = 24 * 60 * 60 * 1000;

describe.each(TEST_DIALECTS)('purging deleted runs and experiments on %s', (dialect) => {
  let temp: TempRegistryDirectory;
  let rd: RegistryDirectory;
  let t: TrackingService;
  let artifacts: ArtifactService;

  beforeEach(async () => {
    temp = await openTempRegistryDirectory(dialect, 'mv-purge-');
    rd = temp.rd;
    t = rd.tracking;
    artifacts = new ArtifactService({ store: rd.store });
  });
  afterEach(() => temp.cleanup());

  const db = () => rd.store.index.storageDb.db as unknown as RegistryContext['database']['db'];

  /** Bytes of every chunk the store indexes. */
  async function storedBytes(): Promise<number> {
    const rows = await rd.store.index.storageDb.db.selectFrom('chunks').select('length').execute();
    return rows.reduce((s, r) => s + Number(r.length), 0);
  }

  /** Moves the registry's clock `ms` forward. */
  const advance = (ms: number) => temp.clock.set(temp.clock() + ms);

  /** Everything the tracking tables hold about run `id` (key `runKey`), counted. */
  async function rowsOf(id: string): Promise<Record<string, number>> {
    const run = await db().selectFrom('runs').select('run_key').where('id', '=', id).execute();
    const key = run[0]?.run_key ?? -1;
    const count = async (table: 'run_params' | 'run_tags' | 'run_inputs') =>
      (await db().selectFrom(table).select('run_id').where('run_id', '=', id).execute()).length;
    const byKey = async (
      table: 'run_metric_batches' | 'run_metric_segments' | 'run_latest_metrics',
    ) =>
      (await db().selectFrom(table).select('run_key').where('run_key', '=', key).execute()).length;
    return {
      runs: run.length,
      params: await count('run_params'),
      tags: await count('run_tags'),
      inputs: await count('run_inputs'),
      batches: await byKey('run_metric_batches'),
      segments: await byKey('run_metric_segments'),
      latest: await byKey('run_latest_metrics'),
    };
  }

  /** A run with folded and pending metric history, params, tags and an input. */
  async function runWithHistory(experimentId: string, name: string): Promise<string> {
    const id = (await t.createRun({ experimentId, runName: name })).info.run_id;
    for (let b = 0; b < 5; b++) {
      await t.logBatch(id, {
        metrics: Array.from({ length: 1000 }, (_, i) => ({
          key: `m${i % 10}`,
          value: i * 0.5,
          timestamp: 1000 + b,
          step: b * 100 + Math.floor(i / 10),
        })),
      });
    }
    // Folded into segments at 5,000 points; these stay pending.
    await t.logMetric(id, { key: 'm0', value: 1, timestamp: 2000, step: 1000 });
    await t.logBatch(id, {
      params: [{ key: 'lr', value: '0.1' }],
      tags: [{ key: 'team', value: 'risk' }],
    });
    await t.logInputs(id, [
      {
        tags: [],
        dataset: { name: 'train', digest: 'abc', source_type: 'local', source: '/data' },
      },
    ]);
    return id;
  }

  it('purges a run past retention: its history, artifacts and unique bytes; a version frozen from it stays whole', async () => {
    const exp = await t.createExperiment({ name: 'exp' });
    const doomed = await runWithHistory(exp, 'doomed');
    const keeper = await runWithHistory(exp, 'keeper');
    const root = `${exp}/${doomed}/artifacts`;
    const frozenBytes = pseudoRandomBytes(1, 150_000);
    const uniqueBytes = pseudoRandomBytes(2, 150_000);
    const sharedBytes = pseudoRandomBytes(3, 150_000);
    await artifacts.put(`${root}/model/MLmodel`, once(new TextEncoder().encode('flavors: {}\n')));
    await artifacts.put(`${root}/model/weights.bin`, once(frozenBytes));
    // A version registered from the run freezes its model directory.
    await rd.registry.createModel({ name: 'm' });
    const mlflow = new MlflowVersionService(
      rd.registry,
      rd.store,
      artifacts,
      new FrozenArtifactView(rd.registry, rd.store),
      t,
    );
    await mlflow.createFromSource({ name: 'm', source: `runs:/${doomed}/model`, runId: doomed });
    const version = await rd.registry.getVersion('m@1');
    expect(version.metrics).toMatchObject({ m0: expect.any(Number) });
    // Then the run logs bytes nothing else has, bytes another run has too, and starts a
    // multipart upload it never completes.
    await artifacts.put(`${root}/extra/unique.bin`, once(uniqueBytes));
    await artifacts.put(`${root}/shared.bin`, once(sharedBytes));
    await artifacts.put(`${exp}/${keeper}/artifacts/shared.bin`, once(sharedBytes));
    const upload = await artifacts.createUpload(`${root}/big.bin`, 2);
    await artifacts.putPart(upload.uploadId, 1, once(pseudoRandomBytes(4, 50_000)));
    expect(await rowsOf(doomed)).toMatchObject({ runs: 1, params: 1, inputs: 1, latest: 10 });
    expect((await rowsOf(doomed)).segments).toBeGreaterThan(0);
    expect((await rowsOf(doomed)).batches).toBeGreaterThan(0);

    await t.deleteRun(doomed);
    // Still restorable: a gc now purges nothing.
    expect(await rd.registry.gc({ graceMs: 0 })).toMatchObject({ runsPurged: 0 });
    expect((await t.getRun(doomed)).info.lifecycle_stage).toBe('deleted');

    advance(DELETED_RETENTION_MS + DAY);
    // Deleted only now: kept, and restorable, after the gc.
    const recent = await runWithHistory(exp, 'recent');
    await t.deleteRun(recent);
    const before = await storedBytes();
    const dry = await rd.registry.gc({ graceMs: 0, dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, runsPurged: 1, experimentsPurged: 0 });
    expect((await rowsOf(doomed)).runs).toBe(1);
    expect(await storedBytes()).toBe(before);

    const gc = await rd.registry.gc({ graceMs: 0, actor: 'carol' });
    expect(gc).toMatchObject({ dryRun: false, runsPurged: 1, experimentsPurged: 0 });
    const sweep = await rd.registry.gc({ graceMs: 0 });
    expect(sweep.runsPurged).toBe(0);
    // The unique bytes and the multipart part are freed; shared and frozen bytes stay.
    expect(gc.bytesFreed + sweep.bytesFreed).toBeGreaterThan(0);
    expect(before - (await storedBytes())).toBeGreaterThanOrEqual(150_000);
    expect(before - (await storedBytes())).toBeLessThan(2 * 150_000);

    // Gone, as MLflow answers for a run that never existed.
    await expect(t.getRun(doomed)).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: `Run with id=${doomed} not found`,
    });
    await expect(t.getRunJson(doomed)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await rowsOf(doomed)).toEqual({
      runs: 0,
      params: 0,
      tags: 0,
      inputs: 0,
      batches: 0,
      segments: 0,
      latest: 0,
    });
    expect(await artifacts.stat(root)).toEqual({ kind: 'none' });
    expect(await artifacts.list(exp)).toEqual([{ name: keeper, isDir: true }]);
    await expect(
      artifacts.putPart(upload.uploadId, 2, once(new Uint8Array(1))),
    ).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    // The version: the same, and its files read back byte for byte.
    expect(JSON.stringify(await rd.registry.getVersion('m@1'))).toBe(JSON.stringify(version));
    const manifest = await rd.store.getManifest(version.digest.replace(/^sha256:/, '') as never);
    const weights = manifest.entries.find((e) => e.path === 'weights.bin')!;
    const chunks: Buffer[] = [];
    for await (const c of rd.store.readFile(weights.sha256)) chunks.push(Buffer.from(c));
    expect(Buffer.concat(chunks).equals(Buffer.from(frozenBytes))).toBe(true);
    const shared = await artifacts.getFile(`${exp}/${keeper}/artifacts/shared.bin`);
    const sharedRead: Buffer[] = [];
    for await (const c of rd.store.readFile(shared.sha256)) sharedRead.push(Buffer.from(c));
    expect(Buffer.concat(sharedRead).equals(Buffer.from(sharedBytes))).toBe(true);
    expect(await rd.registry.fsck()).toMatchObject({ ok: true });
    // The other runs keep everything; the recent one can still be restored.
    expect((await rowsOf(keeper)).latest).toBe(10);
    expect((await rowsOf(recent)).segments).toBeGreaterThan(0);
    await t.restoreRun(recent);
    expect((await t.getRun(recent)).data.params).toEqual([{ key: 'lr', value: '0.1' }]);
    // Audited, by the actor gc was given, and the chain verifies.
    const events = (await rd.registry.auditLog({ actions: ['run.purged'] })).items;
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      actor: 'carol',
      subject: `run:${doomed}`,
      data: { experiment_id: exp, run_name: 'doomed', artifact_files: 4 },
    });
    expect((await rd.registry.auditVerify()).ok).toBe(true);
  });

  it('purges an experiment past retention once its runs are; its name is free, its id never given again', async () => {
    const gone = await t.createExperiment({ name: 'gone' });
    const kept = await t.createExperiment({ name: 'kept' });
    const goneRun = await runWithHistory(gone, 'a');
    const keptRun = await runWithHistory(kept, 'b');
    await artifacts.put(`${gone}/${goneRun}/artifacts/x.bin`, once(pseudoRandomBytes(5, 1000)));
    const admin = rd.access.admin('alice');
    await admin.createUser({ name: 'bob', password: 'correct horse battery' });
    await admin.grant({ user: 'bob', kind: 'experiment', resource: gone, level: 'EDIT' });
    await t.deleteExperiment(gone);
    await t.deleteExperiment(kept);
    // A run restored by itself keeps its deleted experiment too.
    const straggler = await t.createExperiment({ name: 'straggler' });
    const stragglerRun = (await t.createRun({ experimentId: straggler })).info.run_id;
    await t.deleteExperiment(straggler);
    await t.restoreRun(stragglerRun);
    advance(DAY);
    await t.restoreExperiment(kept); // restored before the cutoff: keeps everything
    advance(DELETED_RETENTION_MS);

    const dry = await rd.registry.gc({ graceMs: 0, dryRun: true });
    expect(dry).toMatchObject({ runsPurged: 1, experimentsPurged: 1 });
    const gc = await rd.registry.gc({ graceMs: 0 });
    expect(gc).toMatchObject({ runsPurged: 1, experimentsPurged: 1 });

    await expect(t.getExperiment(gone)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(t.getRun(goneRun)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await artifacts.list('')).not.toContainEqual({ name: gone, isDir: true });
    expect((await t.getExperiment(kept)).lifecycle_stage).toBe('active');
    expect((await t.getRun(keptRun)).info.lifecycle_stage).toBe('active');
    expect((await t.getExperiment(straggler)).lifecycle_stage).toBe('deleted');
    expect((await t.getExperiment('0')).lifecycle_stage).toBe('active');
    expect(await admin.listPermissions({ user: 'bob' })).toEqual([]);
    // The name is free again; the purged id (the highest) is not given again.
    const again = await t.createExperiment({ name: 'gone' });
    expect(Number(again)).toBe(Number(straggler) + 1);
    expect(Number(again)).toBeGreaterThan(Number(gone));
    const events = (await rd.registry.auditLog({ actions: ['experiment.purged'] })).items;
    expect(events.map((e) => [e.actor, e.subject, e.data])).toEqual([
      [
        'alice', // the registry's default actor
        `experiment:${gone}`,
        expect.objectContaining({ name: 'gone', permissions_revoked: 1 }),
      ],
    ]);
    expect((await rd.registry.auditVerify()).ok).toBe(true);
  });

  it('never gives a purged experiment id again, when it was the highest', async () => {
    const a = await t.createExperiment({ name: 'a' });
    await t.deleteExperiment(a);
    advance(DELETED_RETENTION_MS + DAY);
    expect(await rd.registry.gc({ graceMs: 0 })).toMatchObject({ experimentsPurged: 1 });
    const b = await t.createExperiment({ name: 'a' });
    expect(Number(b)).toBe(Number(a) + 1);
  });

  it('deletes exactly the tree at a path: not its siblings that share its prefix', async () => {
    const put = (path: string) => artifacts.put(path, once(new TextEncoder().encode(path)));
    const inside = ['e/r/artifacts/a.bin', 'e/r/artifacts/sub/b.bin', 'e/r/artifacts/sub/c/d.bin'];
    const beside = [
      'e/r/artifacts.bak/x', // '.' sorts before '/'
      'e/r/artifacts-2/x',
      'e/r/artifacts0/x', // '0' sorts right after '/'
      'e/r/artifactsé/x', // beyond ASCII
      'e/r/other.txt',
    ];
    for (const path of [...inside, ...beside]) await put(path);
    const upload = await artifacts.createUpload('e/r/artifacts/big.bin', 1);
    const besideUpload = await artifacts.createUpload('e/r/artifacts0/big.bin', 1);
    const files = await rd.store.index.storageDb.writeTransaction((trx) =>
      artifacts.deleteTree(trx, 'e/r/artifacts'),
    );
    expect(files).toBe(inside.length);
    for (const path of inside) expect((await artifacts.stat(path)).kind).toBe('none');
    for (const path of beside) expect((await artifacts.stat(path)).kind).toBe('file');
    expect(await artifacts.stat('e/r/artifacts')).toEqual({ kind: 'none' });
    await expect(
      artifacts.putPart(upload.uploadId, 1, once(new Uint8Array(1))),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await artifacts.putPart(besideUpload.uploadId, 1, once(new Uint8Array(1)));
    // A file as the root; the directories left empty above it go.
    expect(
      await rd.store.index.storageDb.writeTransaction((trx) =>
        artifacts.deleteTree(trx, 'e/r/other.txt'),
      ),
    ).toBe(1);
    for (const dir of [
      'e/r/artifacts.bak',
      'e/r/artifacts-2',
      'e/r/artifacts0',
      'e/r/artifactsé',
    ]) {
      await rd.store.index.storageDb.writeTransaction((trx) => artifacts.deleteTree(trx, dir));
    }
    expect(await artifacts.list('')).toEqual([]);
  });

  it('leaves a run that is restored while the purge runs', async () => {
    const exp = await t.createExperiment({ name: 'race' });
    const runs: string[] = [];
    for (let i = 0; i < 3; i++) {
      const id = await runWithHistory(exp, `r${i}`);
      await t.deleteRun(id);
      runs.push(id);
    }
    advance(DELETED_RETENTION_MS + DAY);
    // Between listing a batch and its transaction, another writer restores one run.
    const ctx = (rd.registry as unknown as { context: RegistryContext }).context;
    let raced = false;
    const database = withOverrides(ctx.database, {
      writeTransaction: (async (fn: never, options: never) => {
        if (!raced) {
          raced = true;
          await t.restoreRun(runs[1]!);
        }
        return ctx.database.writeTransaction(fn, options);
      }) as never,
    });
    const purge = new TrackingPurge({ ...ctx, database }, new AuditService(ctx), artifacts, 2);
    const cutoff = temp.clock() - DELETED_RETENTION_MS;
    expect(await purge.purge(cutoff, 'alice')).toEqual({ runs: 2, experiments: 0 });
    expect(raced).toBe(true);
    await expect(t.getRun(runs[0])).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(t.getRun(runs[2])).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await t.getRun(runs[1]!)).info.lifecycle_stage).toBe('active');
    expect((await rowsOf(runs[1]!)).segments).toBeGreaterThan(0);
    // Nothing left to purge; the experiment has a live run, so it is not a candidate.
    expect(await purge.count(cutoff)).toEqual({ runs: 0, experiments: 0 });
    expect((await rd.registry.auditVerify()).ok).toBe(true);
  });
});

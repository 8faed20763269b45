/**
 * A version's creation on PostgreSQL writes its rows in one statement of array parameters
 * (version-create-statement.ts) and its scan with the manifest check in one
 * (ScanService.recordIfStored). These tests hold both to what the statements one by one
 * write: directly against Kysely's multi-row inserts with values an array literal could
 * get wrong, and through createVersion on every dialect against fixed expectations (on
 * SQLite createVersion still runs the statements one by one, so the same expectations
 * compare the two).
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freshDatabase, TEST_DIALECTS } from '../../test/support/dialects.js';
import {
  fakeClock,
  manifest,
  openTempRegistry,
  type TempRegistry,
} from '../../test/support/temp-registry.js';
import type { ModelVersion } from '../core/registry-api.js';
import { openDatabase } from '../metadata/database.js';
import type { RegistryDB } from '../metadata/schema.js';
import { ArtifactService } from './artifact-service.js';
import { FrozenArtifactView } from './frozen-artifact-view.js';
import { MlflowVersionService } from './mlflow-version-service.js';
import { openRegistryDirectory } from './registry-directory.js';
import { insertVersionRows, type VersionRows } from './version-create-statement.js';

/** Texts an array literal must quote or escape, or could read as something else. */
const TEXTS = [
  '',
  'NULL',
  'null',
  '"',
  '\\',
  'a,b',
  '{br}',
  '{}',
  '{NULL}',
  '{"json": [1, 2]}',
  "it's",
  'a"b\\c\\"d',
  ' spaced ',
  '\n\t\r',
  'ünïcode 𝄞 ｚ',
  '\\N',
  'NaN',
  '-0',
  'x'.repeat(3000),
];

/** Doubles at the edges, and what float8 text could turn into another double. */
const DOUBLES = [
  Number.NaN,
  -0,
  0,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  5e-324,
  -5e-324,
  2.2250738585072014e-308,
  1.7976931348623157e308,
  -1.7976931348623157e308,
  0.1 + 0.2,
  1 / 3,
  1e21,
  1e-7,
  2 ** 53 + 2,
  -123456789.123,
];

const SAFE = [0, 1, -1, 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 31, -(2 ** 40)];

/** Equal, with -0 and 0 told apart and NaN equal to NaN (Object.is), at any depth. */
function expectSame(actual: unknown, expected: unknown, where = '$'): void {
  if (typeof expected === 'number') {
    expect(typeof actual, where).toBe('number');
    expect(Object.is(actual, expected), `${where}: ${String(actual)} vs ${String(expected)}`).toBe(
      true,
    );
    return;
  }
  if (expected === null || typeof expected !== 'object') {
    expect(actual, where).toBe(expected);
    return;
  }
  expect(actual !== null && typeof actual === 'object', where).toBe(true);
  const a = actual as Record<string, unknown>;
  const e = expected as Record<string, unknown>;
  // Keys in any order (rows read in SQL order, objects written in input order).
  expect(Object.keys(a).sort(), where).toEqual(Object.keys(e).sort());
  for (const k of Object.keys(e)) expectSame(a[k], e[k], `${where}.${k}`);
}

describe.each(TEST_DIALECTS.filter((d) => d === 'postgres'))('%s: insertVersionRows', (dialect) => {
  let t: TempRegistry;
  beforeEach(async () => {
    t = await openTempRegistry({ dialect });
  });
  afterEach(() => t.cleanup());

  /** The rows of version `number` of model `m` (ids left out but the history's order). */
  async function stored(number: number) {
    const db = t.database.db;
    const v = await db
      .selectFrom('model_versions')
      .selectAll()
      .where('version', '=', number)
      .executeTakeFirstOrThrow();
    const { id, ...row } = v;
    const history = await db
      .selectFrom('version_metrics')
      .select(['id', 'key', 'value', 'step', 'timestamp'])
      .where('version_id', '=', id)
      .orderBy('id')
      .execute();
    const latest = await db
      .selectFrom('version_latest_metrics')
      .select(['key', 'value', 'step', 'timestamp'])
      .where('version_id', '=', id)
      .orderBy('key')
      .execute();
    const keyed = (table: 'version_params' | 'version_tags') =>
      db
        .selectFrom(table)
        .select(['key', 'value'])
        .where('version_id', '=', id)
        .orderBy('key')
        .execute();
    return {
      row,
      history: history.map(({ id: _id, ...r }) => r),
      latest,
      params: await keyed('version_params'),
      tags: await keyed('version_tags'),
    };
  }

  function rowsOf(modelId: number, number: number, n: number, seed: number): VersionRows {
    const text = (i: number) => TEXTS[(i + seed) % TEXTS.length]!;
    const metrics = Array.from({ length: n }, (_, i) => ({
      // Every hostile text as a key, then plain ones.
      key: i < TEXTS.length ? TEXTS[i]! : `k${i}`,
      value: DOUBLES[(i + seed) % DOUBLES.length]!,
      step: SAFE[(i + seed) % SAFE.length]!,
      timestamp: Math.abs(SAFE[(i + 3 * seed) % SAFE.length]!),
    }));
    const pairs = (shift: number) =>
      TEXTS.map((key, i) => [key, text(i + shift)] as [string, string]);
    return {
      model: { id: modelId, nextVersion: number + 1, now: 1_700_000_000_000 + number },
      version: {
        model_id: modelId,
        version: number,
        manifest_digest: 'd'.repeat(64),
        size: 2 ** 53 - 1,
        file_count: 5,
        description: text(1),
        model_card: text(2),
        summary: null,
        created_by: text(3),
        created_at: 1_700_000_000_000 + number,
        updated_at: 1_700_000_000_000 + number,
        status: 'READY',
        status_message: null,
        stage: 'None',
        approval: 'pending',
        approval_reviewer: null,
        approval_comment: null,
        approval_time: null,
        run_id: text(4),
        source: text(5),
        deleted_at: null,
      },
      metrics,
      params: pairs(7),
      tags: pairs(11),
      audit: {
        seq: number + 1,
        time: 1_700_000_000_000 + number,
        actor: text(6),
        action: 'version.created',
        subject: `m@${number}`,
        data: text(8),
        prev_hash: text(9),
        hash: text(10),
      },
    };
  }

  /** The straightforward statements: Kysely's multi-row inserts, one table at a time. */
  async function insertOneByOne(rows: VersionRows): Promise<number> {
    return t.database.writeTransaction(async (trx) => {
      await trx
        .updateTable('registered_models')
        .set({ next_version: rows.model.nextVersion, updated_at: rows.model.now })
        .where('id', '=', rows.model.id)
        .execute();
      const { id } = await trx
        .insertInto('model_versions')
        .values(rows.version as never)
        .returning('id')
        .executeTakeFirstOrThrow();
      const points = rows.metrics.map((m) => ({ version_id: id, ...m }));
      if (points.length > 0) {
        await trx.insertInto('version_metrics').values(points).execute();
        await trx.insertInto('version_latest_metrics').values(points).execute();
      }
      for (const [table, list] of [
        ['version_params', rows.params],
        ['version_tags', rows.tags],
      ] as const) {
        if (list.length === 0) continue;
        await trx
          .insertInto(table)
          .values(list.map(([key, value]) => ({ version_id: id, key, value })))
          .execute();
      }
      await trx.insertInto('audit_events').values(rows.audit).execute();
      return id;
    });
  }

  it('writes what the statements one by one write, value for value', async () => {
    await t.registry.createModel({ name: 'm' });
    const model = () =>
      t.database.db.selectFrom('registered_models').selectAll().executeTakeFirstOrThrow();
    const audit = (seq: number) =>
      t.database.db.selectFrom('audit_events').selectAll().where('seq', '=', seq).execute();
    // Pairs: one statement (odd numbers), the statements one by one (even), same values.
    for (const [n, seed] of [
      [TEXTS.length, 0],
      [DOUBLES.length * SAFE.length + 3, 5],
      [0, 1],
      [250, 2],
    ] as const) {
      const { id: modelId, next_version: number } = await model();
      const one = rowsOf(modelId, number, n, seed);
      const id = await t.database.writeTransaction((trx) => insertVersionRows(trx, one));
      const afterOne = await model();
      const two = rowsOf(modelId, number + 1, n, seed);
      await insertOneByOne(two);
      const afterTwo = await model();
      expect(afterOne).toEqual({
        ...afterTwo,
        next_version: number + 1,
        updated_at: one.model.now,
      });
      expect(typeof id).toBe('number');
      const a = await stored(number);
      const b = await stored(number + 1);
      expectSame(a.history, b.history);
      expectSame(a.latest, b.latest);
      expectSame(a.params, b.params);
      expectSame(a.tags, b.tags);
      expectSame(
        { ...a.row, version: 0, created_at: 0, updated_at: 0 },
        {
          ...b.row,
          version: 0,
          created_at: 0,
          updated_at: 0,
        },
      );
      // And both are the input (the history in its order; -0 is sent as 0 either way).
      expectSame(
        a.history,
        one.metrics.map((m) => ({ ...m, value: m.value || (Number.isNaN(m.value) ? m.value : 0) })),
      );
      expect(a.params.length).toBe(one.params.length);
      expectSame(
        Object.fromEntries(a.tags.map((r) => [r.key, r.value])),
        Object.fromEntries(one.tags),
      );
      const [eventOne] = await audit(one.audit.seq as number);
      const [eventTwo] = await audit(two.audit.seq as number);
      expectSame(eventOne, one.audit);
      expectSame(eventTwo, two.audit);
    }
  });

  it('fails as the statements do, writing nothing', async () => {
    await t.registry.createModel({ name: 'm' });
    // The version number is taken: the unique constraint, as a plain insert reports it.
    await t.registry.createVersion({ model: 'm', manifest: manifest('a') });
    const { id: modelId } = await t.database.db
      .selectFrom('registered_models')
      .select('id')
      .executeTakeFirstOrThrow();
    const taken = rowsOf(modelId, 1, 3, 0);
    const plain = await insertOneByOne(taken).catch((e: Error & { code?: string }) => e);
    const one = await t.database
      .writeTransaction((trx) => insertVersionRows(trx, taken))
      .catch((e: Error & { code?: string }) => e);
    expect(one).toBeInstanceOf(Error);
    expect((one as { code?: string }).code).toBe('23505');
    expect((one as { code?: string }).code).toBe((plain as { code?: string }).code);
    const counts = await sql<{ n: number }>`select
      (select count(*) from version_metrics) + (select count(*) from version_params)
      + (select count(*) from version_tags) + (select count(*) from audit_events) as n`.execute(
      t.database.db,
    );
    // The model's event and version 1's: nothing of the failed ones.
    expect(Number(counts.rows[0]!.n)).toBe(2);
    expect((await t.registry.getModel('m')).latestVersion).toBe(1);
  });
});

describe.each(TEST_DIALECTS)('%s: createVersion', (dialect) => {
  let t: TempRegistry;
  beforeEach(async () => {
    t = await openTempRegistry({ dialect });
  });
  afterEach(() => t.cleanup());

  const metrics: Record<string, number> = {
    z: 0.1 + 0.2,
    tiny: 5e-324,
    neg_tiny: -5e-324,
    big: 1.7976931348623157e308,
    neg_zero: -0,
    '10': 10,
    NaN: -1.5,
    ' spaced ': 1e21,
    NULL: 1e-7,
    'ünï:x/y': 1 / 3,
  };
  const params: Record<string, string> = {
    NULL: 'NULL',
    empty: '',
    'a b': '{"a": [1, 2], "b": "c,d"}',
    q: 'it\'s "quoted" \\ back\\slash',
    u: 'ünïcode 𝄞',
    nl: '\n',
  };
  const tags: Record<string, string> = {
    'k,1': '{NULL}',
    '{"q"}\\': '\\N',
    NULL: ' ',
    ' ': '',
  };

  async function rowsOf(v: ModelVersion) {
    const db = t.database.db;
    const { id } = await db
      .selectFrom('model_versions')
      .innerJoin('registered_models', 'registered_models.id', 'model_versions.model_id')
      .select('model_versions.id')
      .where('registered_models.name', '=', v.model)
      .where('model_versions.version', '=', v.version)
      .executeTakeFirstOrThrow();
    const points = (table: 'version_metrics' | 'version_latest_metrics') =>
      db
        .selectFrom(table)
        .select(['key', 'value', 'step', 'timestamp'])
        .where('version_id', '=', id)
        .orderBy('key')
        .execute();
    const pairs = async (table: 'version_params' | 'version_tags') =>
      Object.fromEntries(
        (
          await db
            .selectFrom(table)
            .select(['key', 'value'])
            .where('version_id', '=', id)
            .orderBy('key')
            .execute()
        ).map((r) => [r.key, r.value]),
      );
    return {
      history: await points('version_metrics'),
      latest: await points('version_latest_metrics'),
      params: await pairs('version_params'),
      tags: await pairs('version_tags'),
    };
  }

  it('stores the version, its rows and its audit event as given', async () => {
    await t.registry.createModel({ name: 'm' });
    t.clock.set(1_700_000_000_000);
    const created = await t.registry.createVersion({
      model: 'm',
      manifest: manifest('one'),
      metrics,
      params,
      tags,
      description: 'd',
      actor: 'bob',
    });
    // A model created with the version: its event comes first, the version's after it.
    const fresh = await t.registry.createVersion({
      model: 'new',
      manifest: manifest('two'),
      metrics: { a: 1 },
      createModelIfMissing: true,
    });
    // Nothing at all.
    const bare = await t.registry.createVersion({ model: 'm', manifest: manifest('three') });
    expect([created.version, fresh.version, bare.version]).toEqual([1, 1, 2]);
    for (const v of [created, fresh, bare]) {
      expect(JSON.stringify(await t.registry.getVersion(`${v.model}@${v.version}`))).toBe(
        JSON.stringify(v),
      );
    }
    const expected = Object.keys(metrics)
      .sort()
      .map((key) => ({ key, value: metrics[key]! || 0, step: 0, timestamp: 1_700_000_000_000 }));
    const rows = await rowsOf(created);
    expectSame(rows.history, expected);
    expectSame(rows.latest, expected);
    expectSame(rows.params, params);
    expectSame(rows.tags, tags);
    expectSame(await rowsOf(bare), { history: [], latest: [], params: {}, tags: {} });
    expect((await rowsOf(fresh)).latest).toMatchObject([{ key: 'a', value: 1, step: 0 }]);
    expect((await t.registry.getModel('m')).latestVersion).toBe(2);

    const events = (await t.registry.auditLog({ order: 'asc' })).items;
    expect(events.map((e) => [e.seq, e.action, e.subject, e.actor])).toEqual([
      [1, 'model.created', 'm', 'alice'],
      [2, 'version.created', 'm@1', 'bob'],
      [3, 'model.created', 'new', 'alice'],
      [4, 'version.created', 'new@1', 'alice'],
      [5, 'version.created', 'm@2', 'alice'],
    ]);
    expect(events[1]!.time).toBe(1_700_000_000_000);
    expectSame(events[1]!.data, {
      digest: manifest('one').digest,
      fileCount: 1,
      metrics: Object.fromEntries(Object.keys(metrics).map((k) => [k, metrics[k]! || 0])),
      params,
      parents: [],
      runId: null,
      size: 100,
      source: null,
      tags,
    });
    expect(await t.registry.auditVerify()).toMatchObject({ ok: true, checked: 5 });
  });

  it('refuses what it refused before, writing nothing, and numbers on without a gap', async () => {
    await t.registry.createModel({ name: 'm' });
    await t.registry.createModel({ name: 'gone' });
    await t.registry.deleteModel('gone');
    // Data the audit event's canonical JSON refuses (a lone surrogate): the statements one
    // by one, failing at the event as always.
    const lone = await t.registry
      .createVersion({ model: 'm', manifest: manifest('x'), params: { p: 'a\ud800b' } })
      .catch((e: Error) => e);
    expect(lone).toMatchObject({ code: 'INVALID_ARGUMENT' });
    for (const model of ['missing', 'gone']) {
      await expect(
        t.registry.createVersion({ model, manifest: manifest('x'), metrics: { a: 1 } }),
      ).rejects.toMatchObject({ code: 'NOT_FOUND', message: `model '${model}' not found` });
    }
    await expect(
      t.registry.createVersion({
        model: 'gone',
        manifest: manifest('x'),
        createModelIfMissing: true,
      }),
    ).rejects.toMatchObject({ code: 'CONFLICT' });
    const v = await t.registry.createVersion({ model: 'm', manifest: manifest('y') });
    expect(v.version).toBe(1);
    const counts = await sql<{ n: number }>`select
      (select count(*) from model_versions) + (select count(*) from version_params) as n`.execute(
      t.database.db,
    );
    expect(Number(counts.rows[0]!.n)).toBe(1);
    expect(await t.registry.auditVerify()).toMatchObject({ ok: true, checked: 4 });
  });
});

/** A minimal protocol-2 pickle of `{}` (the scanner finds it clean). */
const PICKLE = Uint8Array.from([0x80, 0x02, 0x7d, 0x71, 0x00, 0x2e]);

async function* once(bytes: Uint8Array) {
  yield bytes;
}

describe.each(TEST_DIALECTS)('%s: a scanned version and its manifest check', (dialect) => {
  it('records the scan with the version, or refuses it, leaving nothing, when the manifest was collected', async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'mv-vcs-'));
    const fresh = dialect === 'sqlite' ? undefined : await freshDatabase(dialect);
    const root = join(tmp, 'reg');
    const rd = await openRegistryDirectory(root, {
      create: true,
      defaultActor: 'alice',
      clock: fakeClock(),
      ...(fresh ? { database: fresh.config } : {}),
    });
    // Another connection, as a racing GC's: it deletes the manifest as the version goes in.
    const other = await openDatabase<RegistryDB>(
      fresh?.config ?? { kind: 'sqlite', path: join(root, 'metadata.db') },
      [],
    );
    const exec = async (statements: readonly string[]) => {
      for (const s of statements) await sql.raw(s).execute(other.db);
    };
    try {
      const t = rd.tracking;
      const runId = (await t.createRun({ runName: 'r' })).info.run_id;
      await t.logBatch(runId, {
        metrics: [{ key: 'acc', value: 0.5, timestamp: 1, step: 0 }],
        params: [{ key: 'p', value: 'NULL' }],
      });
      const artifacts = new ArtifactService({ store: rd.store });
      const dir = `0/${runId}/artifacts/model`;
      await artifacts.put(`${dir}/MLmodel`, once(new TextEncoder().encode('flavors: {}\n')));
      await artifacts.put(`${dir}/a "b",{c}.pkl`, once(PICKLE));
      await artifacts.put(`${dir}/z.pkl`, once(PICKLE));
      const service = new MlflowVersionService(
        rd.registry,
        rd.store,
        artifacts,
        new FrozenArtifactView(rd.registry, rd.store),
        t,
      );
      await rd.registry.createModel({ name: 'm' });
      const input = { name: 'm', source: `mlflow-artifacts:/${dir}`, runId };
      await exec(
        dialect === 'sqlite'
          ? [
              `CREATE TRIGGER collect AFTER INSERT ON model_versions BEGIN
                DELETE FROM manifest_files WHERE manifest_digest = NEW.manifest_digest;
                DELETE FROM manifests WHERE digest = NEW.manifest_digest;
              END`,
            ]
          : [
              `create function collect() returns trigger language plpgsql as $$ begin
                delete from manifest_files where manifest_digest = new.manifest_digest;
                delete from manifests where digest = new.manifest_digest;
                return null;
              end $$`,
              'create trigger collect after insert on model_versions for each row execute function collect()',
            ],
      );
      await expect(service.createFromSource(input)).rejects.toMatchObject({
        code: 'CONFLICT',
        details: { collected: true },
      });
      await exec(
        dialect === 'sqlite'
          ? ['DROP TRIGGER collect']
          : ['drop trigger collect on model_versions', 'drop function collect()'],
      );
      const counts = async () =>
        (
          await sql<{ n: number }>`select (select count(*) from model_versions)
            + (select count(*) from version_scans) + (select count(*) from version_scan_files)
            + (select count(*) from version_metrics) as n`.execute(other.db)
        ).rows[0]!.n;
      expect(Number(await counts())).toBe(0);
      const v = await service.createFromSource(input);
      expect(v.version).toBe(1);
      expect(v.scan).toMatchObject({ files: 2, dangerous: [] });
      expect(JSON.stringify(await rd.registry.getVersion('m@1'))).toBe(JSON.stringify(v));
      const scan = await rd.registry.getScan('m@1');
      expect(scan?.fileScans.map((f) => f.path)).toEqual(['a "b",{c}.pkl', 'z.pkl']);
      expect(Number(await counts())).toBe(1 + 1 + 2 + 1);
      expect((await rd.registry.auditVerify()).ok).toBe(true);
    } finally {
      await other.close();
      await rd.close();
      await fresh?.cleanup();
      await rm(tmp, { recursive: true, force: true });
    }
  });
});

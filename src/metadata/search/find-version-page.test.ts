import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pseudoRandomNumbers } from '../../../test/fixtures/model-files.js';
import { TEST_DIALECTS } from '../../../test/support/dialects.js';
import {
  manifest,
  openTempRegistry,
  type TempRegistry,
} from '../../../test/support/temp-registry.js';
import { compileFilter, compileOrderBy, orderByNullsLast, searchFields } from './compile-filter.js';
import { parseFilter, parseOrderBy } from './filter-parser.js';
import { findVersionPage, type SearchPlan, type VersionPageQuery } from './find-version-page.js';
import { KeyStatistics } from './key-statistics.js';

const fields = searchFields('versions');

describe.each(TEST_DIALECTS)('%s', (dialect) => {
  let t: TempRegistry;

  /**
   * 4 models × 50 versions: metrics m0 (uniform), m1 (uniform, missing on every 7th
   * version: NULLS LAST), m2 (5 values: ties broken by id); params p (4 values, missing on
   * every 5th); a tag on every 3rd. The 20 versions with the highest m1 are deleted (more
   * than the walk's slack for deleted rows), and so is model-d.
   */
  beforeAll(async () => {
    t = await openTempRegistry({ dialect });
    const r = t.registry;
    const rand = pseudoRandomNumbers(0x1234567);
    const m1: { ref: string; value: number }[] = [];
    for (const model of ['model-a', 'model-b', 'model-c', 'model-d']) {
      await r.createModel({ name: model });
      for (let i = 0; i < 50; i++) {
        const metrics: Record<string, number> = {
          m0: rand(),
          m2: Math.floor(rand() * 5),
        };
        if (i % 7 !== 3) metrics.m1 = rand();
        const v = await r.createVersion({
          model,
          manifest: manifest(`${model}-${i}`),
          metrics,
          params: i % 5 === 0 ? {} : { p: String(Math.floor(rand() * 4)) },
          tags: i % 3 === 0 ? { team: i % 2 === 0 ? 'risk' : 'growth' } : {},
        });
        if (metrics.m1 !== undefined && model !== 'model-d') {
          m1.push({ ref: `${model}@${v.version}`, value: metrics.m1 });
        }
      }
    }
    m1.sort((a, b) => b.value - a.value);
    for (const { ref } of m1.slice(0, 20)) await r.deleteVersion(ref);
    await r.deleteModel('model-d');
  }, 300_000);
  afterAll(async () => {
    await t?.cleanup();
  });

  const page = async (
    filter: string,
    orderBy: string,
    extra: Partial<VersionPageQuery> & { plan?: SearchPlan } = {},
  ) =>
    findVersionPage(t.database.db, {
      filter: parseFilter(filter, { fields }),
      order: parseOrderBy(orderBy, { fields }),
      includeDeleted: false,
      limit: 10,
      offset: 0,
      dialect,
      ...extra,
    });

  /**
   * The search as one plain query (filter, ORDER BY … NULLS LAST, v.id): what both plans
   * must reproduce.
   */
  const reference = async (filter: string, orderBy: string, includeDeleted = false) => {
    const ast = parseFilter(filter, { fields });
    let b = t.database.db
      .selectFrom('model_versions as v')
      .innerJoin('registered_models as m', 'm.id', 'v.model_id')
      .select('v.id');
    if (!includeDeleted) b = b.where('v.deleted_at', 'is', null).where('m.deleted_at', 'is', null);
    if (ast) b = b.where(compileFilter(ast, 'versions', { dialect }));
    const order = compileOrderBy(parseOrderBy(orderBy, { fields }), 'versions', { dialect });
    for (const item of order) b = orderByNullsLast(b, item);
    return (await b.orderBy('v.id', 'asc').execute()).map((r) => r.id);
  };

  /** Every page of the search under `plan`, `limit` at a time, as one list of ids. */
  const allPages = async (
    filter: string,
    orderBy: string,
    plan: SearchPlan,
    limit: number,
    extra: Partial<VersionPageQuery> = {},
  ) => {
    const ids: number[] = [];
    for (let offset = 0; ; offset += limit) {
      const p = await page(filter, orderBy, {
        plan,
        limit,
        offset,
        includeDeleted: false,
        ...extra,
      });
      expect(p.plan).toBe(plan);
      ids.push(...p.ids.slice(0, limit));
      if (p.ids.length <= limit) return ids;
      expect(offset).toBeLessThan(1000);
    }
  };

  const CASES: [filter: string, orderBy: string][] = [
    ['', 'metrics.m1 DESC'],
    ['', 'metrics.m1 ASC'],
    ['metrics.m0 > 0.05', 'metrics.m1 DESC'],
    ['metrics.m0 > 0.9', 'metrics.m1 DESC'],
    ["metrics.m0 > 0.3 AND params.p = '2'", 'metrics.m1 DESC'],
    ["metrics.m0 > 0.3 AND params.p = '2'", 'metrics.m2 ASC'],
    ['metrics.m0 < 0.8', 'metrics.m2 DESC'],
    ["name = 'model-b' AND metrics.m0 > 0.1", 'metrics.m1 DESC'],
    ["name LIKE 'model-%' AND metrics.m0 > 0.1", 'params.p DESC'],
    ["tags.team = 'risk' OR metrics.m0 > 0.7", 'metrics.m1 ASC'],
    ['metrics.m1 IS NULL', 'metrics.m0 DESC'],
    ["params.p IN ('1', '3') AND tags.team IS NOT NULL", 'tags.team ASC'],
    ['version_number > 10', 'params.p ASC'],
  ];

  it.each(CASES)(
    '%s ORDER BY %s: both plans return the same rows in the same order',
    async (filter, orderBy) => {
      const byFilter = await allPages(filter, orderBy, 'filter-first', 7);
      const byOrder = await allPages(filter, orderBy, 'order-first', 7);
      const expected = await reference(filter, orderBy);
      expect(expected.length).toBeGreaterThan(0);
      expect(byFilter).toEqual(expected);
      expect(byOrder).toEqual(expected);
      // Both plans testing key conditions by probes, or against lists of their matches.
      for (const keyTest of ['probe', 'list'] as const) {
        for (const plan of ['filter-first', 'order-first'] as const) {
          expect(
            await allPages(filter, orderBy, plan, 7, { keyTest }),
            `${plan} ${keyTest}`,
          ).toEqual(expected);
        }
      }
      // One big page agrees with the small ones, and so does the plan chosen by estimate,
      // counted in SQL or estimated from samples.
      const whole = await page(filter, orderBy, { limit: 1000 });
      expect(whole.ids).toEqual(expected);
      const sampled = await page(filter, orderBy, { limit: 1000, statistics: new KeyStatistics() });
      expect(sampled.ids).toEqual(expected);
    },
  );

  it('scoped to a reader, both plans return the reference rows of readable models only', async () => {
    const { users, permissions } = t.registry.access;
    await users.create({ name: 'reader', password: 'reader-password' }, 'root');
    const grant = (resource: string, level: 'READ' | 'NO_PERMISSIONS') =>
      permissions.grant({ user: 'reader', kind: 'registered_model', resource, level }, 'root');
    await grant('model-b', 'NO_PERMISSIONS');
    await grant('model-c', 'READ');
    const { db } = t.database;
    const models = new Map(
      (await db.selectFrom('registered_models').select(['id', 'name']).execute()).map((m) => [
        m.name,
        m.id,
      ]),
    );
    const modelOf = new Map(
      (await db.selectFrom('model_versions').select(['id', 'model_id']).execute()).map((v) => [
        v.id,
        v.model_id,
      ]),
    );
    const scopes = [
      // Default READ: hidden only by the explicit NO_PERMISSIONS on model-b.
      { scope: { user: 'reader', defaultReadable: true }, readable: ['model-a', 'model-c'] },
      // Default NO_PERMISSIONS: shown only by the explicit READ on model-c.
      { scope: { user: 'reader', defaultReadable: false }, readable: ['model-c'] },
    ];
    for (const { scope, readable } of scopes) {
      const ids = new Set(readable.map((name) => models.get(name)));
      for (const [filter, orderBy] of CASES.slice(0, 7)) {
        const expected = (await reference(filter, orderBy)).filter((id) =>
          ids.has(modelOf.get(id)),
        );
        expect(expected.length).toBeGreaterThan(0);
        for (const plan of ['filter-first', 'order-first'] as const) {
          expect(await allPages(filter, orderBy, plan, 7, { scope }), `${plan} ${filter}`).toEqual(
            expected,
          );
        }
        const listed = await allPages(filter, orderBy, 'order-first', 7, {
          scope,
          keyTest: 'list',
        });
        expect(listed, `listed ${filter}`).toEqual(expected);
      }
    }
  });

  it('includes deleted versions when asked, identically on both plans', async () => {
    for (const [filter, orderBy] of CASES.slice(0, 5)) {
      const q = { includeDeleted: true, limit: 1000 };
      const a = await page(filter, orderBy, { ...q, plan: 'filter-first' });
      const b = await page(filter, orderBy, { ...q, plan: 'order-first' });
      expect(a.ids).toEqual(await reference(filter, orderBy, true));
      expect(b.ids).toEqual(a.ids);
      const live = await page(filter, orderBy, { limit: 1000, plan: 'filter-first' });
      expect(a.ids.length).toBeGreaterThan(live.ids.length);
    }
  });

  it.each([
    ['counted in SQL', undefined],
    ['estimated from samples', 'sampled'],
  ])(
    'walks the ORDER BY index when most versions match, and filters first when few do (%s)',
    async (_, sampled) => {
      // A page of 100: one model's 50 versions are too few to be worth walking 200 entries.
      const big = { limit: 100, ...(sampled ? { statistics: new KeyStatistics() } : {}) };
      expect((await page('', 'metrics.m1 DESC', big)).plan).toBe('order-first');
      expect((await page('metrics.m0 > 0.05', 'metrics.m1 DESC', big)).plan).toBe('order-first');
      expect((await page('metrics.m0 > 0.995', 'metrics.m1 DESC', big)).plan).toBe('filter-first');
      expect((await page("name = 'model-b'", 'metrics.m1 DESC', big)).plan).toBe('filter-first');
      // Only an ORDER BY of one metric, param or tag can walk an index.
      expect((await page('', 'version_number DESC', big)).plan).toBe('filter-first');
      expect((await page('', 'metrics.m1 DESC, metrics.m0 ASC', big)).plan).toBe('filter-first');
      expect((await page('', 'metrics.m1 DESC', { ...big, modelId: 1 })).plan).toBe('filter-first');
    },
  );

  it('lists a key condition for the walk when its matches are fewer than the probes it saves', async () => {
    const walk = { plan: 'order-first' as const, limit: 10 };
    // m0 > 0.01 matches nearly every version: probing the ~4 entries walked is cheaper
    // than listing ~195 matches.
    expect((await page('metrics.m0 > 0.01', 'metrics.m1 DESC', { ...walk, limit: 3 })).listed).toBe(
      0,
    );
    // A fifth of the versions: listing ~40 matches beats probing the ~55 entries walked.
    const selective = await page("params.p = '2'", 'metrics.m1 DESC', walk);
    expect(selective.listed).toBe(1);
    // Forced, both key conditions are listed; the attribute condition cannot be.
    const forced = await page(
      "metrics.m0 > 0.3 AND params.p = '2' AND version_number > 3",
      'metrics.m1 DESC',
      { ...walk, keyTest: 'list' },
    );
    expect(forced.listed).toBe(2);
  });

  it('orders versions without the key last, after every version with it, by id', async () => {
    const ids = await allPages('', 'metrics.m1 DESC', 'order-first', 9);
    const { db } = t.database;
    const values = new Map(
      (
        await db
          .selectFrom('version_latest_metrics')
          .select(['version_id', 'value'])
          .where('key', '=', 'm1')
          .execute()
      ).map((r) => [r.version_id, r.value]),
    );
    const firstNull = ids.findIndex((id) => !values.has(id));
    expect(firstNull).toBeGreaterThan(0);
    const keyed = ids.slice(0, firstNull).map((id) => values.get(id)!);
    expect(keyed).toEqual([...keyed].sort((a, b) => b - a));
    const rest = ids.slice(firstNull);
    expect(rest.every((id) => !values.has(id))).toBe(true);
    expect(rest).toEqual([...rest].sort((a, b) => a - b));
    // 150 live versions of models a-c, less the 20 deleted.
    expect(ids.length).toBe(130);
  });
});

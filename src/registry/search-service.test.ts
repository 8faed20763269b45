import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_DIALECTS } from '../../test/support/dialects.js';
import { manifest, openTempRegistry, type TempRegistry } from '../../test/support/temp-registry.js';
import type { ModelVersion, SearchQuery } from '../core/registry-api.js';

describe.each(TEST_DIALECTS)('%s', (dialect) => {
  let t: TempRegistry;

  /**
   * fraud-detector@1..4, Fraud-Legacy@1, churn@1..3 with metrics, params, tags, stages,
   * runs and aliases; one deleted version (churn@3).
   */
  beforeAll(async () => {
    t = await openTempRegistry({ dialect });
    const r = t.registry;
    await r.createModel({ name: 'fraud-detector', tags: { team: 'risk' } });
    await r.createModel({ name: 'Fraud-Legacy', tags: { team: 'risk', legacy: 'yes' } });
    await r.createModel({ name: 'churn', tags: { team: 'growth' } });
    const fraud: [number, string, string][] = [
      [0.91, '3e-4', 'risk'],
      [0.94, '1e-4', 'risk'],
      [0.89, '3e-4', 'fraud-ops'],
      [0.96, '5e-5', 'risk'],
    ];
    for (const [i, [auc, lr, team]] of fraud.entries()) {
      await r.createVersion({
        model: 'fraud-detector',
        manifest: manifest(`fraud-${i}`, 1000 * (i + 1)),
        metrics: { auc, ...(i % 2 === 0 ? { loss: 0.5 - i * 0.1 } : {}) },
        params: { lr, ...(i === 3 ? { epochs: '10' } : {}) },
        tags: { team },
        runId: `run-${i + 1}`,
        actor: i < 2 ? 'alice' : 'bob',
      });
    }
    await r.createVersion({
      model: 'Fraud-Legacy',
      manifest: manifest('legacy'),
      metrics: { auc: 0.8 },
      params: { lr: '1e-2' },
    });
    for (const [i, auc] of [0.7, 0.75, 0.99].entries()) {
      await r.createVersion({
        model: 'churn',
        manifest: manifest(`churn-${i}`),
        metrics: { auc },
        tags: { team: 'growth' },
      });
    }
    await r.deleteVersion('churn@3');
    await r.setAlias('fraud-detector', 'production', 2);
    await r.setAlias('fraud-detector', 'champion', 4);
    await r.setAlias('churn', 'production', 1);
    await r.transitionStage('fraud-detector@2', 'Production');
    await r.transitionStage('fraud-detector@4', 'Staging');
  });
  afterAll(async () => {
    await t.cleanup();
  });

  const keys = (items: readonly ModelVersion[]) => items.map((v) => `${v.model}@${v.version}`);
  const search = async (filter: string, extra: SearchQuery = {}) =>
    keys((await t.registry.searchVersions({ filter, maxResults: 1000, ...extra })).items);

  describe('searchVersions', () => {
    it('orders by name, then newest first, and hides deleted versions by default', async () => {
      expect(await search('')).toEqual([
        'Fraud-Legacy@1',
        'churn@2',
        'churn@1',
        'fraud-detector@4',
        'fraud-detector@3',
        'fraud-detector@2',
        'fraud-detector@1',
      ]);
      expect(await search("name = 'churn'", { includeDeleted: true })).toEqual([
        'churn@3',
        'churn@2',
        'churn@1',
      ]);
    });

    it('compares metrics, params and tags, with AND', async () => {
      expect(await search('metrics.auc > 0.9')).toEqual([
        'fraud-detector@4',
        'fraud-detector@2',
        'fraud-detector@1',
      ]);
      expect(await search("metrics.auc >= 0.94 AND params.lr = '1e-4'")).toEqual([
        'fraud-detector@2',
      ]);
      expect(await search("metrics.auc > 0.9 AND tags.team = 'risk'")).toEqual([
        'fraud-detector@4',
        'fraud-detector@2',
        'fraud-detector@1',
      ]);
      expect(await search("tags.team != 'risk'")).toEqual([
        'churn@2',
        'churn@1',
        'fraud-detector@3',
      ]);
      expect(await search('metrics.loss < 0.45')).toEqual(['fraud-detector@3']);
    });

    it('supports OR and parentheses', async () => {
      expect(
        await search("(metrics.auc > 0.95 OR params.lr = '1e-2') AND name ILIKE 'fraud%'"),
      ).toEqual(['Fraud-Legacy@1', 'fraud-detector@4']);
      expect(await search("name = 'churn' OR run_id = 'run-3'")).toEqual([
        'churn@2',
        'churn@1',
        'fraud-detector@3',
      ]);
    });

    it('LIKE is case-sensitive, ILIKE is not', async () => {
      expect(await search("name LIKE 'fraud%'")).toHaveLength(4);
      expect(await search("name LIKE 'Fraud%'")).toEqual(['Fraud-Legacy@1']);
      expect(await search("name ILIKE 'FRAUD%'")).toHaveLength(5);
      expect(await search("name LIKE 'fraud_detector'")).toHaveLength(4);
      expect(await search("name LIKE 'fraud\\_detector'")).toEqual([]);
      expect(await search("name LIKE 'fraud-det%'")).toHaveLength(4);
      expect(await search("name ILIKE 'fraud\\-%'")).toHaveLength(5);
      expect(await search("name ILIKE 'fraud\\%'")).toEqual([]);
      expect(await search("params.lr LIKE '%e-4'")).toEqual([
        'fraud-detector@3',
        'fraud-detector@2',
        'fraud-detector@1',
      ]);
    });

    it('filters on attributes: version_number, run_id, user, stage, size', async () => {
      expect(await search("name = 'fraud-detector' AND version_number > 2")).toEqual([
        'fraud-detector@4',
        'fraud-detector@3',
      ]);
      expect(await search("version_number = '1' AND name = 'churn'")).toEqual(['churn@1']);
      expect(await search("user = 'bob'")).toEqual(['fraud-detector@4', 'fraud-detector@3']);
      expect(await search("current_stage = 'production'")).toEqual(['fraud-detector@2']);
      expect(await search("stage IN ('Staging', 'Production')")).toEqual([
        'fraud-detector@4',
        'fraud-detector@2',
      ]);
      expect(await search('size >= 3000')).toEqual(['fraud-detector@4', 'fraud-detector@3']);
      // A fractional or huge number against an integer column compares numerically.
      expect(await search("name = 'fraud-detector' AND version_number < 2.5")).toEqual([
        'fraud-detector@2',
        'fraud-detector@1',
      ]);
      expect(await search('size > 1e300')).toEqual([]);
      expect(await search("version_number = 1.5 AND name = 'churn'")).toEqual([]);
      expect(await search("run_id IS NULL AND name = 'churn'")).toEqual(['churn@2', 'churn@1']);
      expect(await search("run_id NOT IN ('run-1', 'run-2') AND name = 'fraud-detector'")).toEqual([
        'fraud-detector@4',
        'fraud-detector@3',
      ]);
    });

    it('filters on aliases and on the presence of keys', async () => {
      expect(await search("aliases = 'production'")).toEqual(['churn@1', 'fraud-detector@2']);
      expect(await search("aliases IN ('champion', 'nope')")).toEqual(['fraud-detector@4']);
      expect(await search("aliases != 'production' AND name = 'churn'")).toEqual(['churn@2']);
      expect(await search('aliases IS NOT NULL')).toEqual([
        'churn@1',
        'fraud-detector@4',
        'fraud-detector@2',
      ]);
      expect(await search('params.epochs IS NOT NULL')).toEqual(['fraud-detector@4']);
      expect(await search("params.epochs IS NULL AND name = 'churn'")).toEqual([
        'churn@2',
        'churn@1',
      ]);
    });

    it('treats hostile values as data', async () => {
      expect(await search("name = 'x'' OR ''1''=''1'")).toEqual([]);
      expect(await search("tags.`team' OR 1=1 --` = 'risk'")).toEqual([]);
      expect((await t.registry.listModels()).items).toHaveLength(3);
    });

    it('orders by metrics and params with nulls last in both directions', async () => {
      const byAuc = await search('', { orderBy: ['metrics.auc DESC'] });
      expect(byAuc).toEqual([
        'fraud-detector@4',
        'fraud-detector@2',
        'fraud-detector@1',
        'fraud-detector@3',
        'Fraud-Legacy@1',
        'churn@2',
        'churn@1',
      ]);
      const byLoss = await search("name = 'fraud-detector'", { orderBy: ['metrics.loss ASC'] });
      expect(byLoss).toEqual([
        'fraud-detector@3',
        'fraud-detector@1',
        'fraud-detector@2', // no loss: last
        'fraud-detector@4',
      ]);
      const byLossDesc = await search("name = 'fraud-detector'", {
        orderBy: ['metrics.loss DESC'],
      });
      expect(byLossDesc.slice(0, 2)).toEqual(['fraud-detector@1', 'fraud-detector@3']);
      expect(byLossDesc.slice(2)).toEqual(['fraud-detector@2', 'fraud-detector@4']);
      const byParam = await search("name = 'fraud-detector'", {
        orderBy: ['params.lr', 'version_number DESC'],
      });
      expect(byParam).toEqual([
        'fraud-detector@2',
        'fraud-detector@3',
        'fraud-detector@1',
        'fraud-detector@4',
      ]);
    });

    it('pages through many results without gaps or repeats', async () => {
      const query = { orderBy: ['metrics.auc DESC'], maxResults: 2 };
      const all = await search('', { orderBy: query.orderBy });
      const paged: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const page = await t.registry.searchVersions({ ...query, pageToken: token });
        paged.push(...keys(page.items));
        token = page.nextPageToken;
        pages++;
      } while (token);
      expect(pages).toBe(4);
      expect(paged).toEqual(all);
    });

    it('rejects bad filters, orders, tokens and sizes with InvalidArgumentError', async () => {
      await expect(t.registry.searchVersions({ filter: 'metrics.auc >' })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
      await expect(t.registry.searchVersions({ filter: "colour = 'red'" })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        details: { position: 0 },
      });
      await expect(t.registry.searchVersions({ orderBy: ['aliases'] })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
      const first = await t.registry.searchVersions({ maxResults: 2 });
      await expect(
        t.registry.searchVersions({
          maxResults: 2,
          filter: "name = 'churn'",
          pageToken: first.nextPageToken,
        }),
      ).rejects.toThrow(/different query/);
      for (const pageToken of [
        '%%%',
        Buffer.from('{"o":-1,"q":"x"}').toString('base64url'),
        'eyJ9',
      ]) {
        await expect(t.registry.searchVersions({ pageToken })).rejects.toMatchObject({
          code: 'INVALID_ARGUMENT',
        });
      }
      await expect(t.registry.searchVersions({ maxResults: 10_001 })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
    });

    it('answers a repeated query the same way, and keeps refusing a bad one (parsed queries are reused)', async () => {
      const filter = "tags.team = 'risk' AND metrics.auc > 0.9";
      const once = await search(filter, { orderBy: ['metrics.auc DESC'] });
      expect(once).toEqual(['fraud-detector@4', 'fraud-detector@2', 'fraud-detector@1']);
      for (let i = 0; i < 3; i++) {
        expect(await search(filter, { orderBy: ['metrics.auc DESC'] })).toEqual(once);
        // The same filter with another order, or none, is another query.
        expect(await search(filter, { orderBy: ['metrics.auc ASC'] })).toEqual([...once].reverse());
        expect(await search(filter)).toEqual(once.slice().sort((a, b) => (a < b ? 1 : -1)));
        await expect(t.registry.searchVersions({ filter: 'metrics.auc >' })).rejects.toMatchObject({
          code: 'INVALID_ARGUMENT',
        });
        // Valid for versions, refused for models: the target is part of what is reused.
        await expect(t.registry.searchModels({ filter: 'metrics.auc > 1' })).rejects.toThrow(
          /metrics are not searchable for models/,
        );
        expect(
          (await t.registry.searchModels({ filter: "tags.team = 'risk'" })).items.map(
            (m) => m.name,
          ),
        ).toEqual(['Fraud-Legacy', 'fraud-detector']);
      }
      // A page token still belongs to its query only.
      const first = await t.registry.searchVersions({ filter, maxResults: 1 });
      const next = await t.registry.searchVersions({
        filter,
        maxResults: 1,
        pageToken: first.nextPageToken,
      });
      expect(keys([...first.items, ...next.items])).toEqual([
        'fraud-detector@4',
        'fraud-detector@2',
      ]);
    });

    it('returns fully hydrated versions', async () => {
      const [v] = (await t.registry.searchVersions({ filter: "aliases = 'champion'" })).items;
      expect(v).toMatchObject({
        model: 'fraud-detector',
        version: 4,
        metrics: { auc: 0.96 },
        params: { lr: '5e-5', epochs: '10' },
        tags: { team: 'risk' },
        aliases: ['champion'],
        stage: 'Staging',
      });
    });
  });

  describe('searchModels', () => {
    const models = async (query: SearchQuery) =>
      (await t.registry.searchModels(query)).items.map((m) => m.name);

    it('filters on name, tags and aliases', async () => {
      expect(await models({ filter: "name LIKE '%r%'" })).toEqual([
        'Fraud-Legacy',
        'churn',
        'fraud-detector',
      ]);
      expect(await models({ filter: "tags.team = 'risk'" })).toEqual([
        'Fraud-Legacy',
        'fraud-detector',
      ]);
      expect(await models({ filter: "tags.legacy IS NULL AND tags.team = 'risk'" })).toEqual([
        'fraud-detector',
      ]);
      expect(await models({ filter: "aliases = 'champion'" })).toEqual(['fraud-detector']);
      expect(await models({ filter: "aliases = 'production' OR name = 'Fraud-Legacy'" })).toEqual([
        'Fraud-Legacy',
        'churn',
        'fraud-detector',
      ]);
    });

    it('orders by attributes and tags and pages', async () => {
      expect(await models({ orderBy: ['name DESC'] })).toEqual([
        'fraud-detector',
        'churn',
        'Fraud-Legacy',
      ]);
      expect(await models({ orderBy: ['tags.legacy DESC', 'name'] })).toEqual([
        'Fraud-Legacy',
        'churn',
        'fraud-detector',
      ]);
      const first = await t.registry.searchModels({
        orderBy: ['creation_timestamp'],
        maxResults: 2,
      });
      const second = await t.registry.searchModels({
        orderBy: ['creation_timestamp'],
        maxResults: 2,
        pageToken: first.nextPageToken,
      });
      expect([...first.items, ...second.items].map((m) => m.name)).toEqual([
        'fraud-detector',
        'Fraud-Legacy',
        'churn',
      ]);
      expect(second.nextPageToken).toBeUndefined();
    });

    it('rejects version-only fields', async () => {
      await expect(t.registry.searchModels({ filter: 'metrics.auc > 1' })).rejects.toThrow(
        /metrics are not searchable for models/,
      );
      await expect(t.registry.searchModels({ filter: 'version_number = 1' })).rejects.toThrow(
        /expected a field .* but found 'version_number'/,
      );
    });
  });
});

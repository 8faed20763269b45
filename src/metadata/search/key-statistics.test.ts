import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_DIALECTS } from '../../../test/support/dialects.js';
import {
  manifest,
  openTempRegistry,
  type TempRegistry,
} from '../../../test/support/temp-registry.js';
import { compileFilter, searchFields } from './compile-filter.js';
import type { FilterExpr } from './filter-ast.js';
import { parseFilter } from './filter-parser.js';
import { KeyStatistics } from './key-statistics.js';

const fields = searchFields('versions');
const node = (text: string): FilterExpr => parseFilter(text, { fields })!;

describe.each(TEST_DIALECTS)('%s', (dialect) => {
  let t: TempRegistry;
  let created = 0;

  /**
   * `n` more versions of model `m`: metric `m0` spread evenly over [0, 1) in any stretch of
   * ids (the golden-ratio sequence, so a sample of every k-th id sees the same spread as the
   * whole), param `p` in 0–3, a tag on every 4th.
   */
  const addVersions = async (n: number) => {
    for (let i = 0; i < n; i++, created++) {
      await t.registry.createVersion({
        model: 'm',
        manifest: manifest(`v${created}`),
        metrics: { m0: (created * 0.618_033_988_75) % 1 },
        params: { p: String(created % 4) },
        tags: created % 4 === 0 ? { team: 'risk' } : {},
      });
    }
  };

  /** How many versions `text` really matches. */
  const count = async (text: string) => {
    const { rows } = await sql<{ n: number | string }>`select count(*) as n from model_versions as v
      inner join registered_models as m on m.id = v.model_id
      where ${compileFilter(node(text), 'versions', { dialect })}`.execute(t.database.db);
    return Number(rows[0]!.n);
  };

  beforeAll(async () => {
    t = await openTempRegistry({ dialect });
    await t.registry.createModel({ name: 'm' });
    await addVersions(120);
  }, 120_000);
  afterAll(async () => {
    await t?.cleanup();
  });

  const CONDITIONS = [
    'metrics.m0 > 0.5',
    'metrics.m0 <= 0.25',
    'metrics.m0 >= 0',
    'metrics.m0 != 0.5',
    'metrics.m0 IN (0.5, 2)',
    "params.p = '2'",
    "params.p != '2'",
    "params.p IN ('1', '3')",
    "params.p NOT IN ('1')",
    "tags.team = 'risk'",
    'tags.team IS NOT NULL',
    'metrics.missing > 0',
  ];

  it('estimates exactly while every version is in the sample', async () => {
    const stats = new KeyStatistics();
    for (const text of CONDITIONS) {
      expect(await stats.estimate(t.database.db, node(text)), text).toBe(await count(text));
    }
  });

  it('estimates from a sample of the versions, close to the true count', async () => {
    // 40 of 120 versions sampled: every third id.
    const stats = new KeyStatistics({ sampleSize: 40 });
    for (const text of CONDITIONS) {
      const estimate = await stats.estimate(t.database.db, node(text));
      const truth = await count(text);
      expect(Math.abs(estimate! - truth), `${text}: ${estimate} vs ${truth}`).toBeLessThanOrEqual(
        Math.max(4, truth * 0.1),
      );
    }
  });

  it('leaves conditions a sample cannot answer to SQL', async () => {
    const stats = new KeyStatistics();
    for (const text of [
      "params.p LIKE '1%'",
      "params.p ILIKE '1%'",
      'metrics.m0 IS NULL',
      "name = 'm'",
      'version_number > 3',
      "metrics.m0 > 0.5 AND params.p = '1'",
      "metrics.m0 > 0.5 OR params.p = '1'",
    ]) {
      expect(await stats.estimate(t.database.db, node(text)), text).toBeUndefined();
    }
  });

  it('reads a sample again once it is old, or as soon as the registry has grown by a quarter', async () => {
    let now = 1_000_000;
    const stats = new KeyStatistics({ maxAgeMs: 60_000, now: () => now });
    const all = 'metrics.m0 >= 0';
    const before = await count(all);
    expect(await stats.estimate(t.database.db, node(all))).toBe(before);
    await addVersions(4);
    // Fresh enough: the cached sample (and version count) still answer.
    now += 30_000;
    expect(await stats.estimate(t.database.db, node(all))).toBe(before);
    now += 31_000;
    expect(await stats.estimate(t.database.db, node(all))).toBe(before + 4);
    // Growth past a quarter is seen when the version count is read again (also by age).
    await addVersions(Math.ceil((before + 4) / 4) + 1);
    now += 61_000;
    expect(await stats.estimate(t.database.db, node(all))).toBe(await count(all));
  }, 120_000);
});

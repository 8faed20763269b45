import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_DIALECTS } from '../../test/support/dialects.js';
import { manifest, openTempRegistry, type TempRegistry } from '../../test/support/temp-registry.js';
import {
  type DetailReads,
  hydrateVersion,
  hydrateVersions,
  readVersion,
  readVersions,
  type VersionRowWithModel,
} from './hydrate.js';

/**
 * Both ways of reading a page's details return the same versions, with every kind of
 * detail, sorted the same way on both dialects.
 */
describe.each(TEST_DIALECTS)('hydrateVersions (%s)', (dialect) => {
  let t: TempRegistry;
  let rows: VersionRowWithModel[];

  beforeAll(async () => {
    t = await openTempRegistry({ dialect });
    const r = t.registry;
    await r.createModel({ name: 'base' });
    await r.createModel({ name: 'Another' });
    await r.createVersion({ model: 'base', manifest: manifest('b1') });
    await r.createVersion({ model: 'base', manifest: manifest('b2') });
    await r.createVersion({ model: 'Another', manifest: manifest('a1') });
    await r.createModel({ name: 'child' });
    await r.createVersion({
      model: 'child',
      manifest: manifest('c1', 4096, 3),
      // Keys whose code-unit order differs from a locale's: upper case, '_', non-ASCII.
      metrics: { zeta: 1.5, Alpha: -2, _loss: 0.125, ähnlich: 3, big: 1e300, tiny: 5e-324 },
      params: { lr: '3e-4', Batch: '32', épocas: '10' },
      tags: { team: 'risk', Owner: 'ana' },
      lineage: {
        parents: ['base@2', 'Another@1', 'base@1'],
        datasets: [
          { name: 'train', uri: 's3://data/train', digest: 'sha256:abc' },
          { name: 'eval' },
        ],
        code: { gitRemote: 'https://git.example/m.git', gitCommit: 'deadbeef', gitDirty: true },
      },
    });
    await r.createVersion({
      model: 'child',
      manifest: manifest('c2'),
      lineage: { code: { gitCommit: 'cafe' } },
      // U+FF21 sorts before U+1F600 by code point (SQLite), after it by code unit.
      tags: { '\u{1F600}': 'astral', '\uFF21': 'fullwidth', b: 'ascii' },
    });
    await r.setAlias('child', 'production', 1);
    await r.setAlias('child', 'champion', 1);
    await r.setAlias('child', 'Beta', 2);
    const db = t.database.db;
    const child1 = await db
      .selectFrom('model_versions as v')
      .innerJoin('registered_models as m', 'm.id', 'v.model_id')
      .select('v.id')
      .where('m.name', '=', 'child')
      .where('v.version', '=', 1)
      .executeTakeFirstOrThrow();
    // Scans and signatures come from the scanner and `sign`; their rows are enough here.
    await db
      .insertInto('version_scans')
      .values({
        version_id: child1.id,
        verdict: 'dangerous',
        scanner: 't',
        scanned_at: 1,
        files: 3,
      })
      .execute();
    await db
      .insertInto('version_scan_files')
      .values(
        ['z.pkl', 'a.pkl', 'ok.pkl'].map((path) => ({
          version_id: child1.id,
          path,
          sha256: 'x',
          verdict: path === 'ok.pkl' ? 'safe' : 'dangerous',
          scanner: 't',
          report: '{}',
        })),
      )
      .execute();
    await db
      .insertInto('version_signatures')
      .values(
        ['ff01', '0a02'].map((key_id) => ({
          version_id: child1.id,
          key_id,
          public_key: 'pem',
          bundle: '{}',
          created_by: 'ana',
          created_at: 1,
        })),
      )
      .execute();
    rows = await db
      .selectFrom('model_versions as v')
      .innerJoin('registered_models as m', 'm.id', 'v.model_id')
      .selectAll('v')
      .select('m.name as model_name')
      .orderBy('v.id', 'desc')
      .execute();
  });
  afterAll(async () => {
    await t.cleanup();
  });

  const hydrate = (reads: DetailReads) => hydrateVersions(t.database.db, rows, reads);

  it('returns the same versions, keys in the same order, either way', async () => {
    const perTable = await hydrate('per-table');
    const oneStatement = await hydrate('one-statement');
    // JSON text, so that the order of object keys counts too.
    expect(JSON.stringify(oneStatement)).toBe(JSON.stringify(perTable));
    expect(perTable.map((v) => `${v.model}@${v.version}`)).toEqual([
      'child@2',
      'child@1',
      'Another@1',
      'base@2',
      'base@1',
    ]);
  });

  it('readVersions returns the same versions in the order of the ids given', async () => {
    const ids = rows.map((r) => r.id);
    const order = [ids[2]!, ids[0]!, ids[4]!, ids[1]!, ids[3]!];
    const byId = new Map(rows.map((r) => [r.id, r]));
    const expected = await hydrateVersions(
      t.database.db,
      order.map((id) => byId.get(id)!),
      'per-table',
    );
    const read = await readVersions(t.database.db, [...order, 999_999], dialect);
    expect(JSON.stringify(read)).toBe(JSON.stringify(expected));
    expect(await readVersions(t.database.db, [], dialect)).toEqual([]);
  });

  it('readVersion and getVersion (read in one group, Database.reads) give what hydrateVersion gives', async () => {
    for (const row of rows) {
      const expected = JSON.stringify(
        await hydrateVersion(t.database.db, row, row.model_name, 'per-table'),
      );
      const read = await t.database.reads((db) => readVersion(db, row, row.model_name, dialect));
      expect(JSON.stringify(read)).toBe(expected);
      // Through the service, by number and (for child@1) by alias: the same object.
      const ref = `${row.model_name}@${row.version}`;
      expect(JSON.stringify(await t.registry.getVersion(ref))).toBe(expected);
    }
    const child1 = rows.find((r) => r.model_name === 'child' && r.version === 1)!;
    expect(JSON.stringify(await t.registry.getVersion('child@champion'))).toBe(
      JSON.stringify(await hydrateVersion(t.database.db, child1, 'child', 'per-table')),
    );
    // A row that vanished since it was found: hydrated from the row given, as before.
    const gone = { ...child1, id: 999_999 };
    expect(await readVersion(t.database.db, gone, 'child', dialect)).toEqual(
      await hydrateVersion(t.database.db, gone, 'child', 'per-table'),
    );
  });

  const hydrations = {
    'per-table': () => hydrate('per-table'),
    'one-statement': () => hydrate('one-statement'),
    readVersions: () =>
      readVersions(
        t.database.db,
        rows.map((r) => r.id),
        dialect,
      ),
  };

  it.each(Object.keys(hydrations) as (keyof typeof hydrations)[])(
    'reads every detail (%s)',
    async (how) => {
      const [c2, c1, a1] = await hydrations[how]();
      expect(Object.entries(c1!.metrics)).toEqual([
        ['Alpha', -2],
        ['_loss', 0.125],
        ['big', 1e300],
        ['tiny', 5e-324],
        ['zeta', 1.5],
        ['ähnlich', 3],
      ]);
      expect(Object.keys(c1!.params)).toEqual(['Batch', 'lr', 'épocas']);
      expect(c1!.tags).toEqual({ Owner: 'ana', team: 'risk' });
      expect(Object.keys(c1!.tags)).toEqual(['Owner', 'team']);
      expect(c1!.aliases).toEqual(['champion', 'production']);
      expect(c2!.aliases).toEqual(['Beta']);
      expect(c1!.lineage).toEqual({
        parents: [
          { model: 'Another', version: 1 },
          { model: 'base', version: 1 },
          { model: 'base', version: 2 },
        ],
        datasets: [
          { name: 'eval', uri: null, digest: null },
          { name: 'train', uri: 's3://data/train', digest: 'sha256:abc' },
        ],
        code: { gitRemote: 'https://git.example/m.git', gitCommit: 'deadbeef', gitDirty: true },
      });
      expect(c2!.lineage).toEqual({
        parents: [],
        datasets: [],
        code: { gitRemote: null, gitCommit: 'cafe', gitDirty: null },
      });
      expect(c1!.scan).toEqual({ verdict: 'dangerous', files: 3, dangerous: ['a.pkl', 'z.pkl'] });
      expect(c1!.signatures).toEqual(['0a02', 'ff01']);
      expect(c2!.scan).toBeNull();
      expect(Object.keys(c2!.tags)).toEqual(['b', '\u{1F600}', '\uFF21']);
      expect(a1).toMatchObject({
        model: 'Another',
        metrics: {},
        params: {},
        tags: {},
        aliases: [],
        lineage: { parents: [], datasets: [], code: null },
        scan: null,
        signatures: [],
      });
    },
  );

  it.each(['per-table', 'one-statement'] as const)(
    'leaves only metrics and params out with runData: false (%s)',
    async (reads) => {
      const full = await hydrate(reads);
      const lean = await hydrateVersions(t.database.db, rows, reads, { runData: false });
      expect(full.find((v) => v.model === 'child' && v.version === 1)!.metrics).not.toEqual({});
      expect(lean.map((v) => [v.metrics, v.params])).toEqual(full.map(() => [{}, {}]));
      expect(JSON.stringify(lean)).toBe(
        JSON.stringify(full.map((v) => ({ ...v, metrics: {}, params: {} }))),
      );
      // readVersions (one statement on SQLite) leaves out the same.
      const leanRead = await readVersions(
        t.database.db,
        rows.map((r) => r.id),
        dialect,
        { runData: false },
      );
      expect(JSON.stringify(leanRead)).toBe(JSON.stringify(lean));
    },
  );

  it.each(['per-table', 'one-statement'] as const)(
    'with listing, gives the row, tags and aliases and leaves every other detail empty (%s)',
    async (reads) => {
      const full = await hydrate(reads);
      const child1 = full.find((v) => v.model === 'child' && v.version === 1)!;
      // The fixture has every detail, so an empty one below was left out, not absent.
      expect(child1.lineage.parents).not.toEqual([]);
      expect(child1.scan).not.toBeNull();
      expect(child1.signatures).not.toEqual([]);
      expect(child1.aliases).not.toEqual([]);
      const expected = full.map((v) => ({
        ...v,
        modelCard: null,
        summary: null,
        metrics: {},
        params: {},
        lineage: { parents: [], datasets: [], code: null },
        scan: null,
        signatures: [],
      }));
      const listed = await hydrateVersions(t.database.db, rows, reads, { listing: true });
      // JSON text, so that the order of object keys (tags in code-unit order) counts too.
      expect(JSON.stringify(listed)).toBe(JSON.stringify(expected));
      // readVersions (on SQLite one JSON text a version) gives the same, in the ids' order.
      const ids = rows.map((r) => r.id).reverse();
      const read = await readVersions(t.database.db, [...ids, 999_999], dialect, {
        listing: true,
      });
      expect(JSON.stringify(read)).toBe(JSON.stringify([...expected].reverse()));
    },
  );
});

/**
 * readVersions and readVersion (one statement on each dialect: PG_VERSIONS on PostgreSQL)
 * against hydrateVersions' reads on many generated versions: equal values (toEqual tells
 * -0 from 0 and compares NaN), every record's keys and list in the same order (JSON
 * text), in the order of the ids given, unknown ids left out.
 */
describe.each(TEST_DIALECTS)('readVersions on generated versions (%s)', (dialect) => {
  let t: TempRegistry;
  let rows: VersionRowWithModel[];
  /** Every version's id, shuffled, with unknown ids and a repeated one among them. */
  let ids: number[];

  // Park–Miller: the same versions on every run.
  let seed = 20_261_128;
  const next = () => {
    seed = (seed * 16_807) % 2_147_483_647;
    return seed;
  };
  const pick = <T>(xs: readonly T[]): T => xs[next() % xs.length]!;
  // Texts a JSON or array literal must escape, and keys whose code-unit order differs from
  // PostgreSQL's "C" (code point) order: U+FF21 before U+1F600 by code point, after by unit.
  const TEXTS = [
    '',
    'plain',
    'q"uote',
    "it's",
    'back\\slash',
    'tab\there',
    'line\nbreak',
    '\u0001\u001f',
    '{br,ace}',
    'NULL',
    '\u{1F600}',
    '\uFF21',
    'ähnlich',
    ' lead',
    '\u{10FFFF}x',
  ];
  // Keys the API takes; ODD_KEYS, written directly, are keys it refuses but a read must
  // carry (an older server's, another writer's).
  const KEYS = ['a', 'B', '_x', 'é', 'ähnlich', '10', '9', 'aa', 'x.y', 'z b'];
  const ODD_KEYS = ['z\u{1F600}', 'z\uFF21', 'k"q', 'k\\b', 'k,{}', '\u0001', 'NULL'];
  // Doubles that a float4, a rounded text or a JSON number would change.
  const FINITE = [
    0.1 + 0.2,
    Math.PI,
    1 / 3,
    -2.5e-308,
    5e-324,
    -5e-324,
    2.2250738585072014e-308,
    1.7976931348623157e308,
    1e21,
    1e-7,
    123_456_789.123_456_79,
    -0.000_123,
    2 ** 53 - 1,
    0,
  ];
  const SPECIAL = [
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    // SQLite stores -0 as 0 and NaN as NULL (refused by the NOT NULL column).
    ...(dialect === 'postgres' ? [-0, Number.NaN] : []),
  ];

  // node-postgres sends a number as its String(), which drops the sign of -0.
  const stored = (x: number) =>
    dialect === 'postgres'
      ? sql<number>`cast(${Object.is(x, -0) ? '-0' : String(x)} as double precision)`
      : x;

  beforeAll(async () => {
    t = await openTempRegistry({ dialect });
    const r = t.registry;
    const db = t.database.db;
    for (const m of ['m-one', 'M-two', 'm.three']) await r.createModel({ name: m });
    const created: string[] = [];
    for (let i = 0; i < 36; i++) {
      const model = pick(['m-one', 'M-two', 'm.three']);
      const n = i % 6; // every sixth version has no details at all
      const entries = <V>(value: () => V) =>
        Object.fromEntries(Array.from({ length: n * 2 }, () => [pick(KEYS), value()]));
      const v = await r.createVersion({
        model,
        manifest: manifest(`g${i}`),
        ...(n > 0
          ? {
              metrics: entries(() => pick(FINITE)),
              params: entries(() => pick(TEXTS)),
              tags: entries(() => pick(TEXTS)),
            }
          : {}),
        ...(n > 2 && created.length > 1
          ? {
              lineage: {
                parents: [pick(created), pick(created)].filter((p, k, a) => a.indexOf(p) === k),
                datasets: [
                  { name: pick(KEYS), uri: pick(TEXTS), digest: 'sha256:1' },
                  { name: `${pick(KEYS)}-2` },
                ].filter((d, k, a) => a.findIndex((x) => x.name === d.name) === k),
                code: { gitCommit: pick(TEXTS), ...(n > 3 ? { gitDirty: n === 4 } : {}) },
              },
            }
          : {}),
      });
      const ref = `${v.model}@${v.version}`;
      created.push(ref);
      if (n > 0 && i % 11 !== 5 && next() % 2 === 0) {
        await r.setAlias(v.model, `al-${pick(['a', 'B', '_', 'Z'])}-${i}`, v.version);
      }

      if (i % 7 === 3) await r.transitionStage(ref, 'Archived');
      if (i % 7 === 4) await r.transitionStage(ref, 'Production');
      if (i % 11 === 5) {
        await r.deleteVersion(ref);
        created.pop(); // a parent must be live
      }
    }
    const all = await db
      .selectFrom('model_versions as v')
      .innerJoin('registered_models as m', 'm.id', 'v.model_id')
      .selectAll('v')
      .select('m.name as model_name')
      .orderBy('v.id')
      .execute();
    // Values the API refuses (not finite) written as a logger or an older server could.
    for (const [k, row] of all.entries()) {
      if (k % 6 === 0) continue;
      if (k % 5 === 2) {
        // Aliases the API refuses; U+FF21 and U+1D400: code point and code unit orders differ.
        await db
          .insertInto('aliases')
          .values(
            [`a\uFF21${k}`, `a\u{1D400}${k}`, `q"${k}`].map((alias) => ({
              model_id: row.model_id,
              alias,
              version_id: row.id,
              updated_at: 1,
            })),
          )
          .execute();
      }
      if (k % 3 !== 0) {
        for (const table of ['version_params', 'version_tags'] as const) {
          await db
            .insertInto(table)
            .values(ODD_KEYS.map((key) => ({ version_id: row.id, key, value: pick(TEXTS) })))
            .execute();
        }
        await db
          .insertInto('version_latest_metrics')
          .values(
            ODD_KEYS.map((key) => ({
              version_id: row.id,
              key,
              value: pick(FINITE),
              step: 0,
              timestamp: 1,
            })),
          )
          .execute();
      }
      for (const [j, value] of [...SPECIAL, ...FINITE].entries()) {
        if ((k + j) % 3 === 0) continue;
        await db
          .insertInto('version_latest_metrics')
          .values({
            version_id: row.id,
            key: `special${j}`,
            value: stored(value),
            step: 0,
            timestamp: 1,
          })
          .execute();
      }
      if (k % 4 === 1) {
        await db
          .insertInto('version_scans')
          .values({
            version_id: row.id,
            verdict: 'dangerous',
            scanner: 't',
            scanned_at: 1,
            files: k,
          })
          .execute();
        await db
          .insertInto('version_scan_files')
          .values(
            [pick(TEXTS), 'b.pkl', 'a.pkl'].map((path, f) => ({
              version_id: row.id,
              path: `${path}${f}`,
              sha256: 'x',
              verdict: f === 1 ? 'safe' : 'dangerous',
              scanner: 't',
              report: '{}',
            })),
          )
          .execute();
        await db
          .insertInto('version_signatures')
          .values(
            ['ff01', `k${pick(KEYS)}`].map((key_id) => ({
              version_id: row.id,
              key_id,
              public_key: 'pem',
              bundle: '{}',
              created_by: 'ana',
              created_at: 1,
            })),
          )
          .execute();
      }
    }
    rows = await db
      .selectFrom('model_versions as v')
      .innerJoin('registered_models as m', 'm.id', 'v.model_id')
      .selectAll('v')
      .select('m.name as model_name')
      .orderBy('v.id')
      .execute();
    const shuffled = rows.map((r) => r.id);
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = next() % (i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    ids = [999_999, ...shuffled.slice(0, 10), shuffled[3]!, 0, ...shuffled.slice(10), -1];
  });
  afterAll(async () => {
    await t.cleanup();
  });

  it('covers what it is meant to', () => {
    const metrics = rows.length;
    expect(metrics).toBe(36);
    expect(rows.some((r) => r.deleted_at !== null)).toBe(true);
    expect(rows.some((r) => r.stage === 'Archived')).toBe(true);
  });

  const cases = [
    ['every detail', {}],
    ['runData: false', { runData: false }],
    ['listing', { listing: true }],
  ] as const;

  it.each(cases)('readVersions gives what hydrateVersions gives (%s)', async (_, options) => {
    const byId = new Map(rows.map((r) => [r.id, r]));
    const known = ids.flatMap((id) => byId.get(id) ?? []);
    const db = t.database.db;
    const read = await readVersions(db, ids, dialect, options);
    for (const reads of ['per-table', 'one-statement'] as const) {
      const expected = await hydrateVersions(db, known, reads, options);
      expect(read).toEqual(expected);
      // JSON text: the order of every record's keys and of every list.
      expect(JSON.stringify(read)).toBe(JSON.stringify(expected));
      for (const [i, v] of read.entries()) {
        expect(Object.keys(v.metrics)).toEqual(Object.keys(expected[i]!.metrics));
      }
    }
    expect(read.map((v) => `${v.model}@${v.version}`)).toEqual(
      known.map((r) => `${r.model_name}@${r.version}`),
    );
    if (!('listing' in options) && !('runData' in options)) {
      // The fixture holds what the comparison is about.
      const values = read.flatMap((v) => Object.values(v.metrics));
      for (const x of [...FINITE, ...SPECIAL]) {
        expect(values.some((y) => Object.is(x, y))).toBe(true);
      }
      expect(read.some((v) => v.scan !== null && v.signatures.length === 2)).toBe(true);
      expect(read.some((v) => v.lineage.parents.length > 0 && v.lineage.code !== null)).toBe(true);
      expect(read.some((v) => Object.keys(v.tags).length === 0 && v.aliases.length === 0)).toBe(
        true,
      );
    }
  });

  it('readVersion gives what hydrateVersion gives, version by version', async () => {
    for (const row of rows) {
      const expected = await hydrateVersion(t.database.db, row, row.model_name, 'per-table');
      const read = await t.database.reads((db) => readVersion(db, row, row.model_name, dialect));
      expect(read).toEqual(expected);
      expect(JSON.stringify(read)).toBe(JSON.stringify(expected));
    }
  });
});

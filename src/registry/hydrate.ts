/**
 * Turns rows into the API's RegisteredModel / ModelVersion objects, loading their tags,
 * metrics, params, aliases and lineage in one query per kind for a whole page. Key/value
 * rows are read in `(version_id, key)` order, the order of their primary key, so the
 * database streams them from the index instead of sorting them.
 */
import { CompiledQuery, type Kysely, sql } from 'kysely';
import { groupBy } from '../core/group-by.js';
import type { VersionSummary } from '../core/model-inspection.js';
import type {
  DatasetRef,
  ModelVersion,
  RegisteredModel,
  ScanSummary,
  VersionKey,
} from '../core/registry-api.js';
import { constantStatement } from '../metadata/constant-statements.js';
import {
  executeCompiled,
  PreparedQueryFamily,
  prepareQuery,
  rowsOf,
} from '../metadata/prepared-query.js';
import type { ModelVersionRow, RegisteredModelRow, RegistryDB } from '../metadata/schema.js';
import type { SqlDialectName } from '../metadata/search/compile-filter.js';

/** The stored summary JSON, or null (absent, or unreadable: it is derived data). */
function parseSummary(text: string | null | undefined): VersionSummary | null {
  if (!text) return null;
  try {
    return JSON.parse(text) as VersionSummary;
  } catch {
    return null;
  }
}

export type VersionRowWithModel = ModelVersionRow & { readonly model_name: string };

function record<V>(pairs: readonly (readonly [string, V])[] | undefined): Record<string, V> {
  return Object.fromEntries(pairs ?? []);
}

/**
 * `pairs` (distinct keys) as a record in the key order hydration gives (code units), for a
 * caller that has just written them and need not read them back.
 */
export function recordInKeyOrder<V>(pairs: readonly (readonly [string, V])[]): Record<string, V> {
  return record([...pairs].sort(compareBy((p) => p[0])));
}

/** hydrateModels' statements for `n` models, compiled once per page size (prepared-query.ts). */
const modelDetails = new PreparedQueryFamily((n: number) => {
  type P = { ids: readonly { id: number }[] };
  const ids = (p: P) => rowsOf(p.ids, n).map((r) => r.id);
  return {
    tags: prepareQuery((db: Kysely<RegistryDB>, p: P) =>
      db
        .selectFrom('model_tags')
        .select(['model_id', 'key', 'value'])
        .where('model_id', 'in', ids(p))
        .orderBy('key'),
    ),
    aliases: prepareQuery((db: Kysely<RegistryDB>, p: P) =>
      db
        .selectFrom('aliases as a')
        .innerJoin('model_versions as v', 'v.id', 'a.version_id')
        .select(['a.model_id', 'a.alias', 'v.version'])
        .where('a.model_id', 'in', ids(p))
        .orderBy('a.alias'),
    ),
    // Each model's highest live version number: walks the (model_id, version) index from
    // the top and stops at the first live row. max(version) under the deleted_at filter
    // read every version of the model instead (~0.7 ms at 2,000 versions, on every get).
    latest: prepareQuery((db: Kysely<RegistryDB>, p: P) =>
      db
        .selectFrom('registered_models as m')
        .select([
          'm.id as model_id',
          (eb) =>
            eb
              .selectFrom('model_versions as v')
              .select('v.version')
              .whereRef('v.model_id', '=', 'm.id')
              .where('v.deleted_at', 'is', null)
              .orderBy('v.version', 'desc')
              // A literal: a bound LIMIT makes SQLite prepare the statement again on every
              // run (sqlite-inline-limits.ts, which inlines only the outermost one).
              .limit(sql.lit(1))
              .as('latest'),
        ])
        .where('m.id', 'in', ids(p)),
    ),
  };
});

/** Models in the order given. */
export async function hydrateModels(
  db: Kysely<RegistryDB>,
  rows: readonly RegisteredModelRow[],
): Promise<RegisteredModel[]> {
  if (rows.length === 0) return [];
  const q = modelDetails.for(rows.length);
  const p = { ids: rows.map((r) => ({ id: r.id })) };
  const [tags, aliases, latest] = await Promise.all([
    q.tags.execute(db, p),
    q.aliases.execute(db, p),
    q.latest.execute(db, p),
  ]);
  const tagsBy = groupBy(
    tags,
    (t) => t.model_id,
    (t) => [t.key, t.value] as const,
  );
  const aliasesBy = groupBy(
    aliases,
    (a) => a.model_id,
    (a) => [a.alias, a.version] as const,
  );
  const latestBy = new Map(
    latest.flatMap((l) => (l.latest === null ? [] : [[l.model_id, Number(l.latest)] as const])),
  );
  return rows.map((r) => ({
    name: r.name,
    description: r.description,
    owner: r.owner,
    tags: record(tagsBy.get(r.id)),
    aliases: record(aliasesBy.get(r.id)),
    latestVersion: latestBy.get(r.id) ?? null,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    deletedAt: r.deleted_at,
  }));
}

/**
 * How the details of a page of versions (metrics, params, tags, aliases, lineage, scan,
 * signatures) are read. Both return the same rows on both dialects (hydrate.test.ts runs
 * each on each); they differ in cost only:
 * - `one-statement`: one UNION ALL over the ten tables. On PostgreSQL every statement is a
 *   round trip and a pooled connection, which made ten of them the bulk of a version read
 *   (server CPU per GET version under load: 6.7–8.1 ms with ten, 3.8 ms with one;
 *   bench/replicas-load.ts).
 * - `per-table`: one statement per table. SQLite runs in-process, so statements are cheap,
 *   while its row objects cost per column: the union's seven-column rows made a 100-version
 *   page about 1.5× slower to hydrate than ten narrow statements.
 */
export type DetailReads = 'one-statement' | 'per-table';

/** The cheaper way to read details on `dialect` (see DetailReads). */
export function detailReadsFor(dialect: SqlDialectName): DetailReads {
  return dialect === 'postgres' ? 'one-statement' : 'per-table';
}

/** Which table a row of the one-statement union came from. */
enum Detail {
  Metric = 0,
  Param = 1,
  Tag = 2,
  Alias = 3,
  Parent = 4,
  Dataset = 5,
  Code = 6,
  Scan = 7,
  Flagged = 8,
  Signature = 9,
}

/** A row of the union: `kind` says which table, `a`…`i` carry its values (see the branches). */
interface DetailRow {
  readonly kind: Detail;
  readonly vid: number;
  readonly a: string | null;
  readonly b: string | null;
  readonly c: string | null;
  readonly n: number | null;
  readonly i: number | null;
}

/** Everything hydrateVersions needs besides the version rows, per table. */
interface Details {
  metrics: { version_id: number; key: string; value: number }[];
  params: { version_id: number; key: string; value: string }[];
  tags: { version_id: number; key: string; value: string }[];
  aliases: { version_id: number; alias: string }[];
  parents: { version_id: number; name: string; version: number }[];
  datasets: { version_id: number; name: string; uri: string | null; digest: string | null }[];
  code: {
    version_id: number;
    git_remote: string | null;
    git_commit: string | null;
    git_dirty: number | null;
  }[];
  scans: { version_id: number; verdict: string; files: number }[];
  flagged: { version_id: number; path: string }[];
  signatures: { version_id: number; key_id: string }[];
}

/** The union of the ten tables for versions `ids`, unordered. NULLs are cast so that both dialects type every branch alike. */
function unionOfDetails(db: Kysely<RegistryDB>, ids: readonly number[]) {
  const text = sql<string | null>`cast(null as text)`;
  const real = sql<number | null>`cast(null as double precision)`;
  const int = sql<number | null>`cast(null as integer)`;
  const kind = (k: Detail) => sql<Detail>`${sql.lit(k)}`.as('kind');
  // The first branch types the union's columns: wide enough for every branch.
  const nullable = <T>(column: string) => sql<T | null>`${sql.ref(column)}`;
  return db
    .selectFrom('version_latest_metrics')
    .where('version_id', 'in', ids)
    .select([kind(Detail.Metric), 'version_id as vid', nullable<string>('key').as('a')])
    .select([text.as('b'), text.as('c'), nullable<number>('value').as('n'), int.as('i')])
    .unionAll(
      db
        .selectFrom('version_params')
        .where('version_id', 'in', ids)
        .select([kind(Detail.Param), 'version_id as vid', 'key as a', 'value as b', text.as('c')])
        .select([real.as('n'), int.as('i')]),
    )
    .unionAll(
      db
        .selectFrom('version_tags')
        .where('version_id', 'in', ids)
        .select([kind(Detail.Tag), 'version_id as vid', 'key as a', 'value as b', text.as('c')])
        .select([real.as('n'), int.as('i')]),
    )
    .unionAll(
      db
        .selectFrom('aliases')
        .where('version_id', 'in', ids)
        .select([kind(Detail.Alias), 'version_id as vid', 'alias as a', text.as('b'), text.as('c')])
        .select([real.as('n'), int.as('i')]),
    )
    .unionAll(
      db
        .selectFrom('version_parents as p')
        .innerJoin('model_versions as pv', 'pv.id', 'p.parent_version_id')
        .innerJoin('registered_models as pm', 'pm.id', 'pv.model_id')
        .where('p.version_id', 'in', ids)
        .select([kind(Detail.Parent), 'p.version_id as vid', 'pm.name as a', text.as('b')])
        .select([text.as('c'), real.as('n'), 'pv.version as i']),
    )
    .unionAll(
      db
        .selectFrom('version_datasets')
        .where('version_id', 'in', ids)
        .select([kind(Detail.Dataset), 'version_id as vid', 'name as a', 'uri as b'])
        .select(['digest as c', real.as('n'), int.as('i')]),
    )
    .unionAll(
      db
        .selectFrom('version_code')
        .where('version_id', 'in', ids)
        .select([kind(Detail.Code), 'version_id as vid', 'git_remote as a', 'git_commit as b'])
        .select([text.as('c'), real.as('n'), 'git_dirty as i']),
    )
    .unionAll(
      db
        .selectFrom('version_scans')
        .where('version_id', 'in', ids)
        .select([kind(Detail.Scan), 'version_id as vid', 'verdict as a', text.as('b')])
        .select([text.as('c'), real.as('n'), 'files as i']),
    )
    .unionAll(
      db
        .selectFrom('version_scan_files')
        .where('version_id', 'in', ids)
        .where('verdict', '=', 'dangerous')
        .select([kind(Detail.Flagged), 'version_id as vid', 'path as a', text.as('b')])
        .select([text.as('c'), real.as('n'), int.as('i')]),
    )
    .unionAll(
      db
        .selectFrom('version_signatures')
        .where('version_id', 'in', ids)
        .select([kind(Detail.Signature), 'version_id as vid', 'key_id as a', text.as('b')])
        .select([text.as('c'), real.as('n'), int.as('i')]),
    );
}

async function detailsInOneStatement(
  db: Kysely<RegistryDB>,
  ids: readonly number[],
  runData: boolean,
): Promise<Details> {
  const rows = (await unionOfDetails(db, ids).execute()) as DetailRow[];
  const byKind: DetailRow[][] = Array.from({ length: Detail.Signature + 1 }, () => []);
  for (const d of rows) byKind[d.kind]?.push(d);
  const of = (k: Detail) => byKind[k]!;
  return {
    // One round trip either way on PostgreSQL: the union still reads them (see HydrateOptions).
    metrics: runData
      ? of(Detail.Metric).map((d) => ({ version_id: d.vid, key: d.a!, value: d.n! }))
      : [],
    params: runData
      ? of(Detail.Param).map((d) => ({ version_id: d.vid, key: d.a!, value: d.b! }))
      : [],
    tags: of(Detail.Tag).map((d) => ({ version_id: d.vid, key: d.a!, value: d.b! })),
    aliases: of(Detail.Alias).map((d) => ({ version_id: d.vid, alias: d.a! })),
    parents: of(Detail.Parent).map((d) => ({ version_id: d.vid, name: d.a!, version: d.i! })),
    datasets: of(Detail.Dataset).map((d) => ({
      version_id: d.vid,
      name: d.a!,
      uri: d.b,
      digest: d.c,
    })),
    code: of(Detail.Code).map((d) => ({
      version_id: d.vid,
      git_remote: d.a,
      git_commit: d.b,
      git_dirty: d.i,
    })),
    scans: of(Detail.Scan).map((d) => ({ version_id: d.vid, verdict: d.a!, files: d.i! })),
    flagged: of(Detail.Flagged).map((d) => ({ version_id: d.vid, path: d.a! })),
    signatures: of(Detail.Signature).map((d) => ({ version_id: d.vid, key_id: d.a! })),
  };
}

/**
 * detailsPerTable's statements for `n` versions, compiled once per page size
 * (prepared-query.ts): building and compiling ten statements cost more than SQLite spent
 * running them on a single-version read.
 */
const perTable = new PreparedQueryFamily((n: number) => {
  type P = { ids: readonly { id: number }[] };
  const ids = (p: P) => rowsOf(p.ids, n).map((r) => r.id);
  return {
    metrics: prepareQuery((db: Kysely<RegistryDB>, p: P) =>
      db
        .selectFrom('version_latest_metrics')
        .select(['version_id', 'key', 'value'])
        .where('version_id', 'in', ids(p)),
    ),
    params: prepareQuery((db: Kysely<RegistryDB>, p: P) =>
      db
        .selectFrom('version_params')
        .select(['version_id', 'key', 'value'])
        .where('version_id', 'in', ids(p)),
    ),
    tags: prepareQuery((db: Kysely<RegistryDB>, p: P) =>
      db
        .selectFrom('version_tags')
        .select(['version_id', 'key', 'value'])
        .where('version_id', 'in', ids(p)),
    ),
    aliases: prepareQuery((db: Kysely<RegistryDB>, p: P) =>
      db.selectFrom('aliases').select(['version_id', 'alias']).where('version_id', 'in', ids(p)),
    ),
    parents: prepareQuery((db: Kysely<RegistryDB>, p: P) =>
      db
        .selectFrom('version_parents as p')
        .innerJoin('model_versions as pv', 'pv.id', 'p.parent_version_id')
        .innerJoin('registered_models as pm', 'pm.id', 'pv.model_id')
        .select(['p.version_id', 'pm.name', 'pv.version'])
        .where('p.version_id', 'in', ids(p)),
    ),
    datasets: prepareQuery((db: Kysely<RegistryDB>, p: P) =>
      db
        .selectFrom('version_datasets')
        .select(['version_id', 'name', 'uri', 'digest'])
        .where('version_id', 'in', ids(p)),
    ),
    code: prepareQuery((db: Kysely<RegistryDB>, p: P) =>
      db
        .selectFrom('version_code')
        .select(['version_id', 'git_remote', 'git_commit', 'git_dirty'])
        .where('version_id', 'in', ids(p)),
    ),
    scans: prepareQuery((db: Kysely<RegistryDB>, p: P) =>
      db
        .selectFrom('version_scans')
        .select(['version_id', 'verdict', 'files'])
        .where('version_id', 'in', ids(p)),
    ),
    flagged: prepareQuery((db: Kysely<RegistryDB>, p: P) =>
      db
        .selectFrom('version_scan_files')
        .select(['version_id', 'path'])
        .where('version_id', 'in', ids(p))
        .where('verdict', '=', 'dangerous'),
    ),
    signatures: prepareQuery((db: Kysely<RegistryDB>, p: P) =>
      db
        .selectFrom('version_signatures')
        .select(['version_id', 'key_id'])
        .where('version_id', 'in', ids(p)),
    ),
  };
});

async function detailsPerTable(
  db: Kysely<RegistryDB>,
  ids: readonly number[],
  runData: boolean,
): Promise<Details> {
  const q = perTable.for(ids.length);
  const p = { ids: ids.map((id) => ({ id })) };
  const [metrics, params, tags, aliases, parents, datasets, code, scans, flagged, signatures] =
    await Promise.all([
      runData ? q.metrics.execute(db, p) : [],
      runData ? q.params.execute(db, p) : [],
      q.tags.execute(db, p),
      q.aliases.execute(db, p),
      q.parents.execute(db, p),
      q.datasets.execute(db, p),
      q.code.execute(db, p),
      q.scans.execute(db, p),
      q.flagged.execute(db, p),
      q.signatures.execute(db, p),
    ]);
  return { metrics, params, tags, aliases, parents, datasets, code, scans, flagged, signatures };
}

/**
 * Sorts in place by `name`, then `number` — in code-unit order on both dialects, whichever
 * way the rows were read (an ORDER BY would follow PostgreSQL's collation, and made SQLite
 * sort each branch of the union in a temporary B-tree).
 */
function sortBy<T>(rows: T[], name: (r: T) => string, number?: (r: T) => number): T[] {
  return rows.sort(compareBy(name, number));
}

export interface HydrateOptions {
  /**
   * Load the versions' metrics and params (default true). false: they come back empty
   * (`{}`), for callers that never show them — MLflow's ModelVersion has neither, and a
   * page of 10 versions logged from runs of 100 metrics was ~1,200 rows read and turned
   * into records for nothing (most of an MLflow model-versions/search). Per-table reads
   * skip the two statements; the one-statement union still reads the rows.
   */
  readonly runData?: boolean;
  /**
   * true: only what MLflow's ModelVersion shows — the version's own columns, its model's
   * name, tags and aliases. Metrics, params, lineage, scan and signatures come back empty
   * (`{}`, `[]`, null) and `modelCard` and `summary` null (implies `runData: false`). On
   * SQLite a page of 10 versions spent about half of readVersions' statement on the six
   * detail subqueries and two text columns MLflow's model-versions/search then dropped.
   * Default false.
   */
  readonly listing?: boolean;
}

/** What `listing` leaves out of a version, empty (new objects: callers may change them). */
function notListed(tags: Record<string, string>, aliases: string[]): VersionDetails {
  return {
    metrics: {},
    params: {},
    tags,
    aliases,
    parents: [],
    datasets: [],
    code: undefined,
    scan: undefined,
    flagged: [],
    signatures: [],
  };
}

/** Versions in the order given. */
export async function hydrateVersions(
  db: Kysely<RegistryDB>,
  rows: readonly VersionRowWithModel[],
  reads: DetailReads = 'per-table',
  options: HydrateOptions = {},
): Promise<ModelVersion[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  if (options.listing) return listVersions(db, rows, ids);
  const details = reads === 'one-statement' ? detailsInOneStatement : detailsPerTable;
  const d = await details(db, ids, options.runData ?? true);
  const metrics = sortBy(d.metrics, (m) => m.key);
  const params = sortBy(d.params, (p) => p.key);
  const parents = sortBy(
    d.parents,
    (p) => p.name,
    (p) => p.version,
  );
  const datasets = sortBy(d.datasets, (x) => x.name);
  const { code, scans } = d;
  const flagged = sortBy(d.flagged, (f) => f.path);
  const signatures = sortBy(d.signatures, (x) => x.key_id);
  const metricsBy = groupBy(
    metrics,
    (m) => m.version_id,
    (m) => [m.key, m.value] as const,
  );
  const paramsBy = groupBy(
    params,
    (p) => p.version_id,
    (p) => [p.key, p.value] as const,
  );
  const { tagsBy, aliasesBy } = tagsAndAliasesBy(d.tags, d.aliases);
  const parentsBy = groupBy(
    parents,
    (p) => p.version_id,
    (p): VersionKey => ({ model: p.name, version: p.version }),
  );
  const datasetsBy = groupBy(
    datasets,
    (d) => d.version_id,
    (d): DatasetRef => ({ name: d.name, uri: d.uri, digest: d.digest }),
  );
  const codeBy = new Map(code.map((c) => [c.version_id, c]));
  const scanBy = new Map(scans.map((x) => [x.version_id, x]));
  const flaggedBy = groupBy(
    flagged,
    (f) => f.version_id,
    (f) => f.path,
  );
  const signaturesBy = groupBy(
    signatures,
    (x) => x.version_id,
    (x) => x.key_id,
  );
  return rows.map((r) =>
    toModelVersion(r, {
      metrics: record(metricsBy.get(r.id)),
      params: record(paramsBy.get(r.id)),
      tags: record(tagsBy.get(r.id)),
      aliases: aliasesBy.get(r.id) ?? [],
      parents: parentsBy.get(r.id) ?? [],
      datasets: datasetsBy.get(r.id) ?? [],
      code: codeBy.get(r.id),
      scan: scanBy.get(r.id),
      flagged: flaggedBy.get(r.id) ?? [],
      signatures: signaturesBy.get(r.id) ?? [],
    }),
  );
}

/**
 * Tags (key order) and aliases (name order) of each version, by version id. Sorts the
 * arrays given in place (sortBy).
 */
function tagsAndAliasesBy(
  tags: { version_id: number; key: string; value: string }[],
  aliases: { version_id: number; alias: string }[],
) {
  return {
    tagsBy: groupBy(
      sortBy(tags, (t) => t.key),
      (t) => t.version_id,
      (t) => [t.key, t.value] as const,
    ),
    aliasesBy: groupBy(
      sortBy(aliases, (a) => a.alias),
      (a) => a.version_id,
      (a) => a.alias,
    ),
  };
}

/** hydrateVersions with `listing`: two of detailsPerTable's statements. */
async function listVersions(
  db: Kysely<RegistryDB>,
  rows: readonly VersionRowWithModel[],
  ids: readonly number[],
): Promise<ModelVersion[]> {
  const q = perTable.for(ids.length);
  const p = { ids: ids.map((id) => ({ id })) };
  const [tags, aliases] = await Promise.all([q.tags.execute(db, p), q.aliases.execute(db, p)]);
  const { tagsBy, aliasesBy } = tagsAndAliasesBy(tags, aliases);
  return rows.map((r) =>
    toModelVersion(
      { ...r, model_card: null, summary: null },
      notListed(record(tagsBy.get(r.id)), aliasesBy.get(r.id) ?? []),
    ),
  );
}

/** One version's details, each list and record already in code-unit order. */
interface VersionDetails {
  readonly metrics: Record<string, number>;
  readonly params: Record<string, string>;
  readonly tags: Record<string, string>;
  readonly aliases: string[];
  readonly parents: VersionKey[];
  readonly datasets: DatasetRef[];
  readonly code:
    | { git_remote: string | null; git_commit: string | null; git_dirty: number | null }
    | undefined;
  readonly scan: { verdict: string; files: number } | undefined;
  /** Paths of the files the scan found dangerous. */
  readonly flagged: string[];
  /** Key ids of the signatures. */
  readonly signatures: string[];
}

function toModelVersion(
  r: VersionRowWithModel | VersionListingRow,
  d: VersionDetails,
): ModelVersion {
  const { code: c, scan } = d;
  return {
    model: r.model_name,
    version: r.version,
    digest: r.manifest_digest,
    size: r.size,
    fileCount: r.file_count,
    description: r.description,
    modelCard: ('model_card' in r ? r.model_card : null) ?? null,
    summary: 'summary' in r ? parseSummary(r.summary) : null,
    createdBy: r.created_by,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    status: r.status,
    statusMessage: r.status_message,
    stage: r.stage,
    approval: {
      state: r.approval,
      reviewer: r.approval_reviewer,
      comment: r.approval_comment,
      time: r.approval_time,
    },
    runId: r.run_id,
    source: r.source,
    metrics: d.metrics,
    params: d.params,
    tags: d.tags,
    aliases: d.aliases,
    lineage: {
      parents: d.parents,
      datasets: d.datasets,
      code: c
        ? {
            gitRemote: c.git_remote,
            gitCommit: c.git_commit,
            gitDirty: c.git_dirty === null ? null : c.git_dirty !== 0,
          }
        : null,
    },
    deletedAt: r.deleted_at,
    scan: scan
      ? {
          verdict: scan.verdict as ScanSummary['verdict'],
          files: scan.files,
          dangerous: d.flagged,
        }
      : null,
    signatures: d.signatures,
  };
}

/** What a version's creation wrote besides its row (VersionService.create). */
export interface WrittenDetails {
  /** One latest point a key (the input's), any order. */
  readonly metrics: readonly (readonly [string, number])[];
  readonly params: readonly (readonly [string, string])[];
  readonly tags: readonly (readonly [string, string])[];
  readonly parents: readonly VersionKey[];
  readonly datasets: readonly DatasetRef[];
  readonly code: {
    readonly gitRemote: string | null;
    readonly gitCommit: string | null;
    readonly gitDirty: number | null;
  } | null;
  /** The scan recorded with it; null: none. */
  readonly scan: ScanSummary | null;
}

/**
 * The version a creation has just written, built from `row` (as inserted) and `written`
 * instead of read back: what readVersion gives for it in the same transaction (a new
 * version has no aliases or signatures yet), each list and record in the order a read
 * gives (code units). The caller makes sure every text it wrote reads back unchanged:
 * a lone surrogate does not (SQLite keeps its bytes and reads them back as three U+FFFD,
 * PostgreSQL stores one U+FFFD), so a creation with one reads its version back instead.
 * version-service.test.ts holds the two equal, key order included, on both dialects.
 */
export function writtenVersion(row: VersionRowWithModel, written: WrittenDetails): ModelVersion {
  const { code, scan } = written;
  return toModelVersion(row, {
    metrics: recordInKeyOrder(written.metrics),
    params: recordInKeyOrder(written.params),
    tags: recordInKeyOrder(written.tags),
    aliases: [],
    parents: sortBy(
      [...written.parents],
      (p) => p.model,
      (p) => p.version,
    ),
    datasets: sortBy(
      written.datasets.map((d) => ({ name: d.name, uri: d.uri, digest: d.digest })),
      (d) => d.name,
    ),
    code: code
      ? { git_remote: code.gitRemote, git_commit: code.gitCommit, git_dirty: code.gitDirty }
      : undefined,
    scan: scan ? { verdict: scan.verdict, files: scan.files } : undefined,
    flagged: scan ? sortBy([...scan.dangerous], (p) => p) : [],
    signatures: [],
  });
}

/** One version row (as found by lookups) with its model's name, hydrated. */
export async function hydrateVersion(
  db: Kysely<RegistryDB>,
  row: ModelVersionRow,
  modelName: string,
  reads: DetailReads = 'per-table',
  options: HydrateOptions = {},
): Promise<ModelVersion> {
  const [v] = await hydrateVersions(db, [{ ...row, model_name: modelName }], reads, options);
  return v!;
}

/**
 * One version row (as found by lookups) with its model's name, hydrated by readVersions'
 * one statement on either dialect (on SQLite a single version's ten per-table statements
 * cost more in per-statement overhead than SQLite spent reading; on PostgreSQL each
 * statement is a round trip). It gives what hydrateVersion gives (hydrate.test.ts). A row
 * deleted since it was found (another process purged it) is hydrated from the row given,
 * with the details that are left. `options` as hydrateVersions' (runData).
 */
export async function readVersion(
  db: Kysely<RegistryDB>,
  row: ModelVersionRow,
  modelName: string,
  dialect: SqlDialectName,
  options: HydrateOptions = {},
): Promise<ModelVersion> {
  const [v] = await readVersions(db, [row.id], dialect, options);
  if (v) return v;
  return hydrateVersion(db, row, modelName, detailReadsFor(dialect), options);
}

/**
 * Versions by id, in the order given (ids that do not exist are left out), hydrated, in
 * one constant statement on both dialects: on SQLite the rows with every detail as JSON
 * built by SQLite (VERSIONS_WITH_DETAILS; a 100-version page was 13 statements, each
 * compiled by Kysely per call, since the page's `IN` list made each a new text, and each
 * materialising row objects, then grouped and sorted in JavaScript); on PostgreSQL the
 * rows with every detail as json_agg arrays (PG_VERSIONS: MLflow's model-versions/search
 * was three statements after its page, a version read two).
 */
export async function readVersions(
  db: Kysely<RegistryDB>,
  ids: readonly number[],
  dialect: SqlDialectName,
  options: HydrateOptions = {},
): Promise<ModelVersion[]> {
  if (ids.length === 0) return [];
  if (dialect === 'postgres') return readPgVersions(db, ids, options);
  if (options.listing) {
    const { rows } = await executeCompiled(
      db,
      CompiledQuery.raw(VERSION_LISTINGS, [JSON.stringify(ids)]),
    );
    const byId = new Map(
      (rows as { r: string }[]).map(({ r }) => {
        const listed = listingOfJson(r);
        return [listed.row.id, listed];
      }),
    );
    return ids.flatMap((id) => {
      const v = byId.get(id);
      return v ? [toModelVersion(v.row, v.details)] : [];
    });
  }
  const statement = (options.runData ?? true) ? VERSIONS_WITH_DETAILS : VERSIONS_WITHOUT_RUN_DATA;
  const { rows } = await executeCompiled(db, CompiledQuery.raw(statement, [JSON.stringify(ids)]));
  const byId = new Map((rows as VersionRowWithDetails[]).map((r) => [r.id, r]));
  return ids.flatMap((id) => {
    const r = byId.get(id);
    return r ? [toModelVersion(r, detailsOfJson(r))] : [];
  });
}

/** A row of VERSIONS_WITH_DETAILS: the version, its model's name, its details as JSON text. */
type VersionRowWithDetails = VersionRowWithModel & {
  readonly metrics_json: string;
  readonly params_json: string;
  readonly tags_json: string;
  readonly aliases_json: string;
  readonly parents_json: string;
  readonly datasets_json: string;
  /** `[remote, commit, dirty]` or null. */
  readonly code_json: string | null;
  /** `[verdict, files]` or null. */
  readonly scan_json: string | null;
  readonly flagged_json: string;
  readonly signatures_json: string;
};

const RUN_DATA_JSON = `  (select json_group_object(x.key, x.value) from version_latest_metrics as x where x.version_id = v.id) as metrics_json,
  (select json_group_object(x.key, x.value) from version_params as x where x.version_id = v.id) as params_json,`;
const RUN_DATA_EMPTY = `  '{}' as metrics_json, '{}' as params_json,`;

/**
 * SQLite only (JSON functions): the versions listed in `?` (a JSON array of ids), in no
 * particular order, each with its details as JSON (put in order by `ordered`). A detail subquery with no rows gives `{}` / `[]`
 * (`null` for the single-row code and scan). SQLite's JSON renders a REAL with the
 * shortest text that reads back as the same double (infinities as ±9e999, which JSON.parse
 * reads back as ±Infinity).
 */
const versionsWithDetails = (runData: boolean) => `select v.*, m.name as model_name,
${runData ? RUN_DATA_JSON : RUN_DATA_EMPTY}
  (select json_group_object(x.key, x.value) from version_tags as x where x.version_id = v.id) as tags_json,
  (select json_group_array(x.alias) from aliases as x where x.version_id = v.id) as aliases_json,
  (select json_group_array(json_array(pm.name, pv.version))
     from version_parents as p
     inner join model_versions as pv on pv.id = p.parent_version_id
     inner join registered_models as pm on pm.id = pv.model_id
     where p.version_id = v.id) as parents_json,
  (select json_group_array(json_array(x.name, x.uri, x.digest)) from version_datasets as x where x.version_id = v.id) as datasets_json,
  (select json_array(x.git_remote, x.git_commit, x.git_dirty) from version_code as x where x.version_id = v.id) as code_json,
  (select json_array(x.verdict, x.files) from version_scans as x where x.version_id = v.id) as scan_json,
  (select json_group_array(x.path) from version_scan_files as x where x.version_id = v.id and x.verdict = 'dangerous') as flagged_json,
  (select json_group_array(x.key_id) from version_signatures as x where x.version_id = v.id) as signatures_json
from json_each(?) as j
inner join model_versions as v on v.id = j.value
inner join registered_models as m on m.id = v.model_id`;
const VERSIONS_WITH_DETAILS = versionsWithDetails(true);
/** The same without the versions' metrics and params (HydrateOptions.runData false). */
const VERSIONS_WITHOUT_RUN_DATA = versionsWithDetails(false);

/** A version as VERSION_LISTINGS reads it: the row without its model card and summary. */
type VersionListingRow = Omit<VersionRowWithModel, 'model_card' | 'summary'>;

/** VERSION_LISTINGS' columns, in the order of each row's JSON array. */
const LISTED_COLUMNS = [
  'id',
  'model_id',
  'version',
  'manifest_digest',
  'size',
  'file_count',
  'description',
  'created_by',
  'created_at',
  'updated_at',
  'status',
  'status_message',
  'stage',
  'approval',
  'approval_reviewer',
  'approval_comment',
  'approval_time',
  'run_id',
  'source',
  'deleted_at',
] as const satisfies readonly (keyof VersionListingRow)[];

/**
 * SQLite only: readVersions with `listing` (HydrateOptions), as VERSIONS_WITH_DETAILS
 * but each version one JSON array — LISTED_COLUMNS, the model's name, the tags as an
 * object, the aliases as an array. better-sqlite3's cost grows with the columns of each
 * row object it makes: 23 columns of 10 rows cost ~2.4 times one JSON text a row that
 * JSON.parse reads (profiled). No column is a REAL, so the JSON text loses nothing.
 */
const VERSION_LISTINGS = `select json_array(${LISTED_COLUMNS.map((c) => `v.${c}`).join(', ')}, m.name,
  json((select json_group_object(x.key, x.value) from version_tags as x where x.version_id = v.id)),
  json((select json_group_array(x.alias) from aliases as x where x.version_id = v.id))) as r
from json_each(?) as j
inner join model_versions as v on v.id = j.value
inner join registered_models as m on m.id = v.model_id`;

/** One row of VERSION_LISTINGS, as toModelVersion's row and details. */
function listingOfJson(text: string): { row: VersionListingRow; details: VersionDetails } {
  // Positions as in LISTED_COLUMNS; an object literal (not a loop of keyed stores) gives
  // every row one hidden class.
  const a = JSON.parse(text) as unknown[];
  const row = {
    id: a[0],
    model_id: a[1],
    version: a[2],
    manifest_digest: a[3],
    size: a[4],
    file_count: a[5],
    description: a[6],
    created_by: a[7],
    created_at: a[8],
    updated_at: a[9],
    status: a[10],
    status_message: a[11],
    stage: a[12],
    approval: a[13],
    approval_reviewer: a[14],
    approval_comment: a[15],
    approval_time: a[16],
    run_id: a[17],
    source: a[18],
    deleted_at: a[19],
    model_name: a[20],
  } as VersionListingRow;
  const tags = orderedRecord<string>(a[21] as Record<string, string>);
  return {
    row,
    details: notListed(
      tags,
      ordered(a[22] as string[], (x) => x),
    ),
  };
}

/**
 * PostgreSQL only: the versions in `$1` (an int8 array), in no particular order, each row
 * the version's columns (LISTED_COLUMNS with `listing`, else all), its model's name and
 * its details as json_agg arrays, each NULL when empty (`l_code` and `l_scan` one array or
 * NULL); `runData` false or `listing` leave the details they leave out NULL. A detail's
 * rows are aggregated unordered and put in order by `ordered`, as SQLite's are: the columns'
 * "C" collation orders by code point, the API by code unit. PostgreSQL's JSON only carries
 * the values: a metric goes as float8's own text, which is what node-postgres parses (with
 * parseFloat) for the union of detailsInOneStatement, so it reads back as the same double
 * (-0, NaN, ±Infinity and subnormals included) under any extra_float_digits; every other
 * number in the JSON is an int4 (a parent's version, git_dirty, a scan's files), exact in
 * a double; texts are JSON strings. The version's own columns are plain columns, parsed by
 * the pool's parsers as any row is.
 */
function pgVersions(what: 'details' | 'no-run-data' | 'listing'): string {
  const agg = (value: string, table: string, extra = '') =>
    `(select json_agg(${value}) from ${table} as x where x.version_id = v.id${extra})`;
  const columns =
    what === 'listing'
      ? [
          ...LISTED_COLUMNS.map((c) => `v.${c}`),
          'm.name as model_name',
          `${agg('json_build_array(x.key, x.value)', 'version_tags')} as l_tags`,
          `${agg('x.alias', 'aliases')} as l_aliases`,
        ]
      : [
          'v.*',
          'm.name as model_name',
          ...(what === 'details'
            ? [
                `${agg('json_build_array(x.key, x.value::text)', 'version_latest_metrics')} as l_metrics`,
                `${agg('json_build_array(x.key, x.value)', 'version_params')} as l_params`,
              ]
            : []),
          `${agg('json_build_array(x.key, x.value)', 'version_tags')} as l_tags`,
          `${agg('x.alias', 'aliases')} as l_aliases`,
          `(select json_agg(json_build_array(pm.name, pv.version))
     from version_parents as x
     inner join model_versions as pv on pv.id = x.parent_version_id
     inner join registered_models as pm on pm.id = pv.model_id
     where x.version_id = v.id) as l_parents`,
          `${agg('json_build_array(x.name, x.uri, x.digest)', 'version_datasets')} as l_datasets`,
          `(select json_build_array(x.git_remote, x.git_commit, x.git_dirty) from version_code as x where x.version_id = v.id) as l_code`,
          `(select json_build_array(x.verdict, x.files) from version_scans as x where x.version_id = v.id) as l_scan`,
          `${agg('x.path', 'version_scan_files', " and x.verdict = 'dangerous'")} as l_flagged`,
          `${agg('x.key_id', 'version_signatures')} as l_signatures`,
        ];
  return `select ${columns.join(',\n  ')}
from model_versions as v
inner join registered_models as m on m.id = v.model_id
where v.id = any($1::int8[])`;
}
// Constant texts: PostgreSQL keeps each prepared on the connections that ran it.
const PG_VERSIONS = constantStatement(pgVersions('details'));
/** PG_VERSIONS without the versions' metrics and params (HydrateOptions.runData false). */
const PG_VERSIONS_WITHOUT_RUN_DATA = constantStatement(pgVersions('no-run-data'));
/** PG_VERSIONS with HydrateOptions.listing: the listed columns, tags and aliases. */
const PG_VERSION_LISTINGS = constantStatement(pgVersions('listing'));

/** A row of PG_VERSIONS (node-postgres parses its json columns); details absent: NULL. */
type PgVersionRow = VersionRowWithModel & {
  /** `[key, value as float8's text]`. */
  readonly l_metrics?: [string, string][] | null;
  readonly l_params?: [string, string][] | null;
  readonly l_tags: [string, string][] | null;
  readonly l_aliases: string[] | null;
  readonly l_parents?: [string, number][] | null;
  readonly l_datasets?: [string, string | null, string | null][] | null;
  readonly l_code?: [string | null, string | null, number | null] | null;
  readonly l_scan?: [string, number] | null;
  readonly l_flagged?: string[] | null;
  readonly l_signatures?: string[] | null;
};

/** readVersions on PostgreSQL: one statement (PG_VERSIONS), in the order of `ids`. */
async function readPgVersions(
  db: Kysely<RegistryDB>,
  ids: readonly number[],
  options: HydrateOptions,
): Promise<ModelVersion[]> {
  const statement = options.listing
    ? PG_VERSION_LISTINGS
    : (options.runData ?? true)
      ? PG_VERSIONS
      : PG_VERSIONS_WITHOUT_RUN_DATA;
  const { rows } = await executeCompiled(db, CompiledQuery.raw(statement, [ids]));
  const byId = new Map((rows as PgVersionRow[]).map((r) => [r.id, r]));
  return ids.flatMap((id) => {
    const r = byId.get(id);
    if (!r) return [];
    const tags = keyOrdered(r.l_tags);
    const aliases = ordered(r.l_aliases ?? [], (a) => a);
    return [
      toModelVersion(r, options.listing ? notListed(tags, aliases) : pgDetails(r, tags, aliases)),
    ];
  });
}

/** `[key, value]` pairs as a record, keys in code-unit order. */
function keyOrdered<V>(pairs: [string, V][] | null | undefined): Record<string, V> {
  return Object.fromEntries(ordered(pairs ?? [], (p) => p[0]));
}

/** A PG_VERSIONS row's details besides its tags and aliases, each in sortBy's order. */
function pgDetails(
  r: PgVersionRow,
  tags: Record<string, string>,
  aliases: string[],
): VersionDetails {
  const metrics = ordered(r.l_metrics ?? [], (m) => m[0]);
  const code = r.l_code;
  const scan = r.l_scan;
  return {
    metrics: Object.fromEntries(metrics.map(([key, value]) => [key, Number.parseFloat(value)])),
    params: keyOrdered(r.l_params),
    tags,
    aliases,
    parents: ordered(
      (r.l_parents ?? []).map(([model, version]): VersionKey => ({ model, version })),
      (p) => p.model,
      (p) => p.version,
    ),
    datasets: ordered(
      (r.l_datasets ?? []).map(([name, uri, digest]): DatasetRef => ({ name, uri, digest })),
      (d) => d.name,
    ),
    code: code ? { git_remote: code[0], git_commit: code[1], git_dirty: code[2] } : undefined,
    scan: scan ? { verdict: scan[0], files: scan[1] } : undefined,
    flagged: ordered(r.l_flagged ?? [], (f) => f),
    signatures: ordered(r.l_signatures ?? [], (k) => k),
  };
}

/** The comparison of sortBy. */
function compareBy<T>(name: (r: T) => string, number: (r: T) => number = () => 0) {
  return (x: T, y: T) => {
    const a = name(x);
    const b = name(y);
    if (a !== b) return a < b ? -1 : 1;
    return number(x) - number(y);
  };
}

/**
 * `items` in sortBy's order. SQLite aggregates a version's rows in the order it reads
 * them, which is the key order of the `(version_id, key)` index but is not promised (and
 * SQLite's BINARY order is by code point, not code unit); sorting inside the aggregate cost
 * a quarter of the statement, so the order is checked here and fixed when needed.
 */
function ordered<T>(items: T[], name: (r: T) => string, number?: (r: T) => number): T[] {
  const cmp = compareBy(name, number);
  for (let i = 1; i < items.length; i++) {
    if (cmp(items[i - 1]!, items[i]!) > 0) return items.sort(cmp);
  }
  return items;
}

/** A JSON object's entries (or the object parsed) as a record with its keys in code-unit order. */
function orderedRecord<V>(json: string | Record<string, V>): Record<string, V> {
  const r = typeof json === 'string' ? (JSON.parse(json) as Record<string, V>) : json;
  const keys = Object.keys(r);
  for (let i = 1; i < keys.length; i++) {
    if (keys[i - 1]! > keys[i]!) return Object.fromEntries(sortBy(Object.entries(r), ([k]) => k));
  }
  return r;
}

function detailsOfJson(r: VersionRowWithDetails): VersionDetails {
  const code = r.code_json === null ? undefined : (JSON.parse(r.code_json) as unknown[]);
  const scan = r.scan_json === null ? undefined : (JSON.parse(r.scan_json) as unknown[]);
  const parents = (JSON.parse(r.parents_json) as [string, number][]).map(
    ([model, version]): VersionKey => ({ model, version }),
  );
  const datasets = (JSON.parse(r.datasets_json) as [string, string | null, string | null][]).map(
    ([name, uri, digest]): DatasetRef => ({ name, uri, digest }),
  );
  return {
    metrics: orderedRecord<number>(r.metrics_json),
    params: orderedRecord<string>(r.params_json),
    tags: orderedRecord<string>(r.tags_json),
    aliases: ordered(JSON.parse(r.aliases_json) as string[], (a) => a),
    parents: ordered(
      parents,
      (p) => p.model,
      (p) => p.version,
    ),
    datasets: ordered(datasets, (d) => d.name),
    code: code && {
      git_remote: code[0] as string | null,
      git_commit: code[1] as string | null,
      git_dirty: code[2] as number | null,
    },
    scan: scan && { verdict: scan[0] as string, files: scan[1] as number },
    flagged: ordered(JSON.parse(r.flagged_json) as string[], (f) => f),
    signatures: ordered(JSON.parse(r.signatures_json) as string[], (k) => k),
  };
}

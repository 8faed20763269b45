/**
 * Turns rows into the API's RegisteredModel / ModelVersion objects, loading their tags,
 * metrics, params, aliases and lineage in one query per kind for a whole page. Key/value
 * rows are read in `(version_id, key)` order, the order of their primary key, so the
 * database streams them from the index instead of sorting them.
 */
import type { Kysely } from 'kysely';
import type { VersionSummary } from '../core/model-inspection.js';
import type {
  DatasetRef,
  ModelVersion,
  RegisteredModel,
  ScanSummary,
  VersionKey,
} from '../core/registry-api.js';
import type { ModelVersionRow, RegisteredModelRow, RegistryDB } from '../metadata/schema.js';

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

function group<R, V>(rows: readonly R[], key: (r: R) => number, value: (r: R) => V) {
  const out = new Map<number, V[]>();
  for (const r of rows) {
    const k = key(r);
    const list = out.get(k);
    if (list) list.push(value(r));
    else out.set(k, [value(r)]);
  }
  return out;
}

function record<V>(pairs: readonly (readonly [string, V])[] | undefined): Record<string, V> {
  return Object.fromEntries(pairs ?? []);
}

/** Models in the order given. */
export async function hydrateModels(
  db: Kysely<RegistryDB>,
  rows: readonly RegisteredModelRow[],
): Promise<RegisteredModel[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const [tags, aliases, latest] = await Promise.all([
    db
      .selectFrom('model_tags')
      .select(['model_id', 'key', 'value'])
      .where('model_id', 'in', ids)
      .orderBy('key')
      .execute(),
    db
      .selectFrom('aliases as a')
      .innerJoin('model_versions as v', 'v.id', 'a.version_id')
      .select(['a.model_id', 'a.alias', 'v.version'])
      .where('a.model_id', 'in', ids)
      .orderBy('a.alias')
      .execute(),
    db
      .selectFrom('model_versions')
      .select(['model_id', (eb) => eb.fn.max('version').as('latest')])
      .where('model_id', 'in', ids)
      .where('deleted_at', 'is', null)
      .groupBy('model_id')
      .execute(),
  ]);
  const tagsBy = group(
    tags,
    (t) => t.model_id,
    (t) => [t.key, t.value] as const,
  );
  const aliasesBy = group(
    aliases,
    (a) => a.model_id,
    (a) => [a.alias, a.version] as const,
  );
  const latestBy = new Map(latest.map((l) => [l.model_id, Number(l.latest)]));
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

/** Versions in the order given. */
export async function hydrateVersions(
  db: Kysely<RegistryDB>,
  rows: readonly VersionRowWithModel[],
): Promise<ModelVersion[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const [metrics, params, tags, aliases, parents, datasets, code, scans, flagged, signatures] =
    await Promise.all([
      db
        .selectFrom('version_latest_metrics')
        .select(['version_id', 'key', 'value'])
        .where('version_id', 'in', ids)
        .orderBy('version_id')
        .orderBy('key')
        .execute(),
      db
        .selectFrom('version_params')
        .select(['version_id', 'key', 'value'])
        .where('version_id', 'in', ids)
        .orderBy('version_id')
        .orderBy('key')
        .execute(),
      db
        .selectFrom('version_tags')
        .select(['version_id', 'key', 'value'])
        .where('version_id', 'in', ids)
        .orderBy('version_id')
        .orderBy('key')
        .execute(),
      db
        .selectFrom('aliases')
        .select(['version_id', 'alias'])
        .where('version_id', 'in', ids)
        .orderBy('alias')
        .execute(),
      db
        .selectFrom('version_parents as p')
        .innerJoin('model_versions as pv', 'pv.id', 'p.parent_version_id')
        .innerJoin('registered_models as pm', 'pm.id', 'pv.model_id')
        .select(['p.version_id', 'pm.name', 'pv.version'])
        .where('p.version_id', 'in', ids)
        .orderBy('pm.name')
        .orderBy('pv.version')
        .execute(),
      db
        .selectFrom('version_datasets')
        .selectAll()
        .where('version_id', 'in', ids)
        .orderBy('name')
        .execute(),
      db.selectFrom('version_code').selectAll().where('version_id', 'in', ids).execute(),
      db
        .selectFrom('version_scans')
        .select(['version_id', 'verdict', 'files'])
        .where('version_id', 'in', ids)
        .execute(),
      db
        .selectFrom('version_scan_files')
        .select(['version_id', 'path'])
        .where('version_id', 'in', ids)
        .where('verdict', '=', 'dangerous')
        .orderBy('path')
        .execute(),
      db
        .selectFrom('version_signatures')
        .select(['version_id', 'key_id'])
        .where('version_id', 'in', ids)
        .orderBy('key_id')
        .execute(),
    ]);
  const metricsBy = group(
    metrics,
    (m) => m.version_id,
    (m) => [m.key, m.value] as const,
  );
  const paramsBy = group(
    params,
    (p) => p.version_id,
    (p) => [p.key, p.value] as const,
  );
  const tagsBy = group(
    tags,
    (t) => t.version_id,
    (t) => [t.key, t.value] as const,
  );
  const aliasesBy = group(
    aliases,
    (a) => a.version_id,
    (a) => a.alias,
  );
  const parentsBy = group(
    parents,
    (p) => p.version_id,
    (p): VersionKey => ({ model: p.name, version: p.version }),
  );
  const datasetsBy = group(
    datasets,
    (d) => d.version_id,
    (d): DatasetRef => ({ name: d.name, uri: d.uri, digest: d.digest }),
  );
  const codeBy = new Map(code.map((c) => [c.version_id, c]));
  const scanBy = new Map(scans.map((x) => [x.version_id, x]));
  const flaggedBy = group(
    flagged,
    (f) => f.version_id,
    (f) => f.path,
  );
  const signaturesBy = group(
    signatures,
    (x) => x.version_id,
    (x) => x.key_id,
  );
  return rows.map((r) => {
    const c = codeBy.get(r.id);
    const scan = scanBy.get(r.id);
    return {
      model: r.model_name,
      version: r.version,
      digest: r.manifest_digest,
      size: r.size,
      fileCount: r.file_count,
      description: r.description,
      modelCard: r.model_card ?? null,
      summary: parseSummary(r.summary),
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
      metrics: record(metricsBy.get(r.id)),
      params: record(paramsBy.get(r.id)),
      tags: record(tagsBy.get(r.id)),
      aliases: aliasesBy.get(r.id) ?? [],
      lineage: {
        parents: parentsBy.get(r.id) ?? [],
        datasets: datasetsBy.get(r.id) ?? [],
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
            dangerous: flaggedBy.get(r.id) ?? [],
          }
        : null,
      signatures: signaturesBy.get(r.id) ?? [],
    };
  });
}

/** One version row (as found by lookups) with its model's name, hydrated. */
export async function hydrateVersion(
  db: Kysely<RegistryDB>,
  row: ModelVersionRow,
  modelName: string,
): Promise<ModelVersion> {
  const [v] = await hydrateVersions(db, [{ ...row, model_name: modelName }]);
  return v!;
}

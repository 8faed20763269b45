/**
 * Modelvault's registry types in MLflow's JSON shapes (model_registry.proto, as MLflow's
 * server serialises them: int64 as JSON numbers, `version` as a string, tags and aliases as
 * lists, unset optional fields omitted), and MLflow's request conventions: versions are
 * strings of digits, tags lists of `{key, value}`, paging by `max_results`/`page_token`.
 */
import { InvalidArgumentError } from '../../../core/errors.js';
import type { ModelVersion, RegisteredModel } from '../../../core/registry-api.js';
import { S } from '../../schema.js';

export interface MlflowTag {
  readonly key: string;
  readonly value: string;
}

function tagList(tags: Readonly<Record<string, string>>): MlflowTag[] {
  return Object.entries(tags)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => ({ key, value }));
}

/** model_registry.proto ModelVersion. */
export function mlflowModelVersion(v: ModelVersion): Record<string, unknown> {
  return {
    name: v.model,
    version: String(v.version),
    creation_timestamp: v.createdAt,
    last_updated_timestamp: v.updatedAt,
    ...(v.createdBy !== null ? { user_id: v.createdBy } : {}),
    current_stage: v.stage,
    ...(v.description !== null ? { description: v.description } : {}),
    ...(v.source !== null ? { source: v.source } : {}),
    ...(v.runId !== null ? { run_id: v.runId } : {}),
    status: v.status,
    ...(v.statusMessage !== null ? { status_message: v.statusMessage } : {}),
    tags: tagList(v.tags),
    aliases: [...v.aliases],
  };
}

/** model_registry.proto RegisteredModel, with the given latest versions. */
export function mlflowRegisteredModel(
  m: RegisteredModel,
  latest: readonly ModelVersion[],
): Record<string, unknown> {
  return {
    name: m.name,
    creation_timestamp: m.createdAt,
    last_updated_timestamp: m.updatedAt,
    ...(m.description !== null ? { description: m.description } : {}),
    latest_versions: latest.map(mlflowModelVersion),
    tags: tagList(m.tags),
    aliases: Object.entries(m.aliases)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([alias, version]) => ({ alias, version: String(version) })),
  };
}

/** `[{key, value}]` → record; a repeated key keeps the last value (as MLflow's stores do). */
export function tagRecord(tags: readonly MlflowTag[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of tags ?? []) out[t.key] = t.value;
  return out;
}

/** MLflow's version parameter: a string of digits. @throws InvalidArgumentError */
export function versionNumber(value: unknown): number {
  const s = String(value);
  if (!/^[0-9]{1,15}$/.test(s) || Number(s) < 1) {
    throw new InvalidArgumentError(
      `Invalid value for parameter 'version': '${s.slice(0, 40)}' is not a positive integer`,
    );
  }
  return Number(s);
}

/** `max_results` as MLflow reads it: absent → `fallback`; outside 1..max → INVALID_PARAMETER_VALUE. */
export function maxResults(raw: unknown, fallback: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1 || n > max) {
    throw new InvalidArgumentError(
      `Invalid value for request parameter max_results. It must be an integer from 1 to ${max}, got ${String(raw).slice(0, 40)}`,
    );
  }
  return n;
}

/** The registry's largest page: bigger MLflow pages are served in several pages. */
export const REGISTRY_PAGE_LIMIT = 10_000;

/** Query-string `order_by`: one value or repeated keys. */
export function orderByList(raw: unknown): string[] {
  if (raw === undefined || raw === null) return [];
  const items: unknown[] = Array.isArray(raw) ? raw : [raw];
  return items.map((s) => String(s)).filter((s) => s.trim() !== '');
}

/**
 * `order_by` of `registered-models/search`: MLflow's `timestamp` key means the model's
 * last_updated_timestamp there (its SQL store orders both by last_updated_time).
 */
export function registeredModelOrderBy(raw: unknown): string[] {
  return orderByList(raw).map((text) =>
    text.replace(/(^|,)(\s*)timestamp(?=\s|,|$)/gi, '$1$2last_updated_timestamp'),
  );
}

// ------------------------------------------------------------------ schemas

export const TAG_LIST = S.array(
  S.object({ key: S.string({ maxLength: 1000 }), value: S.string({ maxLength: 100_000 }) }),
  { maxItems: 1000 },
);
export const NAME = S.string({ maxLength: 1000 });
/** A version: MLflow sends strings, some clients numbers. */
export const VERSION = S.unknown({ description: 'a version number (string of digits)' });
export const ORDER_BY_QUERY = S.unknown({ description: 'one order_by term or several' });

/** Query strings and bodies ignore unknown fields, as MLflow's protobuf parsing does. */
export const LOOSE = { additionalProperties: true } as const;

/** The query string of `registered-models/search` and `model-versions/search`. */
export const SEARCH_QUERY = S.object(
  {
    filter: S.optional(S.string({ maxLength: 10_000 })),
    max_results: S.optional(S.string({ maxLength: 20 })),
    order_by: S.optional(ORDER_BY_QUERY),
    page_token: S.optional(S.string({ maxLength: 2000 })),
  },
  LOOSE,
);

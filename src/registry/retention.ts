/**
 * How long soft-deleted things stay restorable, and which stored manifests that keeps
 * alive. One rule shared by restore (refuses past the period) and garbage collection
 * (keeps the files of everything still restorable, with a grace margin on top), so a
 * version that can be restored always has its files.
 *
 * Expired versions are not purged: their rows stay (visible with includeDeleted, and in
 * the audit trail), only their files go at the next collection. MLflow runs and
 * experiments past the same period are purged, rows and all, by that collection
 * (tracking-purge.ts), as MLflow's `mlflow gc` does; until then they can be restored.
 */
import type { Kysely } from 'kysely';
import { ConflictError } from '../core/errors.js';
import type { RegistryDB } from '../metadata/schema.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** Default: a soft-deleted version or model can be restored for 30 days. */
export const DELETED_RETENTION_MS = 30 * DAY_MS;

/** "30 days", "36 hours": the period as people read it. */
export function describePeriod(ms: number): string {
  if (ms % DAY_MS === 0) return `${ms / DAY_MS} day${ms === DAY_MS ? '' : 's'}`;
  const hours = Math.round(ms / 3_600_000);
  return hours >= 1 ? `${hours} hour${hours === 1 ? '' : 's'}` : `${Math.round(ms / 1000)} s`;
}

/**
 * @throws ConflictError when `deletedAt` is longer than `retentionMs` before `now`.
 */
export function checkRestorable(
  what: string,
  deletedAt: number,
  now: number,
  retentionMs: number,
): void {
  if (now - deletedAt > retentionMs) {
    throw new ConflictError(
      `${what} was deleted more than ${describePeriod(retentionMs)} ago: its files may have been garbage-collected, so it cannot be restored`,
      { deletedAt, retentionMs },
    );
  }
}

/**
 * Versions whose files must be kept: those not deleted, and those whose own deletion and
 * whose model's deletion are both at or after `cutoff` (still restorable, or nearly).
 * With `among`, only the versions whose manifest is one of those digests.
 */
export async function retainedVersions(
  db: Kysely<RegistryDB>,
  cutoff: number,
  among?: readonly string[],
): Promise<{ model: string; version: number; digest: string }[]> {
  if (among !== undefined && among.length === 0) return [];
  let query = db
    .selectFrom('model_versions as v')
    .innerJoin('registered_models as m', 'm.id', 'v.model_id')
    .select(['m.name as model', 'v.version', 'v.manifest_digest as digest'])
    .where((eb) => eb.or([eb('v.deleted_at', 'is', null), eb('v.deleted_at', '>=', cutoff)]))
    .where((eb) => eb.or([eb('m.deleted_at', 'is', null), eb('m.deleted_at', '>=', cutoff)]));
  if (among !== undefined) query = query.where('v.manifest_digest', 'in', [...among]);
  return query.orderBy('m.name').orderBy('v.version').execute();
}

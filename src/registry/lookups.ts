/**
 * Finding models and versions by name and reference, with the registry's not-found
 * messages. Used by every service, inside or outside write transactions (pass `trx`).
 */
import type { Kysely } from 'kysely';
import { InvalidArgumentError, NotFoundError } from '../core/errors.js';
import { validateModelName } from '../core/names.js';
import { parseVersionRef, type VersionRef } from '../core/version-ref.js';
import { prepareQuery } from '../metadata/prepared-query.js';
import type { ModelVersionRow, RegisteredModelRow, RegistryDB } from '../metadata/schema.js';

/** The lookups every version read starts with, compiled once (prepared-query.ts). */
const Q = {
  modelByName: prepareQuery((db: Kysely<RegistryDB>, p: { name: string }) =>
    db.selectFrom('registered_models').selectAll().where('name', '=', p.name),
  ),
  /** A version by number, deleted or not (the caller checks `deleted_at`). */
  versionByNumber: prepareQuery(
    (db: Kysely<RegistryDB>, p: { model_id: number; version: number }) =>
      db
        .selectFrom('model_versions')
        .selectAll()
        .where('model_id', '=', p.model_id)
        .where('version', '=', p.version),
  ),
};

export interface ResolvedVersion {
  readonly model: RegisteredModelRow;
  readonly version: ModelVersionRow;
  /** `model@N`: the audit subject and the name used in messages. */
  readonly label: string;
}

export interface LookupOptions {
  /** Also find soft-deleted rows. */
  readonly includeDeleted?: boolean;
}

export function versionLabel(model: string, version: number): string {
  return `${model}@${version}`;
}

/** @throws InvalidArgumentError (bad name), NotFoundError `model 'x' not found`. */
export async function findModel(
  db: Kysely<RegistryDB>,
  name: string,
  options: LookupOptions = {},
): Promise<RegisteredModelRow> {
  validateModelName(name);
  const row = await Q.modelByName.executeTakeFirst(db, { name });
  if (!row || (row.deleted_at !== null && !options.includeDeleted)) {
    throw new NotFoundError(`model '${name}' not found`, {
      model: name,
      ...(row ? { deleted: true } : {}),
    });
  }
  return row;
}

/** Parses a reference. @throws InvalidArgumentError */
export function parseRef(ref: string): VersionRef {
  if (typeof ref !== 'string') throw new InvalidArgumentError('version reference must be a string');
  return parseVersionRef(ref);
}

/**
 * Resolves a reference to one version. `latest`, a digest and a stage resolve to the
 * highest-numbered matching version.
 * @throws InvalidArgumentError (bad reference), NotFoundError naming what is missing.
 */
export async function resolveVersion(
  db: Kysely<RegistryDB>,
  ref: string | VersionRef,
  options: LookupOptions = {},
): Promise<ResolvedVersion> {
  const parsed = typeof ref === 'string' ? parseRef(ref) : ref;
  const model = await findModel(db, parsed.model, options);
  if (parsed.kind === 'number') {
    // (model_id, version) is unique: at most one row, so no ORDER BY or LIMIT is needed.
    const version = await Q.versionByNumber.executeTakeFirst(db, {
      model_id: model.id,
      version: parsed.number,
    });
    if (!version || (version.deleted_at !== null && !options.includeDeleted)) {
      throw new NotFoundError(`version '${versionLabel(model.name, parsed.number)}' not found`, {
        model: model.name,
        ref: describeRef(parsed),
      });
    }
    return { model, version, label: versionLabel(model.name, version.version) };
  }
  let q = db.selectFrom('model_versions as v').selectAll('v').where('v.model_id', '=', model.id);
  if (!options.includeDeleted) q = q.where('v.deleted_at', 'is', null);
  let missing: string;
  switch (parsed.kind) {
    case 'alias':
      q = q
        .innerJoin('aliases as a', 'a.version_id', 'v.id')
        .where('a.model_id', '=', model.id)
        .where('a.alias', '=', parsed.alias);
      missing = `alias '${model.name}@${parsed.alias}' not found`;
      break;
    case 'latest':
      missing = `model '${model.name}' has no versions`;
      break;
    case 'digest':
      q = q.where('v.manifest_digest', '=', parsed.digest);
      missing = `no version of '${model.name}' has digest sha256:${parsed.digest}`;
      break;
    case 'stage':
      q = q.where('v.stage', '=', parsed.stage as ModelVersionRow['stage']);
      missing = `no version of '${model.name}' is in stage '${parsed.stage}'`;
      break;
  }
  const version = await q.orderBy('v.version', 'desc').limit(1).executeTakeFirst();
  if (!version) throw new NotFoundError(missing, { model: model.name, ref: describeRef(parsed) });
  return { model, version, label: versionLabel(model.name, version.version) };
}

function describeRef(ref: VersionRef): string {
  switch (ref.kind) {
    case 'number':
      return `${ref.model}@${ref.number}`;
    case 'alias':
      return `${ref.model}@${ref.alias}`;
    case 'latest':
      return `${ref.model}@latest`;
    case 'digest':
      return `${ref.model}@sha256:${ref.digest}`;
    case 'stage':
      return `models:/${ref.model}/${ref.stage}`;
  }
}

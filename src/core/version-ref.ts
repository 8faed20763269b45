/**
 * References to one model version, as users type them.
 *
 * Native form (CLI, REST, SDK):
 *
 *   NAME                  the newest version               fraud
 *   NAME@latest           the same ('latest', any case)    fraud@latest
 *   NAME@<n> | NAME@v<n>  version number n >= 1            fraud@3, fraud@v3
 *   NAME@sha256:<hex>     the version with that digest     fraud@sha256:ab12…(64 hex)
 *   NAME@ALIAS            the version an alias points to   fraud@production
 *
 * Model names never contain '@' (see names.ts), so everything before the first '@' is the
 * name. Aliases can never be 'latest', numbers or v<number> (they are reserved), so the
 * suffix is never ambiguous.
 *
 * MLflow form (`models:/` URIs, accepted as MLflow's client writes them):
 *
 *   models:/NAME/<n>          version n
 *   models:/NAME/latest       the newest version ('latest', any case)
 *   models:/NAME/<stage>      newest version in that stage: None, Staging, Production,
 *                             Archived (any case)
 *   models:/NAME@ALIAS        the version the alias points to
 *
 * Model names may contain '/', so the LAST '/'-segment of a models:/ path is always the
 * version, 'latest' or stage, and everything before it is the name:
 * `models:/team/fraud/3` is version 3 of `team/fraud`, and `models:/team/fraud` is stage
 * `fraud` of model `team` (an error, since `fraud` is no stage). In `models:/NAME@ALIAS`
 * the text after the last '@' is always an alias, as in MLflow, so `models:/fraud@3` is
 * refused (3 cannot be an alias) rather than read as version 3. A bare `models:/NAME`
 * (MLflow 3's logged-model id form) and `models://profile@host/…` (Databricks profiles)
 * are refused.
 */
import { formatDigest, parseSha256, type Sha256Hex } from './digest.js';
import { InvalidArgumentError, ModelvaultError } from './errors.js';
import { type AliasName, type ModelName, validateAlias, validateModelName } from './names.js';
import { describeValue, truncateText } from './text.js';

/** MLflow's legacy model stages, in MLflow's spelling. */
export type ModelStage = 'None' | 'Staging' | 'Production' | 'Archived';
export const MODEL_STAGES: readonly ModelStage[] = ['None', 'Staging', 'Production', 'Archived'];

export type VersionRef =
  | { readonly model: ModelName; readonly kind: 'number'; readonly number: number }
  | { readonly model: ModelName; readonly kind: 'alias'; readonly alias: AliasName }
  /** No version given: the newest (highest-numbered) live version. */
  | { readonly model: ModelName; readonly kind: 'latest' }
  | { readonly model: ModelName; readonly kind: 'digest'; readonly digest: Sha256Hex }
  /** Only from models:/NAME/STAGE: the newest version in that stage. */
  | { readonly model: ModelName; readonly kind: 'stage'; readonly stage: ModelStage };

const MODELS_SCHEME = 'models:/';
const DIGITS = /^[0-9]+$/;
const V_DIGITS = /^[vV][0-9]+$/;

function refError(ref: string, reason: string, part: string, cause?: unknown): never {
  const inner = cause instanceof ModelvaultError ? cause.details : undefined;
  throw new InvalidArgumentError(`invalid version reference ${describeValue(ref)}: ${reason}`, {
    ref: truncateText(ref, 80),
    part,
    ...(inner?.reason === undefined ? {} : { reason: inner.reason }),
  });
}

function modelPart(ref: string, name: string): ModelName {
  if (name.length === 0) refError(ref, 'expected a model name', 'model');
  try {
    return validateModelName(name);
  } catch (e) {
    refError(ref, (e as Error).message, 'model', e);
  }
}

function aliasPart(ref: string, alias: string): AliasName {
  try {
    return validateAlias(alias);
  } catch (e) {
    refError(ref, (e as Error).message, 'alias', e);
  }
}

/**
 * Parses a decimal version number (`3`, `03`) as used in refs and in MLflow's `version`
 * fields: 1 to 2^53-1.
 * @throws InvalidArgumentError naming the value.
 */
export function parseVersionNumber(text: unknown): number {
  if (typeof text !== 'string' || !DIGITS.test(text)) {
    throw new InvalidArgumentError(
      `invalid version number ${describeValue(text)}: expected a whole number from 1`,
      { value: typeof text === 'string' ? truncateText(text, 80) : describeValue(text) },
    );
  }
  const n = Number(text);
  if (n < 1 || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError(
      `invalid version number ${describeValue(text)}: expected a whole number from 1 to ${Number.MAX_SAFE_INTEGER}`,
      { value: truncateText(text, 80) },
    );
  }
  return n;
}

/**
 * Parses a stage name case-insensitively into MLflow's spelling (`production` → `Production`).
 * @throws InvalidArgumentError naming the value.
 */
export function parseModelStage(text: unknown): ModelStage {
  if (typeof text === 'string') {
    const lower = text.toLowerCase();
    const stage = MODEL_STAGES.find((s) => s.toLowerCase() === lower);
    if (stage !== undefined) return stage;
  }
  throw new InvalidArgumentError(
    `invalid stage ${describeValue(text)}: expected one of ${MODEL_STAGES.join(', ')}`,
    { value: typeof text === 'string' ? truncateText(text, 80) : describeValue(text) },
  );
}

function numberPart(ref: string, digits: string): number {
  try {
    return parseVersionNumber(digits);
  } catch (e) {
    refError(ref, (e as Error).message, 'version', e);
  }
}

function parseNative(ref: string): VersionRef {
  const at = ref.indexOf('@');
  if (at < 0) return { model: modelPart(ref, ref), kind: 'latest' };
  const model = modelPart(ref, ref.slice(0, at));
  const suffix = ref.slice(at + 1);
  if (suffix.length === 0) {
    refError(ref, "expected a version number, alias or sha256 digest after '@'", 'version');
  }
  if (suffix.toLowerCase() === 'latest') return { model, kind: 'latest' };
  if (DIGITS.test(suffix)) return { model, kind: 'number', number: numberPart(ref, suffix) };
  if (V_DIGITS.test(suffix)) {
    return { model, kind: 'number', number: numberPart(ref, suffix.slice(1)) };
  }
  if (suffix.startsWith('sha256:')) {
    try {
      return { model, kind: 'digest', digest: parseSha256(suffix) };
    } catch (e) {
      refError(ref, (e as Error).message, 'digest', e);
    }
  }
  return { model, kind: 'alias', alias: aliasPart(ref, suffix) };
}

function parseModelsUri(ref: string): VersionRef {
  const path = ref.slice(MODELS_SCHEME.length);
  if (path.startsWith('/')) {
    refError(ref, 'models:// uris with a profile or host are not supported', 'model');
  }
  const at = path.lastIndexOf('@');
  if (at >= 0) {
    const alias = path.slice(at + 1);
    if (alias.length === 0) refError(ref, "expected an alias after '@'", 'alias');
    return {
      model: modelPart(ref, path.slice(0, at)),
      kind: 'alias',
      alias: aliasPart(ref, alias),
    };
  }
  const slash = path.lastIndexOf('/');
  if (slash < 0) {
    refError(
      ref,
      'expected models:/NAME/VERSION, models:/NAME/STAGE, models:/NAME/latest or models:/NAME@ALIAS',
      'version',
    );
  }
  const model = modelPart(ref, path.slice(0, slash));
  const suffix = path.slice(slash + 1);
  if (DIGITS.test(suffix)) return { model, kind: 'number', number: numberPart(ref, suffix) };
  if (suffix.toLowerCase() === 'latest') return { model, kind: 'latest' };
  const lower = suffix.toLowerCase();
  const stage = MODEL_STAGES.find((s) => s.toLowerCase() === lower);
  if (stage === undefined) {
    refError(
      ref,
      `expected a version number, 'latest' or a stage (${MODEL_STAGES.join(', ')}) after the last '/' but found ${describeValue(suffix)}`,
      'stage',
    );
  }
  return { model, kind: 'stage', stage };
}

/**
 * Parses a version reference in native or `models:/` form (see the file header).
 * Validates the model name and alias by names.ts rules; does not check that they exist.
 * @throws InvalidArgumentError naming the reference and the part that is wrong
 *   (`details.part`: model, version, alias, digest or stage).
 */
export function parseVersionRef(text: unknown): VersionRef {
  if (typeof text !== 'string') {
    throw new InvalidArgumentError(
      `invalid version reference: expected a string but got ${describeValue(text)}`,
      { part: 'model' },
    );
  }
  return text.startsWith(MODELS_SCHEME) ? parseModelsUri(text) : parseNative(text);
}

/**
 * The canonical native text for a reference: `fraud`, `fraud@3`, `fraud@production`,
 * `fraud@sha256:<hex>`. Stage refs have no native form and print as `models:/fraud/Staging`.
 * `parseVersionRef(formatVersionRef(r))` equals `r` for every valid `r`.
 */
export function formatVersionRef(ref: VersionRef): string {
  switch (ref.kind) {
    case 'latest':
      return ref.model;
    case 'number':
      return `${ref.model}@${ref.number}`;
    case 'alias':
      return `${ref.model}@${ref.alias}`;
    case 'digest':
      return `${ref.model}@${formatDigest(ref.digest)}`;
    case 'stage':
      return `${MODELS_SCHEME}${ref.model}/${ref.stage}`;
  }
}

/**
 * The MLflow `models:/` URI for a reference.
 * @throws InvalidArgumentError for digest refs, which MLflow cannot express.
 */
export function formatModelsUri(ref: VersionRef): string {
  switch (ref.kind) {
    case 'latest':
      return `${MODELS_SCHEME}${ref.model}/latest`;
    case 'number':
      return `${MODELS_SCHEME}${ref.model}/${ref.number}`;
    case 'alias':
      return `${MODELS_SCHEME}${ref.model}@${ref.alias}`;
    case 'stage':
      return `${MODELS_SCHEME}${ref.model}/${ref.stage}`;
    case 'digest':
      throw new InvalidArgumentError(
        `reference ${describeValue(formatVersionRef(ref))} has no models:/ form: MLflow cannot refer to a version by digest`,
        { ref: formatVersionRef(ref) },
      );
  }
}

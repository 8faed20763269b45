/**
 * What names, keys, values and paths may contain. Every value a user can choose passes one
 * of these validators at the edge (REST, MLflow API, CLI, SDK) before it reaches a service,
 * so the rules live in one place. docs/names.md explains them for users.
 *
 *   what                  rule
 *   --------------------  ------------------------------------------------------------------
 *   registered model name 1-200 chars; segments joined by '/'; each segment is
 *                         [A-Za-z0-9][A-Za-z0-9._-]*; no '..' anywhere ("team/fraud-detector")
 *   alias                 1-255 chars of [A-Za-z0-9_-], not starting with '-'; reserved (any
 *                         case): 'latest', all digits ('12'), 'v' + digits ('v12')
 *   tag key               1-250 chars; no control characters
 *   tag value             0-8000 chars; no NUL
 *   metric / param key    1-250 chars of letters, digits, '_', '-', '.', ' ', ':', '/';
 *                         '/' only between non-empty segments; no '.' or '..' segment;
 *                         must not start with '..' (MLflow's rule)
 *   param value           0-6000 chars; no NUL
 *   experiment name       1-500 chars; no control characters
 *   user / actor name     1-255 chars of [A-Za-z0-9._@+-], starting with a letter or digit
 *   LFS namespace / repo  1-100 chars of [A-Za-z0-9._-], starting with a letter or digit, no
 *                         '..' ("team", "llama-ft.git")
 *   manifest path         relative, '/'-separated, no empty/'.'/'..' segment, no '\', no
 *                         control characters, no drive prefix ('C:'), <= 4096 UTF-8 bytes,
 *                         each segment <= 255 UTF-8 bytes
 *
 * "chars" are Unicode code points (what MLflow's Python `len` counts), so a value MLflow
 * accepts is never too long here. Every string must be well-formed Unicode (no lone
 * surrogate): it is stored as UTF-8 and a lone surrogate cannot be. NUL is refused
 * everywhere because PostgreSQL text columns cannot hold it.
 *
 * Where MLflow allows more than we do, it is deliberate and listed in docs/names.md.
 *
 * Every validator accepts `unknown` (values often come straight from parsed JSON), returns
 * the value unchanged when it is valid, and otherwise throws InvalidArgumentError — never
 * anything else — whose message names the value and says what is allowed, and whose
 * details are `{ what, value, reason }` (value shortened to 80 characters).
 */
import { InvalidArgumentError } from './errors.js';
import { describeValue, isWellFormedText, truncateText } from './text.js';

/** A registered model name that passed `validateModelName`. */
export type ModelName = string & { readonly __brand: 'ModelName' };
/** An alias name that passed `validateAlias`. */
export type AliasName = string & { readonly __brand: 'AliasName' };
/** A file path inside a version that passed `validateManifestPath`. */
export type ManifestPath = string & { readonly __brand: 'ManifestPath' };

export const MAX_MODEL_NAME_LENGTH = 200;
export const MAX_ALIAS_LENGTH = 255;
export const MAX_TAG_KEY_LENGTH = 250;
/** MLflow's run tag limit (mlflow/utils/validation.py MAX_TAG_VAL_LENGTH); its registry tags allow 5000. */
export const MAX_TAG_VALUE_LENGTH = 8000;
export const MAX_METRIC_KEY_LENGTH = 250;
export const MAX_PARAM_KEY_LENGTH = 250;
/** MLflow's MAX_PARAM_VAL_LENGTH. */
export const MAX_PARAM_VALUE_LENGTH = 6000;
export const MAX_EXPERIMENT_NAME_LENGTH = 500;
export const MAX_USER_NAME_LENGTH = 255;
export const MAX_LFS_SEGMENT_LENGTH = 100;
export const MAX_MANIFEST_PATH_BYTES = 4096;
export const MAX_MANIFEST_SEGMENT_BYTES = 255;

const MODEL_RULE =
  "use 1-200 characters: letters, digits, '.', '_', '-', and '/' between segments; " +
  "each segment starts with a letter or digit, and '..' is not allowed";
const ALIAS_RULE =
  "use 1-255 characters: letters, digits, '_' and '-', not starting with '-'; " +
  "'latest', numbers and 'v<number>' are reserved";
const TAG_KEY_RULE = 'use 1-250 characters without control characters';
const TAG_VALUE_RULE = 'use at most 8000 characters, without NUL';
const KEY_RULE =
  "use 1-250 characters: letters, digits, '_', '-', '.', ' ', ':' and '/'; " +
  "'/' only between non-empty segments, no '.' or '..' segment, and no leading '..'";
const PARAM_VALUE_RULE = 'use at most 6000 characters, without NUL';
const EXPERIMENT_RULE = 'use 1-500 characters without control characters';
const USER_RULE =
  "use 1-255 characters: letters, digits, '.', '_', '-', '@' and '+', starting with a letter or digit";
const LFS_SEGMENT_RULE =
  "use 1-100 characters: letters, digits, '.', '_' and '-', starting with a letter or digit, without '..'";
const PATH_RULE =
  "use a relative '/'-separated path without empty, '.' or '..' segments, backslashes, " +
  'control characters or a drive prefix, at most 4096 bytes and 255 bytes per segment';

const MODEL_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const ALIAS_CHARS = /^[A-Za-z0-9_-]+$/;
const RESERVED_ALIAS = /^(?:latest|[vV]?[0-9]+)$/i;
// MLflow: ^[/\w.\- :]*$ where Python's \w is Unicode letters and digits plus '_'.
const KEY_CHARS = /^[\p{L}\p{N}_.\- :/]+$/u;
const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._@+-]*$/;
// C0 controls, DEL and C1 controls.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const DRIVE_PREFIX = /^[A-Za-z]:/;

function fail(what: string, value: unknown, rule: string, reason: string): never {
  const shown = describeValue(value);
  const prefix = typeof value === 'string' ? `invalid ${what} ${shown}` : `invalid ${what}`;
  const detail = typeof value === 'string' ? rule : `expected a string but got ${shown}`;
  throw new InvalidArgumentError(`${prefix}: ${detail}`, {
    what,
    value: typeof value === 'string' ? truncateText(value, 80) : shown,
    reason,
  });
}

function requireString(what: string, value: unknown, rule: string): string {
  if (typeof value !== 'string') fail(what, value, rule, 'not-a-string');
  if (!isWellFormedText(value)) fail(what, value, rule, 'lone-surrogate');
  return value;
}

/** Number of Unicode code points (Python's `len`), stopping early past `limit`. */
function codePointLengthExceeds(value: string, limit: number): boolean {
  if (value.length <= limit) return false;
  let n = 0;
  for (const _ of value) {
    n += 1;
    if (n > limit) return true;
  }
  return false;
}

function utf8Length(value: string): number {
  return Buffer.byteLength(value, 'utf8');
}

/**
 * A registered model name: `fraud-detector`, `team/fraud-detector`, `org/team/model.v2`.
 * @throws InvalidArgumentError naming the value, with `details.reason`.
 */
export function validateModelName(value: unknown): ModelName {
  const what = 'model name';
  const s = requireString(what, value, MODEL_RULE);
  if (s.length === 0) fail(what, s, MODEL_RULE, 'empty');
  if (s.length > MAX_MODEL_NAME_LENGTH) fail(what, s, MODEL_RULE, 'too-long');
  if (s.includes('..')) fail(what, s, MODEL_RULE, 'dot-dot');
  for (const segment of s.split('/')) {
    if (segment.length === 0) fail(what, s, MODEL_RULE, 'empty-segment');
    if (!MODEL_SEGMENT.test(segment)) fail(what, s, MODEL_RULE, 'bad-character');
  }
  return s as ModelName;
}

/** True when `name` is an alias MLflow or our reference syntax reserves (see validateAlias). */
export function isReservedAliasName(name: string): boolean {
  return RESERVED_ALIAS.test(name);
}

/**
 * An alias name (`production`, `champion`, `canary-eu`). MLflow reserves `latest` and
 * `v<digits>`; we also reserve plain numbers, because `fraud@12` means version 12.
 * Aliases are case-sensitive, as in MLflow.
 * @throws InvalidArgumentError naming the value.
 */
export function validateAlias(value: unknown): AliasName {
  const what = 'alias';
  const s = requireString(what, value, ALIAS_RULE);
  if (s.length === 0) fail(what, s, ALIAS_RULE, 'empty');
  if (s.length > MAX_ALIAS_LENGTH) fail(what, s, ALIAS_RULE, 'too-long');
  if (!ALIAS_CHARS.test(s)) fail(what, s, ALIAS_RULE, 'bad-character');
  if (s.startsWith('-')) fail(what, s, ALIAS_RULE, 'leading-dash');
  if (isReservedAliasName(s)) fail(what, s, ALIAS_RULE, 'reserved');
  return s as AliasName;
}

/**
 * A tag key on a model, version, experiment or run. Any text except control characters;
 * MLflow's own system tags (`mlflow.source.name`, `mlflow.log-model.history`) fit.
 * @throws InvalidArgumentError naming the value.
 */
export function validateTagKey(value: unknown): string {
  const what = 'tag key';
  const s = requireString(what, value, TAG_KEY_RULE);
  if (s.length === 0) fail(what, s, TAG_KEY_RULE, 'empty');
  if (codePointLengthExceeds(s, MAX_TAG_KEY_LENGTH)) fail(what, s, TAG_KEY_RULE, 'too-long');
  if (CONTROL.test(s)) fail(what, s, TAG_KEY_RULE, 'control-character');
  return s;
}

/**
 * A tag value: free text (newlines and JSON are common), empty allowed.
 * @throws InvalidArgumentError naming the value.
 */
export function validateTagValue(value: unknown): string {
  const what = 'tag value';
  const s = requireString(what, value, TAG_VALUE_RULE);
  if (codePointLengthExceeds(s, MAX_TAG_VALUE_LENGTH)) fail(what, s, TAG_VALUE_RULE, 'too-long');
  if (s.includes('\u0000')) fail(what, s, TAG_VALUE_RULE, 'nul');
  return s;
}

function validateMlflowKey(what: string, value: unknown, limit: number): string {
  const s = requireString(what, value, KEY_RULE);
  if (s.length === 0) fail(what, s, KEY_RULE, 'empty');
  if (codePointLengthExceeds(s, limit)) fail(what, s, KEY_RULE, 'too-long');
  if (!KEY_CHARS.test(s)) fail(what, s, KEY_RULE, 'bad-character');
  // MLflow rejects a key whose posixpath.normpath differs from it, or that starts with '..'.
  if (s.startsWith('..')) fail(what, s, KEY_RULE, 'dot-dot');
  if (!s.includes('/')) {
    // One segment, the key itself: not empty and not '..' (checked above).
    if (s === '.') fail(what, s, KEY_RULE, 'dot-segment');
    return s;
  }
  for (const segment of s.split('/')) {
    if (segment.length === 0) fail(what, s, KEY_RULE, 'empty-segment');
    if (segment === '.' || segment === '..') fail(what, s, KEY_RULE, 'dot-segment');
  }
  return s;
}

/**
 * A metric key (`auc`, `val/loss`, `eval:f1 macro`), by MLflow's rule.
 * @throws InvalidArgumentError naming the value.
 */
export function validateMetricKey(value: unknown): string {
  return validateMlflowKey('metric key', value, MAX_METRIC_KEY_LENGTH);
}

/**
 * A param key, by MLflow's rule (the same as metric keys).
 * @throws InvalidArgumentError naming the value.
 */
export function validateParamKey(value: unknown): string {
  return validateMlflowKey('param key', value, MAX_PARAM_KEY_LENGTH);
}

/**
 * A param value: free text, empty allowed.
 * @throws InvalidArgumentError naming the value.
 */
export function validateParamValue(value: unknown): string {
  const what = 'param value';
  const s = requireString(what, value, PARAM_VALUE_RULE);
  if (codePointLengthExceeds(s, MAX_PARAM_VALUE_LENGTH))
    fail(what, s, PARAM_VALUE_RULE, 'too-long');
  if (s.includes('\u0000')) fail(what, s, PARAM_VALUE_RULE, 'nul');
  return s;
}

/**
 * An experiment name. MLflow names look like `/Users/me/exp` or `fraud q3`, so anything
 * printable goes.
 * @throws InvalidArgumentError naming the value.
 */
export function validateExperimentName(value: unknown): string {
  const what = 'experiment name';
  const s = requireString(what, value, EXPERIMENT_RULE);
  if (s.length === 0) fail(what, s, EXPERIMENT_RULE, 'empty');
  if (codePointLengthExceeds(s, MAX_EXPERIMENT_NAME_LENGTH))
    fail(what, s, EXPERIMENT_RULE, 'too-long');
  if (CONTROL.test(s)) fail(what, s, EXPERIMENT_RULE, 'control-character');
  return s;
}

/**
 * A user name, which is also the `actor` of audit events (`alice`, `ci-bot`,
 * `first.last@example.com`). No ':' so it fits HTTP Basic credentials.
 * @throws InvalidArgumentError naming the value.
 */
export function validateUserName(value: unknown): string {
  const what = 'user name';
  const s = requireString(what, value, USER_RULE);
  if (s.length === 0) fail(what, s, USER_RULE, 'empty');
  if (s.length > MAX_USER_NAME_LENGTH) fail(what, s, USER_RULE, 'too-long');
  if (!USER_NAME.test(s)) fail(what, s, USER_RULE, 'bad-character');
  return s;
}

/**
 * One segment of a Git LFS endpoint (`/lfs/<namespace>/<repo>`): the namespace or the
 * repository name. `what` names it in errors (`LFS namespace`, `LFS repository`).
 * @throws InvalidArgumentError naming the value.
 */
export function validateLfsSegment(value: unknown, what: string): string {
  const s = requireString(what, value, LFS_SEGMENT_RULE);
  if (s.length === 0) fail(what, s, LFS_SEGMENT_RULE, 'empty');
  if (s.length > MAX_LFS_SEGMENT_LENGTH) fail(what, s, LFS_SEGMENT_RULE, 'too-long');
  if (s.includes('..')) fail(what, s, LFS_SEGMENT_RULE, 'dot-dot');
  if (!MODEL_SEGMENT.test(s)) fail(what, s, LFS_SEGMENT_RULE, 'bad-character');
  return s;
}

/**
 * A file path inside a model version (`weights/model.safetensors`). Accepted paths, joined
 * to any directory with path.join/resolve (POSIX or Windows), stay inside it.
 * Case-insensitive collisions (`A.txt` and `a.txt`) are not checked here.
 * @throws InvalidArgumentError naming the value.
 */
export function validateManifestPath(value: unknown): ManifestPath {
  const what = 'manifest path';
  const s = requireString(what, value, PATH_RULE);
  if (s.length === 0) fail(what, s, PATH_RULE, 'empty');
  if (utf8Length(s) > MAX_MANIFEST_PATH_BYTES) fail(what, s, PATH_RULE, 'too-long');
  if (CONTROL.test(s)) fail(what, s, PATH_RULE, 'control-character');
  if (s.includes('\\')) fail(what, s, PATH_RULE, 'backslash');
  if (s.startsWith('/')) fail(what, s, PATH_RULE, 'absolute');
  if (DRIVE_PREFIX.test(s)) fail(what, s, PATH_RULE, 'drive-prefix');
  for (const segment of s.split('/')) {
    if (segment.length === 0) fail(what, s, PATH_RULE, 'empty-segment');
    if (segment === '.' || segment === '..') fail(what, s, PATH_RULE, 'dot-segment');
    if (utf8Length(segment) > MAX_MANIFEST_SEGMENT_BYTES)
      fail(what, s, PATH_RULE, 'segment-too-long');
  }
  return s as ManifestPath;
}

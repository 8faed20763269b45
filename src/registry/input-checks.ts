/**
 * Checks of free-form inputs the services accept (texts, numbers, actors). Names and keys
 * are checked by the validators of `core/names`; these cover lengths and value types.
 * Every check throws InvalidArgumentError naming the field.
 */
import { InvalidArgumentError } from '../core/errors.js';

/** Limits, MLflow's where it has one so its clients never hit ours first. */
export const LIMITS = {
  actor: 256,
  description: 256 * 1024,
  modelCard: 1024 * 1024,
  tagValue: 8000,
  paramValue: 8000,
  runId: 256,
  source: 4096,
  uri: 4096,
  comment: 64 * 1024,
  datasetName: 256,
  gitField: 1024,
} as const;

/** A string of at most `max` characters without NUL. */
export function checkText(value: unknown, what: string, max: number): string {
  if (typeof value !== 'string') {
    throw new InvalidArgumentError(`${what} must be a string`, { field: what });
  }
  if (value.length > max) {
    throw new InvalidArgumentError(`${what} is longer than ${max} characters`, {
      field: what,
      length: value.length,
    });
  }
  if (value.includes('\0')) {
    throw new InvalidArgumentError(`${what} contains a NUL character`, { field: what });
  }
  return value;
}

/** Like checkText; undefined and null become null. */
export function checkOptionalText(value: unknown, what: string, max: number): string | null {
  return value === undefined || value === null ? null : checkText(value, what, max);
}

export function checkActor(actor: unknown): string {
  const a = checkText(actor, 'actor', LIMITS.actor);
  if (a.trim() === '') throw new InvalidArgumentError('actor must not be empty');
  return a;
}

/** A non-negative safe integer (sizes, counts, steps, timestamps). */
export function checkCount(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(`${what} must be a non-negative integer`, {
      field: what,
      value: String(value),
    });
  }
  return value;
}

/** Finite numbers only: JSON cannot carry NaN or infinities. */
export function checkMetricValue(value: unknown, key: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new InvalidArgumentError(`metric '${key}' must be a finite number`, {
      key,
      value: String(value),
    });
  }
  return value;
}

/** The items of an array of objects (undefined → none). @throws InvalidArgumentError */
export function objectItems<T extends object>(value: readonly T[] | undefined, what: string): T[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((v) => v === null || typeof v !== 'object')) {
    throw new InvalidArgumentError(`${what} must be an array of objects`);
  }
  return [...value];
}

/** The entries of a plain object (undefined → none). @throws InvalidArgumentError */
export function plainEntries(value: unknown, what: string): [string, unknown][] {
  if (value === undefined) return [];
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidArgumentError(`${what} must be an object`);
  }
  return Object.entries(value);
}

/** The entries of a plain object of strings (tags, params), rejecting anything else. */
export function stringEntries(value: unknown, what: string): [string, string][] {
  return plainEntries(value, `${what}s`).map(([k, v]) => {
    if (typeof v !== 'string') {
      throw new InvalidArgumentError(`${what} '${k}' must be a string`, { key: k });
    }
    return [k, v];
  });
}

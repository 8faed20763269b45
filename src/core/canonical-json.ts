/**
 * Canonical JSON for hashing and signing: the same value always gives the same bytes, on
 * every machine and in every version of Modelvault. Compatible with RFC 8785 (JSON
 * Canonicalization Scheme) for every value this accepts:
 *
 * - no whitespace;
 * - object members sorted by key, comparing keys as sequences of UTF-16 code units
 *   (not by locale, and integer-like keys are not moved first as JS objects do);
 * - numbers in ECMAScript's shortest round-trip form (Number.prototype.toString: `4.5`,
 *   `1e+30`, `1e-7`), with -0 written as `0`;
 * - strings escaped as JSON.stringify does: `"` `\` and the control characters below
 *   U+0020 (`\b \f \n \r \t`, others as `\u00xx`); everything else is written as is;
 * - the text is encoded as UTF-8 when bytes are needed.
 *
 * Refused with InvalidArgumentError (details.path says where, as `$.a[2].b`): NaN and
 * ±Infinity, undefined (as a value, a member or an array hole), functions, symbols,
 * BigInt, strings or keys with lone surrogates (not I-JSON), objects other than plain
 * objects and arrays (Date, Map, Buffer, class instances: convert them first), cycles,
 * and nesting deeper than MAX_CANONICAL_JSON_DEPTH. `toJSON` methods are not called.
 */
import { InvalidArgumentError } from './errors.js';
import { isWellFormedText } from './text.js';

/** A value `canonicalJson` accepts. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue };

export const MAX_CANONICAL_JSON_DEPTH = 256;

/**
 * Where the writer is: the members and indices from the root. The `$.a[2].b` text is built
 * only when a value is refused (building it for every member cost about half of a
 * version's audit event, whose data carries every metric and param).
 */
type Trail = (string | number)[];

function memberPath(path: string, key: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)
    ? `${path}.${key}`
    : `${path}[${JSON.stringify(key)}]`;
}

function pathOf(trail: Trail): string {
  let path = '$';
  for (const step of trail)
    path = typeof step === 'number' ? `${path}[${step}]` : memberPath(path, step);
  return path;
}

function reject(trail: Trail, problem: string): never {
  const path = pathOf(trail);
  throw new InvalidArgumentError(`cannot canonicalise json value at ${path}: ${problem}`, {
    path,
  });
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Appends `value`'s canonical text to `out`; `trail` is its path, restored on return. */
function write(value: unknown, trail: Trail, open: Set<object>, out: string[]) {
  switch (typeof value) {
    case 'string':
      if (!isWellFormedText(value)) reject(trail, 'string contains a lone surrogate');
      out.push(JSON.stringify(value));
      return;
    case 'number':
      if (!Number.isFinite(value)) reject(trail, `${value} is not a json number`);
      // JSON.stringify of a finite number is Number::toString, with -0 as "0": RFC 8785 §3.2.2.3.
      out.push(JSON.stringify(value));
      return;
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'object':
      break;
    default:
      reject(trail, `${typeof value} is not a json value`);
  }
  if (value === null) {
    out.push('null');
    return;
  }
  // The trail holds one step per level below the root: its length is the depth.
  if (trail.length >= MAX_CANONICAL_JSON_DEPTH) {
    reject(trail, `nested deeper than ${MAX_CANONICAL_JSON_DEPTH} levels`);
  }
  if (open.has(value)) reject(trail, 'value contains a cycle');
  open.add(value);
  if (Array.isArray(value)) {
    out.push('[');
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out.push(',');
      trail.push(i);
      if (!(i in value)) reject(trail, 'array has a hole');
      write(value[i], trail, open, out);
      trail.pop();
    }
    out.push(']');
  } else {
    if (!isPlainObject(value)) {
      const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
      reject(trail, `${typeof name === 'string' ? name : 'exotic'} object is not plain json`);
    }
    if (Object.getOwnPropertySymbols(value).length > 0) reject(trail, 'object has symbol keys');
    // Default sort compares UTF-16 code units, which is what RFC 8785 §3.2.3 requires.
    const keys = Object.keys(value).sort();
    out.push('{');
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      trail.push(key);
      if (!isWellFormedText(key)) reject(trail, 'key contains a lone surrogate');
      if (i > 0) out.push(',');
      out.push(JSON.stringify(key), ':');
      write((value as Record<string, unknown>)[key], trail, open, out);
      trail.pop();
    }
    out.push('}');
  }
  open.delete(value);
}

/**
 * The canonical JSON text of `value` (see the file header). Pure; never mutates `value`.
 * @throws InvalidArgumentError when `value` is not plain JSON data.
 */
export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  write(value, [], new Set(), out);
  return out.join('');
}

/**
 * The canonical JSON of `value` as UTF-8 bytes: what gets hashed or signed.
 * @throws InvalidArgumentError when `value` is not plain JSON data.
 */
export function canonicalJsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(canonicalJson(value));
}

/**
 * Small string helpers shared by validators and serialisers.
 */

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSAFE_FOR_MESSAGE =
  /[\u0000-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * True when `s` has no lone surrogate, so it can be encoded as UTF-8 without loss
 * (String.prototype.isWellFormed, which our ES2023 lib target does not declare).
 */
export function isWellFormedText(s: string): boolean {
  return !LONE_SURROGATE.test(s);
}

/**
 * The first `max` UTF-16 units of `s`, never ending in half of a surrogate pair.
 */
export function truncateText(s: string, max: number): string {
  if (s.length <= max) return s;
  const code = s.charCodeAt(max - 1);
  return s.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}

/**
 * Renders a user-supplied value for an error message: quoted, at most 80 characters,
 * control characters and lone surrogates escaped as \uXXXX, so a hostile value cannot
 * forge log lines. Non-strings are described by type.
 */
export function describeValue(value: unknown): string {
  if (typeof value !== 'string') {
    if (value === null || value === undefined) return String(value);
    if (Array.isArray(value)) return 'an array';
    return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
  }
  const short = value.length > 80 ? `${truncateText(value, 80)}…` : value;
  const escaped = short.replace(
    UNSAFE_FOR_MESSAGE,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return `'${escaped}'`;
}

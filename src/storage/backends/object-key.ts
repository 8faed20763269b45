/**
 * The rules every ObjectBackend applies to keys and list prefixes, so that a key valid on
 * one backend is valid on all of them and a key can never name something outside the
 * backend's root (a directory, a bucket prefix).
 *
 * A key is 1..1024 bytes of UTF-8 (S3's limit), made of `/`-separated segments, each
 * non-empty, at most 255 bytes (the common filename limit), not `.` or `..`, without
 * backslashes (a separator on Windows) or control characters (NUL ends a C path; the rest
 * are never meant). Everything else — spaces, unicode, `%`, `#`, `?`, `+` — is allowed.
 */
import { InvalidArgumentError } from '../../core/errors.js';

export const MAX_KEY_BYTES = 1024;
export const MAX_SEGMENT_BYTES = 255;

// C0 controls, DEL and backslash.
const FORBIDDEN = /[\u0000-\u001f\u007f\\]/;
// With the u flag a surrogate pair is one code point, so this matches only lone halves.
const LONE_SURROGATE = /[\ud800-\udfff]/u;

function invalid(what: string, value: string, why: string): InvalidArgumentError {
  return new InvalidArgumentError(`invalid object ${what} '${printable(value)}': ${why}`, {
    [what]: value.slice(0, 200),
  });
}

function printable(value: string): string {
  return value
    .slice(0, 200)
    .replace(
      /[\u0000-\u001f\u007f]/g,
      (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
    );
}

function checkSegments(what: string, value: string, segments: readonly string[]): void {
  for (const s of segments) {
    if (s === '') throw invalid(what, value, 'empty path segment');
    if (s === '.' || s === '..') throw invalid(what, value, `'${s}' segment`);
    if (Buffer.byteLength(s, 'utf8') > MAX_SEGMENT_BYTES) {
      throw invalid(what, value, `segment longer than ${MAX_SEGMENT_BYTES} bytes`);
    }
  }
}

function checkCommon(what: string, value: unknown): asserts value is string {
  if (typeof value !== 'string') {
    throw new InvalidArgumentError(`invalid object ${what}: not a string`);
  }
  if (FORBIDDEN.test(value)) {
    throw invalid(what, value, 'contains a backslash or control character');
  }
  if (value.startsWith('/')) throw invalid(what, value, 'absolute');
  if (Buffer.byteLength(value, 'utf8') > MAX_KEY_BYTES) {
    throw invalid(what, value, `longer than ${MAX_KEY_BYTES} bytes`);
  }
  // A lone surrogate has no UTF-8 form: the filesystem would store U+FFFD instead and the
  // key would list back as a different string.
  if (LONE_SURROGATE.test(value)) {
    throw invalid(what, value, 'not well-formed unicode (lone surrogate)');
  }
}

/**
 * Checks an object key against the rules above; returns it unchanged.
 * @throws InvalidArgumentError naming the key and the rule it breaks.
 */
export function validateObjectKey(key: string): string {
  checkCommon('key', key);
  if (key === '') throw new InvalidArgumentError('invalid object key: empty', { key });
  checkSegments('key', key, key.split('/'));
  return key;
}

/**
 * Checks a list prefix; returns it unchanged. A prefix is `''` or a key prefix: whole
 * segments separated by `/`, optionally ending with `/` or with the start of a segment
 * (`packs/a` matches `packs/ab/…`). A trailing partial segment of `.` is allowed (it may
 * begin a valid segment such as `.x`), a complete `..` segment is not.
 * @throws InvalidArgumentError naming the prefix and the rule it breaks.
 */
export function validateKeyPrefix(prefix: string): string {
  checkCommon('prefix', prefix);
  if (prefix === '') return prefix;
  const segments = prefix.split('/');
  const last = segments.pop()!;
  checkSegments('prefix', prefix, segments);
  if (Buffer.byteLength(last, 'utf8') > MAX_SEGMENT_BYTES) {
    throw invalid('prefix', prefix, `segment longer than ${MAX_SEGMENT_BYTES} bytes`);
  }
  return prefix;
}

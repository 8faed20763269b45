/**
 * Opaque page tokens: base64url JSON `{o: offset}` or `{s: seq}` plus `q`, a fingerprint
 * of the query the token belongs to, so a token replayed against another query (or
 * edited) is rejected instead of silently returning the wrong page.
 *
 * Offsets are simple and work with any ORDER BY; a page may repeat or skip rows that
 * were inserted or deleted before it between two requests.
 */
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../core/errors.js';

export const DEFAULT_MAX_RESULTS = 100;
export const MAX_MAX_RESULTS = 10_000;

export interface PagePosition {
  /** Rows to skip (offset paging). */
  readonly o?: number;
  /** Last seq returned (keyset paging over the audit trail). */
  readonly s?: number;
}

/** A short, stable digest of the parts of a query that decide its rows and their order. */
export function queryFingerprint(query: unknown): string {
  return createHash('sha256').update(JSON.stringify(query)).digest('base64url').slice(0, 16);
}

export function encodePageToken(position: PagePosition, fingerprint: string): string {
  return Buffer.from(JSON.stringify({ ...position, q: fingerprint })).toString('base64url');
}

/**
 * Decodes a token made by encodePageToken for the same query fingerprint.
 * @throws InvalidArgumentError for anything else.
 */
export function decodePageToken(token: string | undefined, fingerprint: string): PagePosition {
  if (token === undefined || token === '') return {};
  const bad = (why: string) =>
    new InvalidArgumentError(`invalid page token: ${why}`, { pageToken: token.slice(0, 100) });
  if (typeof token !== 'string' || token.length > 512 || !/^[A-Za-z0-9_-]+$/.test(token)) {
    throw bad('not a token from this registry');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw bad('not a token from this registry');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw bad('not a token from this registry');
  }
  const { o, s, q } = parsed as Record<string, unknown>;
  if (q !== fingerprint) throw bad('it belongs to a different query');
  const valid = (n: unknown) => n === undefined || (Number.isSafeInteger(n) && (n as number) >= 0);
  if (!valid(o) || !valid(s) || (o === undefined) === (s === undefined)) {
    throw bad('not a token from this registry');
  }
  return o === undefined ? { s: s as number } : { o: o as number };
}

/** @throws InvalidArgumentError unless 1..MAX_MAX_RESULTS. */
export function resolveMaxResults(maxResults: number | undefined): number {
  if (maxResults === undefined) return DEFAULT_MAX_RESULTS;
  if (!Number.isSafeInteger(maxResults) || maxResults < 1 || maxResults > MAX_MAX_RESULTS) {
    throw new InvalidArgumentError(`maxResults must be an integer in 1..${MAX_MAX_RESULTS}`, {
      maxResults,
    });
  }
  return maxResults;
}

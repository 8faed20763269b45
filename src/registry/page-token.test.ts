import { describe, expect, it } from 'vitest';
import {
  decodePageToken,
  encodePageToken,
  queryFingerprint,
  resolveMaxResults,
} from './page-token.js';

describe('page tokens', () => {
  const fp = queryFingerprint({ target: 'versions', filter: "name = 'm'" });

  it('round-trip offsets and seqs for the same query', () => {
    expect(decodePageToken(encodePageToken({ o: 200 }, fp), fp)).toEqual({ o: 200 });
    expect(decodePageToken(encodePageToken({ s: 7 }, fp), fp)).toEqual({ s: 7 });
    expect(decodePageToken(undefined, fp)).toEqual({});
    expect(decodePageToken('', fp)).toEqual({});
  });

  it('are opaque url-safe strings', () => {
    expect(encodePageToken({ o: 100 }, fp)).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it('reject tokens of another query, edits and garbage', () => {
    const other = queryFingerprint({ target: 'versions', filter: "name = 'n'" });
    expect(() => decodePageToken(encodePageToken({ o: 1 }, other), fp)).toThrow(/different query/);
    const forge = (payload: unknown) => Buffer.from(JSON.stringify(payload)).toString('base64url');
    for (const token of [
      forge({ o: -5, q: fp }),
      forge({ o: 1.5, q: fp }),
      forge({ o: '3', q: fp }),
      forge({ o: 1, s: 2, q: fp }),
      forge({ q: fp }),
      forge([1, 2]),
      forge(null),
      'not/base64+',
      'x'.repeat(600),
      Buffer.from('not json').toString('base64url'),
    ]) {
      expect(() => decodePageToken(token, fp), token).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
      );
    }
  });

  it('bound maxResults to 1..10000, default 100', () => {
    expect(resolveMaxResults(undefined)).toBe(100);
    expect(resolveMaxResults(10_000)).toBe(10_000);
    for (const bad of [0, -1, 1.5, 10_001, Number.NaN]) {
      expect(() => resolveMaxResults(bad)).toThrow(/maxResults/);
    }
  });
});

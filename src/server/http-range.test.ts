import { describe, expect, it } from 'vitest';
import { etagMatches, parseRange } from './http-range.js';

describe('parseRange', () => {
  it('reads first, middle, open and suffix ranges', () => {
    expect(parseRange('bytes=0-9', 100)).toEqual({ kind: 'partial', start: 0, end: 9 });
    expect(parseRange('bytes=10-19', 100)).toEqual({ kind: 'partial', start: 10, end: 19 });
    expect(parseRange('bytes=90-', 100)).toEqual({ kind: 'partial', start: 90, end: 99 });
    expect(parseRange('bytes=-5', 100)).toEqual({ kind: 'partial', start: 95, end: 99 });
    expect(parseRange('bytes=-500', 100)).toEqual({ kind: 'partial', start: 0, end: 99 });
    expect(parseRange('bytes=50-5000', 100)).toEqual({ kind: 'partial', start: 50, end: 99 });
  });

  it('is unsatisfiable past the end, for an empty suffix and on empty files', () => {
    expect(parseRange('bytes=100-', 100)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=200-300', 100)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=-0', 100)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=0-', 0)).toEqual({ kind: 'unsatisfiable' });
  });

  it('ignores malformed, multi-range and non-byte ranges', () => {
    for (const h of ['bytes=5-1', 'bytes=a-b', 'items=0-1', 'bytes=0-1,3-4', 'bytes=-', 'x']) {
      expect(parseRange(h, 100)).toEqual({ kind: 'full' });
    }
    expect(parseRange(undefined, 100)).toEqual({ kind: 'full' });
  });

  it('matches strong and weak etags and lists', () => {
    expect(etagMatches('"ab"', '"ab"')).toBe(true);
    expect(etagMatches('W/"ab", "cd"', '"ab"')).toBe(true);
    expect(etagMatches('*', '"ab"')).toBe(true);
    expect(etagMatches('"cd"', '"ab"')).toBe(false);
    expect(etagMatches(undefined, '"ab"')).toBe(false);
  });
});

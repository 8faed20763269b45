import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeValue, isWellFormedText, truncateText } from './text.js';

describe('isWellFormedText', () => {
  it.each([
    ['', true],
    ['abc', true],
    ['😀', true],
    ['\ud83d', false],
    ['\ude00', false],
    ['a\ude00\ud83d', false],
    ['\ud83d\ude00\ud83d', false],
  ])('%j → %s', (s, ok) => {
    expect(isWellFormedText(s)).toBe(ok);
  });

  it('agrees with a UTF-8 round trip', () => {
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.integer({ min: 0xd7f0, max: 0xe010 }).map((c) => String.fromCharCode(c)),
        }),
        (s) => {
          const roundTrips = Buffer.from(s, 'utf8').toString('utf8') === s;
          expect(isWellFormedText(s)).toBe(roundTrips);
        },
      ),
    );
  });
});

describe('truncateText', () => {
  it('never splits a surrogate pair', () => {
    expect(truncateText('ab😀c', 3)).toBe('ab');
    expect(truncateText('ab😀c', 4)).toBe('ab😀');
    expect(truncateText('abc', 5)).toBe('abc');
  });
});

describe('describeValue', () => {
  it('quotes, shortens and escapes strings', () => {
    expect(describeValue('fraud')).toBe("'fraud'");
    expect(describeValue('a\nb\u0000')).toBe("'a\\u000ab\\u0000'");
    expect(describeValue('x\ud800')).toBe("'x\\ud800'");
    expect(describeValue('y'.repeat(100))).toBe(`'${'y'.repeat(80)}…'`);
  });

  it('names the type of non-strings', () => {
    expect(describeValue(3)).toBe('a number');
    expect(describeValue(null)).toBe('null');
    expect(describeValue([])).toBe('an array');
    expect(describeValue(undefined)).toBe('undefined');
    expect(describeValue({})).toBe('an object');
    expect(describeValue(true)).toBe('a boolean');
  });
});

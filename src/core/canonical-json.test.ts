import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, canonicalJsonBytes, MAX_CANONICAL_JSON_DEPTH } from './canonical-json.js';
import { InvalidArgumentError } from './errors.js';

describe('RFC 8785 examples', () => {
  it('serialises primitives (RFC 8785 §3.2.2 sample)', () => {
    const input = JSON.parse(
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],' +
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",' +
        ' "literals": [null, true, false]}',
    );
    expect(canonicalJson(input)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it('sorts keys by UTF-16 code units (RFC 8785 §3.2.3 sample)', () => {
    const input = JSON.parse(
      '{"\\u20ac": "Euro Sign", "\\r": "Carriage Return", "\\ufb33": "Hebrew Letter Dalet With Dagesh",' +
        ' "1": "One", "\\ud83d\\ude00": "Emoji: Grinning Face", "\\u0080": "Control",' +
        ' "\\u00f6": "Latin Small Letter O With Diaeresis"}',
    );
    expect(canonicalJson(input)).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","ö":"Latin Small Letter O With Diaeresis",' +
        '"€":"Euro Sign","😀":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  it('matches the reference test data (structures, french, weird)', () => {
    expect(
      canonicalJson(
        JSON.parse(
          '{"1": {"f": {"f": "hi","F": 5} ,"\\n": 56.0}, "10": { }, "": "empty", "a": { }, "111": [ { } ], "A": { }}',
        ),
      ),
    ).toBe('{"":"empty","1":{"\\n":56,"f":{"F":5,"f":"hi"}},"10":{},"111":[{}],"A":{},"a":{}}');
    expect(
      canonicalJson({
        peach: 'This sorting order',
        péché: 'is wrong according to French',
        pêche: 'but canonicalization MUST',
        sin: 'ingnore locale',
      }),
    ).toBe(
      '{"peach":"This sorting order","péché":"is wrong according to French","pêche":"but canonicalization MUST","sin":"ingnore locale"}',
    );
    expect(
      canonicalJson({
        '€': 'Euro Sign',
        '1': 'One',
        '\u0080': 'Control\u007f',
        '😂': 'Smiley',
        ö: 'Latin Small Letter O With Diaeresis',
        '\ufb33': 'Hebrew Letter Dalet With Dagesh',
        '</script>': 'Browser Challenge',
      }),
    ).toBe(
      '{"1":"One","</script>":"Browser Challenge","\u0080":"Control\u007f","ö":"Latin Small Letter O With Diaeresis",' +
        '"€":"Euro Sign","😂":"Smiley","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  // RFC 8785 Appendix B: IEEE 754 bit patterns and their serialisation.
  it.each([
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ])('number 0x%s → %s', (hex, expected) => {
    expect(canonicalJson(Buffer.from(hex, 'hex').readDoubleBE(0))).toBe(expected);
  });

  it('refuses NaN and infinities (RFC 8785 Appendix B)', () => {
    for (const hex of ['7fffffffffffffff', '7ff0000000000000', 'fff0000000000000']) {
      expect(() => canonicalJson(Buffer.from(hex, 'hex').readDoubleBE(0))).toThrow(
        InvalidArgumentError,
      );
    }
  });
});

const holey: number[] = [];
holey[0] = 1;
holey[2] = 3;

describe('canonicalJson', () => {
  it('writes integer-like keys in code-unit order, not JS object order', () => {
    expect(canonicalJson({ b: 1, 10: 2, 9: 3, a: [] })).toBe('{"10":2,"9":3,"a":[],"b":1}');
  });

  it('accepts null-prototype objects', () => {
    const o = Object.create(null) as Record<string, unknown>;
    o.z = 1;
    o.a = null;
    expect(canonicalJson(o)).toBe('{"a":null,"z":1}');
  });

  it('encodes UTF-8 bytes', () => {
    expect(Buffer.from(canonicalJsonBytes({ k: 'é€😀' })).toString('hex')).toBe(
      Buffer.from('{"k":"é€😀"}', 'utf8').toString('hex'),
    );
  });

  it.each<[string, unknown, RegExp]>([
    ['NaN', { a: [1, Number.NaN] }, /at \$\.a\[1\]: NaN is not a json number/],
    ['Infinity', Number.POSITIVE_INFINITY, /at \$: Infinity/],
    ['undefined member', { a: undefined }, /at \$\.a: undefined is not a json value/],
    ['undefined', undefined, /at \$: undefined/],
    ['function', { f: () => 1 }, /at \$\.f: function/],
    ['bigint', { n: 1n }, /at \$\.n: bigint/],
    ['symbol', Symbol('x'), /symbol is not a json value/],
    ['symbol key', { [Symbol('k')]: 1 }, /symbol keys/],
    ['hole', holey, /at \$\[1\]: array has a hole/],
    ['Date', { when: new Date(0) }, /at \$\.when: Date object/],
    ['Map', new Map(), /Map object/],
    ['Buffer', Buffer.from('x'), /Buffer object/],
    ['lone surrogate', { s: 'a\ud800' }, /at \$\.s: string contains a lone surrogate/],
    ['lone surrogate key', { '\udc00': 1 }, /key contains a lone surrogate/],
    ['odd key path', { 'a b': { c: Number.NaN } }, /at \$\["a b"\]\.c:/],
  ])('refuses %s', (_name, value, message) => {
    expect(() => canonicalJson(value)).toThrow(InvalidArgumentError);
    expect(() => canonicalJson(value)).toThrow(message);
  });

  it('refuses cycles but accepts shared subtrees', () => {
    const shared = { x: 1 };
    expect(canonicalJson({ a: shared, b: shared })).toBe('{"a":{"x":1},"b":{"x":1}}');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow(/at \$\.self: value contains a cycle/);
  });

  it('refuses hostile nesting without blowing the stack', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(() => canonicalJson(deep)).toThrow(/nested deeper than 256 levels/);
    let ok: unknown = 1;
    for (let i = 0; i < MAX_CANONICAL_JSON_DEPTH; i++) ok = { k: ok };
    expect(canonicalJson(ok)).toContain('1');
  });
});

/** Rebuilds a value with object keys inserted in a shuffled order. */
function shuffleKeys(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((v, i) => shuffleKeys(v, seed + i));
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    entries.sort((a, b) => ((a[0].length * 31 + seed) % 7) - ((b[0].length * 31 + seed) % 7));
    entries.reverse();
    return Object.fromEntries(entries.map(([k, v]) => [k, shuffleKeys(v, seed + 1)]));
  }
  return value;
}

describe('properties', () => {
  const json = fc.jsonValue({ depthSize: 'medium' });

  it('parses back to an equal value, and is a fixed point', () => {
    fc.assert(
      fc.property(json, (value) => {
        const text = canonicalJson(value);
        // jsonValue may produce -0, which JSON (and RFC 8785) writes as 0.
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)));
        expect(canonicalJson(JSON.parse(text))).toBe(text);
        expect(text).not.toMatch(/^\s|\s$/);
      }),
      { numRuns: 1000 },
    );
  });

  it('does not depend on key insertion order', () => {
    fc.assert(
      fc.property(json, fc.integer({ min: 0, max: 100 }), (value, seed) => {
        expect(canonicalJson(shuffleKeys(value, seed))).toBe(canonicalJson(value));
      }),
      { numRuns: 500 },
    );
  });

  it('throws nothing but InvalidArgumentError on arbitrary values', () => {
    fc.assert(
      fc.property(
        fc.anything({
          withBigInt: true,
          withDate: true,
          withMap: true,
          withSet: true,
          withTypedArray: true,
          withSparseArray: true,
          withNullPrototype: true,
        }),
        (value) => {
          try {
            canonicalJson(value);
          } catch (e) {
            if (!(e instanceof InvalidArgumentError)) throw e;
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});

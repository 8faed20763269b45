import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../core/errors.js';
import type { CompareOp, FieldRef, FilterExpr, FilterValue } from './filter-ast.js';
import {
  FilterSyntaxError,
  formatFilter,
  formatOrderBy,
  MAX_FILTER_DEPTH,
  MAX_FILTER_LENGTH,
  MODEL_VERSION_FIELDS,
  parseFilter,
  parseOrderBy,
} from './filter-parser.js';

/** Removes every `pos`, so ASTs can be compared by meaning. */
function stripPos(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripPos);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([k]) => k !== 'pos')
        .map(([k, v]) => [k, stripPos(v)]),
    );
  }
  return value;
}

const attr = (key: string) => ({ scope: 'attribute', key }) as const;
const metric = (key: string) => ({ scope: 'metric', key }) as const;
const param = (key: string) => ({ scope: 'param', key }) as const;
const tag = (key: string) => ({ scope: 'tag', key }) as const;
const cmp = (field: object, op: CompareOp, value: FilterValue) => ({
  kind: 'compare',
  field,
  op,
  value,
});

describe('parseFilter: valid filters', () => {
  it('returns undefined for empty and blank filters', () => {
    expect(parseFilter('')).toBeUndefined();
    expect(parseFilter('  \n\t ')).toBeUndefined();
  });

  it('keeps positions of fields and operators', () => {
    expect(parseFilter("name LIKE 'fraud%' AND (metrics.auc > 0.9 OR tags.team = 'risk')")).toEqual(
      {
        kind: 'and',
        items: [
          {
            kind: 'compare',
            field: { scope: 'attribute', key: 'name', pos: 0 },
            op: 'LIKE',
            value: 'fraud%',
            pos: 5,
          },
          {
            kind: 'or',
            items: [
              {
                kind: 'compare',
                field: { scope: 'metric', key: 'auc', pos: 24 },
                op: '>',
                value: 0.9,
                pos: 36,
              },
              {
                kind: 'compare',
                field: { scope: 'tag', key: 'team', pos: 45 },
                op: '=',
                value: 'risk',
                pos: 55,
              },
            ],
          },
        ],
      },
    );
    expect(parseFilter("run_id NOT IN ('a')")).toMatchObject({ kind: 'in', pos: 7 });
    expect(parseFilter('tags.x IS NOT NULL')).toMatchObject({ kind: 'null', pos: 7 });
  });

  it.each<[string, unknown]>([
    ['version_number > 3', cmp(attr('version_number'), '>', 3)],
    ["version_number = '3'", cmp(attr('version_number'), '=', 3)],
    ['version_number >= -2.5e3', cmp(attr('version_number'), '>=', -2500)],
    ["name = 'fraud'", cmp(attr('name'), '=', 'fraud')],
    ['name = "fraud"', cmp(attr('name'), '=', 'fraud')],
    ["attributes.name != 'x'", cmp(attr('name'), '!=', 'x')],
    ["attr.name <> 'x'", cmp(attr('name'), '!=', 'x')],
    ["source_path LIKE 's3://%'", cmp(attr('source'), 'LIKE', 's3://%')],
    ['timestamp < 1700000000000', cmp(attr('creation_timestamp'), '<', 1700000000000)],
    ["user_id ILIKE 'ALICE'", cmp(attr('user_id'), 'ILIKE', 'ALICE')],
    ["name like 'a%'", cmp(attr('name'), 'LIKE', 'a%')],
    ['metrics.auc > 0.93', cmp(metric('auc'), '>', 0.93)],
    ['metric.auc<=.5', cmp(metric('auc'), '<=', 0.5)],
    ['metrics.loss < 1e-3', cmp(metric('loss'), '<', 0.001)],
    ['metrics.loss < 1E+3', cmp(metric('loss'), '<', 1000)],
    ['metrics.delta > -1', cmp(metric('delta'), '>', -1)],
    ['metrics.delta>-1', cmp(metric('delta'), '>', -1)],
    ['metrics.x = 3.', cmp(metric('x'), '=', 3)],
    ['metrics.`val/loss` < 1', cmp(metric('val/loss'), '<', 1)],
    ['metrics.val/loss < 1', cmp(metric('val/loss'), '<', 1)],
    ["params.lr = '3e-4'", cmp(param('lr'), '=', '3e-4')],
    ["parameters.lr = '1'", cmp(param('lr'), '=', '1')],
    ["param.`my param` = 'x'", cmp(param('my param'), '=', 'x')],
    ["tags.team = 'risk'", cmp(tag('team'), '=', 'risk')],
    ["tag.team = 'risk'", cmp(tag('team'), '=', 'risk')],
    ["tags.mlflow.source.name = 'train.py'", cmp(tag('mlflow.source.name'), '=', 'train.py')],
    ["tags.`my key` = 'v'", cmp(tag('my key'), '=', 'v')],
    ['tags."my key" = \'v\'', cmp(tag('my key'), '=', 'v')],
    ["tags.'my key' = 'v'", cmp(tag('my key'), '=', 'v')],
    ["tags.`a``b` = 'v'", cmp(tag('a`b'), '=', 'v')],
    ["tags.ключ = 'значение'", cmp(tag('ключ'), '=', 'значение')],
    ["tags.t = 'it''s'", cmp(tag('t'), '=', "it's")],
    ["tags.t = 'it\\'s'", cmp(tag('t'), '=', "it's")],
    ['tags.t = "say ""hi"""', cmp(tag('t'), '=', 'say "hi"')],
    ["tags.t = 'back\\\\slash'", cmp(tag('t'), '=', 'back\\slash')],
    ["tags.t LIKE 'a\\_b%'", cmp(tag('t'), 'LIKE', 'a\\_b%')],
    ["tags.t = ''", cmp(tag('t'), '=', '')],
    ["alias = 'production'", cmp({ scope: 'alias', key: 'alias' }, '=', 'production')],
    ["aliases LIKE 'prod%'", cmp({ scope: 'alias', key: 'alias' }, 'LIKE', 'prod%')],
    [
      'run_id IN (\'a\', "b")',
      { kind: 'in', field: attr('run_id'), negated: false, values: ['a', 'b'] },
    ],
    [
      'metrics.epoch not in (1, 2,3)',
      { kind: 'in', field: metric('epoch'), negated: true, values: [1, 2, 3] },
    ],
    ['tags.x IS NULL', { kind: 'null', field: tag('x'), negated: false }],
    ['metrics.x is not null', { kind: 'null', field: metric('x'), negated: true }],
    ['alias IS NULL', { kind: 'null', field: { scope: 'alias', key: 'alias' }, negated: false }],
    [
      "name = 'a' AND name = 'b' OR name = 'c'",
      {
        kind: 'or',
        items: [
          { kind: 'and', items: [cmp(attr('name'), '=', 'a'), cmp(attr('name'), '=', 'b')] },
          cmp(attr('name'), '=', 'c'),
        ],
      },
    ],
    [
      "name = 'a' OR name = 'b' AND name = 'c'",
      {
        kind: 'or',
        items: [
          cmp(attr('name'), '=', 'a'),
          { kind: 'and', items: [cmp(attr('name'), '=', 'b'), cmp(attr('name'), '=', 'c')] },
        ],
      },
    ],
    [
      "(name = 'a' AND (name = 'b' AND name = 'c')) and name = 'd'",
      {
        kind: 'and',
        items: ['a', 'b', 'c', 'd'].map((v) => cmp(attr('name'), '=', v)),
      },
    ],
    ["((((name = 'a'))))", cmp(attr('name'), '=', 'a')],
    ["  name='a'  ", cmp(attr('name'), '=', 'a')],
  ])('%s', (text, expected) => {
    expect(stripPos(parseFilter(text))).toEqual(expected);
  });
});

describe('parseFilter: invalid filters', () => {
  it.each<[string, number, string, string]>([
    ['metrics.auc >', 13, 'a value', 'end of input'],
    ["metrics.auc = 'x'", 14, "a number for 'metrics.auc'", "'x'"],
    ["metrics.auc LIKE '%'", 12, '=, !=, <, <=, >, >=, IN, NOT IN or IS', "'LIKE'"],
    ["version_number = 'three'", 17, "a number for 'version_number'", "'three'"],
    ["name > 'a'", 5, '=, !=, LIKE, ILIKE, IN, NOT IN or IS', "'>'"],
    ['tags.team = 3', 12, "a quoted string for 'tags.team'", "'3'"],
    ['name LIKE 3', 10, "a quoted string for 'name'", "'3'"],
    ['params.lr > 0.1', 10, '=, !=, LIKE, ILIKE, IN, NOT IN or IS', "'>'"],
    ['metrics.x IN (1, "a")', 17, "a number for 'metrics.x'", '"a"'],
    ['tags.x IN ()', 11, 'a value', "')'"],
    ["tags.x IN ('a',)", 15, 'a value', "')'"],
    ["tags.x IN ('a' 'b')", 15, "',' or ')' to close the '(' at position 10", "'b'"],
    ["tags.x IN 'a'", 10, "'(' and a list of values", "'a'"],
    ["tags.x NOT LIKE 'a'", 11, "'IN'", "'LIKE'"],
    ['tags.x IS', 9, "'NULL'", 'end of input'],
    ['tags.x IS NOT 3', 14, "'NULL'", "'3'"],
    ["tags.x == 'a'", 8, 'a value', "'='"],
    ["tags.x ! 'a'", 7, "'!='", "'! '"],
    ['tags.x', 6, '=, !=, LIKE, ILIKE, IN, NOT IN or IS', 'end of input'],
    ["tags.team = 'risk", 17, "a closing ' to match the one at position 12", 'end of input'],
    ['tags.`team = 1', 14, 'a closing ` to match the one at position 5', 'end of input'],
    ["tags.`` = 'a'", 5, "a non-empty key after 'tags.'", "'``'"],
    ["tags. = 'a'", 5, "a key after 'tags.'", "' '"],
    ['tags.', 5, "a key after 'tags.'", 'end of input'],
    [
      "inputs.name = 'a'",
      0,
      "a field prefix (attributes, metrics, params, tags, datasets) before '.'",
      "'inputs'",
    ],
    [
      "Tags.x = 'a'",
      0,
      "a field prefix (attributes, metrics, params, tags, datasets) before '.'",
      "'Tags'",
    ],
    ["datasets.size = 'a'", 0, 'a dataset key (name, digest, context)', "'datasets.size'"],
    [
      "attributes.bogus = 'a'",
      0,
      'an attribute (creation_timestamp, last_updated_timestamp, name, run_id, source, user_id, version_number)',
      "'attributes.bogus'",
    ],
    [
      "attributes.alias = 'a'",
      0,
      'an attribute (creation_timestamp, last_updated_timestamp, name, run_id, source, user_id, version_number)',
      "'attributes.alias'",
    ],
    ["name = 'a' name = 'b'", 11, 'AND, OR or end of input', "'name'"],
    [
      "name = 'a' AND",
      14,
      expect.stringMatching(/^a field \(alias, creation_timestamp/),
      'end of input',
    ],
    ["AND name = 'a'", 0, expect.stringMatching(/^a field/), "'AND'"],
    ["(name = 'a'", 11, "')' to close the '(' at position 0, AND or OR", 'end of input'],
    ["name = 'a')", 10, 'AND, OR or end of input', "')'"],
    ['()', 1, expect.stringMatching(/^a field/), "')'"],
    ["Name = 'a'", 0, expect.stringMatching(/^a field/), "'Name'"],
    ['metrics.x > 1e999', 12, 'a finite number', "'1e999'"],
    ['metrics.x > 1.2.3', 12, 'a number', "'1.2.3'"],
    ['metrics.x > 3abc', 12, 'a number', "'3abc'"],
    ['metrics.x > - 1', 12, 'a value', "'-'"],
    ["name = 'a' ; DROP TABLE x", 11, 'AND, OR or end of input', "';'"],
    ["näme = 'a'", 0, expect.stringMatching(/^a field/), "'n'"],
    ["name = 'a' \u0000", 11, 'AND, OR or end of input', "'\\u0000'"],
    ['😀', 0, expect.stringMatching(/^a field/), "'😀'"],
  ])('%j', (text, position, expected, found) => {
    try {
      parseFilter(text);
      expect.unreachable(`parsed ${text}`);
    } catch (e) {
      expect(e).toBeInstanceOf(FilterSyntaxError);
      expect(e).toBeInstanceOf(InvalidArgumentError);
      const err = e as FilterSyntaxError;
      expect(err.details).toEqual({ position, expected, found });
      expect(err.position).toBe(position);
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(err.httpStatus).toBe(400);
      expect(err.name).toBe('FilterSyntaxError');
      expect(err.message).toMatch(new RegExp(`^invalid filter at position ${position}: expected `));
    }
  });

  it('says what came before when a value is missing', () => {
    expect(() => parseFilter('metrics.auc >')).toThrow(
      "invalid filter at position 13: expected a value after '>' but found end of input",
    );
    expect(() => parseFilter("name >= 'a'")).toThrow(
      "invalid filter at position 5: expected =, !=, LIKE, ILIKE, IN, NOT IN or IS after 'name' but found '>='",
    );
  });

  it('refuses non-strings', () => {
    expect(() => parseFilter(3 as unknown as string)).toThrow(FilterSyntaxError);
  });
});

describe('parseFilter: hostile input', () => {
  it(`caps nesting at ${MAX_FILTER_DEPTH} parentheses`, () => {
    const ok = `${'('.repeat(MAX_FILTER_DEPTH)}name = 'a'${')'.repeat(MAX_FILTER_DEPTH)}`;
    expect(stripPos(parseFilter(ok))).toEqual(cmp(attr('name'), '=', 'a'));
    const deep = `${'('.repeat(MAX_FILTER_DEPTH + 1)}name = 'a'${')'.repeat(MAX_FILTER_DEPTH + 1)}`;
    expect(() => parseFilter(deep)).toThrow(
      `invalid filter at position ${MAX_FILTER_DEPTH}: expected at most ${MAX_FILTER_DEPTH} levels of parentheses but found '('`,
    );
    expect(() => parseFilter('('.repeat(MAX_FILTER_LENGTH))).toThrow(FilterSyntaxError);
  });

  it(`caps length at ${MAX_FILTER_LENGTH} characters`, () => {
    const long = `name = '${'x'.repeat(MAX_FILTER_LENGTH)}'`;
    try {
      parseFilter(long);
      expect.unreachable();
    } catch (e) {
      expect((e as FilterSyntaxError).details).toEqual({
        position: MAX_FILTER_LENGTH,
        expected: `at most ${MAX_FILTER_LENGTH} characters`,
        found: `${long.length} characters`,
      });
    }
    const exactly = `name = '${'x'.repeat(MAX_FILTER_LENGTH - 9)}'`;
    expect(exactly).toHaveLength(MAX_FILTER_LENGTH);
    expect(parseFilter(exactly)).toBeDefined();
  });

  it('parses long flat chains', () => {
    const chain = Array.from({ length: 500 }, (_, i) => `tags.k${i} = 'v'`).join(' OR ');
    expect(chain.length).toBeLessThanOrEqual(MAX_FILTER_LENGTH);
    const expr = parseFilter(chain);
    expect(expr).toMatchObject({ kind: 'or' });
    expect((expr as unknown as { items: unknown[] }).items).toHaveLength(500);
  });

  it.each([
    "'".repeat(9999),
    '\\'.repeat(9999),
    `'${'\\'.repeat(9998)}`,
    `tags.${'`'.repeat(9990)}`,
    '-'.repeat(9999),
    '1'.repeat(9999),
    `metrics.${'a.'.repeat(4990)} > 1`,
    'NOT '.repeat(2499),
    "name IN ('a',".repeat(700),
  ])('fails cleanly or succeeds on pathological input %#', (text) => {
    try {
      parseFilter(text);
    } catch (e) {
      expect(e).toBeInstanceOf(FilterSyntaxError);
    }
  });
});

describe('parseOrderBy', () => {
  it('parses one string of comma-separated terms', () => {
    expect(parseOrderBy('metrics.auc DESC, name')).toEqual([
      { field: { scope: 'metric', key: 'auc', pos: 0 }, direction: 'desc' },
      { field: { scope: 'attribute', key: 'name', pos: 18 }, direction: 'asc' },
    ]);
    expect(parseOrderBy('')).toEqual([]);
    expect(parseOrderBy('   ')).toEqual([]);
    expect(stripPos(parseOrderBy('tags.`my key` asc'))).toEqual([
      { field: tag('my key'), direction: 'asc' },
    ]);
  });

  it('parses an array of terms (MLflow order_by), mapping synonyms', () => {
    expect(stripPos(parseOrderBy(['timestamp DESC', 'version_number', 'params.lr Asc']))).toEqual([
      { field: attr('creation_timestamp'), direction: 'desc' },
      { field: attr('version_number'), direction: 'asc' },
      { field: param('lr'), direction: 'asc' },
    ]);
    expect(parseOrderBy([])).toEqual([]);
  });

  it.each<[string | string[], string, object]>([
    [
      'name sideways',
      'invalid order_by at position 5',
      { expected: "ASC, DESC, ',' or end of input" },
    ],
    ['name,', 'invalid order_by at position 5', { expected: expect.stringMatching(/^a field/) }],
    ['alias', 'invalid order_by at position 0', { expected: 'a field that can be sorted on' }],
    ['bogus DESC', 'invalid order_by at position 0', { found: "'bogus'" }],
    [['name', ''], 'invalid order_by[1] at position 0', { index: 1, found: 'end of input' }],
    [['name', 'x y'], 'invalid order_by[1] at position 0', { index: 1, found: "'x'" }],
  ])('rejects %j', (text, prefix, details) => {
    try {
      parseOrderBy(text);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(FilterSyntaxError);
      expect((e as Error).message.startsWith(prefix)).toBe(true);
      expect((e as FilterSyntaxError).details).toMatchObject(details);
    }
  });

  it('prints terms back', () => {
    const terms = parseOrderBy('metrics.`a b` desc, name');
    expect(formatOrderBy(terms)).toBe('metrics.`a b` DESC, name ASC');
    expect(stripPos(parseOrderBy(formatOrderBy(terms)))).toEqual(stripPos(terms));
  });
});

describe('parseFilter options', () => {
  it('accepts a custom field table', () => {
    const fields = { status: { scope: 'attribute', key: 'status', type: 'string' } } as const;
    expect(stripPos(parseFilter("status = 'READY'", { fields }))).toEqual(
      cmp(attr('status'), '=', 'READY'),
    );
    expect(() => parseFilter("name = 'a'", { fields })).toThrow(/expected a field \(status,/);
  });

  it('does not resolve object prototype names as fields', () => {
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      expect(() => parseFilter(`${name} = 'a'`)).toThrow(FilterSyntaxError);
      expect(() => parseFilter(`attributes.${name} = 'a'`)).toThrow(FilterSyntaxError);
    }
  });
});

// ---------------------------------------------------------------------------------------
// Properties

const numericAttributes = Object.entries(MODEL_VERSION_FIELDS)
  .filter(([name, s]) => name === s.key && s.scope === 'attribute' && s.type === 'number')
  .map(([name]) => name);
const stringAttributes = Object.entries(MODEL_VERSION_FIELDS)
  .filter(([name, s]) => name === s.key && s.scope === 'attribute' && s.type === 'string')
  .map(([name]) => name);

const anyKey = fc.string({ minLength: 1, maxLength: 12, unit: 'binary' });
const numberValue = fc.double({ noNaN: true, noDefaultInfinity: true });
const stringValue = fc.oneof(
  fc.string({ maxLength: 12, unit: 'binary' }),
  fc.string({ maxLength: 8, unit: fc.constantFrom("'", '"', '\\', '`', '%', '_', 'a', ' ') }),
);

type Typed = { field: FieldRef; numeric: boolean };
const typedField: fc.Arbitrary<Typed> = fc.oneof(
  fc
    .constantFrom(...numericAttributes)
    .map((key) => ({ field: { scope: 'attribute', key, pos: 0 }, numeric: true }) as Typed),
  fc
    .constantFrom(...stringAttributes)
    .map((key) => ({ field: { scope: 'attribute', key, pos: 0 }, numeric: false }) as Typed),
  fc.constant({ field: { scope: 'alias', key: 'alias', pos: 0 }, numeric: false } as Typed),
  anyKey.map((key) => ({ field: { scope: 'metric', key, pos: 0 }, numeric: true }) as Typed),
  anyKey.map((key) => ({ field: { scope: 'param', key, pos: 0 }, numeric: false }) as Typed),
  anyKey.map((key) => ({ field: { scope: 'tag', key, pos: 0 }, numeric: false }) as Typed),
);

const predicate: fc.Arbitrary<FilterExpr> = typedField.chain(({ field, numeric }) => {
  const value: fc.Arbitrary<FilterValue> = numeric ? numberValue : stringValue;
  const ops: CompareOp[] = numeric
    ? ['=', '!=', '<', '<=', '>', '>=']
    : ['=', '!=', 'LIKE', 'ILIKE'];
  return fc.oneof(
    fc
      .tuple(fc.constantFrom(...ops), value)
      .map(([op, v]) => ({ kind: 'compare', field, op, value: v, pos: 0 }) as FilterExpr),
    fc
      .tuple(fc.boolean(), fc.array(value, { minLength: 1, maxLength: 4 }))
      .map(([negated, values]) => ({ kind: 'in', field, negated, values, pos: 0 }) as FilterExpr),
    fc.boolean().map((negated) => ({ kind: 'null', field, negated, pos: 0 }) as FilterExpr),
  );
});

const { expr: filterExpr } = fc.letrec<{ expr: FilterExpr }>((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', maxDepth: 5 },
    predicate,
    fc
      .tuple(fc.constantFrom('and', 'or'), fc.array(tie('expr'), { minLength: 2, maxLength: 4 }))
      .map(([kind, items]) => ({ kind, items }) as FilterExpr),
  ),
}));

/** What the parser makes of an AST: same-kind chains flattened. */
function normalise(expr: FilterExpr): FilterExpr {
  if (expr.kind !== 'and' && expr.kind !== 'or') return expr;
  const items: FilterExpr[] = [];
  for (const item of expr.items.map(normalise)) {
    if (item.kind === expr.kind) items.push(...item.items);
    else items.push(item);
  }
  return { kind: expr.kind, items };
}

const tokenSoup = fc.string({
  unit: fc.constantFrom(
    'name',
    'tags.',
    'metrics.',
    'params.',
    'attributes.',
    'alias',
    'version_number',
    'x',
    ' ',
    ' AND ',
    ' OR ',
    ' NOT ',
    ' IN ',
    ' IS ',
    'NULL',
    ' LIKE ',
    '=',
    '!=',
    '<>',
    '<',
    '<=',
    '>',
    '>=',
    '!',
    '(',
    ')',
    ',',
    "'",
    '"',
    '`',
    '\\',
    "'a'",
    '"b"',
    '`k`',
    '1',
    '-',
    '.',
    'e',
    '+',
    '3.5',
    '-2e3',
    '😀',
    '\u0000',
    '\n',
  ),
  maxLength: 30,
});

describe('properties', () => {
  it('format then parse gives back the AST', () => {
    fc.assert(
      fc.property(filterExpr, (expr) => {
        const norm = normalise(expr);
        const text = formatFilter(norm);
        expect(stripPos(parseFilter(text))).toEqual(stripPos(norm));
        // and printing is a fixed point
        expect(formatFilter(parseFilter(text)!)).toBe(text);
      }),
      { numRuns: 2000 },
    );
  });

  it('random text throws nothing but FilterSyntaxError, and what parses round-trips', () => {
    fc.assert(
      fc.property(fc.oneof(tokenSoup, fc.string({ unit: 'binary', maxLength: 80 })), (text) => {
        let expr: FilterExpr | undefined;
        try {
          expr = parseFilter(text);
        } catch (e) {
          if (!(e instanceof FilterSyntaxError)) throw e;
          expect(e.position).toBeGreaterThanOrEqual(0);
          expect(e.position).toBeLessThanOrEqual(text.length);
          return;
        }
        if (expr !== undefined) {
          expect(stripPos(parseFilter(formatFilter(expr)))).toEqual(stripPos(expr));
        }
      }),
      { numRuns: 10_000 },
    );
  });

  it('random order_by text throws nothing but FilterSyntaxError', () => {
    fc.assert(
      fc.property(fc.oneof(tokenSoup, fc.array(tokenSoup, { maxLength: 3 })), (text) => {
        try {
          const terms = parseOrderBy(text);
          if (terms.length > 0) {
            expect(stripPos(parseOrderBy(formatOrderBy(terms)))).toEqual(stripPos(terms));
          }
        } catch (e) {
          if (!(e instanceof FilterSyntaxError)) throw e;
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('long random text never hangs', () => {
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.constantFrom('(', "'", '\\', 'a', ' ', 'OR', '=', '.', '1'),
          minLength: 5000,
          maxLength: 10_000,
        }),
        (text) => {
          try {
            parseFilter(text);
          } catch (e) {
            if (!(e instanceof FilterSyntaxError)) throw e;
          }
        },
      ),
      { numRuns: 50 },
    );
  });
});

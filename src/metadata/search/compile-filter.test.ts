import {
  DummyDriver,
  type Expression,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type SqlBool,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from 'kysely';
import { describe, expect, it } from 'vitest';
import type { RegistryDB } from '../schema.js';
import { compileFilter, compileOrderBy, likeToGlob, orderByNullsLast } from './compile-filter.js';
import type { FieldRef, FilterExpr } from './filter-ast.js';

function kysely(dialect: 'sqlite' | 'postgres') {
  return new Kysely<RegistryDB>({
    dialect: {
      createAdapter: () => (dialect === 'sqlite' ? new SqliteAdapter() : new PostgresAdapter()),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) =>
        dialect === 'sqlite' ? new SqliteIntrospector(db) : new PostgresIntrospector(db),
      createQueryCompiler: () =>
        dialect === 'sqlite' ? new SqliteQueryCompiler() : new PostgresQueryCompiler(),
    },
  });
}

function versionsQuery(where: Expression<SqlBool>, dialect: 'sqlite' | 'postgres' = 'sqlite') {
  return kysely(dialect)
    .selectFrom('model_versions as v')
    .innerJoin('registered_models as m', 'm.id', 'v.model_id')
    .selectAll('v')
    .where(where)
    .compile();
}

const field = (scope: FieldRef['scope'], key: string, pos = 0): FieldRef => ({ scope, key, pos });
const cmp = (f: FieldRef, op: '=' | '!=' | '>' | 'LIKE' | 'ILIKE' | '<', value: string | number) =>
  ({ kind: 'compare', field: f, op, value, pos: f.pos }) as const;

describe('compileFilter', () => {
  it('binds every value as a parameter, never as SQL text', () => {
    const evil = "x' OR 1=1; DROP TABLE model_versions; --";
    const ast: FilterExpr = {
      kind: 'or',
      items: [
        cmp(field('attribute', 'run_id'), '=', evil),
        cmp(field('tag', "team'; --"), '=', evil),
        cmp(field('param', 'lr'), 'LIKE', evil),
        cmp(field('metric', 'auc'), '>', 0.9),
        { kind: 'in', field: field('alias', ''), negated: false, values: [evil, 'b'], pos: 0 },
      ],
    };
    const q = versionsQuery(compileFilter(ast, 'versions'));
    expect(q.sql).not.toContain('DROP');
    expect(q.sql).not.toContain("team'");
    expect(q.parameters).toEqual(
      expect.arrayContaining([evil, "team'; --", 'lr', 'auc', 0.9, 'b']),
    );
  });

  it('LIKE is case-sensitive: GLOB on SQLite, LIKE … ESCAPE on PostgreSQL; ILIKE lowers both sides', () => {
    const like = cmp(field('attribute', 'name'), 'LIKE', 'Fraud%');
    const sqlite = versionsQuery(compileFilter(like, 'versions', { dialect: 'sqlite' }), 'sqlite');
    expect(sqlite.sql).toContain('"m"."name" glob ?');
    expect(sqlite.parameters).toEqual(['Fraud*']);
    const pg = versionsQuery(compileFilter(like, 'versions', { dialect: 'postgres' }), 'postgres');
    expect(pg.sql).toContain(`"m"."name" like $1 escape '\\'`);
    expect(pg.parameters).toEqual(['Fraud%']);
    const ilike = versionsQuery(
      compileFilter(cmp(field('attribute', 'name'), 'ILIKE', 'F%'), 'versions'),
    );
    expect(ilike.sql).toContain('lower("m"."name") like lower(?)');
  });

  it('translates LIKE patterns to GLOB, honouring backslash escapes', () => {
    expect(likeToGlob('fraud%')).toBe('fraud*');
    expect(likeToGlob('a_c')).toBe('a?c');
    expect(likeToGlob('100\\%')).toBe('100%');
    expect(likeToGlob('a\\_b')).toBe('a_b');
    expect(likeToGlob('a*b?[c]')).toBe('a[*]b[?][[]c]');
    expect(likeToGlob('end\\')).toBe('end\\');
  });

  it('normalises stage and digest values', () => {
    const stage = versionsQuery(
      compileFilter(cmp(field('attribute', 'current_stage'), '=', 'production'), 'versions'),
    );
    expect(stage.parameters).toEqual(['Production']);
    const digest = versionsQuery(
      compileFilter(
        cmp(field('attribute', 'digest'), '=', `sha256:${'AB'.repeat(32)}`),
        'versions',
      ),
    );
    expect(digest.parameters).toEqual(['ab'.repeat(32)]);
    const number = versionsQuery(
      compileFilter(cmp(field('attribute', 'version_number'), '=', '3'), 'versions'),
    );
    expect(number.parameters).toEqual([3]);
  });

  it.each([
    [
      cmp(field('attribute', 'colour', 7), '=', 'x'),
      'versions',
      /position 7: unknown attribute 'colour'/,
    ],
    [
      cmp(field('metric', 'auc', 3), '>', 1),
      'models',
      /position 3: metrics are not searchable for models/,
    ],
    [
      cmp(field('param', 'lr', 2), '=', 1),
      'versions',
      /position 2: params.lr compares with strings/,
    ],
    [cmp(field('metric', 'auc', 1), '=', 'high'), 'versions', /metrics.auc compares with numbers/],
    [
      cmp(field('metric', 'auc', 1), 'LIKE', 'x%'),
      'versions',
      /position 1: LIKE needs a text field, not metrics.auc/,
    ],
    [
      cmp(field('attribute', 'run_id', 1), '<', 'x'),
      'versions',
      /supports =, !=, LIKE, ILIKE and IN/,
    ],
    [
      cmp(field('attribute', 'version_number', 4), '>', 'three'),
      'versions',
      /position 4: version_number compares with numbers/,
    ],
    [cmp(field('tag', '', 5), '=', 'x'), 'versions', /position 5: tags. needs a key/],
    [
      cmp(field('attribute', 'version_number'), '=', 1),
      'models',
      /unknown attribute 'version_number' for models/,
    ],
  ] as const)('rejects %j on %s', (ast, target, message) => {
    expect(() => compileFilter(ast, target)).toThrow(message);
    try {
      compileFilter(ast, target);
    } catch (e) {
      expect(e).toMatchObject({ code: 'INVALID_ARGUMENT', details: { position: ast.pos } });
    }
  });
});

describe('compileOrderBy', () => {
  it('orders with nulls last and binds each metric key once', () => {
    const items = compileOrderBy(
      [
        { field: field('metric', 'auc'), direction: 'desc' },
        { field: field('attribute', 'name'), direction: 'asc' },
      ],
      'versions',
    );
    expect(items.map((i) => i.direction)).toEqual(['desc', 'asc']);
    let q = kysely('sqlite').selectFrom('model_versions as v').selectAll('v');
    for (const i of items) q = orderByNullsLast(q, i);
    const compiled = q.compile();
    expect(compiled.sql).toContain(
      'order by (select x.value from "version_latest_metrics" as x where "x"."version_id" = "v"."id" and x.key = ?) desc nulls last, "m"."name" asc nulls last',
    );
    expect(compiled.parameters).toEqual(['auc']);
  });

  it('refuses to order by aliases', () => {
    expect(() =>
      compileOrderBy([{ field: field('alias', ''), direction: 'asc' }], 'versions'),
    ).toThrow(/cannot order by aliases/);
  });
});

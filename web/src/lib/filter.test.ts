import { describe, expect, it } from 'vitest';
import { parseFilter } from '../../../src/metadata/search/filter-parser.js';
import {
  DEFAULT_SORT,
  fieldRef,
  listParam,
  modelSearchFilter,
  modelVersionsFilter,
  orderByFor,
  parseSort,
  quote,
  sortParam,
  toggleSort,
} from './filter';

describe('filters built by the UI', () => {
  it('quote and fieldRef survive the server parser with hostile text', () => {
    const evil = "it's \\ a 'test' \" AND 1=1";
    const f = `${fieldRef('tags', 'odd key`x')} = ${quote(evil)} AND ${fieldRef('metrics', 'auc')} > 0.5`;
    const ast = parseFilter(f) as unknown as {
      kind: string;
      items: { field: { key: string }; value: unknown }[];
    };
    expect(ast.kind).toBe('and');
    expect(ast.items[0]!.field.key).toBe('odd key`x');
    expect(ast.items[0]!.value).toBe(evil);
  });

  it('the models search box: words match names literally, filters pass through', () => {
    expect(modelSearchFilter('  ')).toBeUndefined();
    expect(modelSearchFilter('fraud')).toBe("name ILIKE '%fraud%'");
    expect(modelSearchFilter('50%_off')).toBe("name ILIKE '%50\\\\%\\\\_off%'");
    expect(modelSearchFilter("tags.team = 'risk'")).toBe("tags.team = 'risk'");
    const parsed = parseFilter(modelSearchFilter('50%_off')!) as unknown as { value: string };
    expect(parsed.value).toBe('%50\\%\\_off%');
  });

  it("a model's versions: its name AND the user's filter in parentheses", () => {
    expect(modelVersionsFilter("o'neil/m", '')).toBe("name = 'o\\'neil/m'");
    expect(modelVersionsFilter('m', 'a = 1 OR b = 2')).toBe("name = 'm' AND (a = 1 OR b = 2)");
  });

  it('sorts: URL round trip, toggling, ORDER BY with the version as tie-breaker', () => {
    expect(parseSort(null, null)).toEqual(DEFAULT_SORT);
    expect(parseSort('bogus', 'asc')).toEqual(DEFAULT_SORT);
    const byAuc = parseSort('metrics:val loss', 'asc');
    expect(byAuc).toEqual({ by: { kind: 'metrics', key: 'val loss' }, dir: 'ASC' });
    expect(parseSort(sortParam(byAuc).sort, sortParam(byAuc).dir)).toEqual(byAuc);
    expect(orderByFor(byAuc)).toEqual(['metrics.`val loss` ASC', 'version_number DESC']);
    expect(orderByFor(DEFAULT_SORT)).toEqual(['version_number DESC']);
    expect(toggleSort(byAuc, byAuc.by).dir).toBe('DESC');
    expect(toggleSort(byAuc, { kind: 'attribute', key: 'size' })).toEqual({
      by: { kind: 'attribute', key: 'size' },
      dir: 'DESC',
    });
  });

  it('list params drop empties and repeats', () => {
    expect(listParam(' auc, ,loss,auc ')).toEqual(['auc', 'loss']);
    expect(listParam(null)).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { parseVersionList, sideBySide } from './compare';
import { buildFileTree } from './file-tree';
import { niceTicks } from './scale';

describe('compare helpers', () => {
  it('version lists: 2 to 5 distinct positive integers', () => {
    expect(parseVersionList('3,1,3,7')).toEqual([3, 1, 7]);
    expect(parseVersionList('1')).toMatch(/choose 2 to 5/);
    expect(parseVersionList('1,2,3,4,5,6')).toMatch(/got 6/);
    expect(parseVersionList('1,x')).toBe("'x' is not a version number");
    expect(parseVersionList('0,1')).toMatch(/not a version/);
    expect(parseVersionList(null)).toMatch(/got 0/);
  });

  it('side by side: every key, missing values undefined, only-differences filter', () => {
    const rows = sideBySide([
      { a: 1, b: 2 },
      { a: 1, c: 3 },
    ]);
    expect(rows).toEqual([
      { key: 'a', values: [1, 1], differs: false },
      { key: 'b', values: [2, undefined], differs: true },
      { key: 'c', values: [undefined, 3], differs: true },
    ]);
    expect(
      sideBySide(
        [
          { a: 1, b: 2 },
          { a: 1, c: 3 },
        ],
        true,
      ).map((r) => r.key),
    ).toEqual(['b', 'c']);
  });
});

describe('file tree', () => {
  it('nests folders first with totals', () => {
    const tree = buildFileTree([
      { path: 'README.md', size: 10, sha256: 'a' },
      { path: 'b/x.bin', size: 5, sha256: 'b' },
      { path: 'b/c/y.bin', size: 7, sha256: 'c' },
    ]);
    expect(tree.size).toBe(22);
    expect(tree.children.map((c) => c.name)).toEqual(['b', 'README.md']);
    const b = tree.children[0]!;
    expect(b.kind === 'dir' && [b.size, b.fileCount, b.children.map((c) => c.name)]).toEqual([
      12,
      2,
      ['c', 'x.bin'],
    ]);
  });
});

describe('chart ticks', () => {
  it('covers the range with round steps', () => {
    expect(niceTicks(0.91, 0.95, 4)).toEqual([0.91, 0.92, 0.93, 0.94, 0.95]);
    expect(niceTicks(0, 1, 2)).toEqual([0, 0.5, 1]);
    const flat = niceTicks(5, 5);
    expect(flat[0]).toBeLessThan(5);
    expect(flat[flat.length - 1]).toBeGreaterThan(5);
  });
});

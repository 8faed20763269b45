/**
 * ArtifactService.freeze reads what it freezes with one statement fewer on PostgreSQL (the
 * entry and its directory's first level together): held here to what stat and listTree
 * give, on every dialect.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TEST_DIALECTS } from '../../test/support/dialects.js';
import {
  openTempRegistryDirectory,
  type TempRegistryDirectory,
} from '../../test/support/temp-registry.js';
import type { ManifestEntry } from '../storage/content-store.js';
import { ArtifactService } from './artifact-service.js';

async function* once(text: string) {
  yield new TextEncoder().encode(text);
}

describe.each(TEST_DIALECTS)('ArtifactService.freeze on %s', (dialect) => {
  let temp: TempRegistryDirectory;
  beforeEach(async () => {
    temp = await openTempRegistryDirectory(dialect, 'mv-artifact-freeze-');
  });
  afterEach(() => temp.cleanup());

  it('freezes what stat and listTree find: a file, a tree at any depth, nothing', async () => {
    const artifacts = new ArtifactService({ store: temp.rd.store });
    const files = [
      'top.bin',
      'm/MLmodel',
      'm/a/b/c.bin',
      'm/a/d.bin',
      'm/a/b/e/f/g.txt',
      'm/sub dir/"q",{x}.pkl',
      'm2/other.bin',
      'mm/x.bin',
      'n/only/deep.bin',
    ];
    for (const [i, path] of files.entries()) await artifacts.put(path, once(`${path}:${i}`));
    /** The straightforward reads: stat, then listTree for a directory. */
    const expected = async (path: string): Promise<ManifestEntry[]> => {
      const node = await artifacts.stat(path);
      if (node.kind === 'file') {
        const name = path.slice(path.lastIndexOf('/') + 1);
        return [{ path: name, sha256: node.file.sha256, size: node.file.size }];
      }
      return artifacts.listTree(path);
    };
    const checked = [
      'top.bin',
      'm',
      'm/a',
      'm/a/b',
      'm/a/b/c.bin',
      'm/sub dir',
      'm/sub dir/"q",{x}.pkl',
      'm2',
      'n',
      'n/only',
    ];
    for (const path of checked) {
      const want = await expected(path);
      expect(want.length, path).toBeGreaterThan(0);
      const frozen = await artifacts.freeze(path);
      expect(frozen.entries, path).toEqual(want);
      expect(frozen.totalSize).toBe(want.reduce((n, e) => n + e.size, 0));
    }
    expect((await artifacts.freeze('m')).entries.map((e) => e.path)).toEqual([
      'MLmodel',
      'a/b/c.bin',
      'a/b/e/f/g.txt',
      'a/d.bin',
      'sub dir/"q",{x}.pkl',
    ]);
    for (const path of ['missing', 'm/a/missing', 'mm/x', 'm/MLmodel/x']) {
      expect(await expected(path), path).toEqual([]);
      await expect(artifacts.freeze(path)).rejects.toMatchObject({
        code: 'NOT_FOUND',
        details: { path },
      });
    }
  });
});

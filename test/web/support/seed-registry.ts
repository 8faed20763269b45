/**
 * A registry directory for the browser tests, filled through the registry's own API (the
 * same LocalRegistry the CLI and the server use): a model with three pushed versions
 * (files in folders, model cards, metrics, params, tags, lineage, aliases), one of whose
 * cards carries XSS payloads, and a model with many versions for the virtualised table.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { openServerBackend } from '../../../src/server/open-backend.js';
import { pseudoRandomBytes } from '../../fixtures/model-files.js';

export const MODEL = 'team/fraud-detector';
export const BULK_MODEL = 'bulk';

/** Card of v3: each payload would set `window.__xss` if it ran. */
export const XSS_CARD = `# Fraud detector v3

<script>window.__xss = 'script'</script>
<img src="x" onerror="window.__xss = 'onerror'">
[click me](javascript:window.__xss='link')
<a href="#" onclick="window.__xss='onclick'">also click</a>

| metric | value |
| --- | --- |
| auc | 0.95 |
`;

async function writeTree(dir: string, files: Record<string, string | Uint8Array>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
}

export interface SeededRegistry {
  readonly root: string;
  /** Bytes of team/fraud-detector@2's weights.bin, to check a download against. */
  readonly weightsV2: Uint8Array;
}

export async function seedRegistry(bulkVersions: number): Promise<SeededRegistry> {
  const work = await mkdtemp(join(tmpdir(), 'mv-web-'));
  const root = join(work, 'registry');
  const backend = await openServerBackend(root, { create: true, defaultActor: 'alice' });
  const registry = backend.registry as import('../../../src/core/registry-api.js').RegistryApi;
  const weightsV2 = pseudoRandomBytes(2, 150_000);
  try {
    const versions: {
      files: Record<string, string | Uint8Array>;
      metrics: Record<string, number>;
      params: Record<string, string>;
      extra: object;
    }[] = [
      {
        files: {
          'README.md': '# Fraud detector\n\nA **gradient-boosted** model.\n\n- trained on Q2\n',
          'weights.bin': pseudoRandomBytes(1, 150_000),
          'config/params.json': '{"depth": 6}\n',
        },
        metrics: { auc: 0.91, loss: 0.3 },
        params: { lr: '3e-4', epochs: '10' },
        extra: {},
      },
      {
        files: {
          'README.md': '# Fraud detector v2\n\nRetrained on **Q3**.\n',
          'weights.bin': weightsV2,
          'config/params.json': '{"depth": 8}\n',
          'config/labels.txt': 'fraud\nok\n',
        },
        metrics: { auc: 0.93, loss: 0.25 },
        params: { lr: '3e-4', epochs: '20' },
        extra: {
          runId: 'run-7f3a',
          lineage: {
            parents: [`${MODEL}@1`],
            datasets: [{ name: 'train', uri: 's3://bucket/q3.parquet' }],
            code: {
              gitRemote: 'git@example.com:risk/fraud.git',
              gitCommit: 'a1b2c3d4e5f6a7b8',
              gitDirty: false,
            },
          },
        },
      },
      {
        files: {
          'README.md': XSS_CARD,
          'weights.bin': pseudoRandomBytes(3, 150_000),
          'config/params.json': '{"depth": 8}\n',
        },
        metrics: { auc: 0.95, loss: 0.2 },
        params: { lr: '1e-4', epochs: '20' },
        extra: { lineage: { parents: [`${MODEL}@2`] } },
      },
    ];
    let i = 0;
    for (const v of versions) {
      const dir = join(work, `src-${++i}`);
      await writeTree(dir, v.files);
      await registry.push(dir, {
        model: MODEL,
        metrics: v.metrics,
        params: v.params,
        tags: { team: 'risk' },
        description: `version ${i}`,
        ...v.extra,
      });
    }
    await registry.setAlias(MODEL, 'production', 1);
    await registry.setAlias(MODEL, 'production', 2);
    await registry.setAlias(MODEL, 'staging', 3);

    // Many versions sharing v1's files: the manifest is in the store, so no pushes needed.
    const base = await registry.getVersion(`${MODEL}@1`);
    const manifest = { digest: base.digest, size: base.size, fileCount: base.fileCount };
    await registry.createModel({ name: BULK_MODEL, description: 'many versions' });
    for (let n = 1; n <= bulkVersions; n++) {
      await registry.createVersion({
        model: BULK_MODEL,
        manifest,
        metrics: { acc: n / bulkVersions },
        params: { seed: String(n % 7) },
      });
    }
  } finally {
    await backend.close();
  }
  return { root, weightsV2 };
}

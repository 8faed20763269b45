/**
 * A registry directory for the browser tests, filled through the registry's own API (the
 * same LocalRegistry the CLI and the server use): a model with three pushed versions
 * (files in folders, model cards, metrics, params, tags, lineage, aliases), one of whose
 * cards carries XSS payloads, a model with many versions for the virtualised table, a
 * model with safetensors weights in two versions (the first signed) and one holding a
 * dangerous pickle.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  generateSigningKeyPair,
  keyIdOf,
  loadPrivateKey,
  loadPublicKey,
  signVersion,
} from '../../../src/core/model-signing.js';
import { openServerBackend } from '../../../src/server/open-backend.js';
import { pseudoRandomBytes, writeSafetensors } from '../../fixtures/model-files.js';
import { OS_SYSTEM_PICKLE } from '../../fixtures/pickle-files.js';

export const MODEL = 'team/fraud-detector';
export const BULK_MODEL = 'bulk';
/** Safetensors weights in two versions (one tensor changed, one added); v1 is signed. */
export const TENSOR_MODEL = 'llm/tiny';
/** A pickle that calls os.system: scanned as dangerous. */
export const PICKLE_MODEL = 'legacy/pickled';

/** The tensors of TENSOR_MODEL v1, in file order. */
export const TINY_TENSORS = [
  { name: 'embed.weight', dtype: 'F32', shape: [8, 4] },
  { name: 'layers.0.attn.weight', dtype: 'BF16', shape: [4, 4] },
  { name: 'layers.0.mlp.weight', dtype: 'F32', shape: [4, 16] },
  { name: 'lm_head.weight', dtype: 'F32', shape: [4, 8] },
] as const;

const BYTES: Record<string, number> = { F32: 4, BF16: 2 };

/** TINY_TENSORS with data; `seed` changes the mlp weights, `extra` adds a layer. */
function tinySafetensors(seed: number, extra: boolean): Uint8Array {
  const specs: { name: string; dtype: string; shape: number[]; data: Uint8Array }[] =
    TINY_TENSORS.map((t, i) => ({
      ...t,
      shape: [...t.shape],
      data: pseudoRandomBytes(
        t.name === 'layers.0.mlp.weight' ? 100 + seed : 10 + i,
        t.shape.reduce((n, d) => n * d, 1) * BYTES[t.dtype]!,
      ),
    }));
  if (extra) {
    specs.push({
      name: 'layers.1.attn.weight',
      dtype: 'BF16',
      shape: [4, 4],
      data: pseudoRandomBytes(7, 32),
    });
  }
  return writeSafetensors(specs);
}

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
  /** Key id of the signature on TENSOR_MODEL v1. */
  readonly signingKeyId: string;
}

export async function seedRegistry(bulkVersions: number): Promise<SeededRegistry> {
  const work = await mkdtemp(join(tmpdir(), 'mv-web-'));
  const root = join(work, 'registry');
  const backend = await openServerBackend(root, { create: true, defaultActor: 'alice' });
  const registry = backend.registry as import('../../../src/core/registry-api.js').RegistryApi;
  const weightsV2 = pseudoRandomBytes(2, 150_000);
  let signingKeyId = '';
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

    // Safetensors weights (tensors table, tensor diff) and a signature on v1.
    for (const [i, extra] of [false, true].entries()) {
      const dir = join(work, `tiny-${i}`);
      await writeTree(dir, {
        'model.safetensors': tinySafetensors(i, extra),
        'config.json': JSON.stringify({ architectures: ['TinyForCausalLM'], model_type: 'tiny' }),
      });
      await registry.push(dir, { model: TENSOR_MODEL });
    }
    const tiny = await registry.getVersion(`${TENSOR_MODEL}@1`);
    const tinyFiles = await registry.getManifest(`${TENSOR_MODEL}@1`);
    const key = generateSigningKeyPair();
    signingKeyId = keyIdOf(loadPublicKey(key.publicKey));
    await registry.addSignature(`${TENSOR_MODEL}@1`, {
      bundle: signVersion(
        { model: tiny.model, version: tiny.version, digest: tiny.digest, files: tinyFiles.files },
        loadPrivateKey(key.privateKey),
      ),
      publicKey: key.publicKey,
    });

    // A pickle that runs os.system when loaded: flagged, not refused.
    const pickled = join(work, 'pickled');
    await writeTree(pickled, { 'model.pkl': OS_SYSTEM_PICKLE, 'README.md': '# Legacy\n' });
    await registry.push(pickled, { model: PICKLE_MODEL });

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
  return { root, weightsV2, signingKeyId };
}

/**
 * A small model directory for CLI tests: `model.safetensors` with four 256 KiB float32
 * tensors (only `layers.1.weight` depends on `version`, so each version changes one
 * tensor), a `config.json` and a README.md model card.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pseudoRandomBytes, writeSafetensors } from '../fixtures/model-files.js';

export const TENSOR_BYTES = 256 * 1024;

export async function writeModelDir(dir: string, version: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  const names = ['embed.weight', 'layers.0.weight', 'layers.1.weight', 'head.weight'];
  const tensors = names.map((name, i) => ({
    name,
    dtype: 'F32',
    shape: [TENSOR_BYTES / 4],
    data: pseudoRandomBytes(name === 'layers.1.weight' ? 100 + version : 1 + i, TENSOR_BYTES),
  }));
  await writeFile(join(dir, 'model.safetensors'), writeSafetensors(tensors));
  await writeFile(join(dir, 'config.json'), JSON.stringify({ layers: 2, hidden: 64 }));
  await writeFile(
    join(dir, 'README.md'),
    `# Fraud detector\n\nScores card transactions.\n\nVersion ${version}.\n`,
  );
}

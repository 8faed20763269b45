import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeSafetensors } from '../../test/fixtures/model-files.js';
import { NotFoundError } from '../core/errors.js';
import { InspectionService } from './inspection-service.js';
import { openRegistryDirectory, type RegistryDirectory } from './registry-directory.js';

const f32 = (values: number[]) => new Uint8Array(Float32Array.from(values).buffer);
const ramp = (n: number, scale: number) => Array.from({ length: n }, (_, i) => (i - n / 2) * scale);

let root: string;
let dir: RegistryDirectory;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'mv-inspect-'));
  dir = await openRegistryDirectory(join(root, 'store'), { create: true, defaultActor: 'alice' });
});
afterEach(async () => {
  await dir.close();
  await rm(root, { recursive: true, force: true });
});

async function push(files: Record<string, Uint8Array | string>, tag: string) {
  const src = join(root, tag);
  await mkdir(src, { recursive: true });
  for (const [name, data] of Object.entries(files)) await writeFile(join(src, name), data);
  return (await dir.registry.push(src, { model: 'tiny' })).version;
}

const A = ramp(4096, 0.01);
const B = ramp(2048, 0.5);
const B2 = B.map((v, i) => (i === 7 ? v + 0.25 : v));

const v1Files = () => ({
  'model.safetensors': writeSafetensors(
    [
      { name: 'model.embed.weight', dtype: 'F32', shape: [64, 64], data: f32(A) },
      { name: 'model.layers.0.w', dtype: 'F32', shape: [2048], data: f32(B) },
      { name: 'model.layers.1.w', dtype: 'F32', shape: [16, 4], data: f32(ramp(64, 1)) },
      { name: 'model.old', dtype: 'BF16', shape: [8], data: new Uint8Array(16) },
    ],
    { format: 'pt' },
  ),
  'config.json': JSON.stringify({ architectures: ['TinyForCausalLM'], model_type: 'tiny' }),
  'README.md': '---\nlicense: mit\nbase_model: org/base\n---\n# Tiny\n',
});

const v2Files = () => ({
  // The unchanged tensor moves to the end of the file: chunk ids still match.
  'model.safetensors': writeSafetensors([
    { name: 'model.layers.0.w', dtype: 'F32', shape: [2048], data: f32(B2) },
    { name: 'model.layers.1.w', dtype: 'F32', shape: [8, 8], data: f32(ramp(64, 1)) },
    { name: 'model.new', dtype: 'F16', shape: [4], data: new Uint8Array(8) },
    { name: 'model.embed.weight', dtype: 'F32', shape: [64, 64], data: f32(A) },
  ]),
  'config.json': JSON.stringify({ architectures: ['TinyForCausalLM'], model_type: 'tiny' }),
});

describe('version summary and inspection', () => {
  it('stores the summary at push and shows it on the version', async () => {
    const v = await push(v1Files(), 'v1');
    const expected = {
      format: 'safetensors',
      framework: 'transformers',
      architecture: 'TinyForCausalLM',
      parameterCount: 4096 + 2048 + 64 + 8,
      dtypes: { F32: 4096 + 2048 + 64, BF16: 8 },
      tensorCount: 4,
    };
    expect(v.summary).toMatchObject(expected);
    // Read back from the database, not just returned by push.
    expect((await dir.registry.getVersion('tiny@1')).summary).toMatchObject(expected);
    const listed = await dir.registry.listVersions('tiny');
    expect(listed.items[0]?.summary?.parameterCount).toBe(expected.parameterCount);
  });

  it('a version registered from a stored manifest also gets its summary', async () => {
    await push(v1Files(), 'v1');
    const first = await dir.registry.getVersion('tiny@1');
    const again = await dir.registry.createVersion({
      model: 'tiny',
      manifest: { digest: first.digest, size: first.size, fileCount: first.fileCount },
    });
    expect(again.summary?.architecture).toBe('TinyForCausalLM');
  });

  it('summarizes a manifest once: registering it again reads nothing from the store', async () => {
    const v1 = await push(v1Files(), 'v1');
    const v2 = await push(v2Files(), 'v2');
    // The real store, behind a proxy that counts the calls reaching it.
    let calls = 0;
    const counted = new Proxy(dir.store, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          calls++;
          return value.apply(target, args);
        };
      },
    });
    const inspector = new InspectionService(counted);
    const first = await inspector.summarize(v1.digest.replace(/^sha256:/, ''));
    expect(calls).toBeGreaterThan(0);
    expect(first).toEqual(v1.summary);
    const read = calls;
    expect(await inspector.summarize(v1.digest.replace(/^sha256:/, ''))).toEqual(first);
    expect(calls).toBe(read);
    // Another manifest is summarized from its own files.
    const second = await inspector.summarize(v2.digest.replace(/^sha256:/, ''));
    expect(calls).toBeGreaterThan(read);
    expect(second).toEqual(v2.summary);
    expect(second).not.toEqual(first);
  });

  it('inspects every recognised file, or one file with its tensors', async () => {
    await push(v1Files(), 'v1');
    const all = await dir.registry.inspectVersion('tiny@1');
    expect(all.files.map((f) => [f.path, f.format])).toEqual([
      ['README.md', 'model-card'],
      ['config.json', 'hf-config'],
      ['model.safetensors', 'safetensors'],
    ]);
    expect(all.files[0]?.details).toMatchObject({ license: 'mit', base_model: 'org/base' });
    const one = await dir.registry.inspectVersion('tiny@1', { path: 'model.safetensors' });
    expect(one.files[0]?.tensors?.map((t) => t.name)).toEqual([
      'model.embed.weight',
      'model.layers.0.w',
      'model.layers.1.w',
      'model.old',
    ]);
    await expect(dir.registry.inspectVersion('tiny@1', { path: 'nope.bin' })).rejects.toThrow(
      NotFoundError,
    );
  });
});

describe('tensor diff', () => {
  it('classifies tensors from chunk ids without reading tensor data', async () => {
    await push(v1Files(), 'v1');
    await push(v2Files(), 'v2');
    const d = await dir.registry.diffVersions('tiny@1', 'tiny@2', { tensors: true });
    const t = d.tensors!;
    expect(t.tensors.map((e) => [e.name, e.status])).toEqual([
      ['model.embed.weight', 'unchanged'],
      ['model.layers.0.w', 'changed'],
      ['model.layers.1.w', 'changed'],
      ['model.new', 'added'],
      ['model.old', 'removed'],
    ]);
    expect(t.tensors[2]).toMatchObject({ shapeChanged: true, dtypeChanged: false });
    expect(t.tensors[1]).toMatchObject({ shapeChanged: false, dtypeChanged: false });
    expect(t.tensors[1]?.stats).toBeUndefined();
    expect(t.counts).toEqual({ added: 1, removed: 1, changed: 2, unchanged: 1 });
    expect(t.parameterCount).toEqual({ a: 6216, b: 6212, delta: -4 });
    expect(t.bytesRead).toBe(0);
    expect(t.groups.find((g) => g.prefix === 'model.layers.0')).toMatchObject({ changed: 1 });
    expect(t.groups.find((g) => g.prefix === 'model')).toMatchObject({ added: 1, removed: 1 });
    expect(t.groups.find((g) => g.prefix === 'model.embed')).toMatchObject({ unchanged: 1 });
    // Without `tensors`, no tensor section.
    expect((await dir.registry.diffVersions('tiny@1', 'tiny@2')).tensors).toBeUndefined();
  });

  it('computes statistics of changed tensors by streaming only their bytes', async () => {
    await push(v1Files(), 'v1');
    await push(v2Files(), 'v2');
    const d = await dir.registry.diffVersions('tiny@1', 'tiny@2', { tensors: true, stats: true });
    const changed = d.tensors!.tensors.find((e) => e.name === 'model.layers.0.w')!;
    const normA = Math.sqrt(B.reduce((s, v) => s + Math.fround(v) ** 2, 0));
    expect(changed.stats?.maxAbsDiff).toBeCloseTo(0.25, 5);
    expect(changed.stats?.changedElements).toBe(1);
    expect(changed.stats?.relativeL2).toBeCloseTo(0.25 / normA, 8);
    expect(changed.stats?.cosine).toBeGreaterThan(0.999);
    expect(changed.stats?.cosine).toBeLessThan(1);
    // Only the changed same-shape tensor was read (both sides).
    expect(d.tensors!.bytesRead).toBe(2 * 2048 * 4);
    expect(d.tensors!.groups.find((g) => g.prefix === 'model.layers.0')?.maxRelativeL2).toBe(
      changed.stats?.relativeL2,
    );
  });

  it('identical versions have every tensor unchanged', async () => {
    await push(v1Files(), 'v1');
    const d = await dir.registry.diffVersions('tiny@1', 'tiny@1', { tensors: true, stats: true });
    expect(d.tensors!.counts).toEqual({ added: 0, removed: 0, changed: 0, unchanged: 4 });
    expect(d.tensors!.bytesRead).toBe(0);
  });
});

/**
 * Model-format intelligence through the CLI (local and remote) and the native API:
 * `mvault show` prints the summary, `mvault inspect` the files and tensors, and
 * `mvault diff --tensors [--stats]` the tensor-level comparison.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VersionInspection } from '../../src/core/model-inspection.js';
import type { ModelVersion, VersionDiff } from '../../src/core/registry-api.js';
import { startTestServer, type TestServer } from '../server/support/test-server.js';
import { mvault, mvaultOk } from '../support/cli.js';
import { TENSOR_BYTES, writeModelDir } from '../support/model-dir.js';

let server: TestServer;
let cwd: string;

beforeAll(async () => {
  server = await startTestServer();
  cwd = await mkdtemp(join(tmpdir(), 'mv-cli-inspect-'));
  for (const v of [1, 2]) await writeModelDir(join(cwd, `model-v${v}`), v);
  await mvaultOk(['init'], { cwd });
  for (const v of [1, 2]) await mvaultOk(['push', 'fraud', `model-v${v}`], { cwd });
  for (const v of [1, 2]) {
    await mvaultOk(['--registry', server.url, 'push', 'fraud', `model-v${v}`], { cwd });
  }
});
afterAll(async () => {
  await server?.close();
  await rm(cwd, { recursive: true, force: true });
});

const PARAMS = (4 * TENSOR_BYTES) / 4;

for (const where of ['local', 'remote'] as const) {
  const r = (...args: string[]) =>
    mvaultOk(where === 'local' ? args : ['--registry', server.url, ...args], { cwd });

  describe(`mvault inspect / show / diff --tensors (${where})`, () => {
    it('show prints the version summary', async () => {
      const out = (await r('show', 'fraud@1')).stdout;
      expect(out).toMatch(/model\s+safetensors · transformers · 262K params \(F32 100%\)/);
      const json = (await r('--json', 'show', 'fraud@1')).json<ModelVersion>();
      expect(json.summary).toMatchObject({ format: 'safetensors', parameterCount: PARAMS });
    });

    it('inspect lists the files, and one file its tensors', async () => {
      const all = (await r('--json', 'inspect', 'fraud@2')).json<VersionInspection>();
      expect(all.files.map((f) => f.format).sort()).toEqual([
        'hf-config',
        'model-card',
        'safetensors',
      ]);
      const text = (await r('inspect', 'fraud@2', 'model.safetensors')).stdout;
      for (const name of ['embed.weight', 'layers.0.weight', 'layers.1.weight', 'head.weight']) {
        expect(text).toContain(name);
      }
      expect(text).toMatch(/TENSOR\s+DTYPE\s+SHAPE\s+SIZE/);
      const missing = await mvault(
        [...(where === 'local' ? [] : ['--registry', server.url]), 'inspect', 'fraud@2', 'x.bin'],
        { cwd },
      );
      expect(missing.code).toBe(3);
      expect(missing.stderr).toMatch(/file 'x.bin' not found/);
    });

    it('diff --tensors --stats finds the one changed tensor', async () => {
      const d = (
        await r('--json', 'diff', 'fraud@1', 'fraud@2', '--tensors', '--stats')
      ).json<VersionDiff>();
      expect(d.tensors?.counts).toEqual({ added: 0, removed: 0, changed: 1, unchanged: 3 });
      const changed = d.tensors?.tensors.find((t) => t.status === 'changed');
      expect(changed?.name).toBe('layers.1.weight');
      expect(changed?.stats?.changedElements).toBeGreaterThan(0);
      expect(d.tensors?.bytesRead).toBe(2 * TENSOR_BYTES);
      const text = (await r('diff', 'fraud@1', 'fraud@2', '--tensors')).stdout;
      expect(text).toContain('tensors: 1 changed, 0 added, 0 removed, 3 unchanged');
      expect(text).toMatch(/~ layers\.1\.weight/);
      expect(text).toMatch(/layers\.1\s+1/);
    });
  });
}

describe('CLI and API validation', () => {
  it('--stats without --tensors is a usage error', async () => {
    const res = await mvault(['diff', 'fraud@1', 'fraud@2', '--stats'], { cwd });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/--stats needs --tensors/);
  });

  it('native API: summary on the version JSON, inspect route, diff query flags', async () => {
    const v = (await (
      await fetch(`${server.url}/api/v1/versions/fraud%402`)
    ).json()) as ModelVersion;
    expect(v.summary?.parameterCount).toBe(PARAMS);
    const ins = await fetch(
      `${server.url}/api/v1/versions/fraud%402/inspect?path=${encodeURIComponent('model.safetensors')}`,
    );
    expect(ins.status).toBe(200);
    const body = (await ins.json()) as VersionInspection;
    expect(body.files[0]?.tensors).toHaveLength(4);
    const diff = await fetch(`${server.url}/api/v1/diff?a=fraud%401&b=fraud%402&tensors=true`);
    expect(((await diff.json()) as VersionDiff).tensors?.counts.changed).toBe(1);
    const bad = await fetch(`${server.url}/api/v1/diff?a=fraud%401&b=fraud%402&tensors=yes`);
    expect(bad.status).toBe(400);
    const missing = await fetch(`${server.url}/api/v1/versions/fraud%402/inspect?path=nope`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
  });
});

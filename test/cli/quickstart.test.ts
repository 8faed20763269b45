/**
 * The README's quick start, end to end, through the real `mvault` binary: init, three
 * pushes (one tensor changed each time), ls, show, diff, alias + rollback, stage,
 * approve, search, pull (byte-identical), log, audit verify.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelVersion, SearchResult, VersionDiff } from '../../src/core/registry-api.js';
import { mvaultOk } from '../support/cli.js';
import { TENSOR_BYTES, writeModelDir } from '../support/model-dir.js';

let root: string;
let cwd: string;
const run = (...args: string[]) => mvaultOk(args, { cwd });

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mv-cli-quickstart-'));
  cwd = join(root, 'project');
  for (const v of [1, 2, 3]) await writeModelDir(join(cwd, `model-v${v}`), v);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function sameTree(a: string, b: string): Promise<void> {
  const files = async (d: string) => (await readdir(d, { recursive: true })).sort();
  expect(await files(a)).toEqual(await files(b));
  for (const f of await files(a)) {
    expect((await readFile(join(a, f))).equals(await readFile(join(b, f))), f).toBe(true);
  }
}

describe('quick start', () => {
  it('init creates ./.modelvault, and a second init leaves it alone', async () => {
    const first = await run('init');
    expect(first.stdout).toBe(`created an empty registry at ${join(cwd, '.modelvault')}\n`);
    const again = await run('init', '--json');
    expect(again.json()).toEqual({ path: join(cwd, '.modelvault'), created: false });
  });

  it('pushes three versions, each storing little more than the changed tensor', async () => {
    const one = await run(
      'push',
      'fraud-detector',
      './model-v1',
      '--metric',
      'auc=0.91',
      '--metric',
      'loss=0.30',
      '--param',
      'lr=3e-4',
      '--tag',
      'team=risk',
      '-m',
      'first cut',
    );
    expect(one.stdout).toMatch(
      /^fraud-detector v1 {2}sha256:[0-9a-f]{12}… {2}1\.0\d MiB, 1\.0\d MiB new \(0% deduplicated\)\n$/,
    );
    const two = await run(
      'push',
      'fraud-detector',
      './model-v2',
      '--metric',
      'auc=0.93',
      '--metric',
      'loss=0.25',
      '--param',
      'lr=1e-4',
      '--parent',
      'fraud-detector@1',
      '--dataset',
      'train=s3://bucket/q3.parquet',
      '--json',
    );
    const pushed = two.json<{
      version: ModelVersion;
      stats: { bytes: number; newBytes: number };
    }>();
    expect(pushed.version.version).toBe(2);
    expect(pushed.stats.newBytes).toBeGreaterThanOrEqual(TENSOR_BYTES);
    expect(pushed.stats.newBytes).toBeLessThan(pushed.stats.bytes / 2);
    const three = await run('push', 'fraud-detector', './model-v3', '--metric', 'auc=0.95');
    expect(three.stdout).toMatch(/^fraud-detector v3 .* new \((7\d|8\d)% deduplicated\)\n$/);
  });

  it('lists models and versions with key metrics', async () => {
    const models = await run('ls');
    expect(models.stdout).toMatch(/^NAME +LATEST +ALIASES/);
    expect(models.stdout).toMatch(/\nfraud-detector +v3 /);
    const versions = (await run('ls', 'fraud-detector')).stdout.split('\n');
    expect(versions[0]).toMatch(/^VERSION +CREATED +STAGE +APPROVAL +ALIASES +SIZE +AUC +LOSS$/);
    expect(versions[1]).toMatch(/^v3 .* None +pending +- +1\.0\d MiB +0\.95 +-$/);
    expect(versions[3]).toMatch(/^v1 .* 0\.91 +0\.3$/);
  });

  it('shows a version with lineage and its model card', async () => {
    const shown = (await run('show', 'fraud-detector@2')).stdout;
    expect(shown).toContain('fraud-detector v2\n');
    expect(shown).toMatch(/ {2}metrics +auc=0\.93 {2}loss=0\.25\n/);
    expect(shown).toMatch(/ {2}parents +fraud-detector@1\n/);
    expect(shown).toMatch(/ {2}datasets +train=s3:\/\/bucket\/q3\.parquet\n/);
    expect(shown).toMatch(/ {2}created +.* by tester\n/);
    expect(shown).toContain('model card (README.md):\n  # Fraud detector\n');
    expect(shown).toContain('  Version 2.');
  });

  it('diffs two versions: metric deltas, params and the changed file', async () => {
    const text = (await run('diff', 'fraud-detector@1', 'fraud-detector@2')).stdout;
    expect(text).toMatch(/ {2}auc +0\.91 +0\.93 +\+0\.02\n/);
    expect(text).toMatch(/ {2}loss +0\.3 +0\.25 +-0\.05\n/);
    expect(text).toContain('  ~ lr: 3e-4 -> 1e-4');
    expect(text).toContain('files: 2 changed, 0 added, 0 removed, 1 unchanged');
    expect(text).toMatch(/ {2}~ model\.safetensors {2}1\.0\d MiB -> 1\.0\d MiB/);
    const diff = (
      await run('diff', 'fraud-detector@1', 'fraud-detector@2', '--json')
    ).json<VersionDiff>();
    expect(diff.files?.changed.map((c) => c.path)).toEqual(['README.md', 'model.safetensors']);
    expect(diff.metrics.find((m) => m.key === 'auc')?.delta).toBeCloseTo(0.02, 10);
  });

  it('moves the production alias, and rolls it back', async () => {
    expect((await run('alias', 'set', 'fraud-detector', 'production', '2')).stdout).toBe(
      'fraud-detector@production -> v2 (was none)\n',
    );
    expect((await run('alias', 'set', 'fraud-detector', 'production', 'v3')).stdout).toBe(
      'fraud-detector@production -> v3 (was v2)\n',
    );
    expect((await run('rollback', 'fraud-detector', 'production')).stdout).toBe(
      'fraud-detector@production rolled back: v3 -> v2\n',
    );
    const target = (await run('show', 'fraud-detector@production', '--json')).json<ModelVersion>();
    expect(target.version).toBe(2);
    const history = (await run('alias', 'history', 'fraud-detector', 'production')).stdout;
    expect(
      history
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.trim().split(/ {2,}/).slice(4)),
    ).toEqual([
      ['set', 'v2', 'none'],
      ['set', 'v3', 'v2'],
      ['rolled_back', 'v2', 'v3'],
    ]);
  });

  it('stages and approves a version', async () => {
    expect((await run('stage', 'fraud-detector@2', 'production')).stdout).toBe(
      'fraud-detector v2 is in stage Production\n',
    );
    expect((await run('approve', 'fraud-detector@2', '-c', 'holdout auc checked')).stdout).toBe(
      'fraud-detector v2 approved by tester\n',
    );
    const v = (
      await run('show', 'models:/fraud-detector/Production', '--json')
    ).json<ModelVersion>();
    expect(v).toMatchObject({
      version: 2,
      stage: 'Production',
      approval: { state: 'approved', reviewer: 'tester', comment: 'holdout auc checked' },
    });
  });

  it('searches versions with a metric filter', async () => {
    const found = (
      await run('search', 'metrics.auc > 0.92', '--order-by', 'metrics.auc DESC', '--json')
    ).json<SearchResult<ModelVersion>>();
    expect(found.items.map((v) => v.version)).toEqual([3, 2]);
    const text = (await run('search', "metrics.auc > 0.92 AND stage = 'Production'")).stdout;
    expect(text.trim().split('\n')).toHaveLength(2);
    expect(text).toMatch(/\nfraud-detector +v2 +.* Production +approved +production /);
  });

  it('pulls the production version byte for byte', async () => {
    const pulled = await run('pull', 'fraud-detector@production', './deploy');
    expect(pulled.stdout).toMatch(
      /^fraud-detector v2 -> .*\/deploy {2}3 files, 1\.0\d MiB \(verified\)\n$/,
    );
    await sameTree(join(cwd, 'deploy'), join(cwd, 'model-v2'));
    await run('pull', 'fraud-detector@1');
    await sameTree(join(cwd, 'fraud-detector-v1'), join(cwd, 'model-v1'));
  });

  it("logs the model's history from the audit trail, which verifies", async () => {
    const log = (await run('log', 'fraud-detector')).stdout.trim().split('\n');
    const actions = log.slice(1).map((l) => l.trim().split(/ {2,}/)[3]);
    expect(actions).toEqual([
      'model.created',
      'version.created',
      'version.created',
      'version.created',
      'alias.set',
      'alias.set',
      'alias.rolled_back',
      'stage.transitioned',
      'version.approved',
    ]);
    const verified = await run('audit', 'verify');
    expect(verified.stdout).toMatch(/^audit trail intact: 9 events, head [0-9a-f]{64}\n$/);
  });
});

/**
 * `--json` on every command prints exactly one JSON document on stdout — the API value
 * for results, `{error: {code, message, details}}` for errors — and nothing else there.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mvault } from '../support/cli.js';
import { writeModelDir } from '../support/model-dir.js';

let cwd: string;

beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'mv-cli-json-'));
  await writeModelDir(join(cwd, 'm1'), 1);
  await writeModelDir(join(cwd, 'm2'), 2);
});
afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

/** Runs with --json (placed after the command's own arguments) and parses stdout. */
async function json(args: string[], code = 0): Promise<Record<string, unknown>> {
  const r = await mvault([...args, '--json'], { cwd });
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(code);
  return r.json();
}

describe('--json', () => {
  // About 40 CLI processes in a row: a whole-process budget, not a performance check.
  it('prints one parsable document for every command', { timeout: 240_000 }, async () => {
    expect(await json(['init'])).toEqual({ path: join(cwd, '.modelvault'), created: true });
    const pushed = await json(['push', 'fraud', './m1', '--metric', 'auc=0.9', '--tag', 't=1']);
    expect(pushed).toMatchObject({ version: { model: 'fraud', version: 1 }, stats: { files: 3 } });
    await json(['push', 'fraud', './m2', '--metric', 'auc=0.95']);
    expect(await json(['ls'])).toMatchObject({ items: [{ name: 'fraud', latestVersion: 2 }] });
    expect(await json(['ls', 'fraud'])).toMatchObject({ items: [{ version: 2 }, { version: 1 }] });
    expect(await json(['show', 'fraud@1'])).toMatchObject({ version: 1, metrics: { auc: 0.9 } });
    expect(await json(['diff', 'fraud@1', 'fraud@2'])).toMatchObject({ sameContent: false });
    expect(await json(['alias', 'set', 'fraud', 'production', '1'])).toEqual({
      model: 'fraud',
      alias: 'production',
      version: 1,
      previousVersion: null,
      changed: true,
    });
    await json(['alias', 'set', 'fraud', 'production', '2']);
    expect(await json(['rollback', 'fraud', 'production'])).toMatchObject({ version: 1 });
    expect(await json(['alias', 'history', 'fraud'])).toMatchObject({
      items: [{ action: 'set' }, { action: 'set' }, { action: 'rolled_back' }],
    });
    expect(await json(['alias', 'set', 'fraud', 'canary', '2'])).toMatchObject({ changed: true });
    expect(await json(['alias', 'rm', 'fraud', 'canary'])).toMatchObject({ version: null });
    expect(await json(['stage', 'fraud@1', 'staging'])).toMatchObject({ stage: 'Staging' });
    expect(await json(['approve', 'fraud@1', '-c', 'ok'])).toMatchObject({
      approval: { state: 'approved', comment: 'ok' },
    });
    expect(await json(['reject', 'fraud@2'])).toMatchObject({ approval: { state: 'rejected' } });
    expect(await json(['tag', 'fraud@1', 'a=1', '--rm', 't'])).toEqual({
      target: 'fraud@1',
      tags: { a: '1' },
      removed: ['t'],
    });
    expect(await json(['tag', 'fraud', 'team=risk'])).toMatchObject({ tags: { team: 'risk' } });
    expect(await json(['describe', 'fraud@1', 'the first'])).toMatchObject({
      description: 'the first',
    });
    expect(await json(['describe', 'fraud', 'a model'])).toMatchObject({
      name: 'fraud',
      description: 'a model',
    });
    expect(await json(['search', 'metrics.auc > 0.92'])).toMatchObject({
      items: [{ version: 2 }],
    });
    expect(await json(['search', "tags.team = 'risk'", '--models'])).toMatchObject({
      items: [{ name: 'fraud' }],
    });
    expect(await json(['log', 'fraud'])).toMatchObject({ model: 'fraud' });
    expect(await json(['rm', 'fraud@2'])).toEqual({ deleted: { model: 'fraud', version: 2 } });
    expect(await json(['restore', 'fraud@2'])).toMatchObject({ version: 2, deletedAt: null });
    expect(await json(['pull', 'fraud@production', './out'])).toMatchObject({
      dest: join(cwd, 'out'),
      files: 3,
      version: { version: 1 },
    });
    expect(await json(['gc', '--dry-run'])).toMatchObject({
      dryRun: true,
      liveManifests: 2,
      runsPurged: 0,
      experimentsPurged: 0,
    });
    expect(await json(['gc', '--grace', '0'])).toMatchObject({ dryRun: false, runsPurged: 0 });
    expect(await json(['fsck'])).toMatchObject({ ok: true, versions: 2 });
    expect(await json(['repair'])).toMatchObject({ after: { ok: true } });
    const log = await json(['audit', 'log', '--max', '2']);
    expect((log.items as unknown[]).length).toBe(2);
    expect(typeof log.nextPageToken).toBe('string');
    expect(await json(['audit', 'verify'])).toMatchObject({ ok: true, problems: [] });
    const exported = await json(['audit', 'export', '--output', 'trail.jsonl']);
    expect(exported).toMatchObject({ output: join(cwd, 'trail.jsonl') });
    const lines = (await readFile(join(cwd, 'trail.jsonl'), 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(exported.events as number);
    expect(lines.map((l) => JSON.parse(l).seq)).toEqual(lines.map((_, i) => i + 1));
    expect(await json(['rm', 'fraud'])).toEqual({ deleted: { model: 'fraud' } });
    expect(await json(['restore', 'fraud'])).toMatchObject({ name: 'fraud', deletedAt: null });
  });

  it('streams audit export to stdout as JSON Lines, one event per line', async () => {
    const r = await mvault(['audit', 'export', '--model', 'fraud', '--action', 'version.created'], {
      cwd,
    });
    expect(r.code).toBe(0);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(events.map((e) => e.subject)).toEqual(['fraud@1', 'fraud@2']);
  });

  it('prints errors as {error: {code, message, details}}', async () => {
    expect(await json(['show', 'fraud@9'], 3)).toEqual({
      error: {
        code: 'NOT_FOUND',
        message: "version 'fraud@9' not found",
        details: { model: 'fraud', ref: 'fraud@9' },
      },
    });
    expect(await json(['push', 'fraud', './m1', '--tag', 'nope'], 2)).toMatchObject({
      error: { code: 'INVALID_ARGUMENT', message: expect.stringContaining('KEY=VALUE') },
    });
    expect(await json(['rm', 'fraud@1'], 1)).toMatchObject({
      error: { code: 'CONFLICT', details: { aliases: ['production'] } },
    });
  });
});

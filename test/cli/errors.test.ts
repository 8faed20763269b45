/**
 * Exit codes CI can gate on: 2 for usage errors (unknown option, missing or extra
 * argument, bad KEY=VALUE, bad number, duration, filter or name), 3 for not found, 1 for
 * other failures — each with one clear `error:` line on stderr.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, mvault, mvaultOk } from '../support/cli.js';
import { writeModelDir } from '../support/model-dir.js';

let cwd: string;

beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'mv-cli-errors-'));
  await writeModelDir(join(cwd, 'model'), 1);
  await mvaultOk(['init'], { cwd });
  await mvaultOk(['push', 'fraud', './model'], { cwd });
});
afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

/** Runs several invocations at once (each is a separate process). */
function all(cases: readonly (readonly string[])[]): Promise<CliResult[]> {
  return Promise.all(cases.map((args) => mvault(args, { cwd })));
}

describe('usage errors exit 2', () => {
  it('for commander-level mistakes, with the message and a pointer to --help', async () => {
    const cases: [string[], RegExp][] = [
      [['push', 'fraud', './model', '--bogus'], /^error: unknown option '--bogus'/],
      [['push', 'fraud'], /^error: missing required argument 'path'/],
      [['show', 'a@1', 'b@2'], /^error: too many arguments for 'show'/],
      [['frobnicate'], /^error: unknown command 'frobnicate'/],
      [['push', 'fraud', './model', '--tag', 'team'], /expected KEY=VALUE but got 'team'/],
      [
        ['push', 'fraud', './model', '--metric', 'auc=high'],
        /metric 'auc' must be a finite number/,
      ],
      [['push', 'fraud', './model', '--tag', 'a=1', '--tag', 'a=2'], /'a' is given twice/],
      [['push', 'fraud', './model', '--dataset', 'train='], /needs a URI or a digest/],
      [['ls', '--max', '0'], /expected a whole number from 1 to 10000/],
      [['gc', '--grace', 'soon'], /expected a duration like 30m/],
      [['audit', 'log', '--since', 'yesterday'], /expected a time/],
      [['alias', 'set', 'fraud', 'production', 'four'], /expected a version number/],
      [[], /^Usage: mvault/],
    ];
    const results = await all(cases.map(([args]) => args));
    results.forEach((r, i) => {
      const [args, message] = cases[i]!;
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(r.stdout, args.join(' ')).toBe('');
    });
    expect(results[0]!.stderr).toContain('(add --help for usage and examples)');
  });

  it('for values the registry refuses: names, references, filters, stages', async () => {
    const cases: [string[], string][] = [
      [['push', 'bad name', './model'], "error: invalid model name 'bad name'"],
      [['show', 'fraud@'], "error: invalid version reference 'fraud@'"],
      [['search', 'metrics.auc >'], 'error: invalid filter at position 13'],
      [['stage', 'fraud@1', 'prod'], "error: invalid stage 'prod'"],
      [['tag', 'fraud@1'], 'error: give at least one KEY=VALUE to set or --rm KEY'],
      [['alias', 'set', 'fraud', 'latest', '1'], "error: invalid alias 'latest'"],
    ];
    const results = await all(cases.map(([args]) => args));
    results.forEach((r, i) => {
      const [args, message] = cases[i]!;
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr.startsWith(message), `${args.join(' ')}: ${r.stderr}`).toBe(true);
    });
  });

  it('changes no tag when one of several keys is bad', async () => {
    const bad = await mvault(['tag', 'fraud@1', 'ok=1', 'bad\u0001key=2'], { cwd });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error: invalid tag key 'bad\\u0001key'/);
    const shown = await mvaultOk(['show', 'fraud@1', '--json'], { cwd });
    expect(shown.json()).toMatchObject({ tags: {} });
  });
});

describe('not found exits 3', () => {
  it('names what is missing', async () => {
    const cases: [string[], string][] = [
      [['show', 'nope@1'], "error: model 'nope' not found\n"],
      [['show', 'fraud@7'], "error: version 'fraud@7' not found\n"],
      [['pull', 'fraud@production'], "error: alias 'fraud@production' not found\n"],
      [['diff', 'fraud@1', 'fraud@2'], "error: version 'fraud@2' not found\n"],
      [['log', 'nope'], "error: model 'nope' not found\n"],
      [['ls', 'nope'], "error: model 'nope' not found\n"],
      [['push', 'fraud', './missing'], `error: '${join(cwd, 'missing')}' does not exist\n`],
    ];
    const results = await all(cases.map(([args]) => args));
    results.forEach((r, i) => {
      const [args, message] = cases[i]!;
      expect(r.code, args.join(' ')).toBe(3);
      expect(r.stderr, args.join(' ')).toBe(message);
    });
  });
});

describe('other failures exit 1', () => {
  it('for conflicts and unreachable registries', async () => {
    // Port 9 (discard) on loopback: nothing listens, so the connection is refused at once.
    const [restore, remote] = await all([
      ['restore', 'fraud@1'],
      ['--registry', 'http://127.0.0.1:9', 'ls'],
    ]);
    expect(restore!.code).toBe(1);
    expect(restore!.stderr).toBe("error: version 'fraud@1' is not deleted\n");
    expect(remote!.code).toBe(1);
    expect(remote!.stderr).toMatch(/^error: .*127\.0\.0\.1:9/);
    const dest = await mvault(['pull', 'fraud@1', './model'], { cwd });
    expect(dest.code).toBe(2);
    expect(dest.stderr).toBe(`error: destination '${join(cwd, 'model')}' is not empty\n`);
  });
});

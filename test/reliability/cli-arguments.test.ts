/**
 * Property-based fuzzing of `mvault`'s argument parsing and of every command behind it
 * (`serve` aside: it runs until stopped). The commands, their subcommands and options are
 * read from the program itself; arguments are hostile strings, options without or with
 * wrong values, unknown options. Run in-process (runCli, as the binary does) against a
 * small registry in a temp directory: every run ends with a documented exit code
 * (0-4), a failure says what is wrong on stderr without a stack trace or "internal
 * error", and under --json stdout is one JSON document.
 *
 * MODELVAULT_FUZZ_RUNS scales the count; MODELVAULT_FUZZ_SEED replays a run.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import type { Command } from 'commander';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram, runCli } from '../../src/cli/program.js';
import type { CliEnvironment } from '../../src/cli/run.js';
import { pseudoRandomBytes } from '../fixtures/model-files.js';

const RUNS = Math.round(400 * (Number(process.env.MODELVAULT_FUZZ_RUNS ?? 5000) / 5000));
/** Fixed in CI (reproducible); a fresh one per soak run (more ground covered). */
const SEED = process.env.MODELVAULT_FUZZ_SEED
  ? Number(process.env.MODELVAULT_FUZZ_SEED)
  : process.env.MODELVAULT_SOAK
    ? Date.now() % 2 ** 31
    : 20261126;

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void) {
    this.text += chunk.toString();
    done();
  }
}

interface Cli {
  readonly argv: readonly string[];
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

let root: string;
let cwd: string;
const env = (): NodeJS.ProcessEnv => ({
  MODELVAULT_USER: 'fuzzer',
  NO_COLOR: '1',
  HOME: root,
  MODELVAULT_REGISTRY: join(cwd, '.modelvault'),
});

async function cli(argv: readonly string[]): Promise<Cli> {
  const stdout = new Capture();
  const stderr = new Capture();
  // An empty stdin, closed: --password-stdin reads it to the end (the worker's own stdin
  // never ends).
  const environment: CliEnvironment = { env: env(), cwd, stdout, stderr, stdin: Readable.from([]) };
  const code = await runCli(argv, environment);
  return { argv, code, stdout: stdout.text, stderr: stderr.text };
}

/** Command paths (`['alias', 'set']`) and the long options of each, from the program. */
function commandTree(): { path: string[]; options: { flag: string; takesValue: boolean }[] }[] {
  const program = buildProgram(
    { env: {}, cwd: '/', stdout: new Capture(), stderr: new Capture() },
    { exitCode: 0 },
  );
  const out: { path: string[]; options: { flag: string; takesValue: boolean }[] }[] = [];
  const walk = (cmd: Command, path: string[]) => {
    for (const sub of cmd.commands) {
      const name = sub.name();
      if (name === 'serve') continue;
      const subPath = [...path, name];
      out.push({
        path: subPath,
        options: sub.options
          .filter((o) => o.long !== undefined)
          .map((o) => ({ flag: o.long!, takesValue: o.required || o.optional })),
      });
      walk(sub, subPath);
    }
  };
  walk(program, []);
  return out;
}

/** Hostile argument strings; no absolute paths, so that nothing lands outside the temp dir. */
const NASTY = [
  '',
  ' ',
  '-',
  '--',
  '-x',
  '--bogus',
  '--json',
  '0',
  '-1',
  '1e999',
  'NaN',
  'v0',
  'v-1',
  '99999999999999999999',
  '..',
  '../..',
  '../../x',
  'a/../../b',
  './model',
  'model',
  'm',
  'm@1',
  'm@2',
  'm@production',
  'm@v1',
  'm@',
  '@1',
  'm@@1',
  'm@sha256:zz',
  `m@sha256:${'ab'.repeat(32)}`,
  'models:/m/1',
  'models:/m@production',
  'models:/',
  'models:/m/Production',
  'production',
  'auc=0.9',
  'auc=',
  'auc=abc',
  '=x',
  'k=v',
  'k=v=w',
  'train=s3://b/k@sha256:abcd1234',
  'train=@nothex',
  '30m',
  '1h',
  '0',
  '2024-05-01',
  '2024-13-45',
  "name = 'm'",
  'metrics.auc >',
  "name = 'x' OR ".repeat(100) + "name = 'y'",
  'a\u0000b',
  'ünïcødé-名前-💥',
  '\u202e',
  "'; DROP TABLE versions; --",
  'x'.repeat(5000),
];

let tree: ReturnType<typeof commandTree>;
const codes = new Map<number, number>();

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mv-cli-fuzz-'));
  // Deep enough that `../..` stays inside the temp directory.
  cwd = join(root, 'a', 'b', 'c');
  await mkdir(join(cwd, 'model'), { recursive: true });
  await writeFile(join(cwd, 'model', 'w.bin'), pseudoRandomBytes(1, 10_000));
  for (const argv of [
    ['init'],
    ['push', 'm', './model', '--metric', 'auc=0.9'],
    ['alias', 'set', 'm', 'production', '1'],
  ]) {
    const r = await cli(argv);
    if (r.code !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  }
  tree = commandTree();
});

afterAll(async () => {
  console.info(
    `cli fuzzing: seed ${SEED}; exit codes: ${JSON.stringify(Object.fromEntries([...codes].sort()))}`,
  );
  await rm(root, { recursive: true, force: true });
});

describe('mvault argument fuzzing', () => {
  it('reads every command and option from the program', () => {
    const paths = tree.map((t) => t.path.join(' '));
    expect(paths).toEqual(expect.arrayContaining(['push', 'alias set', 'audit verify', 'gc']));
    expect(paths).not.toContain('serve');
  });

  it(`${RUNS} hostile command lines: documented exit codes, clear messages, no stack traces`, {
    timeout: 600_000,
  }, async () => {
    const token = (options: { flag: string; takesValue: boolean }[]) =>
      fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom(...NASTY) },
        { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 30 }) },
        ...(options.length > 0
          ? [
              {
                weight: 3,
                arbitrary: fc
                  .tuple(fc.constantFrom(...options), fc.constantFrom(...NASTY), fc.boolean())
                  .map(([o, v, give]) => (o.takesValue && give ? [o.flag, v] : [o.flag])),
              },
            ]
          : []),
      );
    const commandLine = fc.constantFrom(...tree).chain((cmd) =>
      fc
        .tuple(
          fc.array(token(cmd.options), { maxLength: 5 }),
          fc.boolean(), // --json
        )
        .map(([tokens, json]) => [...cmd.path, ...tokens.flat(), ...(json ? ['--json'] : [])]),
    );
    await fc.assert(
      fc.asyncProperty(commandLine, async (argv) => {
        const r = await cli(argv);
        codes.set(r.code, (codes.get(r.code) ?? 0) + 1);
        const shown = `mvault ${JSON.stringify(argv).slice(0, 400)} -> ${r.code}\nstderr: ${r.stderr.slice(0, 600)}`;
        if (![0, 1, 2, 3, 4].includes(r.code)) throw new Error(`undocumented exit code: ${shown}`);
        if (/\n\s+at .+:\d+:\d+/.test(r.stderr) || /internal error/i.test(r.stderr)) {
          throw new Error(`stack trace or internal error: ${shown}`);
        }
        if (r.code !== 0 && r.stderr.trim() === '' && !argv.includes('--json')) {
          throw new Error(`failed without a message: ${shown}`);
        }
        if (argv.includes('--json') && r.code !== 0 && r.stdout.trim() !== '') {
          try {
            JSON.parse(r.stdout);
          } catch {
            throw new Error(`--json output is not one JSON document: ${shown}\n${r.stdout}`);
          }
        }
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    // Whatever the commands did, the registry is intact.
    const fsck = await cli(['fsck', '--json']);
    expect(fsck.code, fsck.stderr).toBe(0);
    const audit = await cli(['audit', 'verify', '--json']);
    expect(audit.code, audit.stderr).toBe(0);
  });
});

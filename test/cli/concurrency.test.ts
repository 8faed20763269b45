/**
 * Many `mvault` processes writing to one registry at once: 8 workers, each pushing
 * versions of the same model and moving the shared `production` alias to each version it
 * pushed. Every command succeeds, the versions are exactly 1..N, every alias move is in
 * the history, and the audit trail verifies.
 *
 * 5 pushes per worker by default (80 processes, about a minute on two cores: each CLI
 * start loads the engine, ~0.4 s of CPU); MODELVAULT_CLI_STRESS_PUSHES=10 runs the full
 * 8 x 10 (about two minutes there).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  AliasHistoryEntry,
  AuditVerifyResult,
  ModelVersion,
  SearchResult,
} from '../../src/core/registry-api.js';
import { pseudoRandomBytes } from '../fixtures/model-files.js';
import { mvaultOk } from '../support/cli.js';

const WORKERS = 8;
const PUSHES = Number(process.env.MODELVAULT_CLI_STRESS_PUSHES ?? 5);

let cwd: string;
beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'mv-cli-concurrency-'));
  // Create the registry first: the workers then only open it.
  await mvaultOk(['init'], { cwd });
});
afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

/** One worker: push, then point production at what it pushed; PUSHES times. */
async function worker(w: number): Promise<number[]> {
  const dir = join(cwd, `w${w}`);
  await mkdir(dir, { recursive: true });
  // Shared by every version (deduplicated), plus a part unique to each push.
  await writeFile(join(dir, 'base.bin'), pseudoRandomBytes(7, 512 * 1024));
  const numbers: number[] = [];
  for (let i = 0; i < PUSHES; i++) {
    await writeFile(join(dir, 'delta.bin'), pseudoRandomBytes(1000 * w + i + 1, 128 * 1024));
    const pushed = await mvaultOk(
      ['push', 'shared', `./w${w}`, '--metric', `step=${i}`, '--tag', `worker=${w}`, '--json'],
      { cwd, env: { MODELVAULT_USER: `worker-${w}` } },
    );
    const n = pushed.json<{ version: ModelVersion }>().version.version;
    numbers.push(n);
    await mvaultOk(['alias', 'set', 'shared', 'production', String(n)], {
      cwd,
      env: { MODELVAULT_USER: `worker-${w}` },
    });
  }
  return numbers;
}

describe(`${WORKERS} processes x ${PUSHES} pushes to one model`, () => {
  it('all succeed with versions 1..N, every alias move recorded, the audit trail intact', {
    timeout: 300_000,
  }, async () => {
    const results = await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w + 1)));
    const total = WORKERS * PUSHES;
    for (const numbers of results) {
      expect([...numbers].sort((a, b) => a - b)).toEqual(numbers); // each worker's grow
    }
    const all = results.flat().sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: total }, (_, i) => i + 1));

    const listed = (await mvaultOk(['ls', 'shared', '--max', '1000', '--json'], { cwd })).json<
      SearchResult<ModelVersion>
    >();
    expect(listed.items.map((v) => v.version)).toEqual([...all].reverse());
    const history = (
      await mvaultOk(['alias', 'history', 'shared', 'production', '--json'], { cwd })
    ).json<{ items: AliasHistoryEntry[] }>().items;
    expect(history).toHaveLength(total);
    expect(new Set(history.map((h) => h.version))).toEqual(new Set(all));

    const verify = (
      await mvaultOk(['audit', 'verify', '--json'], { cwd })
    ).json<AuditVerifyResult>();
    // model.created + one version.created and one alias.set per push.
    expect(verify).toMatchObject({ ok: true, checked: 1 + 2 * total, problems: [] });
    expect((await mvaultOk(['fsck', '--json'], { cwd })).json()).toMatchObject({ ok: true });
  });
});

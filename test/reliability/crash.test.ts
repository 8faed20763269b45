/**
 * Crash safety of the registry (not just the store, test/storage/crash.test.ts): a child
 * process pushes, pulls, deletes and collects garbage at random while this test SIGKILLs
 * it at random moments — some while it is still opening the registry. After every kill:
 * the registry opens, no temp file of the killed process is left, fsck finds no damage,
 * every version the child saw committed and did not delete pulls byte-identical (and every
 * other live version pulls verified), and the audit trail verifies.
 *
 * MODELVAULT_CRASH_KILLS sets the number of kills (default 50; `npm run soak` 500);
 * MODELVAULT_CRASH_SEED replays a run (the seed is printed on failure).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openRegistryDirectory } from '../../src/registry/registry-directory.js';

const KILLS = Number(process.env.MODELVAULT_CRASH_KILLS ?? 50);
const SEED = Number(process.env.MODELVAULT_CRASH_SEED ?? Date.now() % 1_000_000);
const WORKER = fileURLToPath(new URL('./support/crash-worker.mjs', import.meta.url));
const OPEN_OPTIONS = {
  defaultActor: 'checker',
  retentionMs: 0,
  packTargetSize: 96 * 1024,
  chunking: { minSize: 1024, avgSize: 4096, maxSize: 16 * 1024 },
} as const;

/** mulberry32, as in the worker. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Outcome {
  readonly lines: string[];
  readonly ready: boolean;
}

/**
 * Runs one worker and SIGKILLs it: `early` kills it `delayMs` after the start (maybe while
 * it opens the registry), otherwise `delayMs` after it reports the registry open.
 */
function runAndKill(root: string, work: string, seed: number, delayMs: number, early: boolean) {
  return new Promise<Outcome>((resolve, reject) => {
    const child = spawn(process.execPath, [WORKER, root, work, String(seed)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    const kill = () => child.kill('SIGKILL');
    if (early) timer = setTimeout(kill, delayMs);
    child.stdout.on('data', (d) => {
      out += d;
      if (!timer && out.includes('READY\n')) timer = setTimeout(kill, delayMs);
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    const guard = setTimeout(kill, 60_000);
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      clearTimeout(timer);
      if (signal !== 'SIGKILL') {
        reject(new Error(`worker (seed ${seed}) exited with ${code} before the kill:\n${err}`));
        return;
      }
      const lines = out.split('\n');
      // The last line may be cut by the kill: only whole lines are facts.
      lines.pop();
      resolve({ lines, ready: lines.includes('READY') });
    });
  });
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('crash safety of the registry', () => {
  it(`keeps every committed version across ${KILLS} SIGKILLs during push, pull, delete and gc`, {
    timeout: 1_800_000,
  }, async () => {
    const base = await mkdtemp(join(tmpdir(), 'mv-reliability-crash-'));
    const root = join(base, 'registry');
    const random = prng(SEED);
    /** `model@n` → files ({path: sha256}) of versions the worker saw committed. */
    const committed = new Map<string, Record<string, string>>();
    const deleting = new Set<string>();
    let early = 0;
    let pulls = 0;
    try {
      for (let kill = 0; kill < KILLS; kill++) {
        const killEarly = random() < 0.1;
        const delay = Math.floor(random() * (killEarly ? 400 : 700));
        const seed = Math.floor(random() * 2 ** 31);
        const outcome = await runAndKill(root, join(base, 'work'), seed, delay, killEarly);
        if (!outcome.ready) early++;
        for (const line of outcome.lines) {
          const [fact, model, n, files] = line.split(' ');
          const label = `${model}@${n}`;
          if (fact === 'PUSHED') committed.set(label, JSON.parse(files!));
          if (fact === 'DELETING') deleting.add(label);
          if (fact === 'DELETED') committed.delete(label);
        }
        try {
          await expectIntact();
        } catch (e) {
          throw new Error(
            `after kill ${kill + 1} (MODELVAULT_CRASH_SEED=${SEED}, worker seed ${seed}): ${(e as Error).message}`,
            { cause: e },
          );
        }
      }
      console.info(
        `crash: ${KILLS} kills (${early} before the registry was open), ${committed.size} versions committed and kept, ${pulls} verified pulls; seed ${SEED}`,
      );
      expect(committed.size + deleting.size).toBeGreaterThan(0);
    } finally {
      await rm(base, { recursive: true, force: true });
    }

    async function expectIntact(): Promise<void> {
      const dir = await openRegistryDirectory(root, { create: true, ...OPEN_OPTIONS });
      try {
        // Opening cleared the killed process's temp files: only this process's dir remains.
        const tmp = await readdir(join(root, 'tmp'));
        expect(tmp).toHaveLength(1);
        expect((await readdir(join(root, 'tmp', tmp[0]!))).length).toBe(0);

        const fsck = await dir.registry.fsck();
        // A pack stored but not yet indexed when the kill came is unreferenced garbage, not
        // damage: gc or repair reclaims it. Anything else is a failure.
        expect(fsck.problems.filter((p) => p.kind !== 'pack-unindexed')).toEqual([]);
        expect(fsck.damagedVersions).toEqual([]);

        const audit = await dir.registry.auditVerify();
        expect(audit.problems).toEqual([]);
        expect(audit.ok).toBe(true);

        const live = new Set<string>();
        for (const model of ['m0', 'm1', 'm2']) {
          const versions = await dir.registry.listVersions(model, { maxResults: 1000 }).then(
            (r) => r.items,
            () => [],
          );
          for (const v of versions) live.add(`${v.model}@${v.version}`);
        }
        for (const label of [...committed.keys()]) {
          if (!live.has(label)) {
            expect(deleting.has(label), `${label} was committed and never deleted`).toBe(true);
            committed.delete(label);
          }
        }
        // Every live version pulls verified; those the worker saw committed, byte-identical
        // to what it pushed.
        for (const label of live) {
          const dest = join(root, '..', `pulled-${label}`);
          await dir.registry.pull(label, dest);
          pulls++;
          const expected = committed.get(label);
          if (expected) {
            const names = (await readdir(dest)).sort();
            expect(names).toEqual(Object.keys(expected).sort());
            for (const [path, digest] of Object.entries(expected)) {
              expect(sha(await readFile(join(dest, path))), `${label} ${path}`).toBe(digest);
            }
          }
          await rm(dest, { recursive: true, force: true });
        }
      } finally {
        await dir.close();
      }
    }
  });
});

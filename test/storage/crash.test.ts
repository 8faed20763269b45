import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Sha256Hex } from '../../src/core/digest.js';
import { openStoreDirectory } from '../../src/registry/store-directory.js';
import { checkStore } from '../../src/storage/store-checker.js';

const KILLS = Number(process.env.MODELVAULT_CRASH_KILLS ?? 12);
const here = new URL('.', import.meta.url).pathname;

/** Runs the child until it has committed something, then SIGKILLs it after a random delay. */
function runAndKill(
  root: string,
  work: string,
  seed: number,
): Promise<{ committed: string[]; dropped: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [join(here, 'crash-child.mjs'), root, work, String(seed)],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (d) => {
      out += d;
      if (!timer && out.includes('COMMITTED')) {
        timer = setTimeout(() => child.kill('SIGKILL'), 20 + Math.floor(Math.random() * 600));
      }
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      if (signal !== 'SIGKILL') return reject(new Error(`child exited ${code}: ${err}`));
      const lines = out.split('\n');
      resolve({
        committed: lines.filter((l) => l.startsWith('COMMITTED ')).map((l) => l.slice(10)),
        dropped: lines.filter((l) => l.startsWith('DROPPED ')).map((l) => l.slice(8)),
      });
    });
  });
}

describe('crash safety', () => {
  it(`keeps every committed version intact across ${KILLS} SIGKILLs during ingest and GC`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mv-crash-'));
    const root = join(dir, 'store');
    const committed = new Set<string>();
    const dropped = new Set<string>();
    try {
      for (let i = 0; i < KILLS; i++) {
        const r = await runAndKill(root, join(dir, `work${i}`), i * 1000);
        for (const d of r.committed) committed.add(d);
        for (const d of r.dropped) dropped.add(d);

        const sd = await openStoreDirectory(root);
        try {
          // The previous process's temp files are gone once the store is opened again.
          const tmpEntries = await readdir(join(root, 'tmp'));
          expect(tmpEntries.length).toBe(1); // only this process's own directory
          const report = await checkStore(sd.store);
          // An unindexed pack (killed between storing and indexing it) is allowed: it is
          // unreferenced and GC or repair reclaims it. Anything else is damage.
          expect(report.problems.filter((p) => p.kind !== 'pack-unindexed')).toEqual([]);
          for (const digest of committed) {
            if (dropped.has(digest)) continue;
            const m = await sd.store.getManifest(digest as Sha256Hex);
            for (const e of m.entries) {
              const h = createHash('sha256');
              for await (const b of sd.store.readFile(e.sha256)) h.update(b);
              expect(h.digest('hex')).toBe(e.sha256);
            }
          }
        } finally {
          await sd.close();
        }
      }
      expect(committed.size).toBeGreaterThan(KILLS / 2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 300_000);
});

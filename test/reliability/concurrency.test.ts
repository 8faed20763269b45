/**
 * Many writers at once, through the CLI, on an embedded registry and on a server: 8
 * processes each push 10 versions of one model (`mvault push`, in-process runCli: every
 * command opens the registry, acts and closes it, as the binary does), move the shared
 * `production` and `staging` aliases to each version they pushed and roll `staging` back
 * now and then, while another process runs `mvault gc --grace 30s` in a loop on the same
 * directory. Afterwards: versions are exactly 1..80, every one pulls byte-identical, fsck
 * and the audit trail hold, and each alias points where its last audit event says.
 *
 * MODELVAULT_STRESS_PUSHES sets the pushes per process (default 10).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRegistryDirectory } from '../../src/registry/registry-directory.js';
import { startTestServer, type TestServer } from '../server/support/test-server.js';
import { mvaultOk } from '../support/cli.js';

const WORKERS = 8;
const PUSHES = Number(process.env.MODELVAULT_STRESS_PUSHES ?? 10);
const WORKER = fileURLToPath(new URL('./support/cli-worker.mjs', import.meta.url));

function worker(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [WORKER, ...args],
      { maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`cli-worker ${args[0]} failed: ${stderr || error.message}`));
        else resolve(stdout);
      },
    );
  });
}

interface Pushed {
  readonly numbers: number[];
  readonly files: Record<string, Record<string, string>>;
}

/** Runs the writers and the garbage collector against `registry`; returns what was pushed. */
async function race(cwd: string, registry: string, directory: string) {
  const stop = join(cwd, `stop-gc-${Date.now()}`);
  const gc = worker(['gc', cwd, directory, stop]);
  try {
    const results = await Promise.all(
      Array.from({ length: WORKERS }, (_, w) =>
        worker(['push', cwd, registry, String(w + 1), String(PUSHES)]).then(
          (out) => JSON.parse(out) as Pushed,
        ),
      ),
    );
    return results;
  } finally {
    await writeFile(stop, '');
    const { runs } = JSON.parse(await gc) as { runs: number };
    expect(runs).toBeGreaterThan(0);
  }
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Everything the test promises, checked on the registry directory itself. */
async function expectConsistent(directory: string, results: Pushed[], scratch: string) {
  const total = WORKERS * PUSHES;
  for (const { numbers } of results) expect([...numbers].sort((a, b) => a - b)).toEqual(numbers);
  const all = results.flatMap((r) => r.numbers).sort((a, b) => a - b);
  expect(all).toEqual(Array.from({ length: total }, (_, i) => i + 1));

  const dir = await openRegistryDirectory(directory);
  try {
    const { registry } = dir;
    const listed = await registry.listVersions('shared', { maxResults: 1000 });
    expect(listed.items.map((v) => v.version).sort((a, b) => a - b)).toEqual(all);
    for (const { files } of results) {
      for (const [n, expected] of Object.entries(files)) {
        const dest = join(scratch, `pull-${n}`);
        await registry.pull(`shared@${n}`, dest);
        for (const [path, digest] of Object.entries(expected)) {
          expect(sha(await readFile(join(dest, path))), `shared@${n} ${path}`).toBe(digest);
        }
        await rm(dest, { recursive: true, force: true });
      }
    }
    const fsck = await registry.fsck();
    expect(fsck.problems).toEqual([]);
    const audit = await registry.auditVerify();
    expect(audit).toMatchObject({ ok: true, problems: [] });

    // Each alias is where its last audit event put it.
    const last = new Map<string, number | null>();
    for await (const e of registry.auditExport()) {
      if (e.action.startsWith('alias.')) {
        last.set(e.subject, (e.data as { version: number | null }).version);
      }
    }
    for (const alias of ['production', 'staging']) {
      const target = (await registry.getVersion(`shared@${alias}`)).version;
      expect(last.get(`shared@${alias}`), alias).toBe(target);
    }
    const history = await registry.aliasHistory('shared', 'production');
    expect(history).toHaveLength(total);
    expect(new Set(history.map((h) => h.version))).toEqual(new Set(all));
  } finally {
    await dir.close();
  }
}

describe(`${WORKERS} processes x ${PUSHES} pushes to one model, racing alias moves and gc`, () => {
  let cwd: string;
  beforeAll(async () => {
    cwd = await mkdtemp(join(tmpdir(), 'mv-reliability-concurrency-'));
  });
  afterAll(async () => {
    await rm(cwd, { recursive: true, force: true });
  });

  it('through the CLI on an embedded registry', { timeout: 600_000 }, async () => {
    await mvaultOk(['init'], { cwd });
    const directory = join(cwd, '.modelvault');
    const results = await race(cwd, directory, directory);
    await expectConsistent(directory, results, cwd);
  });

  describe('through the CLI against a server', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer({ expireEveryMs: 0 });
    });
    afterAll(async () => server?.close());

    it('the same, with gc running on the server’s directory', { timeout: 600_000 }, async () => {
      const directory = join(server.dir, 'registry');
      const results = await race(cwd, server.url, directory);
      await expectConsistent(directory, results, cwd);
    });
  });
});

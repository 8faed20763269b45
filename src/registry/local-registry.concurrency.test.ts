import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { TEST_DIALECTS } from '../../test/support/dialects.js';
import { manifest, openTempRegistry, type TempRegistry } from '../../test/support/temp-registry.js';
import type { DatabaseConfig } from '../metadata/database.js';
import { type LocalRegistry, openLocalRegistry } from './local-registry.js';

const WRITER = fileURLToPath(new URL('../../test/support/concurrent-writer.mjs', import.meta.url));

interface Writer {
  readonly ready: Promise<void>;
  readonly done: Promise<number[]>;
  go(): void;
}

/** Forks a writer; it opens the registry, then waits for go() before writing. */
function startWriter(db: DatabaseConfig, model: string, count: number, worker: number): Writer {
  const location = db.kind === 'sqlite' ? db.path : db.url;
  const child = fork(WRITER, [location, model, String(count), String(worker)], {
    execArgv: [], // plain node: the child is JavaScript over dist/
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let numbers: number[] | undefined;
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    onReady = resolve;
  });
  child.on('message', (m: { ready?: boolean; numbers?: number[] }) => {
    if (m.ready) onReady();
    if (m.numbers) numbers = m.numbers;
  });
  const done = new Promise<number[]>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0 && numbers) resolve(numbers);
      else reject(new Error(`writer ${worker} exited with ${code}`));
    });
  });
  return { ready, done, go: () => child.send('go') };
}

let t: TempRegistry | undefined;
let others: LocalRegistry[] = [];
afterEach(async () => {
  for (const r of others) await r.close();
  others = [];
  await t?.cleanup();
  t = undefined;
});

describe.each(TEST_DIALECTS)('%s: concurrent writers in separate processes', (dialect) => {
  it('get unique, consecutive version numbers and leave a verifiable audit chain', async () => {
    t = await openTempRegistry({ dialect }); // runs the migrations before the writers start
    const WORKERS = 4;
    const EACH = 25;
    const writers = Array.from({ length: WORKERS }, (_, w) =>
      startWriter(t!.fresh.config, 'shared', EACH, w + 1),
    );
    await Promise.all(writers.map((w) => w.ready));
    for (const w of writers) w.go();
    const results = await Promise.all(writers.map((w) => w.done));
    // Each writer saw its own numbers in increasing order.
    for (const numbers of results) {
      expect(numbers).toHaveLength(EACH);
      expect([...numbers].sort((a, b) => a - b)).toEqual(numbers);
    }
    const all = results.flat().sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: WORKERS * EACH }, (_, i) => i + 1));

    const listed = await t.registry.listVersions('shared', { maxResults: 1000 });
    expect(listed.items.map((v) => v.version)).toEqual([...all].reverse());
    expect((await t.registry.getModel('shared')).latestVersion).toBe(WORKERS * EACH);

    const verify = await t.registry.auditVerify();
    expect(verify).toMatchObject({ ok: true, checked: WORKERS * EACH + 1, problems: [] });
    // Exactly one writer created the model.
    const created = await t.registry.auditLog({ actions: ['model.created'] });
    expect(created.items).toHaveLength(1);
  });
});

// Replicas on one PostgreSQL: each LocalRegistry below has its own connection pool, so
// their writes race on the server exactly as separate server processes' would. (SQLite's
// driver is synchronous: connections in one process cannot wait for each other, so its
// cross-connection race is the multi-process test above.)
describe.each(TEST_DIALECTS.filter((d) => d === 'postgres'))('%s: racing replicas', (dialect) => {
  const REPLICAS = 6;

  async function replicas(): Promise<LocalRegistry[]> {
    t = await openTempRegistry({ dialect });
    others = await Promise.all(
      Array.from({ length: REPLICAS }, (_, i) =>
        openLocalRegistry({ db: t!.fresh.config, defaultActor: `replica-${i}` }),
      ),
    );
    return others;
  }

  it('allocate unique consecutive version numbers and append one linear audit chain', async () => {
    const rs = await replicas();
    const EACH = 10;
    const got = await Promise.all(
      rs.map(async (r, i) => {
        const numbers: number[] = [];
        for (let k = 0; k < EACH; k++) {
          const v = await r.createVersion({
            model: 'shared',
            manifest: manifest(`r${i}-${k}`),
            createModelIfMissing: true,
          });
          numbers.push(v.version);
        }
        return numbers;
      }),
    );
    const all = got.flat().sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: REPLICAS * EACH }, (_, i) => i + 1));
    const verify = await t!.registry.auditVerify();
    expect(verify).toMatchObject({ ok: true, checked: REPLICAS * EACH + 1, problems: [] });
    const events = await t!.registry.auditLog({ order: 'asc', maxResults: 1000 });
    expect(events.items.map((e) => e.seq)).toEqual(
      Array.from({ length: REPLICAS * EACH + 1 }, (_, i) => i + 1),
    );
    expect(events.items.filter((e) => e.action === 'model.created')).toHaveLength(1);
  });

  it('move one alias in a single linear history whose last entry is the final state', async () => {
    const rs = await replicas();
    await t!.registry.createModel({ name: 'm' });
    for (let v = 1; v <= REPLICAS; v++) {
      await t!.registry.createVersion({ model: 'm', manifest: manifest(`v${v}`) });
    }
    const MOVES = 8;
    await Promise.all(
      rs.map(async (r, i) => {
        for (let k = 0; k < MOVES; k++) {
          await r.setAlias('m', 'prod', ((i + k) % REPLICAS) + 1);
        }
      }),
    );
    const history = await t!.registry.aliasHistory('m', 'prod');
    expect(history.length).toBeGreaterThan(0);
    // Every move starts where the one before it ended: no move was lost or interleaved.
    expect(history[0]?.previousVersion).toBeNull();
    for (let i = 1; i < history.length; i++) {
      expect(history[i]?.previousVersion).toBe(history[i - 1]?.version);
    }
    const final = await t!.registry.getVersion('m@prod');
    expect(final.version).toBe(history.at(-1)?.version);
    expect((await t!.registry.auditVerify()).ok).toBe(true);
  });
});

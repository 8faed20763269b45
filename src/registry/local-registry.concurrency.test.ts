import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { openTempRegistry, type TempRegistry } from '../../test/support/temp-registry.js';

const WRITER = fileURLToPath(new URL('../../test/support/concurrent-writer.ts', import.meta.url));

interface Writer {
  readonly ready: Promise<void>;
  readonly done: Promise<number[]>;
  go(): void;
}

/** Forks a writer; it opens the registry, then waits for go() before writing. */
function startWriter(path: string, model: string, count: number, worker: number): Writer {
  const child = fork(WRITER, [path, model, String(count), String(worker)], {
    execArgv: ['--import', 'tsx'],
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
afterEach(async () => {
  await t?.cleanup();
  t = undefined;
});

describe('concurrent writers in separate processes', () => {
  it('get unique, consecutive version numbers and leave a verifiable audit chain', async () => {
    t = await openTempRegistry(); // runs the migrations before the writers start
    const WORKERS = 4;
    const EACH = 25;
    const writers = Array.from({ length: WORKERS }, (_, w) =>
      startWriter(t!.path, 'shared', EACH, w + 1),
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

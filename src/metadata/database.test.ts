import { fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import SqliteDatabase from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { REGISTRY_MIGRATIONS } from '../registry/local-registry.js';
import { storageMigrations } from '../storage/index/storage-migrations.js';
import { openDatabase } from './database.js';

const OPENER = fileURLToPath(new URL('../../test/support/concurrent-opener.ts', import.meta.url));

type Reply = { ok: true } | { error: string };

function startOpener(path: string, worker: number) {
  const child = fork(OPENER, [path, String(worker)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let reply: Reply | undefined;
  const ready = new Promise<void>((resolve) => {
    child.on('message', (m: { ready?: boolean } & Partial<Reply>) => {
      if (m.ready) resolve();
      else reply = m as Reply;
    });
  });
  const done = new Promise<Reply>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) =>
      reply ? resolve(reply) : reject(new Error(`opener ${worker} exited with ${code}`)),
    );
  });
  return { ready, done, go: () => child.send('go') };
}

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('openDatabase', () => {
  it('lets many processes create and migrate one brand-new database at the same time', async () => {
    dir = await mkdtemp(join(tmpdir(), 'mv-db-'));
    const path = join(dir, 'metadata.db');
    const openers = Array.from({ length: 8 }, (_, i) => startOpener(path, i + 1));
    await Promise.all(openers.map((o) => o.ready));
    for (const o of openers) o.go();
    const replies = await Promise.all(openers.map((o) => o.done));
    expect(replies).toEqual(openers.map(() => ({ ok: true })));

    const raw = new SqliteDatabase(path, { readonly: true });
    try {
      const applied = raw.prepare('select name from kysely_migration order by name').all();
      expect(applied).toEqual(
        [...storageMigrations, ...REGISTRY_MIGRATIONS].map((m) => ({ name: m.name })),
      );
      expect(raw.prepare('select count(*) as n from storage_leases').get()).toEqual({ n: 8 });
    } finally {
      raw.close();
    }
  });

  it('reopens an up-to-date database and applies a migration added later', async () => {
    dir = await mkdtemp(join(tmpdir(), 'mv-db-'));
    const path = join(dir, 'metadata.db');
    const first = await openDatabase({ kind: 'sqlite', path }, storageMigrations);
    await first.close();
    const later = await openDatabase({ kind: 'sqlite', path }, [
      ...storageMigrations,
      ...REGISTRY_MIGRATIONS,
    ]);
    await later.close();
    const again = await openDatabase({ kind: 'sqlite', path }, [
      ...storageMigrations,
      ...REGISTRY_MIGRATIONS,
    ]);
    await again.close();
    const raw = new SqliteDatabase(path, { readonly: true });
    try {
      expect(raw.prepare('select count(*) as n from kysely_migration').get()).toEqual({
        n: storageMigrations.length + REGISTRY_MIGRATIONS.length,
      });
    } finally {
      raw.close();
    }
  });
});

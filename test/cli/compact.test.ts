/**
 * `mvault compact` on the embedded registry: the free pages a dropped table left in
 * metadata.db go back to the file system, and the registry is intact afterwards.
 */
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CompactResult } from '../../src/core/registry-api.js';
import { mvault, mvaultOk } from '../support/cli.js';
import { writeModelDir } from '../support/model-dir.js';

let cwd: string;
const run = (...args: string[]) => mvaultOk(args, { cwd });
const metadataDb = () => join(cwd, '.modelvault', 'metadata.db');

beforeEach(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'mv-cli-compact-'));
  await writeModelDir(join(cwd, 'model'), 1);
  await run('init');
  await run('push', 'fraud', './model', '--metric', 'auc=0.9');
  await writeModelDir(join(cwd, 'model'), 2);
  await run('push', 'fraud', './model', '--metric', 'auc=0.93');
});
afterEach(async () => {
  await rm(cwd, { recursive: true, force: true });
});

/** What a migration that rewrote a table leaves: ~4 MiB of free pages. */
function dropATable(): void {
  const db = new SqliteDatabase(metadataDb());
  db.exec('create table scratch (data blob)');
  const insert = db.prepare('insert into scratch values (?)');
  db.transaction(() => {
    for (let i = 0; i < 1024; i++) insert.run(randomBytes(4096));
  })();
  db.exec('drop table scratch');
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

describe('compact', () => {
  it('gives the free pages back and leaves the registry intact', async () => {
    dropATable();
    const sizeBefore = statSync(metadataDb()).size;
    const r = await run('compact', '--json');
    const result = r.json<CompactResult>();
    expect(result).toMatchObject({ dialect: 'sqlite', location: metadataDb() });
    expect(result.bytesBefore).toBe(sizeBefore);
    expect(result.freeBytesBefore).toBeGreaterThan(4 * 1024 * 1024);
    expect(result.bytesBefore - result.bytesAfter).toBeGreaterThan(4 * 1024 * 1024);
    expect(statSync(metadataDb()).size).toBe(result.bytesAfter);

    // Nothing was lost: the audit chain verifies, every pack and version checks, and the
    // versions read back.
    expect((await run('audit', 'verify', '--json')).json()).toMatchObject({ ok: true });
    expect((await run('fsck', '--json')).json()).toMatchObject({ ok: true });
    const ls = (await run('ls', 'fraud', '--json')).json<{ items: { version: number }[] }>();
    expect(ls.items.map((v) => v.version)).toEqual([2, 1]);

    // For people: what it did, and a note on stderr first.
    const again = await mvault(['compact'], { cwd });
    expect(again.code).toBe(0);
    expect(again.stderr).toBe('compacting the metadata database…\n');
    expect(again.stdout).toMatch(
      /^\S+metadata\.db: [\d.]+ KiB \(0 B of it free\) → [\d.]+ KiB in (\d+ ms|\d+\.\d s)\nfreed /,
    );
  });
});

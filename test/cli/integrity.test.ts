/**
 * Tamper evidence through the CLI: an edited audit event makes `audit verify` exit 4
 * naming its seq; a flipped byte in a pack makes `fsck` exit 4 naming the chunk and the
 * versions it damages, and `pull` refuse to write the damaged file.
 */
import { mkdtemp, open, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditVerifyResult, FsckResult } from '../../src/core/registry-api.js';
import { mvault, mvaultOk } from '../support/cli.js';
import { flipByte } from '../support/flip-byte.js';
import { writeModelDir } from '../support/model-dir.js';

let cwd: string;
const run = (...args: string[]) => mvaultOk(args, { cwd });

beforeEach(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'mv-cli-integrity-'));
  await writeModelDir(join(cwd, 'model'), 1);
  await run('init');
  await run('push', 'fraud', './model', '--metric', 'auc=0.9');
  await run('alias', 'set', 'fraud', 'production', '1');
  await writeModelDir(join(cwd, 'model'), 2);
  await run('push', 'fraud', './model', '--metric', 'auc=0.93');
});
afterEach(async () => {
  await rm(cwd, { recursive: true, force: true });
});

/** The first chunk of a pack: its id and where its bytes are (pack format v1 trailer). */
async function firstChunk(packPath: string): Promise<{ id: string; offset: number }> {
  const fh = await open(packPath, 'r');
  try {
    const { size } = await fh.stat();
    const footer = Buffer.alloc(56);
    await fh.read(footer, 0, 56, size - 56);
    const trailerOffset = Number(footer.readBigUInt64LE(8));
    const entry = Buffer.alloc(48);
    await fh.read(entry, 0, 48, trailerOffset);
    return { id: entry.subarray(0, 32).toString('hex'), offset: Number(entry.readBigUInt64LE(32)) };
  } finally {
    await fh.close();
  }
}

describe('audit verify', () => {
  it('exits 0 on an intact trail, and 4 naming the first edited event', async () => {
    const intact = await run('audit', 'verify', '--json');
    expect(intact.json<AuditVerifyResult>()).toMatchObject({ ok: true, checked: 4, lastSeq: 4 });

    const db = new SqliteDatabase(join(cwd, '.modelvault', 'metadata.db'));
    db.prepare("update audit_events set actor = 'mallory' where seq = 3").run();
    db.close();

    const broken = await mvault(['audit', 'verify'], { cwd });
    expect(broken.code).toBe(4);
    expect(broken.stderr).toBe(
      'error: audit trail broken at seq 3: event 3 does not match its hash (its content was changed)\n',
    );
    expect(broken.stdout).toContain('  seq 3: hash_mismatch: event 3 does not match its hash');
    const json = await mvault(['audit', 'verify', '--json'], { cwd });
    expect(json.code).toBe(4);
    expect(json.json<AuditVerifyResult>()).toMatchObject({
      ok: false,
      problems: [{ seq: 3, kind: 'hash_mismatch' }],
    });
  });

  it('names a deleted event as a gap', async () => {
    const db = new SqliteDatabase(join(cwd, '.modelvault', 'metadata.db'));
    db.prepare('delete from audit_events where seq = 2').run();
    db.close();
    const broken = await mvault(['audit', 'verify'], { cwd });
    expect(broken.code).toBe(4);
    expect(broken.stderr).toBe('error: audit trail broken at seq 2: event 2 is missing\n');
  });
});

describe('fsck', () => {
  it('exits 0 on an intact store, and 4 naming a flipped chunk and the damaged versions', async () => {
    const clean = await run('fsck');
    expect(clean.stdout).toMatch(
      /^checked \d+ packs, \d+ chunks, 5 files, 2 manifests, 2 versions: no problems\n$/,
    );

    const packsDir = join(cwd, '.modelvault', 'objects', 'packs');
    const packs = (await readdir(packsDir, { recursive: true })).filter((p) => p.endsWith('.pack'));
    const packPath = join(packsDir, packs.sort()[0]!);
    const chunk = await firstChunk(packPath);
    await flipByte(packPath, chunk.offset + 10);

    const damaged = await mvault(['fsck'], { cwd });
    expect(damaged.code).toBe(4);
    expect(damaged.stdout).toContain(`chunk-damaged: chunk ${chunk.id} in pack `);
    expect(damaged.stdout).toMatch(/\ndamaged versions: fraud@[12](, fraud@2)?\n/);
    expect(damaged.stderr).toMatch(
      /^error: fsck found \d+ problem\(s\), first: chunk [0-9a-f]{64} in pack/,
    );
    const json = await mvault(['fsck', '--json'], { cwd });
    expect(json.code).toBe(4);
    const report = json.json<FsckResult>();
    expect(report.ok).toBe(false);
    expect(report.problems).toContainEqual(
      expect.objectContaining({ kind: 'chunk-damaged', id: chunk.id }),
    );
    expect(report.damagedVersions.length).toBeGreaterThan(0);

    // Reads verify too: pull refuses the damaged file, naming the chunk (exit 4).
    const pulled = await mvault(['pull', report.damagedVersions[0]!, './out'], { cwd });
    expect(pulled.code).toBe(4);
    expect(pulled.stderr).toContain(`chunk ${chunk.id}`);
    // repair cannot invent the lost bytes: the damage is still reported.
    const repaired = await mvault(['repair'], { cwd });
    expect(repaired.code).toBe(4);
    expect(repaired.stderr).toMatch(/^error: damage remains after repair: /);
  });
});

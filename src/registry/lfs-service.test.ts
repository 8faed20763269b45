import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pseudoRandomBytes } from '../../test/fixtures/model-files.js';
import { type FreshDatabase, freshDatabase, TEST_DIALECTS } from '../../test/support/dialects.js';
import { ModelvaultError } from '../core/errors.js';
import { checkLfsRepo, LockExistsError } from './lfs-service.js';
import { openRegistryDirectory, type RegistryDirectory } from './registry-directory.js';

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe.each(TEST_DIALECTS)('LfsService on %s', (dialect) => {
  let dir: string;
  let fresh: FreshDatabase | undefined;
  let reg: RegistryDirectory;
  const repo = checkLfsRepo('team', 'model.git');
  const other = checkLfsRepo('team', 'other');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mv-lfs-'));
    fresh = dialect === 'sqlite' ? undefined : await freshDatabase(dialect);
    reg = await openRegistryDirectory(join(dir, 'reg'), {
      create: true,
      defaultActor: 'alice',
      ...(fresh ? { database: fresh.config } : {}),
    });
  });
  afterAll(async () => {
    await reg?.close();
    await fresh?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  it('records a verified object once per repository, sharing the bytes across repositories', async () => {
    const bytes = pseudoRandomBytes(5, 200_000);
    const oid = sha(bytes);
    const first = await reg.lfs.upload(repo, oid, once(bytes), { expectedSize: bytes.length });
    expect(first).toMatchObject({ oid, size: bytes.length });
    expect(first.newBytes).toBe(bytes.length);
    const again = await reg.lfs.upload(other, oid, once(bytes));
    expect(again.newBytes).toBe(0); // deduplicated: the store already had every chunk
    expect(await reg.lfs.lookup(repo, [{ oid, size: bytes.length }])).toEqual([
      { oid, size: bytes.length, state: 'present' },
    ]);
    const states = await reg.lfs.lookup(repo, [
      { oid, size: bytes.length + 1 },
      { oid: 'A'.repeat(64), size: 1 },
      { oid: 'b'.repeat(64), size: -1 },
      { oid: 'c'.repeat(64), size: 3 },
    ]);
    expect(states.map((s) => (s.state === 'invalid' ? s.code : s.state))).toEqual([
      422,
      422,
      422,
      'absent',
    ]);
    await expect(reg.lfs.verify(repo, oid, bytes.length)).resolves.toMatchObject({ oid });
    await expect(reg.lfs.verify(repo, 'd'.repeat(64), 1)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(reg.lfs.verify(repo, oid, 1)).rejects.toMatchObject({
      code: 'VERIFICATION_FAILED',
    });
    const audit = await reg.registry.auditLog({ actions: ['lfs.object.uploaded'], order: 'asc' });
    expect(audit.items.map((e) => e.subject)).toEqual(['lfs:team/model.git', 'lfs:team/other']);
  });

  it('refuses mismatching bytes and sizes, leaving no temp file and no record', async () => {
    const bytes = pseudoRandomBytes(6, 50_000);
    const oid = sha(bytes);
    await expect(reg.lfs.upload(repo, oid, once(bytes.subarray(1)))).rejects.toMatchObject({
      code: 'VERIFICATION_FAILED',
    });
    await expect(
      reg.lfs.upload(repo, oid, once(bytes), { expectedSize: bytes.length - 1 }),
    ).rejects.toMatchObject({ code: 'VERIFICATION_FAILED' });
    await expect(reg.lfs.upload(repo, 'nothex', once(bytes))).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    expect(await reg.lfs.getObject(repo, oid)).toBeUndefined();
    expect(await reg.store.hasFile(oid as never)).toBe(false);
    expect((await readdir(reg.store.tmpDir)).filter((f) => f.startsWith('lfs-'))).toEqual([]);
  });

  it('locks exclusively, pages, splits ours from theirs, and unlocks only with force', async () => {
    const a = await reg.lfs.createLock(repo, 'weights/a.safetensors');
    expect(a.owner).toBe('alice');
    const err = await reg.lfs.createLock(repo, 'weights/a.safetensors', 'bob').catch((e) => e);
    expect(err).toBeInstanceOf(LockExistsError);
    expect((err as LockExistsError).lock.id).toBe(a.id);
    await reg.lfs.createLock(repo, 'weights/b.safetensors', 'bob');
    await reg.lfs.createLock(repo, 'weights/c.safetensors', 'bob');
    // The same path in another repository is a different lock.
    await reg.lfs.createLock(other, 'weights/a.safetensors', 'bob');
    for (const bad of ['../x', '/abs', '', 'a//b', 42]) {
      await expect(reg.lfs.createLock(repo, bad)).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
    }

    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await reg.lfs.listLocks(repo, { limit: 2, ...(cursor ? { cursor } : {}) });
      expect(page.locks.length).toBeLessThanOrEqual(2);
      seen.push(...page.locks.map((l) => l.path));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen.sort()).toEqual([
      'weights/a.safetensors',
      'weights/b.safetensors',
      'weights/c.safetensors',
    ]);
    const byPath = await reg.lfs.listLocks(repo, { path: 'weights/b.safetensors' });
    expect(byPath.locks.map((l) => l.owner)).toEqual(['bob']);
    expect((await reg.lfs.listLocks(repo, { id: a.id })).locks.map((l) => l.path)).toEqual([
      'weights/a.safetensors',
    ]);
    await expect(reg.lfs.listLocks(repo, { limit: 0 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });

    const mine = await reg.lfs.verifyLocks(repo, { actor: 'alice' });
    expect(mine.ours.map((l) => l.path)).toEqual(['weights/a.safetensors']);
    expect(mine.theirs.length).toBe(2);

    const b = byPath.locks[0]!;
    const denied = await reg.lfs.unlock(repo, b.id, { actor: 'alice' }).catch((e) => e);
    expect(denied).toBeInstanceOf(ModelvaultError);
    expect((denied as ModelvaultError).httpStatus).toBe(403);
    await reg.lfs.unlock(repo, b.id, { actor: 'alice', force: true });
    await reg.lfs.unlock(repo, a.id);
    await expect(reg.lfs.unlock(repo, a.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(reg.lfs.unlock(repo, 'not-an-id')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const events = await reg.registry.auditLog({ actions: ['lfs.lock.deleted'], order: 'asc' });
    expect(events.items.map((e) => [e.actor, (e.data as { forced: boolean }).forced])).toEqual([
      ['alice', true],
      ['alice', false],
    ]);
    expect((await reg.registry.auditVerify()).ok).toBe(true);
  });

  it('validates repository names', () => {
    expect(() => checkLfsRepo('team', 'a/b')).toThrow(/LFS repository/);
    expect(() => checkLfsRepo('..', 'x')).toThrow(/LFS namespace/);
    expect(() => checkLfsRepo('-x', 'x')).toThrow(/LFS namespace/);
    expect(() => checkLfsRepo('x'.repeat(101), 'x')).toThrow(/LFS namespace/);
    expect(checkLfsRepo('team', 'llama.git')).toEqual({ namespace: 'team', repo: 'llama.git' });
  });
});

/**
 * A registry on a real, tiny filesystem (a 4 MiB tmpfs mounted for the test): pushes run
 * it out of space for real — pack files, temp files and SQLite's WAL all hit ENOSPC or
 * SQLITE_FULL wherever they happen to — rather than at points a fault injector chose
 * (failing-storage.test.ts). A push that runs out of space fails with a clear error and
 * registers nothing; every version committed before still pulls byte-identical; fsck and
 * the audit trail stay clean; once there is room again, pushing works and numbering goes on.
 *
 * Mounting needs root (CI is root); elsewhere the file is skipped, unless
 * MODELVAULT_TEST_REQUIRE_ALL=1 makes that a failure.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isModelvaultError } from '../../src/core/errors.js';
import {
  openRegistryDirectory,
  type RegistryDirectory,
} from '../../src/registry/registry-directory.js';
import { pseudoRandomBytes } from '../fixtures/model-files.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

const work = await mkdtemp(join(tmpdir(), 'mv-tiny-fs-'));
const mountPoint = join(work, 'mnt');
await mkdir(mountPoint);
let mounted = false;
let mountError = '';
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0755', 'tmpfs', mountPoint], {
    stdio: 'pipe',
  });
  mounted = true;
} catch (e) {
  mountError = String((e as { stderr?: Buffer }).stderr ?? e).trim();
}
const required = process.env.MODELVAULT_TEST_REQUIRE_ALL === '1';

describe.skipIf(!mounted && !required)('a registry on a tiny filesystem', () => {
  let dir: RegistryDirectory;
  const root = join(mountPoint, 'registry');

  beforeAll(async () => {
    if (!mounted) throw new Error(`cannot mount a tmpfs (needs root): ${mountError}`);
    dir = await openRegistryDirectory(root, {
      create: true,
      defaultActor: 'alice',
      packTargetSize: 256 * 1024,
    });
  });
  afterAll(async () => {
    await dir?.close().catch(() => undefined);
    if (mounted) execFileSync('umount', ['-l', mountPoint], { stdio: 'pipe' });
    await rm(work, { recursive: true, force: true });
  });

  async function source(n: number, size: number): Promise<{ path: string; digest: string }> {
    const path = join(work, `src-${n}`);
    await mkdir(path, { recursive: true });
    const bytes = pseudoRandomBytes(900 + n, size);
    await writeFile(join(path, 'weights.bin'), bytes);
    return { path, digest: sha(bytes) };
  }

  async function expectPullsIntact(committed: Map<number, string>) {
    for (const [version, digest] of committed) {
      const out = join(work, `pull-${version}-${Date.now()}`);
      await dir.registry.pull(`m@${version}`, out);
      expect(sha(await readFile(join(out, 'weights.bin')))).toBe(digest);
      await rm(out, { recursive: true, force: true });
    }
  }

  it('fails the push that runs out of space cleanly, keeps every version, and recovers', async () => {
    const committed = new Map<number, string>();
    let failure: unknown;
    // 700 KB of fresh random bytes per version: the 4 MiB fill up within a few pushes.
    for (let n = 1; n <= 12 && failure === undefined; n++) {
      const src = await source(n, 700_000);
      try {
        const pushed = await dir.registry.push(src.path, { model: 'm' });
        committed.set(pushed.version.version, src.digest);
      } catch (e) {
        failure = e;
      }
    }
    expect(committed.size).toBeGreaterThan(0);
    expect(failure, 'the filesystem never filled up').toBeDefined();
    // A clear, typed error that says what happened, not an internal one.
    expect(isModelvaultError(failure)).toBe(true);
    expect((failure as { code: string }).code).toBe('IO');
    expect((failure as Error).message).toMatch(/no space left|disk is full|ENOSPC|SQLITE_FULL/i);

    // Nothing of the failed push is visible; everything before it is intact.
    const listed = await dir.registry.listVersions('m');
    expect(listed.items.map((v) => v.version).sort((a, b) => a - b)).toEqual(
      [...committed.keys()].sort((a, b) => a - b),
    );
    await expectPullsIntact(committed);
    expect((await dir.registry.fsck()).problems).toEqual([]);
    expect((await dir.registry.auditVerify()).ok).toBe(true);

    // Now a little room, but less than one file: this time the pack write runs out.
    const { blocks, bfree, bsize } = await statfs(mountPoint);
    const usedKiB = Math.ceil(((blocks - bfree) * bsize) / 1024);
    execFileSync('mount', ['-o', `remount,size=${usedKiB + 1024}k`, mountPoint], {
      stdio: 'pipe',
    });
    const big = await source(50, 3_000_000);
    const packFailure = await dir.registry.push(big.path, { model: 'm' }).catch((e) => e);
    expect(isModelvaultError(packFailure)).toBe(true);
    expect((packFailure as { code: string }).code).toBe('IO');
    expect((packFailure as Error).message).toMatch(/no space left|disk is full/i);
    expect((await dir.registry.listVersions('m')).items).toHaveLength(committed.size);
    await expectPullsIntact(committed);
    expect((await dir.registry.fsck()).problems).toEqual([]);

    // Room again (the tmpfs grows, as an operator would free or add space): pushing works.
    execFileSync('mount', ['-o', 'remount,size=32m', mountPoint], { stdio: 'pipe' });
    const again = await source(99, 700_000);
    const pushed = await dir.registry.push(again.path, { model: 'm' });
    expect(pushed.version.version).toBe(Math.max(...committed.keys()) + 1);
    committed.set(pushed.version.version, again.digest);
    await expectPullsIntact(committed);
    expect((await dir.registry.fsck()).problems).toEqual([]);
    expect((await dir.registry.auditVerify()).ok).toBe(true);
  });
});

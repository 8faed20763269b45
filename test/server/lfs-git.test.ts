/**
 * Modelvault as a Git LFS server, driven by the real `git` and `git-lfs` clients against a
 * real server process (the built `npm start` entry) on a loopback port: push two versions of a checkpoint to a bare remote whose
 * LFS url (committed in .lfsconfig) is Modelvault, clone fresh and compare bytes, lock and
 * unlock, a push cut off mid-upload and then resumed, a corrupted upload refused, and the
 * objects surviving garbage collection. The test reads the audit trail and runs gc/fsck
 * through its own handle on the same registry directory, as a second process would.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent, ModelVersion, TransferStats } from '../../src/core/registry-api.js';
import type { GitSnapshot } from '../../src/registry/git-snapshot.js';
import {
  openRegistryDirectory,
  type RegistryDirectory,
} from '../../src/registry/registry-directory.js';
import { mvault, mvaultOk } from '../support/cli.js';
import { BUILT_MAIN, type ChildServer, startChild } from './support/child-server.js';
import { CuttingProxy, checkpoint, git, gitEnvironment, gitOk } from './support/git-lfs.js';
import { TEST_CHUNKING } from './support/test-server.js';

const LFS_JSON = 'application/vnd.git-lfs+json';

/** The server process, and this test's own handle on its registry directory. */
let server: { url: string; backend: RegistryDirectory };
let child: ChildServer | undefined;
/** Without authentication, the server acts as its OS user. */
const ACTOR = userInfo().username;
let root: string;
let env: NodeJS.ProcessEnv;
let work: string;
let lfsUrl: string;

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function uploads(): Promise<AuditEvent[]> {
  const page = await server.backend.registry.auditLog({
    actions: ['lfs.object.uploaded'],
    order: 'asc',
  });
  return [...page.items];
}

async function batch(operation: string, objects: { oid: string; size: number }[]) {
  const r = await fetch(`${lfsUrl}/objects/batch`, {
    method: 'POST',
    headers: { 'content-type': LFS_JSON, accept: LFS_JSON },
    body: JSON.stringify({ operation, transfers: ['basic'], objects }),
  });
  expect(r.status).toBe(200);
  return (await r.json()) as {
    objects: { oid: string; actions?: Record<string, unknown>; error?: { code: number } }[];
  };
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mv-lfs-git-'));
  const registryDir = join(root, 'registry');
  // Small chunks (recorded in the directory) so that a changed tensor is few chunks.
  const backend = await openRegistryDirectory(registryDir, {
    create: true,
    chunking: TEST_CHUNKING,
  });
  child = await startChild(BUILT_MAIN, ['--port', '0', '--registry', registryDir]);
  server = { url: child.url, backend };
  env = await gitEnvironment(join(root, 'home'));
  lfsUrl = `${server.url}/lfs/team/llama-ft`;
  await gitOk(env, root, ['init', '-q', '--bare', '-b', 'main', 'remote.git']);
  await gitOk(env, root, ['init', '-q', '-b', 'main', 'work']);
  work = join(root, 'work');
  // The LFS filters go into the isolated HOME's config, so the fresh clone smudges too.
  await gitOk(env, root, ['lfs', 'install', '--skip-repo']);
  await gitOk(env, work, ['remote', 'add', 'origin', join(root, 'remote.git')]);
  await gitOk(env, work, ['config', '-f', '.lfsconfig', 'lfs.url', lfsUrl]);
  await gitOk(env, work, ['lfs', 'track', '*.safetensors']);
});

afterAll(async () => {
  if (child && child.child.exitCode === null) {
    child.child.kill('SIGTERM');
    await child.exited;
  }
  await server?.backend.close();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('git push / clone through the Modelvault LFS server', () => {
  it('stores two versions of a checkpoint, the second costing only its changed chunks', async () => {
    const v1 = checkpoint(1);
    await writeFile(join(work, 'model.safetensors'), v1);
    await writeFile(join(work, 'config.json'), '{"hidden": 64}\n');
    await gitOk(env, work, [
      'add',
      '.gitattributes',
      '.lfsconfig',
      'model.safetensors',
      'config.json',
    ]);
    await gitOk(env, work, ['commit', '-q', '-m', 'v1']);
    await gitOk(env, work, ['push', '-q', 'origin', 'main']);

    const v2 = checkpoint(2);
    await writeFile(join(work, 'model.safetensors'), v2);
    await gitOk(env, work, ['commit', '-q', '-am', 'v2']);
    await gitOk(env, work, ['push', '-q', 'origin', 'main']);

    // git stored pointers; Modelvault stored the bytes, as two objects of this repository.
    const pointer = (await gitOk(env, work, ['show', 'HEAD:model.safetensors'])).stdout;
    expect(pointer).toContain(`oid sha256:${sha256(v2)}`);
    const events = await uploads();
    expect(events.map((e) => (e.data as { oid: string }).oid)).toEqual([sha256(v1), sha256(v2)]);
    expect(events.every((e) => e.subject === 'lfs:team/llama-ft' && e.actor === ACTOR)).toBe(true);
    // v2 changes one tensor of eight: most of its bytes were already stored.
    const second = events[1]!.data as { size: number; newBytes: number };
    expect(second.size).toBe(v2.length);
    expect(second.newBytes).toBeLessThan(v2.length / 3);
    expect(second.newBytes).toBeGreaterThan(0);

    // A fresh clone finds the LFS url in .lfsconfig and downloads every version byte for byte.
    await gitOk(env, root, ['clone', '-q', join(root, 'remote.git'), 'clone']);
    const clone = join(root, 'clone');
    expect((await readFile(join(clone, 'model.safetensors'))).equals(Buffer.from(v2))).toBe(true);
    await gitOk(env, clone, ['checkout', '-q', 'HEAD~1']);
    expect((await readFile(join(clone, 'model.safetensors'))).equals(Buffer.from(v1))).toBe(true);
    expect((await server.backend.registry.auditVerify()).ok).toBe(true);
  });

  it('locks and unlocks a file, in the audit trail', async () => {
    const locked = await gitOk(env, work, ['lfs', 'lock', 'model.safetensors']);
    expect(locked.stdout + locked.stderr).toMatch(/Locked model\.safetensors/);
    const listed = await gitOk(env, work, ['lfs', 'locks']);
    expect(listed.stdout).toMatch(new RegExp(`model\\.safetensors\\s+${ACTOR}\\s+ID:[0-9a-f]{32}`));
    // A second lock of the same path is refused (409), naming the holder.
    const again = await git(env, work, ['lfs', 'lock', 'model.safetensors']);
    expect(again.code).not.toBe(0);
    // Pushing with our own lock in place works (the push verifies locks: ours, not theirs).
    await writeFile(join(work, 'notes.txt'), 'locked push\n');
    await gitOk(env, work, ['add', 'notes.txt']);
    await gitOk(env, work, ['commit', '-q', '-m', 'notes']);
    await gitOk(env, work, ['push', '-q', 'origin', 'main']);
    await gitOk(env, work, ['lfs', 'unlock', 'model.safetensors']);
    expect((await gitOk(env, work, ['lfs', 'locks'])).stdout.trim()).toBe('');
    const events = await server.backend.registry.auditLog({
      actions: ['lfs.lock.created', 'lfs.lock.deleted'],
      order: 'asc',
    });
    expect(events.items.map((e) => [e.action, (e.data as { path: string }).path])).toEqual([
      ['lfs.lock.created', 'model.safetensors'],
      ['lfs.lock.deleted', 'model.safetensors'],
    ]);
  });

  it('resumes a push whose upload was cut off, with nothing half-stored in between', async () => {
    const proxy = new CuttingProxy(Number(new URL(server.url).port));
    const port = await proxy.listen();
    try {
      // The local config overrides .lfsconfig: this push goes through the proxy.
      await gitOk(env, work, ['config', 'lfs.url', `http://127.0.0.1:${port}/lfs/team/llama-ft`]);
      await gitOk(env, work, ['config', 'lfs.transfer.maxretries', '1']);
      const v3 = checkpoint(3);
      await writeFile(join(work, 'model.safetensors'), v3);
      await gitOk(env, work, ['commit', '-q', '-am', 'v3']);

      proxy.cutUploads = true;
      const cut = await git(env, work, ['push', '-q', 'origin', 'main']);
      expect(cut.code).not.toBe(0);
      expect(proxy.cuts).toBeGreaterThan(0);
      // The half-sent object is not visible: the server still asks for it.
      const [state] = (await batch('upload', [{ oid: sha256(v3), size: v3.length }])).objects;
      expect(state?.actions?.upload).toBeDefined();
      expect((await fetch(`${lfsUrl}/objects/${sha256(v3)}`)).status).toBe(404);

      proxy.cutUploads = false;
      await gitOk(env, work, ['push', '-q', 'origin', 'main']);
      const [after] = (await batch('download', [{ oid: sha256(v3), size: v3.length }])).objects;
      expect(after?.actions?.download).toBeDefined();
      const got = Buffer.from(await (await fetch(`${lfsUrl}/objects/${sha256(v3)}`)).arrayBuffer());
      expect(got.equals(Buffer.from(v3))).toBe(true);
    } finally {
      await gitOk(env, work, ['config', '--unset', 'lfs.url']);
      await proxy.close();
    }
  });

  it('refuses an upload whose bytes do not match the oid (422), storing nothing', async () => {
    const real = checkpoint(9);
    const oid = sha256(real);
    const corrupted = Buffer.from(real);
    corrupted[corrupted.length - 1]! ^= 0xff;
    const before = (await uploads()).length;
    const r = await fetch(`${lfsUrl}/objects/${oid}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: corrupted,
    });
    expect(r.status).toBe(422);
    expect(r.headers.get('content-type')).toMatch(/^application\/vnd\.git-lfs\+json/);
    expect(((await r.json()) as { message: string }).message).toMatch(/not to the oid/);
    // A wrong size (announced in the upload href) is refused the same way.
    const short = await fetch(`${lfsUrl}/objects/${oid}?size=${real.length + 1}`, {
      method: 'PUT',
      body: real,
    });
    expect(short.status).toBe(422);
    expect((await uploads()).length).toBe(before);
    const [state] = (await batch('download', [{ oid, size: real.length }])).objects;
    expect(state?.error?.code).toBe(404);
    expect(await server.backend.store.hasFile(oid as never)).toBe(false);
  });

  it('keeps every LFS object through garbage collection (LFS objects are roots)', async () => {
    const oids = (await uploads()).map((e) => e.data as { oid: string; size: number });
    expect(oids.length).toBe(3);
    // The test server opens a registry directory: gc and fsck are there.
    const registry = server.backend.registry;
    const report = await registry.gc({ graceMs: 0 });
    await registry.gc({ graceMs: 0 }); // a second pass sweeps tombstones
    for (const { oid } of oids) {
      const r = await fetch(`${lfsUrl}/objects/${oid}`);
      expect(r.status).toBe(200);
      expect(sha256(Buffer.from(await r.arrayBuffer()))).toBe(oid);
    }
    // Downloads honour Range (a resumed download), from the same verified chunks.
    const { oid } = oids[0]!;
    const whole = Buffer.from(await (await fetch(`${lfsUrl}/objects/${oid}`)).arrayBuffer());
    const part = await fetch(`${lfsUrl}/objects/${oid}`, { headers: { range: 'bytes=1000-4999' } });
    expect(part.status).toBe(206);
    expect(Buffer.from(await part.arrayBuffer()).equals(whole.subarray(1000, 5000))).toBe(true);
    expect((await registry.fsck()).ok).toBe(true);
    expect(report.liveManifests).toBeGreaterThanOrEqual(3);
  });

  it('registers a git commit as a model version (mvault import-git), reusing stored LFS bytes', async () => {
    type Imported = { version: ModelVersion; stats: TransferStats; git: GitSnapshot };
    const head = (await gitOk(env, work, ['rev-parse', 'HEAD'])).stdout.trim();
    const v3 = await readFile(join(work, 'model.safetensors'));
    const remote = (...args: string[]) =>
      mvaultOk(['--registry', server.url, '--json', 'import-git', ...args], { cwd: root });
    const first = (await remote('llama-ft', work, 'main')).json<Imported>();
    expect(first.git).toMatchObject({ commit: head, ref: 'refs/heads/main', lfsFiles: 1 });
    expect(first.version.lineage.code).toMatchObject({ gitCommit: head, gitDirty: false });
    expect(first.version.lineage.code?.gitRemote).toBe(join(root, 'remote.git'));
    expect(first.version.tags['git.ref']).toBe('refs/heads/main');
    // The checkpoint was already stored by the LFS push: only the small files are new.
    expect(first.stats.bytes).toBeGreaterThan(v3.length);
    expect(first.stats.newBytes).toBeLessThan(4096);

    // A clone that never fetched its LFS objects: the bytes come from the registry.
    await gitOk({ ...env, GIT_LFS_SKIP_SMUDGE: '1' }, root, [
      'clone',
      '-q',
      join(root, 'remote.git'),
      'pointers',
    ]);
    const pointers = join(root, 'pointers');
    const second = (await remote('llama-ft', pointers, 'HEAD~1')).json<Imported>();
    expect(second.git).toMatchObject({ lfsFiles: 1, fromRegistry: 1 });
    await mvaultOk(['--registry', server.url, 'pull', 'llama-ft@2', 'pulled'], { cwd: root });
    const v2 = (await gitOk(env, work, ['show', 'HEAD~2:model.safetensors'])).stdout;
    // HEAD~1 is the locks test's notes commit, whose checkpoint is v2.
    expect(v2).toContain('oid sha256:');
    const pulled = await readFile(join(root, 'pulled', 'model.safetensors'));
    expect(pulled.equals(v3)).toBe(false);
    expect(sha256(pulled)).toBe(/oid sha256:([0-9a-f]{64})/.exec(v2)?.[1]);

    // An embedded registry without those bytes says where to get them.
    await mvaultOk(['init', 'embedded'], { cwd: root });
    const local = ['--registry', join(root, 'embedded')];
    const missing = await mvault([...local, 'import-git', 'llama-ft', pointers], { cwd: root });
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/git lfs fetch/);
    const embedded = (
      await mvaultOk([...local, '--json', 'import-git', 'llama-ft', work], { cwd: root })
    ).json<Imported>();
    expect(embedded.git.fromRegistry).toBe(0);
    await mvaultOk([...local, 'pull', 'llama-ft@1', 'embedded-pull'], { cwd: root });
    expect((await readFile(join(root, 'embedded-pull', 'model.safetensors'))).equals(v3)).toBe(
      true,
    );
  });
});

/**
 * Per-repository permissions of the Git LFS server, driven by the real `git` and `git-lfs`
 * clients against a server with authentication on. Each user has their own HOME with
 * git's `store` credential helper holding `user:token` for the server (what git-lfs sends
 * as HTTP Basic). The default permission is NO_PERMISSIONS, so only grants open a
 * repository: its creator (first push) gets MANAGE and grants READ and EDIT over the REST
 * API; a READ user clones but cannot push or lock, an EDIT user pushes and locks, MANAGE
 * force-unlocks another user's lock, and a user without a grant (or without credentials)
 * gets nothing. The batch answer's actions carry a signed capability for one method and
 * path, which git-lfs follows (the object is marked `authenticated`).
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mvaultOk } from '../support/cli.js';
import { checkpoint, git, gitEnvironment, gitOk } from './support/git-lfs.js';
import { startTestServer, type TestServer } from './support/test-server.js';

const LFS_JSON = 'application/vnd.git-lfs+json';
const USERS = ['olga', 'rita', 'ed', 'out'] as const;
type User = (typeof USERS)[number];

let server: TestServer;
let root: string;
let lfsUrl: string;
const env = new Map<User, NodeJS.ProcessEnv>();
const token = new Map<User, string>();

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const remote = () => join(root, 'remote.git');

async function uploadedOids(): Promise<{ oid: string; actor: string }[]> {
  const page = await server.backend.registry.auditLog({
    actions: ['lfs.object.uploaded'],
    order: 'asc',
  });
  return page.items.map((e) => ({ oid: (e.data as { oid: string }).oid, actor: e.actor }));
}

function lfsFetch(path: string, user: User | undefined, init: RequestInit = {}) {
  return fetch(`${lfsUrl}${path}`, {
    ...init,
    headers: {
      'content-type': LFS_JSON,
      accept: LFS_JSON,
      ...(user ? { authorization: `Bearer ${token.get(user)}` } : {}),
      ...(init.headers as Record<string, string> | undefined),
    },
  });
}

beforeAll(async () => {
  server = await startTestServer();
  root = await mkdtemp(join(tmpdir(), 'mv-lfs-auth-'));
  lfsUrl = `${server.url}/lfs/team/vision`;
  const { access } = server.backend;
  await access.users.create({ name: 'root', password: 'root-password', admin: true }, 'setup');
  await access.permissions.setDefaultLevel('NO_PERMISSIONS', 'setup');
  const host = new URL(server.url).host;
  for (const user of USERS) {
    await access.users.create({ name: user, password: `${user}-password` }, 'setup');
    const t = (await access.users.createToken({ name: 'git', user }, 'setup')).token;
    token.set(user, t);
    const home = join(root, `home-${user}`);
    const e = await gitEnvironment(home);
    await gitOk(e, root, ['lfs', 'install', '--skip-repo']);
    await gitOk(e, root, ['config', '--global', 'credential.helper', 'store']);
    await writeFile(join(home, '.git-credentials'), `http://${user}:${t}@${host}\n`, {
      mode: 0o600,
    });
    env.set(user, e);
  }
  await gitOk(env.get('olga')!, root, ['init', '-q', '--bare', '-b', 'main', 'remote.git']);
}, 120_000);

afterAll(async () => {
  await server?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('Git LFS with per-repository permissions', () => {
  it('the first push creates the repository and makes its pusher MANAGE', async () => {
    const olga = env.get('olga')!;
    await gitOk(olga, root, ['init', '-q', '-b', 'main', 'olga']);
    const work = join(root, 'olga');
    await gitOk(olga, work, ['remote', 'add', 'origin', remote()]);
    await gitOk(olga, work, ['config', '-f', '.lfsconfig', 'lfs.url', lfsUrl]);
    await gitOk(olga, work, ['lfs', 'track', '*.safetensors']);
    await writeFile(join(work, 'model.safetensors'), checkpoint(1));
    await gitOk(olga, work, ['add', '.gitattributes', '.lfsconfig', 'model.safetensors']);
    await gitOk(olga, work, ['commit', '-q', '-m', 'v1']);
    await gitOk(olga, work, ['push', '-q', 'origin', 'main']);
    expect(await uploadedOids()).toEqual([{ oid: sha256(checkpoint(1)), actor: 'olga' }]);
    const grants = await server.backend.access.permissions.list({
      kind: 'lfs_repo',
      resource: 'team/vision',
    });
    expect(grants).toEqual([
      { user: 'olga', kind: 'lfs_repo', resource: 'team/vision', level: 'MANAGE' },
    ]);

    // MANAGE on the repository (no admin) grants others: over the REST API…
    const r = await fetch(`${server.url}/api/v1/lfs/team/vision/permissions/rita`, {
      method: 'PUT',
      headers: {
        authorization: `Bearer ${token.get('olga')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ level: 'READ' }),
    });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({
      user: 'rita',
      kind: 'lfs_repo',
      resource: 'team/vision',
      level: 'READ',
    });
    // …and with the CLI (`perm grant --lfs`, `perm ls --lfs`).
    const cli = (args: string[]) =>
      mvaultOk(['--registry', server.url, ...args], {
        cwd: root,
        env: { MODELVAULT_TOKEN: token.get('olga'), XDG_CONFIG_HOME: join(root, 'cli-config') },
      });
    const granted = await cli(['perm', 'grant', 'ed', 'edit', '--lfs', 'team/vision']);
    expect(granted.stdout).toContain('ed has EDIT on LFS repository team/vision');
    const listed = await cli(['--json', 'perm', 'ls', '--lfs', 'team/vision']);
    expect(listed.json<{ permissions: { user: string; level: string }[] }>().permissions).toEqual([
      { user: 'ed', kind: 'lfs_repo', resource: 'team/vision', level: 'EDIT' },
      { user: 'olga', kind: 'lfs_repo', resource: 'team/vision', level: 'MANAGE' },
      { user: 'rita', kind: 'lfs_repo', resource: 'team/vision', level: 'READ' },
    ]);
    // EDIT is not enough to grant.
    const denied = await fetch(`${server.url}/api/v1/lfs/team/vision/permissions/out`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token.get('ed')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ level: 'READ' }),
    });
    expect(denied.status).toBe(403);
  });

  it('a READ user clones and pulls but cannot push', async () => {
    const rita = env.get('rita')!;
    await gitOk(rita, root, ['clone', '-q', remote(), 'rita']);
    const work = join(root, 'rita');
    expect(
      (await readFile(join(work, 'model.safetensors'))).equals(Buffer.from(checkpoint(1))),
    ).toBe(true);
    await writeFile(join(work, 'model.safetensors'), checkpoint(7));
    await gitOk(rita, work, ['commit', '-q', '-am', 'rita tries']);
    const push = await git(rita, work, ['push', '-q', 'origin', 'main']);
    expect(push.code).not.toBe(0);
    expect(push.stderr).toContain(
      "user 'rita' needs EDIT on LFS repository 'team/vision' (has READ)",
    );
    expect((await uploadedOids()).map((u) => u.oid)).not.toContain(sha256(checkpoint(7)));
    // Nor lock (EDIT), while listing locks is READ.
    const lock = await git(rita, work, ['lfs', 'lock', 'model.safetensors']);
    expect(lock.code).not.toBe(0);
    await gitOk(rita, work, ['lfs', 'locks']);
    await gitOk(rita, work, ['reset', '-q', '--hard', 'origin/main']);
  });

  it('an EDIT user pushes; the READ user pulls it', async () => {
    const ed = env.get('ed')!;
    await gitOk(ed, root, ['clone', '-q', remote(), 'ed']);
    const work = join(root, 'ed');
    await writeFile(join(work, 'model.safetensors'), checkpoint(2));
    await gitOk(ed, work, ['commit', '-q', '-am', 'v2']);
    await gitOk(ed, work, ['push', '-q', 'origin', 'main']);
    expect((await uploadedOids()).at(-1)).toEqual({ oid: sha256(checkpoint(2)), actor: 'ed' });

    const rita = env.get('rita')!;
    await gitOk(rita, join(root, 'rita'), ['pull', '-q', '--ff-only', 'origin', 'main']);
    expect(
      (await readFile(join(root, 'rita', 'model.safetensors'))).equals(Buffer.from(checkpoint(2))),
    ).toBe(true);
  });

  it('a user without a grant, or without credentials, gets nothing', async () => {
    for (const who of ['out', 'nobody'] as const) {
      const e = who === 'out' ? env.get('out')! : await gitEnvironment(join(root, 'home-nobody'));
      if (who === 'nobody') await gitOk(e, root, ['lfs', 'install', '--skip-repo']);
      const clone = await git(e, root, ['clone', '-q', remote(), `clone-${who}`]);
      // git clones the pointers, but the LFS smudge is refused.
      expect(clone.code).not.toBe(0);
      expect(clone.stderr).toMatch(/smudge|[Aa]uthoriz|404|401|[Cc]redentials/);
    }
    // Over HTTP: a user without a grant sees the repository as absent; anonymous is 401.
    const hidden = await lfsFetch('/locks', 'out');
    expect(hidden.status).toBe(404);
    expect((await lfsFetch('/locks', undefined)).status).toBe(401);
  });

  it('locks: EDIT locks and unlocks its own; only MANAGE forces another user’s open', async () => {
    const ed = env.get('ed')!;
    const work = join(root, 'ed');
    await gitOk(ed, work, ['lfs', 'lock', 'model.safetensors']);
    const locks = (await (await lfsFetch('/locks', 'rita')).json()) as {
      locks: { id: string; owner: { name: string } }[];
    };
    expect(locks.locks.map((l) => l.owner.name)).toEqual(['ed']);
    const id = locks.locks[0]!.id;

    // Olga (MANAGE) locks another file; ed (EDIT) may not force it open.
    const olgaLock = await lfsFetch('/locks', 'olga', {
      method: 'POST',
      body: JSON.stringify({ path: 'other.bin' }),
    });
    expect(olgaLock.status).toBe(201);
    const olgaId = ((await olgaLock.json()) as { lock: { id: string } }).lock.id;
    const edForces = await lfsFetch(`/locks/${olgaId}/unlock`, 'ed', {
      method: 'POST',
      body: JSON.stringify({ force: true }),
    });
    expect(edForces.status).toBe(403);
    // Without force, the answer is the spec's 403 for another user's lock.
    const edTries = await lfsFetch(`/locks/${olgaId}/unlock`, 'ed', {
      method: 'POST',
      body: JSON.stringify({}),
    });
    expect(edTries.status).toBe(403);

    // Olga forces ed's lock open with the real client.
    await gitOk(env.get('olga')!, join(root, 'olga'), ['lfs', 'unlock', '--force', '--id', id]);
    const after = (await (await lfsFetch('/locks', 'ed')).json()) as {
      locks: { id: string }[];
    };
    expect(after.locks.map((l) => l.id)).toEqual([olgaId]);
    const deleted = await server.backend.registry.auditLog({ actions: ['lfs.lock.deleted'] });
    expect(deleted.items[0]).toMatchObject({
      actor: 'olga',
      data: { id, owner: 'ed', forced: true },
    });
  });

  it('batch actions carry a capability for one method and path, refused anywhere else', async () => {
    const v2 = checkpoint(2);
    const batch = await lfsFetch('/objects/batch', 'rita', {
      method: 'POST',
      body: JSON.stringify({
        operation: 'download',
        objects: [{ oid: sha256(v2), size: v2.length }],
      }),
    });
    expect(batch.status).toBe(200);
    const object = (
      (await batch.json()) as {
        objects: {
          authenticated?: boolean;
          actions: { download: { href: string; header: { Authorization: string } } };
        }[];
      }
    ).objects[0]!;
    expect(object.authenticated).toBe(true);
    const { href, header } = object.actions.download;
    expect(href).toBe(`${lfsUrl}/objects/${sha256(v2)}`);
    expect(header.Authorization).toMatch(/^Bearer mvs1\./);
    expect(header.Authorization).not.toContain(token.get('rita'));

    const got = await fetch(href, { headers: { authorization: header.Authorization } });
    expect(got.status).toBe(200);
    expect(Buffer.from(await got.arrayBuffer()).equals(Buffer.from(v2))).toBe(true);
    // Another object, another method, a tampered capability: 401.
    const v1 = sha256(checkpoint(1));
    const other = await fetch(`${lfsUrl}/objects/${v1}`, {
      headers: { authorization: header.Authorization },
    });
    expect(other.status).toBe(401);
    const put = await fetch(href, {
      method: 'PUT',
      headers: { authorization: header.Authorization },
      body: v2,
    });
    expect(put.status).toBe(401);
    const tampered = `${header.Authorization.slice(0, -2)}${header.Authorization.endsWith('A') ? 'B' : 'A'}A`;
    expect((await fetch(href, { headers: { authorization: tampered } })).status).toBe(401);

    // Upload actions need EDIT: the READ user's upload batch is 403, the EDIT user's is not.
    const upload = (user: User) =>
      lfsFetch('/objects/batch', user, {
        method: 'POST',
        body: JSON.stringify({ operation: 'upload', objects: [{ oid: '1'.repeat(64), size: 3 }] }),
      });
    expect((await upload('rita')).status).toBe(403);
    const edUpload = (await (await upload('ed')).json()) as {
      objects: { actions: { upload: { header: { Authorization: string } } } }[];
    };
    expect(edUpload.objects[0]!.actions.upload.header.Authorization).toMatch(/^Bearer mvs1\./);
  });
});

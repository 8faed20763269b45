/**
 * Revoking signed request capabilities before they expire, over real HTTP: a signed
 * download URL and a Git LFS batch action header die when the token that minted them is
 * revoked, when their user's capabilities are revoked (REST and `mvault token
 * revoke-capabilities`), when the user's password changes and when the user is disabled
 * (and stay dead when re-enabled); capabilities minted by other tokens, by other users or
 * afterwards keep working. Each revocation is audited.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  modelFiles,
  startTestServer,
  type TestServer,
  writeTree,
} from '../server/support/test-server.js';
import { mvault } from '../support/cli.js';

let server: TestServer;
let work: string;
const files = modelFiles(0);
const fileName = Object.keys(files).find((f) => f.endsWith('.safetensors'))!;
const filePath = `/api/v1/versions/${encodeURIComponent('m@1')}/files/${fileName}`;
const LFS_JSON = 'application/vnd.git-lfs+json';

/** `Bearer <token>` or Basic user:password. */
type Credential = { token: string } | { user: string; password: string };

function authorization(c: Credential): string {
  return 'token' in c
    ? `Bearer ${c.token}`
    : `Basic ${Buffer.from(`${c.user}:${c.password}`).toString('base64')}`;
}

async function newToken(user: string): Promise<{ token: string; id: string }> {
  const t = await server.backend.access.users.createToken({ name: 'ui', user }, 'setup');
  return { token: t.token, id: t.id };
}

function api(c: Credential, method: string, path: string, body?: unknown) {
  return fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: authorization(c),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** A signed download URL of the model file, minted with `c`. */
async function signedUrl(c: Credential): Promise<string> {
  const r = await api(c, 'POST', '/api/v1/signed-urls', { path: filePath });
  expect(r.status).toBe(200);
  return ((await r.json()) as { url: string }).url;
}

/** The status of downloading a signed URL, with no credential of its own. */
async function download(url: string): Promise<number> {
  const r = await fetch(`${server.url}${url}`);
  await r.arrayBuffer();
  return r.status;
}

interface LfsAction {
  readonly href: string;
  readonly header: { Authorization: string };
}

/** One action of an LFS batch answer for `data`, minted with `c`. */
async function lfsAction(
  c: Credential,
  operation: 'upload' | 'download',
  data: Buffer,
): Promise<LfsAction> {
  const r = await fetch(`${server.url}/lfs/team/weights/objects/batch`, {
    method: 'POST',
    headers: { authorization: authorization(c), 'content-type': LFS_JSON, accept: LFS_JSON },
    body: JSON.stringify({ operation, objects: [{ oid: sha256(data), size: data.length }] }),
  });
  expect(r.status).toBe(200);
  const body = (await r.json()) as {
    objects: { actions?: Record<string, LfsAction> }[];
  };
  const action = body.objects[0]?.actions?.[operation];
  expect(action?.header.Authorization).toMatch(/^Bearer mvs1\./);
  return action!;
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function upload(action: LfsAction, data: Buffer): Promise<number> {
  const r = await fetch(action.href, {
    method: 'PUT',
    headers: { authorization: action.header.Authorization },
    body: data,
  });
  await r.arrayBuffer();
  return r.status;
}

async function fetchObject(action: LfsAction): Promise<number> {
  const r = await fetch(action.href, { headers: { authorization: action.header.Authorization } });
  await r.arrayBuffer();
  return r.status;
}

const root: Credential = { user: 'root', password: 'root-password' };

beforeAll(async () => {
  server = await startTestServer();
  work = await mkdtemp(join(tmpdir(), 'mv-caprevoke-'));
  await writeTree(join(work, 'm'), files);
  await server.client().push(join(work, 'm'), { model: 'm' }); // open: no users yet
  const { access } = server.backend;
  await access.users.create({ name: 'root', password: 'root-password', admin: true }, 'setup');
  for (const name of ['rita', 'sam', 'dora', 'pia']) {
    await access.users.create({ name, password: `${name}-password` }, 'setup');
  }
  // Default READ: everyone reads the model; LFS uploads need EDIT, granted below.
  await access.permissions.grant(
    { user: 'rita', kind: 'registered_model', resource: 'm', level: 'READ' },
    'setup',
  );
}, 120_000);

afterAll(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('revoking signed request capabilities', () => {
  it('revoking a token kills the signed URLs and LFS actions it minted, and only those', async () => {
    const first = await newToken('rita');
    const second = await newToken('rita');
    const byFirst = await signedUrl(first);
    const bySecond = await signedUrl(second);
    const byPassword = await signedUrl({ user: 'rita', password: 'rita-password' });
    const data = randomBytes(3000);
    const putByFirst = await lfsAction(first, 'upload', data); // rita creates team/weights
    const putBySecond = await lfsAction(second, 'upload', data);
    for (const url of [byFirst, bySecond, byPassword]) expect(await download(url)).toBe(200);

    const revoked = await api(second, 'DELETE', `/api/v1/tokens/${first.id}`);
    expect(revoked.status).toBe(200);
    // Long before their expiry (5 minutes, 1 hour): refused now.
    expect(await download(byFirst)).toBe(401);
    expect(await upload(putByFirst, data)).toBe(401);
    // Those minted by the other token or the password are not touched.
    expect(await download(bySecond)).toBe(200);
    expect(await download(byPassword)).toBe(200);
    expect(await upload(putBySecond, data)).toBe(200);
    const getBySecond = await lfsAction(second, 'download', data);
    expect(await fetchObject(getBySecond)).toBe(200);
    // The revoked token mints nothing more either.
    expect((await api(first, 'POST', '/api/v1/signed-urls', { path: filePath })).status).toBe(401);
  });

  it('revoke-capabilities (REST) kills every capability of the user minted before, not after', async () => {
    const rita = await newToken('rita');
    const sam = await newToken('sam');
    const ritaUrl = await signedUrl(rita);
    const ritaPasswordUrl = await signedUrl({ user: 'rita', password: 'rita-password' });
    const data = randomBytes(2000);
    const put = await lfsAction(rita, 'upload', data);
    expect(await upload(put, data)).toBe(200);
    const get = await lfsAction(rita, 'download', data);
    const samUrl = await signedUrl(sam);

    // Someone else's: only an admin.
    expect((await api(sam, 'DELETE', '/api/v1/users/rita/capabilities')).status).toBe(403);
    const r = await api(rita, 'DELETE', '/api/v1/users/rita/capabilities');
    expect(r.status).toBe(200);
    const body = (await r.json()) as { user: string; revokedAt: number };
    expect(body.user).toBe('rita');

    expect(await download(ritaUrl)).toBe(401);
    expect(await download(ritaPasswordUrl)).toBe(401);
    expect(await fetchObject(get)).toBe(401);
    // The token itself still works, and what it mints now is valid.
    expect(await download(await signedUrl(rita))).toBe(200);
    expect(await fetchObject(await lfsAction(rita, 'download', data))).toBe(200);
    // Another user's are not touched, until an admin revokes them.
    expect(await download(samUrl)).toBe(200);
    expect((await api(root, 'DELETE', '/api/v1/users/sam/capabilities')).status).toBe(200);
    expect(await download(samUrl)).toBe(401);
    expect((await api(root, 'DELETE', '/api/v1/users/nobody/capabilities')).status).toBe(404);

    const events = await server.backend.registry.auditLog({
      actions: ['user.capabilities_revoked'],
    });
    expect(events.items.map((e) => [e.actor, e.subject])).toEqual(
      expect.arrayContaining([
        ['rita', 'user:rita'],
        ['root', 'user:sam'],
      ]),
    );
  });

  it('`mvault token revoke-capabilities` revokes the caller’s; an admin names a user', async () => {
    const dora = await newToken('dora');
    const url = await signedUrl(dora);
    const cwd = work;
    const env = { MODELVAULT_TOKEN: dora.token, XDG_CONFIG_HOME: join(work, 'config') };
    const r = await mvault(['--registry', server.url, 'token', 'revoke-capabilities'], {
      cwd,
      env,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('dora');
    expect(await download(url)).toBe(401);

    const fresh = await signedUrl(dora);
    const refused = await mvault(
      ['--registry', server.url, 'token', 'revoke-capabilities', '--user', 'sam'],
      { cwd, env },
    );
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/only an admin/);
    expect(await download(fresh)).toBe(200);

    const admin = await newToken('root');
    const byAdmin = await mvault(
      ['--registry', server.url, '--json', 'token', 'revoke-capabilities', '--user', 'dora'],
      { cwd, env: { ...env, MODELVAULT_TOKEN: admin.token } },
    );
    expect(byAdmin.code, byAdmin.stderr).toBe(0);
    expect(byAdmin.json()).toMatchObject({ user: 'dora' });
    expect(await download(fresh)).toBe(401);
  });

  it('a password change kills the user’s capabilities', async () => {
    const pia = await newToken('pia');
    const byToken = await signedUrl(pia);
    const byPassword = await signedUrl({ user: 'pia', password: 'pia-password' });
    const r = await api(pia, 'PUT', '/api/v1/users/pia/password', {
      password: 'pia-new-password',
    });
    expect(r.status).toBe(204);
    expect(await download(byToken)).toBe(401);
    expect(await download(byPassword)).toBe(401);
    expect(await download(await signedUrl(pia))).toBe(200);
    expect(await download(await signedUrl({ user: 'pia', password: 'pia-new-password' }))).toBe(
      200,
    );
  });

  it('disabling a user kills their capabilities, and re-enabling does not revive them', async () => {
    const sam = await newToken('sam');
    const url = await signedUrl(sam);
    const data = randomBytes(1000);
    await server.backend.access.permissions.grant(
      { user: 'sam', kind: 'lfs_repo', resource: 'team/weights', level: 'EDIT' },
      'setup',
    );
    const put = await lfsAction(sam, 'upload', data);
    const ritaUrl = await signedUrl({ user: 'rita', password: 'rita-password' });
    expect((await api(root, 'PATCH', '/api/v1/users/sam', { disabled: true })).status).toBe(200);
    expect(await download(url)).toBe(401);
    expect(await upload(put, data)).toBe(401);
    expect((await api(root, 'PATCH', '/api/v1/users/sam', { disabled: false })).status).toBe(200);
    expect(await download(url)).toBe(401);
    expect(await upload(put, data)).toBe(401);
    // The token survives (it was never revoked) and mints valid ones again.
    expect(await download(await signedUrl(sam))).toBe(200);
    expect(await upload(await lfsAction(sam, 'upload', data), data)).toBe(200);
    // Another user's capability was never affected.
    expect(await download(ritaUrl)).toBe(200);
  });
});

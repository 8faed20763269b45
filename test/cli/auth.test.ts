/**
 * Users, login and tokens from the CLI against a real server: the first user is added
 * embedded (on the registry directory the server serves), which turns authentication on;
 * then login stores a token (0600), remote commands use it, tokens are created, listed and
 * revoked, MODELVAULT_TOKEN works without a login, and logout revokes and forgets.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../server/support/test-server.js';
import { mvault, mvaultOk } from '../support/cli.js';

let server: TestServer;
let cwd: string;
let config: string;

beforeAll(async () => {
  server = await startTestServer();
  cwd = await mkdtemp(join(tmpdir(), 'mv-cli-auth-'));
  config = join(cwd, 'config');
});
afterAll(async () => {
  await server?.close();
  await rm(cwd, { recursive: true, force: true });
});

describe('mvault login, user, token, perm', () => {
  it('signs in, keeps a 0600 token per server, and uses it for remote commands', async () => {
    const env = { XDG_CONFIG_HOME: config };
    const local = join(server.dir, 'registry');
    // Embedded: works on the served registry's database directly.
    await mvaultOk(['--registry', local, 'user', 'add', 'admin', '--admin', '--password-stdin'], {
      cwd,
      input: 'admin-password\n',
    });
    const users = (await mvaultOk(['--registry', local, '--json', 'user', 'ls'], { cwd })).json<{
      users: { name: string; admin: boolean }[];
    }>();
    expect(users.users).toEqual([expect.objectContaining({ name: 'admin', admin: true })]);

    // The server now asks for credentials.
    const anonymous = await mvault(['--registry', server.url, 'ls'], { cwd, env });
    expect(anonymous.code).toBe(1);
    expect(anonymous.stderr).toMatch(/authentication required/);
    const wrong = await mvault(['login', server.url, '-u', 'admin', '--password-stdin'], {
      cwd,
      env,
      input: 'nope-nope-nope',
    });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/invalid credentials/);

    const login = await mvaultOk(
      ['--json', 'login', `${server.url}/`, '-u', 'admin', '--password-stdin'],
      { cwd, env, input: 'admin-password\n' },
    );
    const tokenId = login.json<{ tokenId: string }>().tokenId;
    const file = join(config, 'modelvault', 'credentials.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(await readFile(file, 'utf8'));
    expect(stored.servers[server.url]).toMatchObject({ user: 'admin', tokenId });
    expect(stored.servers[server.url].token).toMatch(/^mvt_/);

    const r = (...args: string[]) => mvaultOk(['--registry', server.url, ...args], { cwd, env });
    await server.backend.registry.createModel({ name: 'fraud' });
    expect((await r('--json', 'ls')).json<{ items: unknown[] }>().items).toHaveLength(1);

    // Remote administration through the API.
    await mvaultOk(['--registry', server.url, 'user', 'add', 'bob', '--password-stdin'], {
      cwd,
      env,
      input: 'bob-password',
    });
    await r('perm', 'grant', 'bob', 'edit', '--model', 'fraud');
    const perms = (await r('--json', 'perm', 'ls', '--model', 'fraud')).json<{
      permissions: unknown[];
    }>();
    expect(perms.permissions).toEqual([
      { user: 'bob', kind: 'registered_model', resource: 'fraud', level: 'EDIT' },
    ]);
    await r('perm', 'default', 'NO_PERMISSIONS');
    expect((await r('--json', 'perm', 'default')).json()).toEqual({ default: 'NO_PERMISSIONS' });

    // A token for a CI job: printed once, works as MODELVAULT_TOKEN without any login.
    const created = (await r('--json', 'token', 'create', 'ci', '--user', 'bob')).json<{
      id: string;
      token: string;
    }>();
    const ci = { XDG_CONFIG_HOME: join(cwd, 'empty'), MODELVAULT_TOKEN: created.token };
    const asBob = await mvaultOk(['--registry', server.url, '--json', 'ls'], { cwd, env: ci });
    expect(asBob.json<{ items: { name: string }[] }>().items.map((m) => m.name)).toEqual(['fraud']);
    // bob cannot administer users.
    const denied = await mvault(['--registry', server.url, 'user', 'ls'], { cwd, env: ci });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/admin/);
    const listed = (await r('--json', 'token', 'ls', '--user', 'bob')).json<{
      tokens: { id: string }[];
    }>();
    expect(listed.tokens.map((t) => t.id)).toEqual([created.id]);
    await r('token', 'revoke', created.id);
    const revoked = await mvault(['--registry', server.url, 'ls'], { cwd, env: ci });
    expect(revoked.code).toBe(1);

    // logout revokes the stored token and forgets it.
    const token = stored.servers[server.url].token as string;
    await mvaultOk(['--registry', server.url, 'logout'], { cwd, env });
    const after = JSON.parse(await readFile(file, 'utf8'));
    expect(after.servers[server.url]).toBeUndefined();
    const res = await fetch(`${server.url}/api/v1/models`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(401);
    const events = await server.backend.registry.auditLog({ actor: 'admin' });
    expect(events.items.map((e) => e.action)).toEqual(
      expect.arrayContaining([
        'token.created',
        'user.created',
        'permission.granted',
        'token.revoked',
      ]),
    );
  }, 180_000);
});

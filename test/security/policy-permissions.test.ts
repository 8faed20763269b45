/**
 * Who may change promotion policies, against a real server with authentication on, over
 * the REST API and through the real `mvault` binary (which calls the same routes): MANAGE
 * on a model changes its policies, EDIT does not (an editor moves aliases, so it must not
 * loosen what binds it), registry-wide defaults need an admin. Reading is scoped: the
 * policy list leaves out models the user may not read.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, storedManifest, type TestServer } from '../server/support/test-server.js';
import { mvault } from '../support/cli.js';

let server: TestServer;
let cwd: string;
const tokens = new Map<string, string>();

beforeAll(async () => {
  server = await startTestServer();
  cwd = await mkdtemp(join(tmpdir(), 'mv-policy-perms-'));
  const { access, registry } = server.backend;
  await access.users.create({ name: 'root', password: 'root-password', admin: true }, 'setup');
  for (const name of ['mona', 'eddie', 'rob']) {
    await access.users.create({ name, password: `${name}-password` }, 'setup');
  }
  for (const user of ['root', 'mona', 'eddie', 'rob']) {
    tokens.set(user, (await access.users.createToken({ name: 't', user }, 'setup')).token);
  }
  for (const model of ['m', 'secret']) {
    await registry.createModel({ name: model });
    await registry.createVersion({ model, manifest: await storedManifest(server, 'a') });
  }
  await access.permissions.grant(
    { user: 'mona', kind: 'registered_model', resource: 'm', level: 'MANAGE' },
    'setup',
  );
  await access.permissions.grant(
    { user: 'eddie', kind: 'registered_model', resource: 'm', level: 'EDIT' },
    'setup',
  );
  await access.permissions.grant(
    { user: 'rob', kind: 'registered_model', resource: 'secret', level: 'NO_PERMISSIONS' },
    'setup',
  );
  await registry.setPolicy({ model: 'secret', alias: 'production', rules: { scan: 'safe' } });
}, 120_000);

afterAll(async () => {
  await server?.close();
  if (cwd) await rm(cwd, { recursive: true, force: true });
});

function api(user: string, method: string, path: string, body?: unknown) {
  return fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${tokens.get(user)}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

function cli(user: string, args: string[]) {
  return mvault(['--registry', server.url, ...args], {
    cwd,
    env: { MODELVAULT_TOKEN: tokens.get(user), XDG_CONFIG_HOME: join(cwd, 'config') },
  });
}

describe('promotion policy permissions', () => {
  it('REST: MANAGE sets and deletes a model’s policy, EDIT cannot, defaults need an admin', async () => {
    const rules = { scan: 'no-dangerous' };
    const byEddie = await api('eddie', 'PUT', '/api/v1/policies', {
      model: 'm',
      alias: 'production',
      rules,
    });
    expect(byEddie.status).toBe(403);
    expect(((await byEddie.json()) as { error: { message: string } }).error.message).toContain(
      "needs MANAGE on model 'm' (has EDIT)",
    );
    const byMona = await api('mona', 'PUT', '/api/v1/policies', {
      model: 'm',
      alias: 'production',
      rules,
    });
    expect(byMona.status).toBe(200);
    expect(await byMona.json()).toMatchObject({
      model: 'm',
      alias: 'production',
      updatedBy: 'mona',
    });

    const defaultByMona = await api('mona', 'PUT', '/api/v1/policies', {
      alias: 'production',
      rules,
    });
    expect(defaultByMona.status).toBe(403);
    const defaultByRoot = await api('root', 'PUT', '/api/v1/policies', {
      alias: 'production',
      rules,
    });
    expect(defaultByRoot.status).toBe(200);

    expect((await api('eddie', 'DELETE', '/api/v1/policies?model=m&alias=production')).status).toBe(
      403,
    );
    expect((await api('mona', 'DELETE', '/api/v1/policies?alias=production')).status).toBe(403);
    const deleted = await api('mona', 'DELETE', '/api/v1/policies?model=m&alias=production');
    expect(deleted.status).toBe(200);
    expect(await deleted.json()).toEqual({ deleted: true });
    expect((await api('root', 'DELETE', '/api/v1/policies?alias=production')).status).toBe(200);
    const events = await server.backend.registry.auditLog({
      actions: ['policy.set', 'policy.deleted'],
      order: 'asc',
    });
    expect(events.items.map((e) => `${e.actor} ${e.action} ${e.subject}`)).toEqual([
      'alice policy.set secret',
      'mona policy.set m',
      'root policy.set *',
      'mona policy.deleted m',
      'root policy.deleted *',
    ]);
  });

  it('the CLI over HTTP obeys the same rules', async () => {
    const set = (user: string, ...target: string[]) =>
      cli(user, ['policy', 'set', ...target, '--alias', 'staging', '--scan', 'safe']);
    const refused = await set('eddie', 'm');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("needs MANAGE on model 'm' (has EDIT)");
    const ok = await set('mona', 'm');
    expect(ok.code, ok.stderr).toBe(0);
    expect((await set('mona', '--default')).code).toBe(1);
    expect((await set('root', '--default')).code).toBe(0);
    const rm = await cli('mona', ['policy', 'rm', 'm', '--alias', 'staging']);
    expect(rm.code, rm.stderr).toBe(0);
    expect((await server.backend.registry.listPolicies({ model: 'm' })).length).toBe(0);
  });

  it('lists only the policies of models the user may read', async () => {
    const list = async (user: string) =>
      (
        (await (await api(user, 'GET', '/api/v1/policies')).json()) as {
          policies: { model: string | null }[];
        }
      ).policies.map((p) => p.model);
    expect(await list('root')).toContain('secret');
    expect(await list('rob')).not.toContain('secret');
    expect(await list('rob')).toContain(null); // the default set by root above
    expect((await api('rob', 'GET', '/api/v1/policies?model=secret')).status).toBe(404);
    const check = await api('rob', 'POST', '/api/v1/policies/check', {
      ref: 'secret@1',
      alias: 'production',
    });
    expect(check.status).toBe(404);
  });
});

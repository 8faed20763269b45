/**
 * Authentication over real HTTP: the credentials MLflow's clients send (Basic
 * user:password for MLFLOW_TRACKING_USERNAME/PASSWORD, Basic user:token, Bearer for
 * MLFLOW_TRACKING_TOKEN) through the npm `mlflow` client, token expiry and revocation,
 * failed-login rate limiting, scoping of lists, the audit actor, and a server log that
 * never holds a password or a token.
 */
import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LOG_REDACT } from '../../src/server/app.js';
import { startTestServer, type TestServer } from '../server/support/test-server.js';

// biome-ignore lint/suspicious/noExplicitAny: the package ships loose typings
type Any = any;
const MLflow = createRequire(import.meta.url)('mlflow') as new (o: {
  endpoint: string;
  headers?: Record<string, string>;
}) => Any;

const basic = (user: string, secret: string) =>
  `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;

let server: TestServer;
const logLines: string[] = [];
let aliceToken = '';

beforeAll(async () => {
  const stream = new Writable({
    write(chunk, _enc, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  // Request logs include every header here, so the redaction is what keeps secrets out.
  const logger = pino(
    {
      level: 'trace',
      redact: LOG_REDACT,
      serializers: {
        req: (req: Any) => ({ method: req.method, url: req.url, headers: req.headers }),
      },
    },
    stream,
  );
  server = await startTestServer({
    logger,
    auth: { maxFailuresPerUser: 3, maxFailuresPerIp: 8 },
  });
  const { access } = server.backend;
  // Open until the first user exists.
  expect((await fetch(`${server.url}/api/v1/models`)).status).toBe(200);
  await access.users.create({ name: 'alice', password: 'alice-password' }, 'setup');
  await access.users.create({ name: 'bob', password: 'bob-password' }, 'setup');
  await access.users.create({ name: 'root', password: 'root-password', admin: true }, 'setup');
  aliceToken = (await access.users.createToken({ name: 't', user: 'alice' }, 'setup')).token;
}, 120_000);

afterAll(async () => {
  await server?.close();
});

async function get(path: string, authorization?: string): Promise<Response> {
  return fetch(`${server.url}${path}`, authorization ? { headers: { authorization } } : {});
}

describe('authentication', () => {
  it('asks for credentials once a user exists, and accepts Basic and Bearer', async () => {
    const anonymous = await get('/api/v1/models');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toContain('Basic realm="modelvault"');
    expect(((await anonymous.json()) as Any).error.code).toBe('UNAUTHENTICATED');
    expect((await get('/health')).status).toBe(200);
    expect((await get('/api/v1/models', basic('alice', 'alice-password'))).status).toBe(200);
    expect((await get('/api/v1/models', basic('alice', aliceToken))).status).toBe(200);
    expect((await get('/api/v1/models', `Bearer ${aliceToken}`)).status).toBe(200);
    // A token only signs in its owner; an unknown scheme is refused.
    expect((await get('/api/v1/models', basic('bob', aliceToken))).status).toBe(401);
    expect((await get('/api/v1/models', 'Digest abc')).status).toBe(401);
    const me = (await (await get('/api/v1/whoami', `Bearer ${aliceToken}`)).json()) as Any;
    expect(me).toMatchObject({ user: { name: 'alice', admin: false }, authRequired: true });
  });

  it("works with MLflow's clients: Basic (username/password) and Bearer (token), audited as the user", async () => {
    const quiet = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      const withPassword = new MLflow({
        endpoint: server.url,
        headers: { authorization: basic('alice', 'alice-password') },
      });
      const { experiment_id } = await withPassword.Experiments.create({ name: 'auth-exp' });
      const withToken = new MLflow({
        endpoint: server.url,
        headers: { authorization: `Bearer ${aliceToken}` },
      });
      const { run } = await withToken.Runs.create({ experiment_id, start_time: 1 });
      await withToken.Runs.logMetric({
        run_id: run.info.run_id,
        key: 'auc',
        value: 0.9,
        timestamp: 1,
        step: 0,
      });
      const anonymous = new MLflow({ endpoint: server.url });
      await expect(anonymous.Experiments.get({ experiment_id })).rejects.toThrow();
    } finally {
      quiet.mockRestore();
    }
    const log = await server.backend.registry.auditLog({ actions: ['experiment.created'] });
    expect(log.items[0]!.actor).toBe('alice');
  });

  it('scopes lists and searches to what the user may read; creators get MANAGE', async () => {
    const { access } = server.backend;
    await access.permissions.setDefaultLevel('NO_PERMISSIONS', 'root');
    try {
      const created = await fetch(`${server.url}/api/v1/models`, {
        method: 'POST',
        headers: { authorization: `Bearer ${aliceToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'alice-model' }),
      });
      expect(created.status).toBe(201);
      const bob = basic('bob', 'bob-password');
      const names = async (auth: string) =>
        (
          ((await (await get('/api/v1/models', auth)).json()) as Any).items as { name: string }[]
        ).map((m) => m.name);
      expect(await names(`Bearer ${aliceToken}`)).toEqual(['alice-model']);
      expect(await names(bob)).toEqual([]);
      expect(await names(basic('root', 'root-password'))).toEqual(['alice-model']);
      const hidden = await get('/api/2.0/mlflow/registered-models/get?name=alice-model', bob);
      expect(hidden.status).toBe(404);
      expect(((await hidden.json()) as Any).error_code).toBe('RESOURCE_DOES_NOT_EXIST');
      const search = (await (
        await get('/api/2.0/mlflow/registered-models/search?max_results=100', bob)
      ).json()) as Any;
      expect(search.registered_models).toBeUndefined();
      const events = await server.backend.registry.auditLog({ model: 'alice-model' });
      expect(events.items.map((e) => [e.actor, e.action])).toContainEqual([
        'alice',
        'permission.granted',
      ]);
      // Alice manages her model's grants: bob gets READ.
      const grant = await fetch(`${server.url}/api/v1/models/alice-model/permissions/bob`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${aliceToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ level: 'READ' }),
      });
      expect(grant.status).toBe(200);
      expect(await names(bob)).toEqual(['alice-model']);
      const edit = await fetch(`${server.url}/api/v1/models/alice-model`, {
        method: 'PATCH',
        headers: { authorization: bob, 'content-type': 'application/json' },
        body: JSON.stringify({ description: 'x' }),
      });
      expect(edit.status).toBe(403);
      expect(((await edit.json()) as Any).error.code).toBe('PERMISSION_DENIED');
    } finally {
      await access.permissions.setDefaultLevel('READ', 'root');
    }
  });

  it('stops accepting a token once it expires or is revoked', async () => {
    const create = async (body: object) =>
      (
        await fetch(`${server.url}/api/v1/tokens`, {
          method: 'POST',
          headers: { authorization: `Bearer ${aliceToken}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        })
      ).json() as Any;
    const shortLived = await create({ name: 'short', expiresInMs: 1 });
    await new Promise((r) => setTimeout(r, 20));
    expect((await get('/api/v1/models', `Bearer ${shortLived.token}`)).status).toBe(401);
    const revocable = await create({ name: 'revocable' });
    expect((await get('/api/v1/models', `Bearer ${revocable.token}`)).status).toBe(200);
    const listed = (await (await get('/api/v1/tokens', `Bearer ${aliceToken}`)).json()) as Any;
    expect(listed.tokens.map((t: Any) => t.id)).toContain(revocable.id);
    expect(JSON.stringify(listed)).not.toContain(revocable.token);
    // Bob cannot revoke alice's token (it is not found for him); alice can.
    const byBob = await fetch(`${server.url}/api/v1/tokens/${revocable.id}`, {
      method: 'DELETE',
      headers: { authorization: basic('bob', 'bob-password') },
    });
    expect(byBob.status).toBe(404);
    const byAlice = await fetch(`${server.url}/api/v1/tokens/${revocable.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${aliceToken}` },
    });
    expect(byAlice.status).toBe(200);
    expect((await get('/api/v1/models', `Bearer ${revocable.token}`)).status).toBe(401);
  });

  it('rate-limits failed sign-ins per user and per client address', async () => {
    const { access } = server.backend;
    await access.users.create({ name: 'mallory', password: 'mallory-password' }, 'setup');
    await access.users.create({ name: 'trent', password: 'trent-password' }, 'setup');
    for (let i = 0; i < 3; i++) {
      expect((await get('/api/v1/models', basic('mallory', `guess-${i}`))).status).toBe(401);
    }
    // Blocked now, even with the right password; another user is not.
    const blocked = await get('/api/v1/models', basic('mallory', 'mallory-password'));
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await blocked.json()) as Any).error.code).toBe('RATE_LIMITED');
    expect((await get('/api/v1/models', basic('trent', 'trent-password'))).status).toBe(200);
    // The address has failed 3 (+ earlier tests' failures); fail until it is blocked too.
    let status = 401;
    for (let i = 0; i < 10 && status === 401; i++) {
      status = (await get('/api/v1/models', basic(`nobody-${i}`, 'x'))).status;
    }
    expect(status).toBe(429);
    expect((await get('/api/v1/models', basic('trent', 'trent-password'))).status).toBe(429);
  });

  it('never writes a password or a token to the log', async () => {
    const log = logLines.join('');
    expect(log).toContain('[redacted]'); // the authorization header was logged, redacted
    for (const secret of [
      'alice-password',
      'bob-password',
      'mallory-password',
      'guess-0',
      aliceToken,
      Buffer.from(`alice:${aliceToken}`).toString('base64'),
      Buffer.from('alice:alice-password').toString('base64'),
    ]) {
      expect(log).not.toContain(secret);
    }
  });
});

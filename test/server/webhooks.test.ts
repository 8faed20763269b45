/**
 * Webhooks end to end with real HTTP receivers on 127.0.0.1: events derived from registry
 * operations (MLflow's names), HMAC signatures verified by the receiver, a receiver that
 * fails first and then succeeds (retried with backoff), one that never succeeds (failed
 * after the last attempt), test deliveries, URL validation, the CLI, and events made while
 * no server ran delivered once one starts (the outbox is derived from the audit trail).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RemoteRegistry } from '../../src/client/remote-registry.js';
import type { WebhookDelivery } from '../../src/core/registry-api.js';
import { openRegistryDirectory } from '../../src/registry/registry-directory.js';
import { buildApp } from '../../src/server/app.js';
import { openServerBackend } from '../../src/server/open-backend.js';
import { metadataDbPath } from '../../src/storage/store-layout.js';
import { mvault, mvaultOk } from '../support/cli.js';
import { startTestServer, storedManifest, type TestServer } from './support/test-server.js';

interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  // biome-ignore lint/suspicious/noExplicitAny: read field by field
  readonly json: any;
}

/** A receiver on 127.0.0.1 that answers `statuses` in turn (then 200) and keeps every request. */
async function receiver(statuses: number[] = []) {
  const received: Received[] = [];
  const queue = [...statuses];
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const body = Buffer.concat(parts).toString('utf8');
      received.push({ headers: req.headers, body, json: JSON.parse(body) });
      res.statusCode = queue.shift() ?? 200;
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  if (!address || typeof address !== 'object') throw new Error('no address');
  return {
    url: `http://127.0.0.1:${address.port}/hook`,
    received,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** What a receiver does: recompute the signature over id.timestamp.body with the secret. */
/**
 * A receiver's check, as MLflow documents it for its webhooks (mlflow/webhooks/delivery.py):
 * `v1,` + base64 HMAC-SHA256 of "<delivery id>.<unix timestamp>.<body>", from either
 * header family.
 */
function signatureValid(r: Received, secret: string, family = 'x-modelvault'): boolean {
  const id = String(r.headers[`${family}-delivery-id`]);
  const ts = String(r.headers[`${family}-timestamp`]);
  const expected = `v1,${createHmac('sha256', secret).update(`${id}.${ts}.${r.body}`).digest('base64')}`;
  const got = String(r.headers[`${family}-signature`]);
  return got.length === expected.length && timingSafeEqual(Buffer.from(got), Buffer.from(expected));
}

/** Polls until `check` holds (deliveries are asynchronous); fails after 20 s. */
async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value as T;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

let server: TestServer;
let client: RemoteRegistry;
let work: string;

beforeAll(async () => {
  server = await startTestServer({
    webhooks: { intervalMs: 20, baseDelayMs: 10, maxDelayMs: 50, maxAttempts: 3 },
  });
  client = server.client();
  work = await mkdtemp(join(tmpdir(), 'mv-webhooks-'));
});
afterAll(async () => {
  await server?.close();
  await rm(work, { recursive: true, force: true });
});

describe('webhooks', () => {
  it('delivers registry events with MLflow names, signed with the webhook secret', async () => {
    const rx = await receiver();
    try {
      await client.createModel({ name: 'other' });
      await client.createModel({ name: 'hooked' });
      const hook = await client.createWebhook({
        url: rx.url,
        events: [
          'model_version.created',
          'model_version_tag.set',
          'model_version_alias.created',
          'model_version_alias.deleted',
          'alias.rolled_back',
          'stage.transitioned',
          'version.approved',
        ],
        model: 'hooked',
      });
      expect(hook.id).toMatch(/^wh_[0-9a-f]{24}$/);
      expect(hook.secret).toMatch(/^whsec_/);
      expect(await client.listWebhooks()).toEqual([
        expect.not.objectContaining({ secret: expect.anything() }),
      ]);
      const h1 = await storedManifest(server, 'h1');
      await server.backend.registry.createVersion({
        model: 'other',
        manifest: await storedManifest(server, 'o1'),
      }); // other model
      await server.backend.registry.createVersion({ model: 'hooked', manifest: h1 });
      await server.backend.registry.createVersion({
        model: 'hooked',
        manifest: await storedManifest(server, 'h2'),
      });
      await client.setVersionTag('hooked@1', 'team', 'risk');
      await client.setAlias('hooked', 'production', 1);
      await client.setAlias('hooked', 'production', 2);
      await client.rollback('hooked', 'production');
      await client.deleteAlias('hooked', 'production');
      await client.transitionStage('hooked@2', 'Staging');
      await client.approve('hooked@2');
      await client.setModelTag('hooked', 'not', 'subscribed');

      const expected = [
        'model_version.created',
        'model_version.created',
        'model_version_tag.set',
        'model_version_alias.created',
        'model_version_alias.created',
        'alias.rolled_back', // the rollback raises both names
        'model_version_alias.created',
        'model_version_alias.deleted',
        'stage.transitioned',
        'version.approved',
      ];
      await until('all deliveries', () => rx.received.length >= expected.length);
      const got = [...rx.received].sort(
        (a, b) => a.json.seq - b.json.seq || a.json.event.localeCompare(b.json.event),
      );
      expect(got.map((r) => r.json.event)).toEqual(expected);
      for (const r of got) {
        expect(signatureValid(r, hook.secret)).toBe(true);
        expect(signatureValid(r, hook.secret, 'x-mlflow')).toBe(true);
        expect(signatureValid(r, 'whsec_wrong')).toBe(false);
        expect(r.headers['x-mlflow-signature']).toBe(r.headers['x-modelvault-signature']);
        expect(r.headers['x-modelvault-event']).toBe(r.json.event);
        expect(r.headers['content-type']).toBe('application/json');
      }
      expect(got[0]?.json).toMatchObject({
        event: 'model_version.created',
        entity: 'model_version',
        action: 'created',
        actor: 'alice',
        subject: 'hooked@1',
        data: { name: 'hooked', version: '1', digest: h1.digest },
      });
      expect(got[4]?.json.data).toEqual({
        name: 'hooked',
        alias: 'production',
        version: '2',
        previousVersion: 1,
      });
      const log = await client.webhookDeliveries(hook.id);
      expect(log).toHaveLength(expected.length);
      expect(
        log.every((d) => d.state === 'delivered' && d.attempts === 1 && d.lastStatus === 200),
      ).toBe(true);
      // A tampered body no longer matches its signature.
      const first = got[0] as Received;
      expect(
        signatureValid({ ...first, body: first.body.replace('hooked', 'hacked') }, hook.secret),
      ).toBe(false);
      expect(await client.deleteWebhook(hook.id)).toBe(true);
      expect(await client.deleteWebhook(hook.id)).toBe(false);
    } finally {
      await rx.close();
    }
  });

  it('retries a failing receiver with backoff and gives up after the last attempt', async () => {
    const flaky = await receiver([500, 503]);
    const down = await receiver([500, 500, 500, 500]);
    try {
      const a = await client.createWebhook({
        url: flaky.url,
        events: ['registered_model.created'],
      });
      const b = await client.createWebhook({ url: down.url, events: ['*'] });
      await client.createModel({ name: 'retried' });
      const delivered = await until('the flaky delivery', async () => {
        const [d] = await client.webhookDeliveries(a.id);
        return d?.state === 'delivered' ? d : undefined;
      });
      expect(delivered).toMatchObject({
        event: 'registered_model.created',
        attempts: 3,
        lastStatus: 200,
        lastError: null,
        nextAttemptAt: null,
      });
      expect(flaky.received.map((r) => r.headers['x-modelvault-delivery-id'])).toEqual([
        String(delivered.id),
        String(delivered.id),
        String(delivered.id),
      ]);
      const failed: WebhookDelivery = await until('the failed delivery', async () => {
        const [d] = await client.webhookDeliveries(b.id);
        return d?.state === 'failed' ? d : undefined;
      });
      expect(failed).toMatchObject({ attempts: 3, lastStatus: 500, lastError: 'HTTP 500' });
      expect(down.received).toHaveLength(3);
      await client.deleteWebhook(a.id);
      await client.deleteWebhook(b.id);
    } finally {
      await flaky.close();
      await down.close();
    }
  });

  it('sends test deliveries, logs unreachable receivers, and validates URLs and events', async () => {
    const rx = await receiver();
    const gone = await receiver();
    await gone.close(); // nothing listens on its port any more
    try {
      const hook = await client.createWebhook({ url: rx.url, events: ['*'], description: 'ci' });
      const d = await client.testWebhook(hook.id);
      expect(d).toMatchObject({ event: 'webhook.test', state: 'delivered', lastStatus: 200 });
      expect(rx.received[0]?.json).toMatchObject({
        event: 'webhook.test',
        data: { webhookId: hook.id },
      });
      expect(signatureValid(rx.received[0] as Received, hook.secret)).toBe(true);
      const dead = await client.createWebhook({ url: gone.url, events: ['webhook.test'] });
      const failed = await client.testWebhook(dead.id);
      expect(failed).toMatchObject({ state: 'failed', attempts: 1, lastStatus: null });
      expect(failed.lastError).toMatch(/ECONNREFUSED/);
      for (const url of [
        'ftp://example.com/x',
        'file:///etc/passwd',
        'http://u:p@127.0.0.1/',
        'not a url',
      ]) {
        await expect(client.createWebhook({ url, events: ['*'] })).rejects.toMatchObject({
          code: 'INVALID_ARGUMENT',
        });
      }
      await expect(
        client.createWebhook({ url: rx.url, events: ['model_version.exploded'] }),
      ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(
        client.createWebhook({ url: rx.url, events: ['*'], model: 'no-such-model' }),
      ).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(client.testWebhook('wh_nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await client.deleteWebhook(hook.id);
      await client.deleteWebhook(dead.id);
    } finally {
      await rx.close();
    }
  });

  it('the CLI adds, lists, tests, shows deliveries and removes webhooks', async () => {
    const rx = await receiver();
    try {
      const cwd = work;
      const run = (args: string[], expected = 0) =>
        mvaultOk(['--registry', server.url, ...args], { cwd }, expected);
      const added = (
        await run(['--json', 'webhook', 'add', rx.url, '--event', 'registered_model.created'])
      ).json<{ id: string; secret: string }>();
      expect((await run(['webhook', 'ls'])).stdout).toContain(`${added.id}  ${rx.url}  (all)`);
      expect((await run(['webhook', 'test', added.id])).stdout).toBe('delivered (HTTP 200)\n');
      const deliveries = (await run(['webhook', 'deliveries', added.id])).stdout;
      expect(deliveries).toMatch(/^ID\s+EVENT\s+SEQ\s+STATE/);
      expect(deliveries).toMatch(/webhook\.test\s+-\s+delivered\s+1\s+200/);
      const bad = await mvault(['--registry', server.url, 'webhook', 'add', 'gopher://x'], { cwd });
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('http:// or https://');
      expect((await run(['webhook', 'rm', added.id])).stdout).toBe(`deleted ${added.id}\n`);
    } finally {
      await rx.close();
    }
  });

  it('delivers events made while no server ran, once one starts', async () => {
    const rx = await receiver();
    const root = join(work, 'offline');
    try {
      // The embedded registry (what the CLI uses): no dispatcher.
      const dir = await openRegistryDirectory(root, { create: true, defaultActor: 'carol' });
      const hook = await dir.registry.createWebhook({
        url: rx.url,
        events: ['registered_model.created'],
      });
      await dir.registry.createModel({ name: 'offline-a' });
      await dir.registry.createModel({ name: 'offline-b' });
      await dir.close();
      expect(rx.received).toHaveLength(0);

      const backend = await openServerBackend(root);
      const { app } = await buildApp({ backend, logger: false, webhooks: { intervalMs: 20 } });
      try {
        await until('offline events', () => rx.received.length >= 2);
        expect(rx.received.map((r) => r.json.data.name).sort()).toEqual(['offline-a', 'offline-b']);
        expect(rx.received.every((r) => signatureValid(r, hook.secret))).toBe(true);
      } finally {
        await app.close();
        await backend.close();
      }

      // The server sealed the secret the embedded registry stored in plaintext: the
      // database alone no longer holds it; the key is server-secret.key (0600).
      const storedSecrets = () => {
        const db = new Database(metadataDbPath(root), { readonly: true });
        try {
          return db.prepare('select id, secret from webhooks order by id').all() as {
            id: string;
            secret: string;
          }[];
        } finally {
          db.close();
        }
      };
      const [row] = storedSecrets();
      expect(row!.secret).toMatch(/^enc1:/);
      expect(row!.secret).not.toContain(hook.secret.slice('whsec_'.length));
      expect((await stat(join(root, 'server-secret.key'))).mode & 0o777).toBe(0o600);

      // The embedded registry reads the directory's secret: it signs a test delivery with
      // the same secret, and seals the secrets of webhooks it creates from now on.
      const again = await openRegistryDirectory(root, { defaultActor: 'carol' });
      try {
        const delivery = await again.registry.testWebhook(hook.id);
        expect(delivery.state).toBe('delivered');
        expect(signatureValid(rx.received.at(-1)!, hook.secret)).toBe(true);
        const second = await again.registry.createWebhook({ url: rx.url, events: ['*'] });
        const sealed = storedSecrets().find((r) => r.id === second.id)!;
        expect(sealed.secret).toMatch(/^enc1:/);
        expect(sealed.secret).not.toContain(second.secret.slice('whsec_'.length));
      } finally {
        await again.close();
      }

      // With another server secret the stored secrets do not decrypt: a clear error, and
      // nothing is sent.
      await writeFile(join(root, 'server-secret.key'), `${'ab'.repeat(32)}\n`);
      const replaced = await openRegistryDirectory(root, { defaultActor: 'carol' });
      try {
        const sent = rx.received.length;
        await expect(replaced.registry.testWebhook(hook.id)).rejects.toMatchObject({
          code: 'CORRUPT',
        });
        expect(rx.received.length).toBe(sent);
        // A dispatcher with this secret leaves such deliveries pending for one that can
        // decrypt them (a replica started without the shared --server-secret).
        await replaced.registry.createModel({ name: 'offline-c' });
        expect(await replaced.webhooks.derive()).toBeGreaterThan(0);
        expect(await replaced.webhooks.claim(10)).toEqual([]);
        const pending = await replaced.registry.webhookDeliveries(hook.id);
        expect(pending.filter((d) => d.state === 'pending').length).toBeGreaterThan(0);
      } finally {
        await replaced.close();
      }
    } finally {
      await rx.close();
    }
  });
});

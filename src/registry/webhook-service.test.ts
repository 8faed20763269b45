import { createServer, type Server } from 'node:http';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TEST_DIALECTS } from '../../test/support/dialects.js';
import { manifest, openTempRegistry, type TempRegistry } from '../../test/support/temp-registry.js';
import { generateSigningKeyPair, loadPrivateKey } from '../core/model-signing.js';
import { verifyCheckpoint } from '../metadata/audit-chain.js';
import { webhookEventsOf } from './webhook-service.js';

/** A receiver on 127.0.0.1 answering 500 to each test's first request, then 200. */
let server: Server;
let url: string;
const bodies: string[] = [];
let calls = 0;
beforeAll(async () => {
  server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      bodies.push(Buffer.concat(parts).toString('utf8'));
      res.statusCode = calls++ === 0 ? 500 : 200;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  if (!address || typeof address !== 'object') throw new Error('no address');
  url = `http://127.0.0.1:${address.port}/`;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

it('maps audit actions to MLflow event names', () => {
  expect(webhookEventsOf('version.created')).toEqual(['model_version.created']);
  expect(webhookEventsOf('alias.rolled_back')).toEqual([
    'model_version_alias.created',
    'alias.rolled_back',
  ]);
  expect(webhookEventsOf('stage.transitioned')).toEqual(['stage.transitioned']);
  expect(webhookEventsOf('webhook.created')).toEqual([]);
});

describe.each(TEST_DIALECTS)('%s', (dialect) => {
  let t: TempRegistry;
  beforeEach(async () => {
    bodies.length = 0;
    calls = 0;
    t = await openTempRegistry({ dialect });
  });
  afterEach(async () => {
    await t.cleanup();
  });

  it('derives deliveries from the audit trail once, and retries with backoff', async () => {
    const hooks = t.registry.webhooks;
    await t.registry.createModel({ name: 'before' }); // before the webhook: not delivered
    const hook = await t.registry.createWebhook({ url, events: ['*'] });
    await t.registry.createModel({ name: 'm' });
    await t.registry.createVersion({ model: 'm', manifest: manifest('a') });
    expect(await hooks.derive()).toBe(2);
    expect(await hooks.derive()).toBe(0); // the cursor moved: nothing twice
    const claimed = await hooks.claim(10);
    expect(claimed.map((d) => d.event)).toEqual([
      'registered_model.created',
      'model_version.created',
    ]);
    expect(await hooks.claim(10)).toEqual([]); // leased
    const first = await hooks.attempt(claimed[0]!, { baseDelayMs: 1000 });
    expect(first).toMatchObject({ state: 'pending', attempts: 1, lastStatus: 500 });
    expect(first.nextAttemptAt).toBe(first.updatedAt + 1000);
    const second = await hooks.attempt(claimed[1]!);
    expect(second).toMatchObject({ state: 'delivered', attempts: 1, lastStatus: 200 });
    t.clock.set(first.updatedAt + 1000);
    const again = await hooks.claim(10);
    expect(again.map((d) => d.id)).toEqual([first.id]);
    expect(await hooks.attempt(again[0]!)).toMatchObject({ state: 'delivered', attempts: 2 });
    expect(JSON.parse(bodies[2] ?? '{}')).toMatchObject({
      event: 'registered_model.created',
      data: { name: 'm' },
    });
    const log = await t.registry.webhookDeliveries(hook.id);
    expect(log.map((d) => [d.event, d.state, d.attempts])).toEqual([
      ['model_version.created', 'delivered', 1],
      ['registered_model.created', 'delivered', 2],
    ]);
  });

  it('signs audit checkpoints once per head', async () => {
    const pair = generateSigningKeyPair();
    await expect(t.registry.createAuditCheckpoint()).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    t.registry.useCheckpointKey(loadPrivateKey(pair.privateKey));
    expect(await t.registry.createAuditCheckpoint()).toBeNull();
    await t.registry.createModel({ name: 'm' });
    const cp = await t.registry.createAuditCheckpoint();
    expect(cp).toMatchObject({ seq: 1 });
    expect(verifyCheckpoint(cp!, pair.publicKey)).toBe(true);
    expect(await t.registry.createAuditCheckpoint()).toEqual(cp);
    await t.registry.createModel({ name: 'n' });
    await t.registry.createAuditCheckpoint();
    const all = await t.registry.auditCheckpoints();
    expect(all.map((c) => c.seq)).toEqual([1, 2]);
    expect(all.every((c) => verifyCheckpoint(c, pair.publicKey))).toBe(true);
  });
});

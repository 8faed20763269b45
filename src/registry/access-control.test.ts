import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TEST_DIALECTS } from '../../test/support/dialects.js';
import { manifest, openTempRegistry, type TempRegistry } from '../../test/support/temp-registry.js';
import { AuditService } from './audit-service.js';
import { TrackingService } from './tracking-service.js';

describe.each(TEST_DIALECTS)('%s', (dialect) => {
  let t: TempRegistry;

  beforeEach(async () => {
    t = await openTempRegistry({ dialect });
  });
  afterEach(async () => {
    await t.cleanup();
  });

  it('creates users with scrypt passwords, refuses bad names, duplicates and short passwords', async () => {
    const { users } = t.registry.access;
    expect(await users.hasUsers()).toBe(false);
    const alice = await users.create(
      { name: 'alice', password: 'correct horse', admin: true },
      'root',
    );
    expect(alice).toMatchObject({ name: 'alice', admin: true, disabledAt: null });
    expect(await users.hasUsers()).toBe(true);
    await expect(users.create({ name: 'alice', password: 'another one' }, 'root')).rejects.toThrow(
      /already exists/,
    );
    await expect(
      users.create({ name: 'bad:name', password: 'long enough' }, 'root'),
    ).rejects.toThrow(/user name/);
    await expect(users.create({ name: 'bob', password: 'short' }, 'root')).rejects.toThrow(
      /at least 8/,
    );
    const [row] = await t.database.db.selectFrom('users').selectAll().execute();
    expect(row!.password_hash).not.toContain('correct horse');
    expect(JSON.parse(row!.password_params)).toMatchObject({ N: 32768, r: 8, p: 1 });
    expect(await users.authenticatePassword('alice', 'correct horse')).toEqual({
      name: 'alice',
      admin: true,
      binding: { epoch: 0 },
    });
    expect(await users.authenticatePassword('alice', 'wrong horse')).toBeUndefined();
    expect(await users.authenticatePassword('nobody', 'correct horse')).toBeUndefined();
    await users.setPassword('alice', 'battery staple', 'root');
    expect(await users.authenticatePassword('alice', 'correct horse')).toBeUndefined();
    expect(await users.authenticatePassword('alice', 'battery staple')).toBeDefined();
    await users.setDisabled('alice', true, 'root');
    expect(await users.authenticatePassword('alice', 'battery staple')).toBeUndefined();
  });

  it('issues tokens shown once, stored hashed, that expire, get revoked and die with their user', async () => {
    const { users } = t.registry.access;
    await users.create({ name: 'bob', password: 'bob-password' }, 'root');
    const token = await users.createToken({ name: 'ci', user: 'bob', expiresInMs: 60_000 }, 'bob');
    expect(token.token).toMatch(/^mvt_[A-Za-z0-9_-]{43}$/);
    expect(token.id).toBe(token.token.slice(0, 12));
    const stored = await t.database.db.selectFrom('api_tokens').selectAll().execute();
    expect(JSON.stringify(stored)).not.toContain(token.token);
    expect(await users.authenticateToken(token.token)).toEqual({
      name: 'bob',
      admin: false,
      binding: { token: token.id, epoch: 0 },
    });
    expect((await users.listTokens('bob'))[0]!.lastUsedAt).not.toBeNull();
    expect(await users.authenticateToken(`${token.token.slice(0, -1)}x`)).toBeUndefined();
    t.clock.set(t.clock() + 60_000);
    expect(await users.authenticateToken(token.token)).toBeUndefined(); // expired

    const other = await users.createToken({ name: 'laptop', user: 'bob' }, 'bob');
    expect(await users.authenticateToken(other.token)).toBeDefined();
    await users.revokeToken(other.id, 'bob');
    expect(await users.authenticateToken(other.token)).toBeUndefined();
    expect((await users.revokeToken(other.id, 'bob')).revokedAt).not.toBeNull(); // idempotent

    const third = await users.createToken({ name: 'x', user: 'bob' }, 'root');
    await users.setDisabled('bob', true, 'root');
    expect(await users.authenticateToken(third.token)).toBeUndefined();
    await expect(users.createToken({ name: 'x', user: 'nobody' }, 'root')).rejects.toThrow(
      /not found/,
    );
  });

  it('checks a capability binding: token live and the user’s, epoch current, user active', async () => {
    const { users } = t.registry.access;
    await users.create({ name: 'bob', password: 'bob-password' }, 'root');
    await users.create({ name: 'eve', password: 'eve-password' }, 'root');
    const expiring = await users.createToken(
      { name: 'ci', user: 'bob', expiresInMs: 60_000 },
      'bob',
    );
    const lasting = await users.createToken({ name: 'laptop', user: 'bob' }, 'bob');
    const eves = await users.createToken({ name: 'eve', user: 'eve' }, 'eve');
    const bound = (token: string | undefined, epoch = 0) =>
      users.capabilityPrincipal('bob', { ...(token ? { token } : {}), epoch });
    expect(await bound(expiring.id)).toEqual({
      name: 'bob',
      admin: false,
      binding: { token: expiring.id, epoch: 0 },
    });
    expect(await bound(undefined)).toMatchObject({ name: 'bob' }); // minted with a password
    expect(await bound(eves.id)).toBeUndefined(); // someone else's token
    expect(await bound('mvt_--------')).toBeUndefined(); // no such token
    expect(await bound(lasting.id, 1)).toBeUndefined(); // an epoch not (yet) the user's
    expect(await users.capabilityPrincipal('nobody', { epoch: 0 })).toBeUndefined();
    t.clock.set(t.clock() + 60_000);
    expect(await bound(expiring.id)).toBeUndefined(); // the token expired
    expect(await bound(lasting.id)).toBeDefined();

    const revoked = await users.revokeCapabilities('bob', 'root');
    expect(revoked).toEqual({ user: 'bob', revokedAt: expect.any(Number) });
    expect(await bound(lasting.id)).toBeUndefined();
    expect(await bound(undefined)).toBeUndefined();
    expect(await bound(lasting.id, 1)).toBeDefined();
    // What authentication binds new capabilities to follows the epoch.
    expect((await users.authenticateToken(lasting.token))?.binding).toEqual({
      token: lasting.id,
      epoch: 1,
    });
    await users.setPassword('bob', 'bob-password-2', 'bob');
    expect(await bound(lasting.id, 1)).toBeUndefined();
    expect((await users.authenticatePassword('bob', 'bob-password-2'))?.binding).toEqual({
      epoch: 2,
    });
    await users.setDisabled('bob', true, 'root');
    expect(await bound(lasting.id, 2)).toBeUndefined();
    await users.setDisabled('bob', false, 'root');
    expect(await bound(lasting.id, 2)).toBeUndefined(); // re-enabling revives nothing
    expect(await bound(lasting.id, 3)).toBeDefined();
    expect(await users.capabilityPrincipal('eve', { token: eves.id, epoch: 0 })).toBeDefined();
    await expect(users.revokeCapabilities('nobody', 'root')).rejects.toThrow(/not found/);
    const audit = await t.registry.auditLog({ actions: ['user.capabilities_revoked'] });
    expect(audit.items.map((e) => [e.actor, e.subject])).toEqual([['root', 'user:bob']]);
  });

  it('resolves levels: admin, explicit grant (even below the default), default; creators get MANAGE', async () => {
    const { users, permissions } = t.registry.access;
    await users.create({ name: 'carol', password: 'carol-password' }, 'root');
    await users.create({ name: 'dave', password: 'dave-password' }, 'root');
    await t.registry.createModel({ name: 'fraud', actor: 'carol' });
    await t.registry.createModel({ name: 'churn' });
    const fraud = (await permissions.resolve({ kind: 'registered_model', name: 'fraud' }))!;
    const churn = (await permissions.resolve({ kind: 'registered_model', name: 'churn' }))!;
    const carol = { name: 'carol', admin: false };
    const dave = { name: 'dave', admin: false };
    expect(await permissions.levelOf(carol, fraud)).toBe('MANAGE'); // creator
    expect(await permissions.levelOf(dave, fraud)).toBe('READ'); // built-in default
    await permissions.setDefaultLevel('NO_PERMISSIONS', 'root');
    expect(await permissions.levelOf(dave, fraud)).toBe('NO_PERMISSIONS');
    expect(await permissions.levelOf({ name: 'dave', admin: true }, fraud)).toBe('MANAGE');
    await permissions.grant(
      { user: 'dave', kind: 'registered_model', resource: 'fraud', level: 'EDIT' },
      'carol',
    );
    expect(await permissions.levelOf(dave, fraud)).toBe('EDIT');
    expect([...(await permissions.readableModels(dave, ['fraud', 'churn', 'missing']))]).toEqual([
      'fraud',
    ]);
    // Renaming keeps grants (they are by id).
    await t.registry.renameModel('fraud', 'fraud-2');
    expect(await permissions.list({ kind: 'registered_model', resource: 'fraud-2' })).toEqual([
      { user: 'carol', kind: 'registered_model', resource: 'fraud-2', level: 'MANAGE' },
      { user: 'dave', kind: 'registered_model', resource: 'fraud-2', level: 'EDIT' },
    ]);
    expect(await permissions.revoke('dave', 'registered_model', 'fraud-2', 'carol')).toBe(true);
    expect(await permissions.revoke('dave', 'registered_model', 'fraud-2', 'carol')).toBe(false);
    expect(await permissions.levelOf(dave, churn)).toBe('NO_PERMISSIONS');
    await expect(
      permissions.grant(
        { user: 'dave', kind: 'registered_model', resource: 'nope', level: 'READ' },
        'x',
      ),
    ).rejects.toThrow(/not found/);
    await expect(
      permissions.grant(
        { user: 'dave', kind: 'registered_model', resource: 'churn', level: 'OWNER' as 'READ' },
        'x',
      ),
    ).rejects.toThrow(/invalid permission/);

    // Experiments: the creator's grant, and runs resolve to their experiment.
    const tracking = new TrackingService(
      {
        database: t.database,
        now: t.clock,
        defaultActor: 'alice',
        dialect: t.dialect,
        retentionMs: 1,
      },
      new AuditService({
        database: t.database,
        now: t.clock,
        defaultActor: 'alice',
        dialect: t.dialect,
        retentionMs: 1,
      }),
    );
    const exp = await tracking.createExperiment({ name: 'e', actor: 'dave' });
    const run = await tracking.createRun({ experimentId: exp, tags: [] });
    const viaRun = (await permissions.resolve({ kind: 'run', id: run.info.run_id }))!;
    expect(viaRun).toEqual({ kind: 'experiment', id: Number(exp), label: exp });
    expect(await permissions.levelOf(dave, viaRun)).toBe('MANAGE');
    expect([...(await permissions.readableExperiments(carol, [exp, '0']))]).toEqual([]);
  });

  it('records every change in the audit trail', async () => {
    const { users, permissions } = t.registry.access;
    await users.create({ name: 'erin', password: 'erin-password' }, 'root');
    const token = await users.createToken({ name: 'ci', user: 'erin' }, 'erin');
    await users.revokeToken(token.id, 'erin');
    await users.setPassword('erin', 'new-password', 'root');
    await users.setDisabled('erin', true, 'root');
    await t.registry.createVersion({
      model: 'm',
      manifest: manifest('a'),
      actor: 'erin',
      createModelIfMissing: true,
    });
    await permissions.grant(
      { user: 'erin', kind: 'registered_model', resource: 'm', level: 'READ' },
      'root',
    );
    await permissions.setDefaultLevel('EDIT', 'root');
    const events = (await t.registry.auditLog({ order: 'asc' })).items;
    expect(events.map((e) => [e.actor, e.action, e.subject])).toEqual([
      ['root', 'user.created', 'user:erin'],
      ['erin', 'token.created', 'user:erin'],
      ['erin', 'token.revoked', 'user:erin'],
      ['root', 'user.password_changed', 'user:erin'],
      ['root', 'user.disabled', 'user:erin'],
      ['erin', 'model.created', 'm'],
      ['erin', 'permission.granted', 'm'],
      ['erin', 'version.created', 'm@1'],
      ['root', 'permission.granted', 'm'],
      ['root', 'permission.default_set', 'registry'],
    ]);
    expect(JSON.stringify(events)).not.toContain(token.token);
    expect((await t.registry.auditVerify()).ok).toBe(true);
  });
});

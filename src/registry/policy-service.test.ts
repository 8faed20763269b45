import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TEST_DIALECTS } from '../../test/support/dialects.js';
import {
  fakeDigest,
  manifest,
  openTempRegistry,
  type TempRegistry,
} from '../../test/support/temp-registry.js';
import {
  generateSigningKeyPair,
  keyIdOf,
  loadPrivateKey,
  loadPublicKey,
  signVersion,
} from '../core/model-signing.js';
import type { ManifestEntry } from '../storage/content-store.js';
import { checkRules } from './policy-service.js';

/** Every fake manifest holds one file whose hash derives from the manifest digest. */
const filesOf = async (digest: string): Promise<readonly ManifestEntry[]> => [
  { path: 'model.bin', size: 10, sha256: fakeDigest(`file-${digest}`) as ManifestEntry['sha256'] },
];

const release = generateSigningKeyPair();
const other = generateSigningKeyPair();
const idOf = (pair: { publicKey: string }) => keyIdOf(loadPublicKey(pair.publicKey));

describe('checkRules', () => {
  it('normalises rules and refuses bad ones by name', () => {
    const id = idOf(release);
    expect(
      checkRules(
        {
          require: '  metrics.auc >= 0.9 ',
          signedBy: [id, id],
          scan: 'safe',
          approval: 'approved',
        },
        'sqlite',
      ),
    ).toEqual({
      require: 'metrics.auc >= 0.9',
      signedBy: [id],
      scan: 'safe',
      approval: 'approved',
    });
    const bad: [unknown, RegExp][] = [
      [{}, /at least one rule/],
      [null, /must be an object/],
      [{ require: 'metrics.auc >>= 1' }, /invalid filter/],
      [{ require: 'nosuchfield = 1' }, /invalid filter/],
      [{ require: '   ' }, /must not be empty/],
      [{ signedBy: [] }, /1 to 100 key ids/],
      [{ signedBy: ['abc'] }, /not a key id/],
      [{ scan: 'clean' }, /scan must be one of/],
      [{ approval: 'yes' }, /approval must be one of/],
      [{ approvals: 2 }, /unknown policy rule 'approvals'/],
    ];
    for (const [rules, message] of bad) {
      expect(() => checkRules(rules, 'sqlite')).toThrow(message);
    }
  });
});

describe.each(TEST_DIALECTS)('%s', (dialect) => {
  let t: TempRegistry;
  beforeEach(async () => {
    t = await openTempRegistry({ dialect, manifests: filesOf });
    await t.registry.createModel({ name: 'm' });
    await t.registry.createVersion({ model: 'm', manifest: manifest('a'), metrics: { auc: 0.85 } });
    await t.registry.createVersion({
      model: 'm',
      manifest: manifest('b'),
      metrics: { auc: 0.95 },
      tags: { validated: 'true' },
    });
  });
  afterEach(async () => {
    await t.cleanup();
  });

  async function sign(ref: string, pair: { privateKey: string; publicKey: string }) {
    const v = await t.registry.getVersion(ref);
    const bundle = signVersion(
      { model: v.model, version: v.version, digest: v.digest, files: await filesOf(v.digest) },
      loadPrivateKey(pair.privateKey),
    );
    await t.registry.addSignature(ref, { bundle, publicKey: pair.publicKey });
  }

  it('without a policy, anything goes', async () => {
    expect(await t.registry.checkPolicy('m@1', { alias: 'production' })).toMatchObject({
      ok: true,
      policy: null,
      results: [],
    });
    await t.registry.setAlias('m', 'production', 1);
  });

  it('reports each top-level AND term of `require` with the values found', async () => {
    await t.registry.setPolicy({
      model: 'm',
      alias: 'production',
      rules: { require: "metrics.auc >= 0.9 AND (tags.validated = 'true' OR params.x = '1')" },
    });
    const c1 = await t.registry.checkPolicy('m@1', { alias: 'production' });
    expect(c1.ok).toBe(false);
    expect(c1.results).toEqual([
      { rule: 'require: metrics.auc >= 0.9', ok: false, message: 'not met (metrics.auc is 0.85)' },
      {
        rule: "require: tags.validated = 'true' OR params.x = '1'",
        ok: false,
        message: 'not met (tags.validated is absent, params.x is absent)',
      },
    ]);
    const c2 = await t.registry.checkPolicy('m@2', { alias: 'production' });
    expect(c2.ok).toBe(true);
    expect(c2.results.map((r) => r.message)).toEqual([
      'met (metrics.auc is 0.95)',
      'met (tags.validated is "true", params.x is absent)',
    ]);
  });

  it('refuses setAlias and rollback with a typed error listing the failed rules', async () => {
    await t.registry.setAlias('m', 'production', 1); // before any policy
    await t.registry.setAlias('m', 'production', 2);
    await t.registry.setPolicy({
      alias: 'production',
      rules: { require: 'metrics.auc >= 0.9', approval: 'approved' },
    });
    const err = await t.registry.setAlias('m', 'production', 1).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'POLICY_VIOLATION',
      details: {
        model: 'm',
        version: 1,
        alias: 'production',
        policy: 'default',
        failed: [
          { rule: 'require: metrics.auc >= 0.9', message: 'not met (metrics.auc is 0.85)' },
          { rule: 'approval: approved', message: 'the version is pending' },
        ],
      },
    });
    expect((err as Error).message).toBe(
      "alias 'production' of 'm' refuses m@1: require: metrics.auc >= 0.9: not met (metrics.auc is 0.85); approval: approved: the version is pending",
    );
    // Rolling back to v1 is a move to v1 too.
    await expect(t.registry.rollback('m', 'production')).rejects.toMatchObject({
      code: 'POLICY_VIOLATION',
    });
    expect((await t.registry.getVersion('m@production')).version).toBe(2);
    // Other aliases are not guarded; a refused move wrote no audit event.
    await t.registry.setAlias('m', 'candidate', 1);
    const page = await t.registry.auditLog({ actions: ['alias.set', 'alias.rolled_back'] });
    expect(page.items.map((e) => e.subject)).toEqual([
      'm@candidate',
      'm@production',
      'm@production',
    ]);
  });

  it("a model's own policy replaces the registry-wide default for the same target", async () => {
    await t.registry.setPolicy({ alias: 'production', rules: { approval: 'approved' } });
    await t.registry.setPolicy({
      model: 'm',
      alias: 'production',
      rules: { require: 'metrics.auc >= 0.9' },
    });
    const check = await t.registry.checkPolicy('m@2', { alias: 'production' });
    expect(check).toMatchObject({ ok: true, policy: { model: 'm' } });
    await t.registry.setAlias('m', 'production', 2);
    await t.registry.deletePolicy({ model: 'm', alias: 'production' });
    expect(await t.registry.checkPolicy('m@2', { alias: 'production' })).toMatchObject({
      ok: false,
      policy: { model: null },
    });
  });

  it('guards stages, including the versions archiveExisting moves to Archived', async () => {
    await t.registry.setPolicy({ stage: 'production', rules: { require: 'metrics.auc >= 0.9' } });
    await expect(t.registry.transitionStage('m@1', 'Production')).rejects.toMatchObject({
      code: 'POLICY_VIOLATION',
      details: { stage: 'Production' },
    });
    await t.registry.transitionStage('m@2', 'Production');
    await t.registry.setPolicy({ stage: 'Archived', rules: { approval: 'approved' } });
    await t.registry.createVersion({ model: 'm', manifest: manifest('c'), metrics: { auc: 0.99 } });
    // v3 may go to Production, but archiving v2 (not approved) is refused: nothing moves.
    await expect(
      t.registry.transitionStage('m@3', 'Production', { archiveExisting: true }),
    ).rejects.toMatchObject({
      code: 'POLICY_VIOLATION',
      details: { version: 2, stage: 'Archived' },
    });
    expect((await t.registry.getVersion('m@3')).stage).toBe('None');
    expect((await t.registry.getVersion('m@2')).stage).toBe('Production');
  });

  it('needs a valid signature by a listed key, checked against the files now', async () => {
    await t.registry.setPolicy({
      model: 'm',
      alias: 'production',
      rules: { signedBy: [idOf(release)] },
    });
    const before = await t.registry.checkPolicy('m@2', { alias: 'production' });
    expect(before.results).toEqual([
      {
        rule: 'signedBy',
        ok: false,
        message: `no signature by one of key(s) ${idOf(release).slice(0, 16)}`,
      },
    ]);
    await sign('m@2', other);
    expect((await t.registry.checkPolicy('m@2', { alias: 'production' })).ok).toBe(false);
    await sign('m@2', release);
    expect(await t.registry.checkPolicy('m@2', { alias: 'production' })).toMatchObject({
      ok: true,
      results: [
        { rule: 'signedBy', ok: true, message: `signed by key ${idOf(release).slice(0, 16)}` },
      ],
    });
    // Someone with database access swaps the signed bundle for one over another version.
    const v1 = await t.registry.getVersion('m@1');
    const forged = signVersion(
      { model: 'm', version: 2, digest: v1.digest, files: await filesOf(v1.digest) },
      loadPrivateKey(release.privateKey),
    );
    await t.exec([
      `update version_signatures set bundle = '${JSON.stringify(forged).replaceAll("'", "''")}'`,
    ]);
    const after = await t.registry.checkPolicy('m@2', { alias: 'production' });
    expect(after.ok).toBe(false);
    expect(after.results[0]?.message).toMatch(
      new RegExp(`no valid signature .*signed version digest ${v1.digest} is not`),
    );
  });

  it('checks the scan verdict and the approval', async () => {
    await t.registry.setPolicy({
      model: 'm',
      stage: 'Staging',
      rules: { scan: 'no-dangerous', approval: 'other-than-creator' },
    });
    const c = await t.registry.checkPolicy('m@2', { stage: 'staging' });
    expect(c.results).toEqual([
      { rule: 'scan: no-dangerous', ok: false, message: 'the version was not scanned' },
      { rule: 'approval: other-than-creator', ok: false, message: 'the version is pending' },
    ]);
    const v = await t.registry.getVersion('m@2');
    const id = (
      await t.database.db
        .selectFrom('model_versions')
        .select('id')
        .where('manifest_digest', '=', v.digest)
        .executeTakeFirstOrThrow()
    ).id;
    await t.exec([
      `insert into version_scans (version_id, verdict, scanner, scanned_at, files) values (${id}, 'dangerous', 'test', 1, 1)`,
      `insert into version_scan_files (version_id, path, sha256, verdict, scanner, report) values (${id}, 'evil.pkl', '${fakeDigest('x')}', 'dangerous', 'test', '{}')`,
    ]);
    await t.registry.approve('m@2'); // by alice, its creator
    expect((await t.registry.checkPolicy('m@2', { stage: 'Staging' })).results).toEqual([
      { rule: 'scan: no-dangerous', ok: false, message: 'scan verdict dangerous: evil.pkl' },
      { rule: 'approval: other-than-creator', ok: false, message: 'approved by its creator alice' },
    ]);
    await t.exec([`update version_scans set verdict = 'suspicious'`]);
    await t.registry.approve('m@2', { actor: 'bob' });
    expect(await t.registry.checkPolicy('m@2', { stage: 'Staging' })).toMatchObject({
      ok: true,
      results: [
        { ok: true, message: 'scan verdict suspicious' },
        { ok: true, message: 'approved by bob' },
      ],
    });
    await t.registry.setPolicy({ model: 'm', stage: 'Staging', rules: { scan: 'safe' } });
    expect((await t.registry.checkPolicy('m@2', { stage: 'Staging' })).ok).toBe(false);
  });

  it('audits policy changes; setting the same rules again writes nothing', async () => {
    const p = await t.registry.setPolicy({
      model: 'm',
      alias: 'production',
      rules: { scan: 'safe' },
      actor: 'carol',
    });
    expect(p).toMatchObject({ model: 'm', alias: 'production', stage: null, updatedBy: 'carol' });
    await t.registry.setPolicy({ model: 'm', alias: 'production', rules: { scan: 'safe' } });
    await t.registry.setPolicy({ stage: 'Production', rules: { approval: 'approved' } });
    expect(await t.registry.deletePolicy({ model: 'm', alias: 'production' })).toBe(true);
    expect(await t.registry.deletePolicy({ model: 'm', alias: 'production' })).toBe(false);
    const events = (
      await t.registry.auditLog({ actions: ['policy.set', 'policy.deleted'], order: 'asc' })
    ).items;
    expect(events.map((e) => [e.action, e.subject, e.actor, e.data])).toEqual([
      [
        'policy.set',
        'm',
        'carol',
        { alias: 'production', rules: { scan: 'safe' }, previous: null },
      ],
      [
        'policy.set',
        '*',
        'alice',
        { stage: 'Production', rules: { approval: 'approved' }, previous: null },
      ],
      ['policy.deleted', 'm', 'alice', { alias: 'production', rules: { scan: 'safe' } }],
    ]);
    expect((await t.registry.auditVerify()).ok).toBe(true);
    expect(await t.registry.listPolicies()).toMatchObject([{ model: null, stage: 'Production' }]);
    await expect(
      t.registry.setPolicy({ model: 'nope', alias: 'production', rules: { scan: 'safe' } }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(
      t.registry.setPolicy({ alias: 'production', stage: 'Production', rules: { scan: 'safe' } }),
    ).rejects.toThrow('exactly one of an alias and a stage');
  });
});

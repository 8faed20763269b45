/**
 * Signing, verification and pickle scanning through the registry interface, against both
 * implementations over one real registry: the local registry behind a real server, and the
 * SDK talking to that server over HTTP.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  generateSigningKeyPair,
  keyIdOf,
  loadPrivateKey,
  loadPublicKey,
  type SignatureBundle,
  signVersion,
} from '../../src/core/model-signing.js';
import type { ModelVersion, RegistryApi } from '../../src/core/registry-api.js';
import { verifyVersion } from '../../src/core/verify-version.js';
import { metadataDbPath } from '../../src/storage/store-layout.js';
import { writeTorchZip } from '../fixtures/inspect-files.js';
import { OS_SYSTEM_PICKLE, STACK_GLOBAL_EXEC_PICKLE } from '../fixtures/pickle-files.js';
import {
  modelFiles,
  startTestServer,
  type TestServer,
  writeTree,
} from '../server/support/test-server.js';

let server: TestServer;
let work: string;
const keyA = generateSigningKeyPair();
const keyB = generateSigningKeyPair();
const keyC = generateSigningKeyPair();

beforeAll(async () => {
  server = await startTestServer();
  work = await mkdtemp(join(tmpdir(), 'mv-security-'));
  await writeTree(join(work, 'clean'), modelFiles(0));
  await writeTree(join(work, 'clean2'), modelFiles(1));
  await writeTree(join(work, 'pickled'), {
    ...modelFiles(2),
    'model.pt': writeTorchZip([{ name: 'w', storage: 'FloatStorage', shape: [8] }], 'archive'),
    'extra/evil.pkl': OS_SYSTEM_PICKLE,
    'empty.zip': new Uint8Array(0), // not a zip: skipped
    'tools/exec.pickle': STACK_GLOBAL_EXEC_PICKLE,
  });
});
afterAll(async () => {
  await server?.close();
  await rm(work, { recursive: true, force: true });
});

async function sign(
  registry: RegistryApi,
  ref: string,
  pair: { privateKey: string; publicKey: string },
  over?: ModelVersion,
): Promise<SignatureBundle> {
  const v = over ?? (await registry.getVersion(ref));
  const m = await registry.getManifest(`${v.model}@${v.version}`);
  return signVersion(
    { model: v.model, version: v.version, digest: v.digest, files: m.files },
    loadPrivateKey(pair.privateKey),
  );
}

const keyId = (pair: { publicKey: string }) => keyIdOf(loadPublicKey(pair.publicKey));

describe.each([
  ['local', () => server.backend.registry],
  ['remote', () => server.client()],
] as const)('%s registry', (kind, open) => {
  const model = `secure-${kind}`;

  it('scans pickle-based files at push and flags, not refuses, a dangerous one', async () => {
    const registry = open();
    const { version } = await registry.push(join(work, 'pickled'), { model });
    expect(version.scan).toEqual({
      verdict: 'dangerous',
      files: 3,
      dangerous: ['extra/evil.pkl', 'tools/exec.pickle'],
    });
    const scan = await registry.getScan(`${model}@${version.version}`);
    expect(scan?.fileScans.map((f) => [f.path, f.verdict])).toEqual([
      ['extra/evil.pkl', 'dangerous'],
      ['model.pt', 'safe'],
      ['tools/exec.pickle', 'dangerous'],
    ]);
    const evil = scan?.fileScans.find((f) => f.path === 'extra/evil.pkl');
    expect(evil?.globals).toEqual(['os.system']);
    const pt = scan?.fileScans.find((f) => f.path === 'model.pt');
    expect(pt?.members.map((m) => m.name)).toEqual(['archive/data.pkl']);
    expect(pt?.globals).toContain('torch._utils._rebuild_tensor_v2');

    const clean = await registry.push(join(work, 'clean'), { model });
    expect(clean.version.scan).toEqual({ verdict: 'none', files: 0, dangerous: [] });
    expect((await registry.getScan(`${model}@${clean.version.version}`))?.fileScans).toEqual([]);
  });

  it('signs and verifies a version; several keys; key ids shown on the version', async () => {
    const registry = open();
    const ref = `${model}@2`;
    const sigA = await registry.addSignature(ref, {
      bundle: await sign(registry, ref, keyA),
      publicKey: keyA.publicKey,
    });
    expect(sigA.keyId).toBe(keyId(keyA));
    expect(sigA.bundle.dsseEnvelope.payloadType).toBe('application/vnd.in-toto+json');
    const statement = JSON.parse(
      Buffer.from(sigA.bundle.dsseEnvelope.payload, 'base64').toString(),
    );
    expect(statement).toMatchObject({
      _type: 'https://in-toto.io/Statement/v1',
      predicateType: 'https://model_signing/signature/v1.0',
      subject: [{ name: model }],
    });
    await registry.addSignature(ref, {
      bundle: await sign(registry, ref, keyB),
      publicKey: keyB.publicKey,
    });
    const v = await registry.getVersion(ref);
    expect(v.signatures).toEqual([keyId(keyA), keyId(keyB)].sort());
    expect((await registry.listSignatures(ref)).map((s) => s.signedBy)).toEqual(['alice', 'alice']);

    const trusted = (pairs: { publicKey: string }[]) =>
      verifyVersion(registry, `${model}@latest`, {
        trustedKeys: pairs.map((p) => loadPublicKey(p.publicKey)),
      });
    expect((await trusted([keyA])).ok).toBe(true);
    expect((await trusted([keyB])).ok).toBe(true);
    const byOther = await trusted([keyC]);
    expect(byOther.ok).toBe(false);
    expect(byOther.signatures.map((s) => s.status)).toEqual(['untrusted', 'untrusted']);
    expect((await verifyVersion(registry, ref)).ok).toBe(true);
    // Unsigned version: not verified.
    const unsigned = await verifyVersion(registry, `${model}@1`);
    expect(unsigned.ok).toBe(false);
    expect(unsigned.problems.join()).toMatch(/not signed/);

    const events = await registry.auditLog({ model, actions: ['version.signed'] });
    expect(events.items).toHaveLength(2);
  });

  it('refuses a signature by another key, over another version, or tampered', async () => {
    const registry = open();
    const ref = `${model}@2`;
    const bundle = await sign(registry, ref, keyA);
    await expect(
      registry.addSignature(ref, { bundle, publicKey: keyB.publicKey }),
    ).rejects.toMatchObject({ code: 'VERIFICATION_FAILED' });
    // A valid signature of version 1 attached to version 2.
    const v1 = await registry.getVersion(`${model}@1`);
    await expect(
      registry.addSignature(ref, {
        bundle: await sign(registry, `${model}@1`, keyA, v1),
        publicKey: keyA.publicKey,
      }),
    ).rejects.toMatchObject({ code: 'VERIFICATION_FAILED' });
    // The statement altered after signing: the envelope no longer verifies.
    const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString());
    statement.predicate.resources[0].digest = '0'.repeat(64);
    const tampered = {
      ...bundle,
      dsseEnvelope: {
        ...bundle.dsseEnvelope,
        payload: Buffer.from(JSON.stringify(statement)).toString('base64'),
      },
    };
    await expect(
      registry.addSignature(ref, { bundle: tampered, publicKey: keyA.publicKey }),
    ).rejects.toMatchObject({ code: 'VERIFICATION_FAILED' });
    await expect(
      registry.addSignature(ref, { bundle, publicKey: 'not a key' }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect((await registry.listSignatures(ref)).length).toBe(2);
  });
});

describe('verification of stored signatures', () => {
  it('detects a signature tampered with in the database', async () => {
    const registry = server.client();
    const ref = 'secure-remote@2';
    expect((await verifyVersion(registry, ref)).ok).toBe(true);
    const db = new Database(metadataDbPath(join(server.dir, 'registry')));
    try {
      // Both models were signed by key A; tamper with every such signature.
      const rows = db
        .prepare('select rowid, bundle from version_signatures where key_id = ?')
        .all(keyId(keyA)) as { rowid: number; bundle: string }[];
      expect(rows.length).toBe(2);
      for (const r of rows) {
        const b = JSON.parse(r.bundle) as SignatureBundle;
        const sig = Buffer.from(b.dsseEnvelope.signatures[0]!.sig, 'base64');
        sig[0] = sig[0]! ^ 0xff;
        const bad = {
          ...b,
          dsseEnvelope: {
            ...b.dsseEnvelope,
            signatures: [{ ...b.dsseEnvelope.signatures[0]!, sig: sig.toString('base64') }],
          },
        };
        db.prepare('update version_signatures set bundle = ? where rowid = ?').run(
          JSON.stringify(bad),
          r.rowid,
        );
      }
    } finally {
      db.close();
    }
    const r = await verifyVersion(registry, ref, { trustedKeys: [loadPublicKey(keyA.publicKey)] });
    expect(r.ok).toBe(false);
    const a = r.signatures.find((s) => s.keyId === keyId(keyA));
    expect(a?.status).toBe('invalid');
    expect(a?.problems.join()).toMatch(/does not verify/);
    // Key B's signature is intact, but B is not trusted here.
    expect(r.signatures.find((s) => s.keyId === keyId(keyB))?.status).toBe('untrusted');
  });
});

import { createHmac, hkdfSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { RequestSigner, SIGNATURE_PARAM, withoutSignature } from './request-signer.js';

const SECRET = Buffer.alloc(32, 7);

describe('RequestSigner', () => {
  let now = 1_800_000_000_000;
  const signer = new RequestSigner(SECRET, () => now);
  const path = '/api/v1/versions/m%401/files/model.safetensors';

  it('accepts a capability for its method and path until it expires', () => {
    const { capability, expiresAt } = signer.sign({
      user: 'rita',
      token: 'mvt_AbCd1234',
      epoch: 3,
      methods: ['GET'],
      path,
      ttlSeconds: 300,
    });
    expect(expiresAt).toBe(now / 1000 + 300);
    // The binding comes back for the server to check against the database.
    expect(signer.check(capability, 'GET', path)).toMatchObject({
      user: 'rita',
      token: 'mvt_AbCd1234',
      epoch: 3,
    });
    expect(signer.check(capability, 'GET', path)?.user).toBe('rita');
    expect(signer.check(capability, 'HEAD', path)?.user).toBe('rita');
    expect(signer.check(capability, 'PUT', path)).toBeUndefined();
    expect(signer.check(capability, 'GET', `${path}x`)).toBeUndefined();
    expect(signer.check(capability, 'GET', '/api/v1/versions/m%401/files/other')).toBeUndefined();
    now += 299_000;
    expect(signer.check(capability, 'GET', path)?.user).toBe('rita');
    now += 1_000;
    expect(signer.check(capability, 'GET', path)).toBeUndefined();
  });

  it('refuses tampered payloads and signatures, and other servers’ capabilities', () => {
    const { capability } = signer.sign({
      user: 'rita',
      epoch: 0,
      methods: ['GET'],
      path,
      ttlSeconds: 60,
    });
    expect(signer.check(capability, 'GET', path)?.token).toBeUndefined();
    const [, payload, mac] = capability.split('.') as [string, string, string];
    const forged = Buffer.from(
      Buffer.from(payload, 'base64url').toString().replace('rita', 'root'),
    ).toString('base64url');
    expect(signer.check(`mvs1.${forged}.${mac}`, 'GET', path)).toBeUndefined();
    const flipped = mac.startsWith('A') ? `B${mac.slice(1)}` : `A${mac.slice(1)}`;
    expect(signer.check(`mvs1.${payload}.${flipped}`, 'GET', path)).toBeUndefined();
    expect(signer.check(`mvs1.${payload}`, 'GET', path)).toBeUndefined();
    expect(signer.check('mvs1.', 'GET', path)).toBeUndefined();
    // Other spellings of the same MAC bytes: the last character's spare bits, padding, a
    // character the decoder skips. A capability is one exact string.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(mac.at(-1)!);
    const spare = `${mac.slice(0, -1)}${alphabet[last ^ 1]}`;
    for (const spelling of [spare, `${mac}=`, `${mac.slice(0, 5)}.${mac.slice(5)}`]) {
      expect(Buffer.from(spelling, 'base64url').equals(Buffer.from(mac, 'base64url'))).toBe(true);
      expect(signer.check(`mvs1.${payload}.${spelling}`, 'GET', path)).toBeUndefined();
    }
    expect(signer.check('garbage', 'GET', path)).toBeUndefined();
    const other = new RequestSigner(Buffer.alloc(32, 8), () => now);
    expect(other.check(capability, 'GET', path)).toBeUndefined();
  });

  it('refuses a well-signed payload without an epoch (minted before capabilities were revocable)', () => {
    const payload = Buffer.from(
      JSON.stringify({ u: 'rita', m: ['GET'], p: path, e: now / 1000 + 60 }),
    ).toString('base64url');
    // The MAC recomputed as the signer does: only the missing epoch is wrong.
    const key = Buffer.from(
      hkdfSync('sha256', SECRET, Buffer.alloc(0), 'modelvault request capability v1', 32),
    );
    const mac = createHmac('sha256', key).update('mvs1.').update(payload).digest('base64url');
    expect(signer.check(`mvs1.${payload}.${mac}`, 'GET', path)).toBeUndefined();
    const withEpoch = Buffer.from(
      JSON.stringify({ u: 'rita', g: 0, m: ['GET'], p: path, e: now / 1000 + 60 }),
    ).toString('base64url');
    const mac2 = createHmac('sha256', key).update('mvs1.').update(withEpoch).digest('base64url');
    expect(signer.check(`mvs1.${withEpoch}.${mac2}`, 'GET', path)?.epoch).toBe(0);
  });

  it('caps lifetimes and refuses short secrets', () => {
    const { expiresAt } = signer.sign({
      user: 'u',
      epoch: 0,
      methods: ['GET'],
      path,
      ttlSeconds: 1e9,
    });
    expect(expiresAt - now / 1000).toBe(24 * 3600);
    expect(() => new RequestSigner(Buffer.alloc(16))).toThrow(/32 bytes/);
  });

  it('redacts the signature parameter of a URL for logs', () => {
    expect(withoutSignature(`/a/b?x=1&${SIGNATURE_PARAM}=mvs1.secret`)).toBe(
      `/a/b?x=1&${SIGNATURE_PARAM}=%5Bredacted%5D`,
    );
    expect(withoutSignature('/a/b?x=1')).toBe('/a/b?x=1');
  });
});

import { describe, expect, it } from 'vitest';
import { isSealed, SecretBox } from './secret-box.js';

describe('SecretBox', () => {
  const box = new SecretBox(Buffer.alloc(32, 1), 'webhook secrets');

  it('seals with a fresh IV each time and opens what it sealed', () => {
    const a = box.seal('whsec_abc');
    const b = box.seal('whsec_abc');
    expect(isSealed(a)).toBe(true);
    expect(a).not.toBe(b);
    expect(a).not.toContain('abc');
    expect(box.open(a)).toBe('whsec_abc');
    expect(box.open(b)).toBe('whsec_abc');
  });

  it('returns legacy plaintext as it is', () => {
    expect(isSealed('whsec_old')).toBe(false);
    expect(box.open('whsec_old')).toBe('whsec_old');
  });

  it('refuses a changed value, another key, another purpose', () => {
    const sealed = box.seal('whsec_abc');
    const raw = Buffer.from(sealed.slice('enc1:'.length), 'base64url');
    raw[raw.length - 1] = (raw[raw.length - 1] ?? 0) ^ 1;
    const flipped = `enc1:${raw.toString('base64url')}`;
    expect(() => box.open(flipped)).toThrow(/does not decrypt/);
    expect(() => box.open('enc1:AAAA')).toThrow(/does not decrypt/);
    expect(() => new SecretBox(Buffer.alloc(32, 2), 'webhook secrets').open(sealed)).toThrow(
      /does not decrypt/,
    );
    expect(() => new SecretBox(Buffer.alloc(32, 1), 'other').open(sealed)).toThrow(
      /does not decrypt/,
    );
  });
});

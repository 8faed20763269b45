import { InvalidArgumentError } from './errors.js';

/**
 * A SHA-256 digest as 64 lowercase hex characters. Used for chunk ids, file digests
 * (identical to `sha256sum`, Git LFS oids and OCI digests) and version (manifest) digests.
 * Branded so a plain string cannot be passed where a checked digest is expected.
 */
export type Sha256Hex = string & { readonly __brand: 'Sha256Hex' };

const HEX64 = /^[0-9a-f]{64}$/;

export function isSha256Hex(value: unknown): value is Sha256Hex {
  return typeof value === 'string' && HEX64.test(value);
}

/**
 * Parses `abcd…` or `sha256:abcd…` (any case) into a Sha256Hex.
 * @throws InvalidArgumentError when the value is not a SHA-256 digest.
 */
export function parseSha256(value: string, what = 'digest'): Sha256Hex {
  const hex = (value.startsWith('sha256:') ? value.slice(7) : value).toLowerCase();
  if (!HEX64.test(hex)) {
    throw new InvalidArgumentError(
      `invalid ${what} '${value.slice(0, 80)}': expected 64 hex characters`,
      {
        value: value.slice(0, 80),
      },
    );
  }
  return hex as Sha256Hex;
}

/** `sha256:<hex>` form, as shown to people and used in OCI/DSSE documents. */
export function formatDigest(hex: Sha256Hex): string {
  return `sha256:${hex}`;
}

export function sha256HexFromBytes(bytes: Uint8Array): Sha256Hex {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex') as Sha256Hex;
}

export function sha256ToBytes(hex: Sha256Hex): Buffer {
  return Buffer.from(hex, 'hex');
}

/**
 * Password hashing with Node's scrypt: a random 16-byte salt per password, and the cost
 * parameters stored next to the hash so they can be raised later without invalidating
 * existing passwords (a hash is always verified with the parameters it was made with).
 * Comparison is constant-time.
 */
import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';
import { InvalidArgumentError } from '../core/errors.js';

export interface ScryptParams {
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly keylen: number;
}

/** 2^15 × 8 × 128 bytes = 32 MiB per hash, ~50–100 ms on a server core. */
export const DEFAULT_SCRYPT_PARAMS: ScryptParams = { N: 2 ** 15, r: 8, p: 1, keylen: 32 };

export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;

export interface PasswordHash {
  readonly hash: string;
  readonly salt: string;
  readonly params: ScryptParams;
}

function derive(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const options: ScryptOptions = {
    N: params.N,
    r: params.r,
    p: params.p,
    maxmem: 256 * params.N * params.r + 1024 * 1024,
  };
  return new Promise((resolve, reject) => {
    scrypt(password, salt, params.keylen, options, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** @throws InvalidArgumentError for a password that is too short, too long or has NUL. */
export function checkPassword(password: unknown): string {
  if (typeof password !== 'string') throw new InvalidArgumentError('password must be a string');
  if ([...password].length < MIN_PASSWORD_LENGTH) {
    throw new InvalidArgumentError(
      `password must be at least ${MIN_PASSWORD_LENGTH} characters long`,
    );
  }
  if (password.length > MAX_PASSWORD_LENGTH || password.includes('\0')) {
    throw new InvalidArgumentError(
      `password must be at most ${MAX_PASSWORD_LENGTH} characters, without NUL`,
    );
  }
  return password;
}

export async function hashPassword(
  password: string,
  params: ScryptParams = DEFAULT_SCRYPT_PARAMS,
): Promise<PasswordHash> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, params);
  return { hash: key.toString('base64'), salt: salt.toString('base64'), params };
}

/** True when `password` matches the stored hash (false for malformed stored parameters). */
export async function verifyPassword(
  password: string,
  stored: { readonly hash: string; readonly salt: string; readonly params: string },
): Promise<boolean> {
  let params: ScryptParams;
  try {
    params = JSON.parse(stored.params) as ScryptParams;
  } catch {
    return false;
  }
  const expected = Buffer.from(stored.hash, 'base64');
  if (expected.length !== params.keylen || password.length > MAX_PASSWORD_LENGTH) return false;
  const key = await derive(password, Buffer.from(stored.salt, 'base64'), params);
  return timingSafeEqual(key, expected);
}

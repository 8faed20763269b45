/**
 * The server secret: 32 random bytes in the registry directory (`server-secret.key`, hex,
 * mode 0600, made on first serve and never overwritten), from which the server derives
 * the keys of what it signs for itself — short-lived request capabilities (signed
 * download URLs, Git LFS action headers; server/auth/request-signer.ts) and the key that
 * encrypts webhook secrets at rest (secret-box.ts). Replicas serving
 * one directory share it, so a URL one signs is accepted by the others. Whoever can read
 * it can mint such capabilities for any user: keep it as private as the database.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError } from '../core/errors.js';
import { SERVER_SECRET_FILE } from '../storage/store-layout.js';

/** Reads a server secret file (64+ hex characters). @throws InvalidArgumentError naming it. */
export function readServerSecret(path: string): Buffer {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (e) {
    throw new InvalidArgumentError(`cannot read server secret '${path}': ${(e as Error).message}`);
  }
  if (!/^([0-9a-f]{2}){32,}$/.test(text)) {
    throw new InvalidArgumentError(
      `server secret '${path}' is not at least 64 lowercase hex characters`,
    );
  }
  return Buffer.from(text, 'hex');
}

/** The directory's secret when it has one that this process can read, else undefined. */
export function findServerSecret(root: string): Buffer | undefined {
  const path = join(root, SERVER_SECRET_FILE);
  if (!existsSync(path)) return undefined;
  try {
    return readServerSecret(path);
  } catch {
    return undefined; // another user's server secret
  }
}

/** The directory's secret, made now (0600, exclusive create) if it has none. */
export function ensureServerSecret(root: string): Buffer {
  const path = join(root, SERVER_SECRET_FILE);
  try {
    writeFileSync(path, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    // It exists (or another replica made it first): use it.
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  return readServerSecret(path);
}

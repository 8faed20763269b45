/**
 * The server's audit checkpoint key: an ed25519 key pair kept in the registry directory
 * (`checkpoint-key.pem`, mode 0600, and `checkpoint-key.pub` for verifiers; see
 * storage/store-layout.ts), made on first serve, or a key file the operator names.
 */
import type { KeyObject } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { InvalidArgumentError } from '../core/errors.js';
import { generateSigningKeyPair, loadPrivateKey, publicKeyPem } from '../core/model-signing.js';
import { checkpointKeyPaths } from '../storage/store-layout.js';

/** Reads an ed25519 private key (PEM). @throws InvalidArgumentError naming the file. */
export function readCheckpointKey(path: string): KeyObject {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new InvalidArgumentError(`cannot read checkpoint key '${path}': ${(e as Error).message}`);
  }
  return loadPrivateKey(text);
}

/** The directory's key when it has one (and it is readable), else undefined. */
export function findCheckpointKey(root: string): KeyObject | undefined {
  const { privateKey } = checkpointKeyPaths(root);
  if (!existsSync(privateKey)) return undefined;
  try {
    return readCheckpointKey(privateKey);
  } catch {
    return undefined; // another user's server key: this process signs nothing
  }
}

/**
 * The directory's key, made now if it has none: the private key written 0600 (never
 * overwritten: `wx`), the public key beside it.
 */
export function ensureCheckpointKey(root: string): KeyObject {
  const paths = checkpointKeyPaths(root);
  if (!existsSync(paths.privateKey)) {
    const pair = generateSigningKeyPair();
    try {
      writeFileSync(paths.privateKey, pair.privateKey, { mode: 0o600, flag: 'wx' });
    } catch (e) {
      // Another replica made it first: use theirs.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  const key = readCheckpointKey(paths.privateKey);
  if (!existsSync(paths.publicKey)) {
    writeFileSync(paths.publicKey, publicKeyPem(key), { mode: 0o644 });
  }
  return key;
}

/**
 * Secrets the server must be able to read back (webhook signing secrets) are kept
 * encrypted at rest: AES-256-GCM with a key derived (HKDF-SHA256) from the server secret
 * (server-secret.ts), which lives in a 0600 file outside the database. Someone with a copy
 * of the database alone then cannot sign deliveries as the registry.
 *
 *   enc1:<base64url(12-byte IV ‖ 16-byte tag ‖ ciphertext)>
 *
 * A stored value without the `enc1:` prefix is a plaintext secret from before encryption;
 * `open` returns it as it is, so old rows stay readable until they are sealed
 * (WebhookService.sealStoredSecrets, run when a server starts).
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { ModelvaultError } from '../core/errors.js';

const PREFIX = 'enc1:';

export function isSealed(stored: string): boolean {
  return stored.startsWith(PREFIX);
}

export class SecretBox {
  private readonly key: Buffer;

  /** @param serverSecret at least 32 bytes; `purpose` separates the keys of different uses. */
  constructor(serverSecret: Uint8Array, purpose: string) {
    if (serverSecret.length < 32) throw new Error('the server secret must have at least 32 bytes');
    this.key = Buffer.from(
      hkdfSync('sha256', serverSecret, Buffer.alloc(0), `modelvault ${purpose} v1`, 32),
    );
  }

  seal(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `${PREFIX}${Buffer.concat([iv, cipher.getAuthTag(), data]).toString('base64url')}`;
  }

  /**
   * The plaintext of a sealed value (a legacy plaintext value as it is).
   * @throws ModelvaultError CORRUPT when it does not decrypt with this key (another server
   *   secret, or a changed value).
   */
  open(stored: string): string {
    if (!isSealed(stored)) return stored;
    const raw = Buffer.from(stored.slice(PREFIX.length), 'base64url');
    try {
      if (raw.length < 28) throw new Error('too short');
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    } catch {
      throw new ModelvaultError(
        'CORRUPT',
        'a stored secret does not decrypt with this server secret (server-secret.key or --server-secret): was the secret replaced?',
      );
    }
  }
}

/**
 * Signed request capabilities: short-lived credentials the server mints for one user, one
 * path and a set of methods, so a client that cannot send the user's own credential can
 * still make that one request — a browser following a plain download link, or a git-lfs
 * client following a batch answer's action href. They are accepted as
 * `Authorization: Bearer mvs1.…` or, on GET/HEAD only, as the query parameter `mv_sig`.
 *
 *   mvs1.<base64url(JSON {u: user, t?: token id, g: epoch, m: [methods], p: path,
 *                         e: expiry (Unix s)})>.<base64url(HMAC)>
 *
 * The HMAC-SHA256 is over the version prefix and the payload, with a key derived (HKDF)
 * from the server secret (server-secret.ts), so replicas sharing that secret accept each
 * other's. The path is the request's exact path (percent-encoded as sent, no query).
 *
 * Checking the MAC, path, method and expiry needs no database (`check`); what makes a
 * capability revocable is its binding (registry/user-service.ts CapabilityBinding): the
 * API token that minted it (`t`, none when minted with a password) and the user's
 * capability epoch then (`g`). At use the server checks, in one query, that the user is
 * active, the epoch is still the user's and the token is neither revoked nor expired
 * (enforce-access.ts), and then the request against the user's grants as usual. A payload
 * without `g` (minted before capabilities were revocable) is refused.
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

export const CAPABILITY_PREFIX = 'mvs1.';
/** The query parameter carrying a capability in a URL. */
export const SIGNATURE_PARAM = 'mv_sig';
/** The longest lifetime the signer issues. */
export const MAX_CAPABILITY_SECONDS = 24 * 3600;

export interface Capability {
  readonly user: string;
  /** The minting API token's public id; absent when minted with a password. */
  readonly token?: string;
  /** The user's capability epoch when it was minted. */
  readonly epoch: number;
  readonly methods: readonly string[];
  readonly path: string;
  /** Unix seconds. */
  readonly expiresAt: number;
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

export class RequestSigner {
  private readonly key: Buffer;

  /** @param secret the server secret (at least 32 bytes); a subkey is derived from it. */
  constructor(
    secret: Uint8Array,
    private readonly now: () => number = Date.now,
  ) {
    if (secret.length < 32) throw new Error('the server secret must have at least 32 bytes');
    this.key = Buffer.from(
      hkdfSync('sha256', secret, Buffer.alloc(0), 'modelvault request capability v1', 32),
    );
  }

  private mac(payload: string): Buffer {
    return createHmac('sha256', this.key).update(CAPABILITY_PREFIX).update(payload).digest();
  }

  /**
   * A capability for `user` to make `methods` requests to `path` for `ttlSeconds`, bound
   * to the credential it is minted with (`token`, `epoch`: see Capability).
   */
  sign(input: {
    user: string;
    token?: string | undefined;
    epoch: number;
    methods: readonly string[];
    path: string;
    ttlSeconds: number;
  }): {
    capability: string;
    expiresAt: number;
  } {
    const ttl = Math.min(Math.max(1, Math.floor(input.ttlSeconds)), MAX_CAPABILITY_SECONDS);
    const expiresAt = Math.floor(this.now() / 1000) + ttl;
    const payload = b64url(
      JSON.stringify({
        u: input.user,
        ...(input.token !== undefined ? { t: input.token } : {}),
        g: input.epoch,
        m: input.methods.map((m) => m.toUpperCase()),
        p: input.path,
        e: expiresAt,
      }),
    );
    return {
      capability: `${CAPABILITY_PREFIX}${payload}.${b64url(this.mac(payload))}`,
      expiresAt,
    };
  }

  /**
   * The capability's contents when it is intact and unexpired and allows `method` on
   * `path` (HEAD wherever GET is allowed); otherwise undefined, never an exception.
   */
  check(capability: string, method: string, path: string): Capability | undefined {
    if (!capability.startsWith(CAPABILITY_PREFIX) || capability.length > 8192) return undefined;
    const rest = capability.slice(CAPABILITY_PREFIX.length);
    const dot = rest.indexOf('.');
    if (dot < 0) return undefined;
    const payload = rest.slice(0, dot);
    // The signature is compared as text, in its one canonical encoding: decoding it first
    // would accept other spellings of the same bytes (the last character's spare bits, and
    // characters Node's decoder skips), so a capability would not be one exact string.
    const given = Buffer.from(rest.slice(dot + 1), 'utf8');
    const wanted = Buffer.from(this.mac(payload).toString('base64url'), 'utf8');
    if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    const c = parsed as {
      u?: unknown;
      t?: unknown;
      g?: unknown;
      m?: unknown;
      p?: unknown;
      e?: unknown;
    };
    if (
      typeof c.u !== 'string' ||
      (c.t !== undefined && typeof c.t !== 'string') ||
      typeof c.g !== 'number' ||
      typeof c.p !== 'string' ||
      typeof c.e !== 'number' ||
      !Array.isArray(c.m) ||
      !c.m.every((m) => typeof m === 'string')
    ) {
      return undefined;
    }
    if (c.e * 1000 <= this.now()) return undefined;
    const methods = c.m as string[];
    const m = method.toUpperCase();
    const allowed = methods.includes(m) || (m === 'HEAD' && methods.includes('GET'));
    if (!allowed || c.p !== path) return undefined;
    return {
      user: c.u,
      ...(typeof c.t === 'string' ? { token: c.t } : {}),
      epoch: c.g,
      methods,
      path: c.p,
      expiresAt: c.e,
    };
  }
}

/** `url` (path and query) without the signature parameter, e.g. for logs. */
export function withoutSignature(url: string): string {
  const q = url.indexOf('?');
  if (q < 0 || !url.includes(SIGNATURE_PARAM)) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  if (!params.has(SIGNATURE_PARAM)) return url;
  params.set(SIGNATURE_PARAM, '[redacted]');
  return `${url.slice(0, q)}?${params.toString()}`;
}

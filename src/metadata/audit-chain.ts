/**
 * The tamper-evident audit trail, as pure functions: hashing events into a chain,
 * verifying a chain, and signing its head so an exported trail can be checked elsewhere.
 * Storage (one row per event, written in the mutation's transaction) lives elsewhere.
 *
 * Event hash (format version 1). For an event e:
 *
 *   hash = lowercase hex SHA-256 of the UTF-8 bytes of
 *          "modelvault-audit-v1\n" + canonicalJson({ action, actor, data, prevHash, seq,
 *                                                     subject, time })
 *
 * that is, every field except `hash` itself, in RFC 8785 canonical JSON (keys sorted,
 * see core/canonical-json.ts), behind a domain-separation prefix so an event hash can
 * never be confused with any other SHA-256 we compute (file, manifest, checkpoint). Any
 * other property on the object (a database id, say) is ignored.
 *
 * Chain rules: seq starts at 1 and grows by exactly 1; the first event's prevHash is
 * GENESIS_HASH (64 zeros); every later event's prevHash is the previous event's hash.
 * `time` is ISO-8601 UTC with milliseconds (`2026-01-31T12:00:00.000Z`), as
 * Date.prototype.toISOString writes it.
 *
 * What verification detects: a changed field (the event's hash no longer matches:
 * hash-mismatch), a changed event whose hash was recomputed (the next event's prevHash no
 * longer matches: prev-mismatch), a deleted event (seq-gap), events out of order or
 * duplicated (seq-order), an inserted event (seq-order or prev-mismatch). What a hash
 * chain alone cannot detect: someone with write access rewriting the chain from some
 * point on with every hash recomputed, or deleting its tail. Signed checkpoints close
 * that gap: a checkpoint is the server's ed25519 signature over the head (seq, hash,
 * time); verifyChain given checkpoints reports checkpoint-mismatch when the chain differs
 * from a signed head and truncated when it ends before one.
 *
 * Checkpoint signature (format version 1): ed25519 over the UTF-8 bytes of
 *   "modelvault-audit-checkpoint-v1\n" + canonicalJson({ hash, seq, time })
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { canonicalJson, type JsonValue } from '../core/canonical-json.js';
import type { Sha256Hex } from '../core/digest.js';
import { InvalidArgumentError } from '../core/errors.js';

export const AUDIT_HASH_DOMAIN = 'modelvault-audit-v1\n';
export const AUDIT_CHECKPOINT_DOMAIN = 'modelvault-audit-checkpoint-v1\n';
/** The prevHash of the first event. */
export const GENESIS_HASH = '0'.repeat(64) as Sha256Hex;

/** What a caller supplies for a new event; the chain supplies seq and prevHash. */
export interface AuditEventInput {
  /** ISO-8601 UTC with milliseconds. */
  readonly time: string;
  /** Who did it: a user name. */
  readonly actor: string;
  /** What was done, e.g. `alias.set`, `version.create`. */
  readonly action: string;
  /** What it was done to, e.g. `fraud-detector@4`. */
  readonly subject: string;
  readonly data: JsonValue;
}

export interface UnhashedAuditEvent extends AuditEventInput {
  readonly seq: number;
  readonly prevHash: string;
}

export interface AuditEvent extends UnhashedAuditEvent {
  readonly hash: string;
}

/** The last event of a (verified) chain, or GENESIS_HEAD before the first one. */
export interface ChainHead {
  readonly seq: number;
  readonly hash: string;
}

export const GENESIS_HEAD: ChainHead = { seq: 0, hash: GENESIS_HASH };

export type ChainBreakReason =
  /** The event's fields do not hash to its `hash`: it was changed. */
  | 'hash-mismatch'
  /** The event's prevHash is not the previous event's hash. */
  | 'prev-mismatch'
  /** seq jumped forward: events are missing. */
  | 'seq-gap'
  /** seq did not grow by one: events are duplicated or out of order. */
  | 'seq-order'
  /** A field has the wrong type or format, so the event cannot be hashed. */
  | 'malformed'
  /** The event at a checkpoint's seq does not have the checkpoint's hash. */
  | 'checkpoint-mismatch'
  /** The chain ends before a checkpoint's seq: its tail was removed. */
  | 'truncated';

export type ChainVerification =
  | {
      readonly ok: true;
      /** Events verified. */
      readonly count: number;
      readonly lastSeq: number;
      readonly lastHash: Sha256Hex;
    }
  | {
      readonly ok: false;
      /** The seq of the first event that fails (for a gap: the event after it; for truncation: the first missing seq). */
      readonly brokenSeq: number;
      readonly reason: ChainBreakReason;
      readonly details: Readonly<Record<string, unknown>>;
      /** Events verified before the break. */
      readonly count: number;
    };

export interface VerifyChainOptions {
  /**
   * The trusted event just before the first one given (default GENESIS_HEAD), for
   * verifying a segment of a trail.
   */
  readonly from?: ChainHead;
  /**
   * Heads the chain must pass through, normally checkpoints whose signatures the caller
   * has verified with verifyCheckpoint. Checkpoints at or before `from.seq` are ignored.
   */
  readonly checkpoints?: readonly ChainHead[];
}

const HEX64 = /^[0-9a-f]{64}$/;
const ISO_UTC_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function malformed(field: string, problem: string): never {
  throw new InvalidArgumentError(`invalid audit event: ${field} ${problem}`, { field });
}

function checkTime(time: unknown, field: string): string {
  if (typeof time !== 'string' || !ISO_UTC_MS.test(time)) {
    malformed(field, 'must be ISO-8601 UTC with milliseconds, like 2026-01-31T12:00:00.000Z');
  }
  const parsed = new Date(time);
  if (Number.isNaN(parsed.getTime()) || parsed.toISOString() !== time) {
    malformed(field, `'${time}' is not a real instant`);
  }
  return time;
}

function checkText(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0)
    malformed(field, 'must be a non-empty string');
  return value;
}

function checkSeq(seq: unknown): number {
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) {
    malformed('seq', 'must be a whole number from 1');
  }
  return seq;
}

function sha256Hex(text: string): Sha256Hex {
  return createHash('sha256').update(text, 'utf8').digest('hex') as Sha256Hex;
}

/**
 * The hash of an event, over every field but `hash` (see the file header). Pure.
 * @throws InvalidArgumentError when a field has the wrong type or format (seq not a whole
 *   number from 1, time not ISO UTC milliseconds, empty actor/action/subject, prevHash not
 *   64 lowercase hex, data not canonical-JSON-able).
 */
export function computeEventHash(event: UnhashedAuditEvent): Sha256Hex {
  return eventHash(event, undefined);
}

/**
 * computeEventHash for a writer that already holds `dataText`, the canonical JSON of
 * `event.data` (which it stores): the same hash, without canonicalising the data again (a
 * version's event carries every metric and param). `dataText` must be
 * `canonicalJson(event.data)`; `event.data` itself is not read.
 * @throws InvalidArgumentError as computeEventHash.
 */
export function computeEventHashOfCanonicalData(
  event: Omit<UnhashedAuditEvent, 'data'>,
  dataText: string,
): Sha256Hex {
  return eventHash({ ...event, data: null }, dataText);
}

function eventHash(event: UnhashedAuditEvent, dataText: string | undefined): Sha256Hex {
  const seq = checkSeq(event.seq);
  const time = checkTime(event.time, 'time');
  const actor = checkText(event.actor, 'actor');
  const action = checkText(event.action, 'action');
  const subject = checkText(event.subject, 'subject');
  const prevHash = event.prevHash;
  if (typeof prevHash !== 'string' || !HEX64.test(prevHash)) {
    malformed('prevHash', 'must be 64 lowercase hex characters');
  }
  let body: string;
  try {
    // canonicalJson of { action, actor, data, prevHash, seq, subject, time }: those keys
    // in code-unit order, each value's canonical text, no whitespace.
    const c = canonicalJson;
    body =
      `{"action":${c(action)},"actor":${c(actor)},"data":${dataText ?? c(event.data)},` +
      `"prevHash":${c(prevHash)},"seq":${c(seq)},"subject":${c(subject)},"time":${c(time)}}`;
  } catch {
    // Refused: canonicalise the whole event for the message, whose path is within it.
    try {
      canonicalJson({ action, actor, data: event.data, prevHash, seq, subject, time });
    } catch (e) {
      malformed('data', `is not canonical json: ${(e as Error).message}`);
    }
    malformed('data', 'is not canonical json');
  }
  return sha256Hex(AUDIT_HASH_DOMAIN + body);
}

/**
 * Builds the event that follows `head` (GENESIS_HEAD for the first): seq + 1, prevHash,
 * hash. Pure; the caller stores it in the same transaction as the mutation and must
 * serialise appends (two writers building on one head make a fork that verifyChain
 * reports as seq-order).
 * @throws InvalidArgumentError as computeEventHash.
 */
export function nextAuditEvent(head: ChainHead, input: AuditEventInput): AuditEvent {
  const unhashed: UnhashedAuditEvent = {
    seq: head.seq + 1,
    time: input.time,
    actor: input.actor,
    action: input.action,
    subject: input.subject,
    data: input.data,
    prevHash: head.hash,
  };
  return { ...unhashed, hash: computeEventHash(unhashed) };
}

type AnyIterator<T> = Iterator<T> | AsyncIterator<T>;

function iteratorOf<T>(events: AsyncIterable<T> | Iterable<T>): AnyIterator<T> {
  return Symbol.asyncIterator in events
    ? (events as AsyncIterable<T>)[Symbol.asyncIterator]()
    : (events as Iterable<T>)[Symbol.iterator]();
}

/**
 * Verifies a chain, reading `events` once, in order, in constant memory. Stops at the
 * first break and reports it; otherwise returns the head (which is what a checkpoint
 * signs). An empty input verifies, with lastSeq/lastHash those of `from`.
 * Never throws for bad events (they are reported as breaks); rethrows what the iterable
 * throws.
 */
export async function verifyChain(
  events: AsyncIterable<AuditEvent> | Iterable<AuditEvent>,
  options: VerifyChainOptions = {},
): Promise<ChainVerification> {
  const from = options.from ?? GENESIS_HEAD;
  const checkpoints = new Map<number, string>();
  let lastCheckpoint = from.seq;
  for (const cp of options.checkpoints ?? []) {
    if (cp.seq <= from.seq) continue;
    checkpoints.set(cp.seq, cp.hash);
    lastCheckpoint = Math.max(lastCheckpoint, cp.seq);
  }

  const it = iteratorOf(events);
  let lookahead: IteratorResult<AuditEvent> | undefined;
  const pull = async (): Promise<IteratorResult<AuditEvent>> => {
    if (lookahead !== undefined) {
      const r = lookahead;
      lookahead = undefined;
      return r;
    }
    return await it.next();
  };

  let head = from;
  let count = 0;
  const broken = (
    brokenSeq: number,
    reason: ChainBreakReason,
    details: Record<string, unknown>,
  ): ChainVerification => ({ ok: false, brokenSeq, reason, details, count });

  try {
    for (;;) {
      const r = await pull();
      if (r.done === true) break;
      const event = r.value;
      const expectedSeq = head.seq + 1;

      if (typeof event !== 'object' || event === null) {
        return broken(expectedSeq, 'malformed', { field: 'event', problem: 'not an object' });
      }
      if (typeof event.seq !== 'number' || !Number.isSafeInteger(event.seq)) {
        return broken(expectedSeq, 'malformed', { field: 'seq', problem: 'not a whole number' });
      }
      if (event.seq < expectedSeq) {
        return broken(event.seq, 'seq-order', { expectedSeq, foundSeq: event.seq });
      }
      if (event.seq > expectedSeq) {
        // Missing events, or the one we want comes later (reordered rows)?
        lookahead = await it.next();
        const reordered = lookahead.done !== true && lookahead.value?.seq === expectedSeq;
        return broken(event.seq, reordered ? 'seq-order' : 'seq-gap', {
          expectedSeq,
          foundSeq: event.seq,
        });
      }
      if (event.prevHash !== head.hash) {
        return broken(event.seq, 'prev-mismatch', {
          expectedPrevHash: head.hash,
          foundPrevHash: event.prevHash,
        });
      }
      let hash: Sha256Hex;
      try {
        hash = computeEventHash(event);
      } catch (e) {
        return broken(event.seq, 'malformed', {
          ...(e instanceof InvalidArgumentError ? e.details : {}),
          problem: (e as Error).message,
        });
      }
      if (event.hash !== hash) {
        return broken(event.seq, 'hash-mismatch', { expectedHash: hash, foundHash: event.hash });
      }
      const signed = checkpoints.get(event.seq);
      if (signed !== undefined && signed !== hash) {
        return broken(event.seq, 'checkpoint-mismatch', {
          checkpointHash: signed,
          foundHash: hash,
        });
      }
      head = { seq: event.seq, hash };
      count += 1;
    }
  } finally {
    await it.return?.();
  }

  if (head.seq < lastCheckpoint) {
    return broken(head.seq + 1, 'truncated', { lastSeq: head.seq, checkpointSeq: lastCheckpoint });
  }
  return { ok: true, count, lastSeq: head.seq, lastHash: head.hash as Sha256Hex };
}

// ---------------------------------------------------------------------------------------
// Signed checkpoints

/** A chain head at a moment: what a checkpoint signs. */
export interface AuditCheckpoint {
  readonly seq: number;
  readonly hash: string;
  /** When the checkpoint was made (ISO-8601 UTC ms). */
  readonly time: string;
}

export interface SignedAuditCheckpoint extends AuditCheckpoint {
  /** `sha256:` + hex SHA-256 of the signer's public key (SPKI DER): which key to verify with. */
  readonly keyId: string;
  /** Base64 ed25519 signature over the checkpoint message (see the file header). */
  readonly signature: string;
}

function checkpointMessage(cp: AuditCheckpoint): Buffer {
  return Buffer.from(
    AUDIT_CHECKPOINT_DOMAIN + canonicalJson({ hash: cp.hash, seq: cp.seq, time: cp.time }),
    'utf8',
  );
}

function ed25519Key(key: string | KeyObject, kind: 'private' | 'public'): KeyObject {
  let k: KeyObject;
  try {
    if (typeof key === 'string')
      k = kind === 'private' ? createPrivateKey(key) : createPublicKey(key);
    else if (kind === 'public' && key.type === 'private') k = createPublicKey(key);
    else k = key;
  } catch (e) {
    throw new InvalidArgumentError(`invalid ${kind} key: ${(e as Error).message}`, { kind });
  }
  if (k.type !== kind) {
    throw new InvalidArgumentError(`invalid ${kind} key: got a ${k.type} key`, { kind });
  }
  if (k.asymmetricKeyType !== 'ed25519') {
    throw new InvalidArgumentError(
      `invalid ${kind} key: expected ed25519 but got ${k.asymmetricKeyType ?? 'a symmetric key'}`,
      { kind },
    );
  }
  return k;
}

/**
 * The key id of a public (or private) ed25519 key: `sha256:` + hex SHA-256 of its
 * public key in SPKI DER form.
 * @throws InvalidArgumentError when the key is not an ed25519 key.
 */
export function auditKeyId(key: string | KeyObject): string {
  const pub = ed25519Key(key, 'public');
  const der = pub.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(der).digest('hex')}`;
}

/**
 * Signs a chain head with the server's ed25519 private key (PEM or KeyObject).
 * Deterministic: ed25519 signatures of the same message with the same key are equal.
 * @throws InvalidArgumentError when the checkpoint is malformed or the key is not an
 *   ed25519 private key.
 */
export function signCheckpoint(
  checkpoint: AuditCheckpoint,
  privateKey: string | KeyObject,
): SignedAuditCheckpoint {
  if (!Number.isSafeInteger(checkpoint.seq) || checkpoint.seq < 0) {
    malformed('checkpoint seq', 'must be a whole number from 0');
  }
  if (typeof checkpoint.hash !== 'string' || !HEX64.test(checkpoint.hash)) {
    malformed('checkpoint hash', 'must be 64 lowercase hex characters');
  }
  checkTime(checkpoint.time, 'checkpoint time');
  const key = ed25519Key(privateKey, 'private');
  const signature = sign(null, checkpointMessage(checkpoint), key).toString('base64');
  return {
    seq: checkpoint.seq,
    hash: checkpoint.hash,
    time: checkpoint.time,
    keyId: auditKeyId(key),
    signature,
  };
}

/**
 * True when `checkpoint.signature` is a valid signature of its seq, hash and time by
 * `publicKey`; false for any tampering, a different key, or malformed checkpoint fields.
 * `keyId` is a hint for choosing the key and is not itself trusted.
 * @throws InvalidArgumentError when `publicKey` is not an ed25519 key.
 */
export function verifyCheckpoint(
  checkpoint: SignedAuditCheckpoint,
  publicKey: string | KeyObject,
): boolean {
  const key = ed25519Key(publicKey, 'public');
  if (typeof checkpoint !== 'object' || checkpoint === null) return false;
  if (typeof checkpoint.signature !== 'string') return false;
  let message: Buffer;
  try {
    message = checkpointMessage(checkpoint);
  } catch {
    return false;
  }
  const signature = Buffer.from(checkpoint.signature, 'base64');
  if (signature.length !== 64 || signature.toString('base64') !== checkpoint.signature)
    return false;
  return verify(null, message, key, signature);
}

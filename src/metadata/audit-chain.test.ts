import { createHash, generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../core/canonical-json.js';
import { InvalidArgumentError } from '../core/errors.js';
import {
  type AuditEvent,
  type AuditEventInput,
  auditKeyId,
  computeEventHash,
  computeEventHashOfCanonicalData,
  GENESIS_HASH,
  GENESIS_HEAD,
  nextAuditEvent,
  signCheckpoint,
  verifyChain,
  verifyCheckpoint,
} from './audit-chain.js';

function input(i: number, data: AuditEventInput['data'] = { version: i }): AuditEventInput {
  return {
    time: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    actor: i % 2 === 0 ? 'alice' : 'ci-bot',
    action: 'alias.set',
    subject: `fraud-detector@${i}`,
    data,
  };
}

function buildChain(n: number): AuditEvent[] {
  const events: AuditEvent[] = [];
  let head = GENESIS_HEAD;
  for (let i = 1; i <= n; i++) {
    const e = nextAuditEvent(head, input(i));
    events.push(e);
    head = e;
  }
  return events;
}

async function* asAsync<T>(items: readonly T[]): AsyncGenerator<T> {
  for (const item of items) yield item;
}

describe('computeEventHash', () => {
  const event = {
    seq: 1,
    time: '2026-01-01T00:00:00.000Z',
    actor: 'alice',
    action: 'alias.set',
    subject: 'fraud-detector',
    data: { alias: 'production', to: 4, from: 3 },
    prevHash: GENESIS_HASH,
  };

  it('is SHA-256 over the domain prefix and the canonical JSON of all fields but hash', () => {
    // The canonical JSON written out by hand, and its hash from
    // printf 'modelvault-audit-v1\n%s' "$json" | sha256sum  — a fixed vector for format v1.
    const json =
      '{"action":"alias.set","actor":"alice","data":{"alias":"production","from":3,"to":4},' +
      `"prevHash":"${GENESIS_HASH}","seq":1,"subject":"fraud-detector","time":"2026-01-01T00:00:00.000Z"}`;
    const expected = '0979d948f39460e6967888de6a6be1badb6335418defd3097304784c057a8292';
    expect(createHash('sha256').update(`modelvault-audit-v1\n${json}`).digest('hex')).toBe(
      expected,
    );
    expect(computeEventHash(event)).toBe(expected);
  });

  it('ignores extra properties and key order, and changes with every field', () => {
    const base = computeEventHash(event);
    expect(computeEventHash({ ...event, hash: 'x', id: 7 } as never)).toBe(base);
    expect(computeEventHash({ ...event, data: { to: 4, from: 3, alias: 'production' } })).toBe(
      base,
    );
    const changes = [
      { seq: 2 },
      { time: '2026-01-01T00:00:00.001Z' },
      { actor: 'bob' },
      { action: 'alias.delete' },
      { subject: 'fraud-detector2' },
      { data: { alias: 'production', to: 5, from: 3 } },
      { prevHash: 'f'.repeat(64) },
    ];
    for (const change of changes) {
      expect(computeEventHash({ ...event, ...change })).not.toBe(base);
    }
  });

  it.each<[string, object]>([
    ['seq 0', { seq: 0 }],
    ['seq 1.5', { seq: 1.5 }],
    ['local time', { time: '2026-01-01T00:00:00.000+01:00' }],
    ['no milliseconds', { time: '2026-01-01T00:00:00Z' }],
    ['impossible date', { time: '2026-02-30T00:00:00.000Z' }],
    ['empty actor', { actor: '' }],
    ['uppercase prevHash', { prevHash: 'A'.repeat(64) }],
    ['short prevHash', { prevHash: 'abc' }],
    ['undefined in data', { data: { a: undefined } }],
    ['NaN in data', { data: [Number.NaN] }],
  ])('refuses %s', (_name, change) => {
    expect(() => computeEventHash({ ...event, ...change } as never)).toThrow(InvalidArgumentError);
  });

  it('names where in the event a value was refused', () => {
    expect(() => computeEventHash({ ...event, data: { m: { 'a b': [1, Number.NaN] } } })).toThrow(
      'invalid audit event: data is not canonical json: cannot canonicalise json value at $.data.m["a b"][1]: NaN is not a json number',
    );
    expect(() => computeEventHash({ ...event, actor: 'al\ud800ice' })).toThrow(
      'cannot canonicalise json value at $.actor: string contains a lone surrogate',
    );
  });

  it('property: the hash is over the canonical JSON of the whole event, and the same given the data as canonical text', () => {
    const text = fc.string({ minLength: 1, maxLength: 20, unit: 'grapheme' });
    const json = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.parse(JSON.stringify(v)));
    fc.assert(
      fc.property(
        fc.record({
          seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
          time: fc
            .integer({ min: 0, max: 4_102_444_800_000 })
            .map((ms) => new Date(ms).toISOString()),
          actor: text,
          action: text,
          subject: text,
          data: json,
          prevHash: fc.stringMatching(/^[0-9a-f]{64}$/),
        }),
        (e) => {
          const whole = createHash('sha256')
            .update(`modelvault-audit-v1\n${canonicalJson(e)}`)
            .digest('hex');
          expect(computeEventHash(e)).toBe(whole);
          const { data, ...rest } = e;
          expect(computeEventHashOfCanonicalData(rest, canonicalJson(data))).toBe(whole);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('verifyChain', () => {
  it('accepts an intact chain, sync or async', async () => {
    const events = buildChain(5);
    expect(events[0]!.prevHash).toBe(GENESIS_HASH);
    const expected = { ok: true, count: 5, lastSeq: 5, lastHash: events[4]!.hash };
    expect(await verifyChain(events)).toEqual(expected);
    expect(await verifyChain(asAsync(events))).toEqual(expected);
  });

  it('accepts an empty chain', async () => {
    expect(await verifyChain([])).toEqual({
      ok: true,
      count: 0,
      lastSeq: 0,
      lastHash: GENESIS_HASH,
    });
  });

  it('verifies a segment from a trusted head', async () => {
    const events = buildChain(6);
    const from = { seq: events[2]!.seq, hash: events[2]!.hash };
    expect(await verifyChain(events.slice(3), { from })).toMatchObject({
      ok: true,
      count: 3,
      lastSeq: 6,
    });
    expect(await verifyChain(events.slice(3))).toMatchObject({
      ok: false,
      reason: 'seq-gap',
      brokenSeq: 4,
    });
  });

  it('detects a changed row', async () => {
    const events = buildChain(5);
    events[2] = { ...events[2]!, actor: 'mallory' };
    expect(await verifyChain(events)).toMatchObject({
      ok: false,
      brokenSeq: 3,
      reason: 'hash-mismatch',
      count: 2,
      details: { foundHash: events[2]!.hash },
    });
  });

  it('detects a changed row whose hash was recomputed', async () => {
    const events = buildChain(5);
    const forged = { ...events[2]!, data: { version: 99 } };
    events[2] = { ...forged, hash: computeEventHash(forged) };
    expect(await verifyChain(events)).toMatchObject({
      ok: false,
      brokenSeq: 4,
      reason: 'prev-mismatch',
      details: { expectedPrevHash: events[2]!.hash },
    });
  });

  it('detects a deleted row', async () => {
    const events = buildChain(5);
    events.splice(2, 1);
    expect(await verifyChain(events)).toMatchObject({
      ok: false,
      brokenSeq: 4,
      reason: 'seq-gap',
      details: { expectedSeq: 3, foundSeq: 4 },
      count: 2,
    });
  });

  it('detects a deleted first row', async () => {
    const events = buildChain(3).slice(1);
    expect(await verifyChain(events)).toMatchObject({ ok: false, brokenSeq: 2, reason: 'seq-gap' });
  });

  it('detects reordered rows', async () => {
    const events = buildChain(5);
    [events[1], events[2]] = [events[2]!, events[1]!];
    expect(await verifyChain(events)).toMatchObject({
      ok: false,
      brokenSeq: 3,
      reason: 'seq-order',
      details: { expectedSeq: 2, foundSeq: 3 },
    });
    expect(await verifyChain(asAsync(events))).toMatchObject({ reason: 'seq-order', brokenSeq: 3 });
  });

  it('detects rows whose seq numbers were swapped', async () => {
    const events = buildChain(4);
    const a = events[1]!;
    const b = events[2]!;
    events[1] = { ...b, seq: 2 };
    events[2] = { ...a, seq: 3 };
    expect(await verifyChain(events)).toMatchObject({
      ok: false,
      brokenSeq: 2,
      reason: 'prev-mismatch',
    });
  });

  it('detects a duplicated row', async () => {
    const events = buildChain(3);
    events.splice(2, 0, events[1]!);
    expect(await verifyChain(events)).toMatchObject({
      ok: false,
      brokenSeq: 2,
      reason: 'seq-order',
      details: { expectedSeq: 3, foundSeq: 2 },
    });
  });

  it('detects an inserted row with a valid hash of its own', async () => {
    const events = buildChain(4);
    const inserted = nextAuditEvent(events[1]!, input(42, { forged: true }));
    // Inserted after seq 2, later rows renumbered but not rehashed.
    const tampered = [
      events[0]!,
      events[1]!,
      inserted,
      ...events.slice(2).map((e) => ({ ...e, seq: e.seq + 1 })),
    ];
    expect(await verifyChain(tampered)).toMatchObject({
      ok: false,
      brokenSeq: 4,
      reason: 'prev-mismatch',
    });
    // Inserted without renumbering: two events claim seq 3.
    const dup = [events[0]!, events[1]!, inserted, ...events.slice(2)];
    expect(await verifyChain(dup)).toMatchObject({ ok: false, brokenSeq: 3, reason: 'seq-order' });
  });

  it('reports malformed rows instead of throwing', async () => {
    const events = buildChain(3);
    const bad = [events[0]!, { ...events[1]!, time: 'yesterday' }];
    expect(await verifyChain(bad)).toMatchObject({
      ok: false,
      brokenSeq: 2,
      reason: 'malformed',
      details: { field: 'time' },
    });
    expect(await verifyChain([{ ...events[0]!, seq: '1' } as never])).toMatchObject({
      ok: false,
      brokenSeq: 1,
      reason: 'malformed',
    });
    expect(await verifyChain([null as never])).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it('uses checkpoints to catch a rewritten chain and a removed tail', async () => {
    const events = buildChain(5);
    const checkpoint = { seq: 4, hash: events[3]!.hash };

    // Rewrite from seq 3 on, recomputing every hash: a hash chain alone cannot tell.
    const rewritten = events.slice(0, 2);
    let head: AuditEvent = events[1]!;
    for (let i = 3; i <= 5; i++) {
      head = nextAuditEvent(head, input(i, { rewritten: true }));
      rewritten.push(head);
    }
    expect(await verifyChain(rewritten)).toMatchObject({ ok: true });
    expect(await verifyChain(rewritten, { checkpoints: [checkpoint] })).toMatchObject({
      ok: false,
      brokenSeq: 4,
      reason: 'checkpoint-mismatch',
    });

    // Remove the tail.
    expect(await verifyChain(events.slice(0, 3), { checkpoints: [checkpoint] })).toEqual({
      ok: false,
      brokenSeq: 4,
      reason: 'truncated',
      details: { lastSeq: 3, checkpointSeq: 4 },
      count: 3,
    });
    expect(await verifyChain(events, { checkpoints: [checkpoint] })).toMatchObject({ ok: true });
  });

  it('closes the iterator when it stops early', async () => {
    let closed = false;
    const events = buildChain(4);
    events[1] = { ...events[1]!, actor: 'x' };
    async function* source() {
      try {
        yield* events;
      } finally {
        closed = true;
      }
    }
    expect(await verifyChain(source())).toMatchObject({ ok: false });
    expect(closed).toBe(true);
  });

  it('property: any single-field change to any event is detected', async () => {
    const events = buildChain(8);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 7 }),
        fc.constantFrom('time', 'actor', 'action', 'subject', 'data', 'prevHash', 'hash'),
        fc.boolean(),
        async (index, field, rehash) => {
          const copy = [...events];
          const original = copy[index]!;
          const replacement: Record<string, unknown> = {
            time: '2030-01-01T00:00:00.000Z',
            actor: 'mallory',
            action: 'version.delete',
            subject: 'other',
            data: { tampered: true },
            prevHash: 'e'.repeat(64),
            hash: 'd'.repeat(64),
          };
          const changed = { ...original, [field]: replacement[field] } as AuditEvent;
          copy[index] =
            rehash && field !== 'hash' ? { ...changed, hash: computeEventHash(changed) } : changed;
          // Rewriting the newest event and its hash is invisible to the chain alone; a
          // checkpoint of the head catches it.
          const head = events[events.length - 1]!;
          const result = await verifyChain(copy, { checkpoints: [head] });
          expect(result.ok).toBe(false);
          if (!result.ok) expect(result.brokenSeq).toBeLessThanOrEqual(index + 2);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('signed checkpoints', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();

  it('signs a head that verifies with the public key', async () => {
    const events = buildChain(3);
    const result = await verifyChain(events);
    if (!result.ok) throw new Error('chain should verify');
    const signed = signCheckpoint(
      { seq: result.lastSeq, hash: result.lastHash, time: '2026-01-02T00:00:00.000Z' },
      privatePem,
    );
    expect(signed).toMatchObject({ seq: 3, hash: events[2]!.hash, keyId: auditKeyId(publicPem) });
    expect(Buffer.from(signed.signature, 'base64')).toHaveLength(64);
    expect(verifyCheckpoint(signed, publicPem)).toBe(true);
    expect(verifyCheckpoint(signed, publicKey)).toBe(true);
    expect(verifyCheckpoint(signed, privateKey)).toBe(true);
    // Deterministic.
    expect(signCheckpoint(signed, privateKey).signature).toBe(signed.signature);
    // And the verified checkpoint anchors verifyChain.
    expect(await verifyChain(events.slice(0, 2), { checkpoints: [signed] })).toMatchObject({
      reason: 'truncated',
    });
  });

  it('rejects any tampering or another key', () => {
    const signed = signCheckpoint(
      { seq: 7, hash: 'a'.repeat(64), time: '2026-01-02T00:00:00.000Z' },
      privateKey,
    );
    expect(verifyCheckpoint({ ...signed, seq: 8 }, publicKey)).toBe(false);
    expect(verifyCheckpoint({ ...signed, hash: 'b'.repeat(64) }, publicKey)).toBe(false);
    expect(verifyCheckpoint({ ...signed, time: '2026-01-03T00:00:00.000Z' }, publicKey)).toBe(
      false,
    );
    const flipped = Buffer.from(signed.signature, 'base64');
    flipped[0] = flipped[0]! ^ 1;
    expect(verifyCheckpoint({ ...signed, signature: flipped.toString('base64') }, publicKey)).toBe(
      false,
    );
    expect(verifyCheckpoint({ ...signed, signature: 'not base64!' }, publicKey)).toBe(false);
    expect(verifyCheckpoint({ ...signed, seq: Number.NaN }, publicKey)).toBe(false);
    const other = generateKeyPairSync('ed25519').publicKey;
    expect(verifyCheckpoint(signed, other)).toBe(false);
    expect(auditKeyId(other)).not.toBe(signed.keyId);
  });

  it('refuses keys that are not ed25519, and malformed checkpoints', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const cp = { seq: 1, hash: 'a'.repeat(64), time: '2026-01-02T00:00:00.000Z' };
    expect(() => signCheckpoint(cp, rsa.privateKey)).toThrow(
      'invalid private key: expected ed25519 but got rsa',
    );
    expect(() => signCheckpoint(cp, publicKey)).toThrow('invalid private key: got a public key');
    expect(() => signCheckpoint(cp, 'not a pem')).toThrow(InvalidArgumentError);
    const signed = signCheckpoint(cp, privateKey);
    expect(() => verifyCheckpoint(signed, rsa.publicKey)).toThrow(InvalidArgumentError);
    expect(() => signCheckpoint({ ...cp, hash: 'xyz' }, privateKey)).toThrow(InvalidArgumentError);
    expect(() => signCheckpoint({ ...cp, time: 'now' }, privateKey)).toThrow(InvalidArgumentError);
    expect(() => signCheckpoint({ ...cp, seq: -1 }, privateKey)).toThrow(InvalidArgumentError);
  });
});

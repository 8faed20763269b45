/**
 * The audit export format (JSON Lines) and its offline verification.
 *
 * An export is one JSON object per line, oldest first: each event as the API returns it
 * (AuditEvent: seq, time in ms, actor, action, subject, data, prevHash, hash) and, after
 * the event it signs, each checkpoint as `{"type": "checkpoint", seq, hash, time, keyId,
 * signature}`. A filtered export holds no checkpoints (its chain has holes by design).
 *
 * `verifyAuditExport` needs nothing but the file and the server's public key: it checks
 * every checkpoint's signature, then the hash chain from seq 1 through every valid
 * checkpoint (metadata/audit-chain.ts verifyChain), and names the first broken link:
 * a changed, missing, reordered or inserted event, a chain that differs from a signed
 * head, a tail cut before a checkpoint, or a checkpoint not signed by that key.
 */
import type { KeyObject } from 'node:crypto';
import type { JsonValue } from '../core/canonical-json.js';
import type { AuditCheckpoint, AuditEvent } from '../core/registry-api.js';
import {
  type AuditEvent as ChainEvent,
  type ChainHead,
  verifyChain,
  verifyCheckpoint,
} from '../metadata/audit-chain.js';

export const CHECKPOINT_LINE_TYPE = 'checkpoint';

export function checkpointLine(cp: AuditCheckpoint): string {
  return JSON.stringify({ type: CHECKPOINT_LINE_TYPE, ...cp });
}

/**
 * Interleaves checkpoints into an event stream: each after the event it signs. Checkpoints
 * beyond the last event are left out (made while the export ran).
 */
export async function* withCheckpoints(
  events: AsyncIterable<AuditEvent>,
  checkpoints: readonly AuditCheckpoint[],
): AsyncGenerator<string> {
  const queue = [...checkpoints].sort((a, b) => a.seq - b.seq);
  for await (const e of events) {
    yield JSON.stringify(e);
    while (queue.length > 0 && (queue[0] as AuditCheckpoint).seq <= e.seq) {
      yield checkpointLine(queue.shift() as AuditCheckpoint);
    }
  }
}

export interface ExportProblem {
  /** The event (or checkpoint) at fault; null when the file itself is at fault. */
  readonly seq: number | null;
  /** 1-based line of the file, when known. */
  readonly line: number | null;
  /** A ChainBreakReason, or `unreadable`, `checkpoint-signature`, `no-checkpoint`. */
  readonly kind: string;
  readonly message: string;
}

export interface ExportVerification {
  readonly ok: boolean;
  readonly events: number;
  /** Checkpoints whose signature verified with the key. */
  readonly checkpoints: number;
  readonly lastSeq: number | null;
  readonly lastHash: string | null;
  /** The newest valid checkpoint: events up to it are attested by the key. */
  readonly lastCheckpointSeq: number | null;
  /** The first broken link; null when ok. */
  readonly problem: ExportProblem | null;
}

interface Line {
  readonly n: number;
  readonly value: Record<string, unknown> | undefined;
}

async function* parsed(lines: AsyncIterable<string>): AsyncGenerator<Line> {
  let n = 0;
  for await (const text of lines) {
    n++;
    if (text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      value = undefined;
    }
    yield {
      n,
      value:
        value !== null && typeof value === 'object' && !Array.isArray(value)
          ? (value as Record<string, unknown>)
          : undefined,
    };
  }
}

const isCheckpoint = (v: Record<string, unknown>) => v.type === CHECKPOINT_LINE_TYPE;

/**
 * Verifies an export read twice through `open` (checkpoints first, then the chain), in
 * constant memory but for the checkpoints.
 * @throws InvalidArgumentError when `publicKey` is not an ed25519 key.
 */
export async function verifyAuditExport(
  open: () => AsyncIterable<string>,
  publicKey: KeyObject,
): Promise<ExportVerification> {
  const valid: ChainHead[] = [];
  let badCheckpoint: ExportProblem | null = null;
  let unreadable: ExportProblem | null = null;
  for await (const { n, value } of parsed(open())) {
    if (!value) {
      unreadable ??= {
        seq: null,
        line: n,
        kind: 'unreadable',
        message: `line ${n} is not a JSON object`,
      };
      continue;
    }
    if (!isCheckpoint(value)) continue;
    const cp = value as unknown as AuditCheckpoint;
    if (verifyCheckpoint(cp, publicKey)) valid.push({ seq: cp.seq, hash: cp.hash });
    else if (!badCheckpoint || Number(cp.seq) < Number(badCheckpoint.seq)) {
      badCheckpoint = {
        seq: typeof cp.seq === 'number' ? cp.seq : null,
        line: n,
        kind: 'checkpoint-signature',
        message: `the checkpoint at seq ${String(cp.seq)} (line ${n}) is not signed by this key`,
      };
    }
  }

  let lastLine = 0;
  async function* events(): AsyncGenerator<ChainEvent> {
    for await (const { n, value } of parsed(open())) {
      if (!value || isCheckpoint(value)) continue;
      lastLine = n;
      const time = value.time;
      yield {
        seq: value.seq as number,
        time:
          typeof time === 'number' && Number.isFinite(time)
            ? new Date(time).toISOString()
            : String(time),
        actor: value.actor as string,
        action: value.action as string,
        subject: value.subject as string,
        data: value.data as JsonValue,
        prevHash: value.prevHash as string,
        hash: value.hash as string,
      };
    }
  }
  const chain = await verifyChain(events(), { checkpoints: valid });
  const lastCheckpointSeq = valid.length === 0 ? null : Math.max(...valid.map((c) => c.seq));
  let problem: ExportProblem | null = null;
  if (!chain.ok) {
    problem = {
      seq: chain.brokenSeq,
      line: chain.reason === 'truncated' ? null : lastLine,
      kind: chain.reason,
      message: chainMessage(chain.reason, chain.brokenSeq, chain.details),
    };
  }
  for (const p of [badCheckpoint, unreadable]) {
    if (
      p &&
      (!problem || (p.seq ?? Number.MAX_SAFE_INTEGER) < (problem.seq ?? Number.MAX_SAFE_INTEGER))
    ) {
      problem = p;
    }
  }
  if (!problem && valid.length === 0) {
    problem = {
      seq: null,
      line: null,
      kind: 'no-checkpoint',
      message: 'the export holds no checkpoint signed by this key: nothing in it is attested',
    };
  }
  return {
    ok: problem === null,
    events: chain.ok ? chain.count : chain.count,
    checkpoints: valid.length,
    lastSeq: chain.ok ? (chain.count === 0 ? null : chain.lastSeq) : null,
    lastHash: chain.ok && chain.count > 0 ? chain.lastHash : null,
    lastCheckpointSeq,
    problem,
  };
}

function chainMessage(
  reason: string,
  seq: number,
  details: Readonly<Record<string, unknown>>,
): string {
  switch (reason) {
    case 'hash-mismatch':
      return `event ${seq} does not match its hash (its content was changed)`;
    case 'prev-mismatch':
      return `event ${seq} does not link to event ${seq - 1}`;
    case 'seq-gap':
      return `events ${String(details.expectedSeq)}..${seq - 1} are missing`;
    case 'seq-order':
      return `event ${seq} is out of sequence (expected ${String(details.expectedSeq)})`;
    case 'checkpoint-mismatch':
      return `event ${seq} differs from the signed checkpoint at seq ${seq} (the chain was rewritten)`;
    case 'truncated':
      return `the export ends at seq ${String(details.lastSeq)}, before the signed checkpoint at seq ${String(details.checkpointSeq)} (events were removed)`;
    default:
      return `event ${seq} is malformed: ${String(details.problem ?? '')}`;
  }
}

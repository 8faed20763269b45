/**
 * SHA-256 of a byte stream fed in arbitrary blocks, computed on the hash worker thread when
 * it is free (else on this thread): blocks are gathered into 4 MiB shared buffers (one copy)
 * and handed over while the caller goes on receiving and writing. Memory: three buffers.
 * Node only.
 */
import { createHash, type Hash } from 'node:crypto';
import { type HashLease, HashWorker } from '../core/hash-worker.js';

const STAGE_BYTES = 4 * 1024 * 1024;
const STAGES = 3;

/** The SDK's hash thread (started on first use; never keeps the process alive). */
export const clientHashWorker = new HashWorker();

export class StreamHasher {
  private readonly lease: HashLease | undefined;
  private readonly local: Hash | undefined;
  private readonly stages: { buf: SharedArrayBuffer; hashed: Promise<unknown> }[] = [];
  private stage = 0;
  private filled = 0;

  constructor() {
    this.lease = clientHashWorker.tryAcquire();
    if (!this.lease) this.local = createHash('sha256');
    else {
      for (let i = 0; i < STAGES; i++) {
        this.stages.push({ buf: new SharedArrayBuffer(STAGE_BYTES), hashed: Promise.resolve() });
      }
    }
  }

  /** Adds `bytes` (copied or hashed before this resolves: the caller may reuse them). */
  async update(bytes: Uint8Array): Promise<void> {
    if (this.local) {
      this.local.update(bytes);
      return;
    }
    for (let from = 0; from < bytes.length; ) {
      const s = this.stages[this.stage]!;
      if (this.filled === 0) await s.hashed; // the worker is done with this buffer
      const take = Math.min(STAGE_BYTES - this.filled, bytes.length - from);
      new Uint8Array(s.buf, this.filled, take).set(bytes.subarray(from, from + take));
      this.filled += take;
      from += take;
      if (this.filled === STAGE_BYTES) this.handOver();
    }
  }

  /** The hex digest of everything added; the hasher is spent afterwards. */
  async digest(): Promise<string> {
    if (this.local) return this.local.digest('hex');
    try {
      if (this.filled > 0) this.handOver();
      await Promise.all(this.stages.map((s) => s.hashed));
      return await this.lease!.end();
    } finally {
      await this.release();
    }
  }

  /** Gives the worker back without a digest (an abandoned download). Idempotent. */
  async release(): Promise<void> {
    await Promise.allSettled(this.stages.map((s) => s.hashed));
    await this.lease?.release();
  }

  private handOver(): void {
    const s = this.stages[this.stage]!;
    s.hashed = this.lease!.block(s.buf, this.filled);
    s.hashed.catch(() => undefined); // awaited before reuse and in digest()
    this.stage = (this.stage + 1) % STAGES;
    this.filled = 0;
  }
}

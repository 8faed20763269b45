/**
 * A worker thread that computes SHA-256 digests off the main thread: the running digest of
 * a whole byte stream and the digests of the chunks it is cut into. The main thread finds
 * chunk boundaries (CDC) and moves each block here (a SharedArrayBuffer from a small
 * pool: nothing is copied); the worker hashes it and replies with the chunk ids. With two cores this splits an
 * ingest roughly evenly: CDC + packing on one core, hashing on the other.
 *
 * Chunk hashing is shared to balance the two cores: the worker hashes the odd-numbered
 * chunks of a stream (counting from 0) and returns zeros for the even ones, which the
 * caller hashes itself from the bytes it holds anyway. (Main: CDC + half the chunk hashes;
 * worker: the file hash + the other half — about equal work per byte.)
 *
 * The worker source is an inline string evaluated by `new Worker(…, { eval: true })` so it
 * runs the same from TypeScript sources (tests, tsx) and from the compiled package, with
 * no build-time path juggling. It depends only on Node built-ins.
 *
 * Protocol (one stream at a time per worker; `HashWorker` serialises callers):
 *   → { op: 'block', id, buf, length, cuts }   cuts: offsets within this block where a
 *                                              chunk ends (ascending, each ≤ length)
 *   ← { op: 'block', id, buf, ids }            ids: 32 bytes per cut, in order
 *   → { op: 'end', id }                        ← { op: 'end', id, digest, tail }
 *                                              (tail: bytes after the last cut, must be 0)
 */
import { Worker } from 'node:worker_threads';
import { IoError } from '../core/errors.js';

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
let whole = createHash('sha256');
let chunk = createHash('sha256');
let n = 0;
let open = 0;
parentPort.on('message', (m) => {
  if (m.op === 'block') {
    const buf = new Uint8Array(m.buf, 0, m.length);
    whole.update(buf);
    const ids = new Uint8Array(m.cuts.length * 32);
    let pos = 0;
    for (let i = 0; i < m.cuts.length; i++) {
      const cut = m.cuts[i];
      if (n & 1) {
        if (cut > pos) chunk.update(buf.subarray(pos, cut));
        ids.set(chunk.digest(), i * 32);
        chunk = createHash('sha256');
      }
      n++;
      pos = cut;
      open = 0;
    }
    if (pos < m.length) {
      if (n & 1) chunk.update(buf.subarray(pos));
      open += m.length - pos;
    }
    parentPort.postMessage({ op: 'block', id: m.id, ids }, [ids.buffer]);
  } else if (m.op === 'end') {
    const digest = whole.digest('hex');
    parentPort.postMessage({ op: 'end', id: m.id, digest, tail: open });
    whole = createHash('sha256');
    chunk = createHash('sha256');
    n = 0;
    open = 0;
  }
});
`;

interface BlockReply {
  readonly ids: Uint8Array;
}

/** One hashing stream: feed blocks in order, then `end()` for the whole-stream digest. */
export interface HashStream {
  /**
   * Hands `buf[0, length)` to the worker; the reply's ids are zero for even-numbered
   * chunks of the stream, which the caller must hash. `buf` is shared, not copied: the
   * caller must not modify it until the returned promise resolves. Resolves in order.
   */
  block(buf: SharedArrayBuffer, length: number, cuts: readonly number[]): Promise<BlockReply>;
  /**
   * Digest of every byte fed. Throws if bytes after the last cut were never closed, unless
   * `requireClosed` is false (a stream used only for the whole digest, with no cuts).
   */
  end(requireClosed?: boolean): Promise<string>;
}

/**
 * Owns one worker thread. `stream(fn)` runs `fn` with exclusive use of the worker; other
 * callers wait (the engine runs one hashing stream at a time per worker by design: the
 * second core is the resource being shared).
 */
export class HashWorker {
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly waiting = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: unknown) => void }
  >();
  private queue: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  private held = false;

  private start(): Worker {
    if (this.failure) throw this.failure;
    if (this.worker) return this.worker;
    const w = new Worker(WORKER_SOURCE, { eval: true });
    w.unref();
    w.on('message', (m: { id: number }) => {
      const p = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      p?.resolve(m);
    });
    const fail = (e: unknown) => {
      this.failure = new IoError(
        `hash worker failed: ${String((e as Error)?.message ?? e)}`,
        {},
        { cause: e },
      );
      for (const p of this.waiting.values()) p.reject(this.failure);
      this.waiting.clear();
      this.worker = undefined;
    };
    w.on('error', fail);
    w.on('exit', (code) => {
      if (this.worker === w && code !== 0) fail(new Error(`exit code ${code}`));
      if (this.worker === w) this.worker = undefined;
    });
    this.worker = w;
    return w;
  }

  private call<T>(msg: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<T> {
    const w = this.start();
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      w.postMessage({ ...msg, id }, transfer);
    });
  }

  /**
   * The worker's stream if nobody holds it, else undefined (the caller hashes on its own
   * thread instead of waiting). The caller must `release()` it, ended or not.
   */
  tryAcquire(): (HashStream & { release(): Promise<void> }) | undefined {
    if (this.held) return undefined;
    this.held = true;
    let ended = false;
    const prevQueue = this.queue;
    let releaseQueue!: () => void;
    this.queue = new Promise<void>((r) => {
      releaseQueue = r;
    });
    return {
      block: async (buf, length, cuts) => {
        await prevQueue;
        return this.call<BlockReply>({ op: 'block', buf, length, cuts });
      },
      end: async (requireClosed = true) => {
        ended = true;
        await prevQueue;
        const r = await this.call<{ digest: string; tail: number }>({ op: 'end' });
        if (requireClosed && r.tail !== 0) throw new IoError(`hash stream ended with ${r.tail} unclosed bytes`);
        return r.digest;
      },
      release: async () => {
        if (!ended && this.worker && !this.failure) {
          await this.call({ op: 'end' }).catch(() => undefined);
        }
        this.held = false;
        releaseQueue();
      },
    };
  }

  /** Runs `fn` with this worker's exclusive hashing stream. */
  async stream<T>(fn: (s: HashStream) => Promise<T>): Promise<T> {
    const prev = this.queue;
    let release!: () => void;
    this.queue = new Promise<void>((r) => {
      release = r;
    });
    await prev;
    this.held = true;
    let ended = false;
    try {
      const s: HashStream = {
        block: (buf, length, cuts) => this.call<BlockReply>({ op: 'block', buf, length, cuts }, []),
        end: async () => {
          ended = true;
          const r = await this.call<{ digest: string; tail: number }>({ op: 'end' }, []);
          if (r.tail !== 0) throw new IoError(`hash stream ended with ${r.tail} unclosed bytes`);
          return r.digest;
        },
      };
      return await fn(s);
    } finally {
      // An abandoned stream leaves state in the worker: reset it before the next caller.
      if (!ended && this.worker && !this.failure) {
        await this.call({ op: 'end' }, []).catch(() => undefined);
      }
      this.held = false;
      release();
    }
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}

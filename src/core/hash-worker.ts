/**
 * A worker thread that computes the SHA-256 of a byte stream off the main thread. Ingest
 * and whole-file reads hand it each block (a SharedArrayBuffer: nothing is copied) while
 * the main thread chunks, hashes chunks and packs, so the file digest — the one hash that
 * cannot be split or skipped — costs the main thread nothing.
 *
 * The worker source is an inline string evaluated by `new Worker(…, { eval: true })` so it
 * runs the same from TypeScript sources (tests, tsx) and from the compiled package, with
 * no build-time path juggling. It depends only on Node built-ins.
 *
 * Protocol (one stream at a time per worker):
 *   → { op: 'block', id, buf, length, sink? }   ← { op: 'block', id, error? }
 *   → { op: 'ranges', id, buf, ranges }  ← { op: 'ranges', id, digests: [{ key, digest }] }
 *   → { op: 'end', id }                  ← { op: 'end', id, digest }
 * A `block` with a `sink` ({ fd, position, slice }) also writes the block to that file
 * after hashing it; a failed write answers with `error` ({ message, code, errno, syscall }).
 * `ranges` hashes separate byte ranges of the stream (the pieces of a file) instead of the
 * whole: each range adds `buf[from, to)` to the hash named `key` (started with `prefix`),
 * and a range marked `last` finishes it. `end` also drops unfinished range hashes.
 * An extension (constructor argument: JavaScript source run in the worker, with `ops`,
 * `resets`, `createHash` and `require` in scope) adds operations:
 *   → { op: <name>, id, …fields }        ← { op, id, result: ops[name](message) }
 * and stream state that `end` clears (each function in `resets` is called). The storage
 * engine's chunk worker (storage/chunking/cdc-worker.ts) is such an extension.
 */
import { Worker } from 'node:worker_threads';
import { IoError } from './errors.js';

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { writeSync } = require('node:fs');
let whole = createHash('sha256');
let parts = new Map();
// Extensions (HashWorker's constructor) add handlers to ops and stream resets to resets.
const ops = Object.create(null);
const resets = [];
/*EXTENSION*/
// All of view at sink.position, in writes of at most sink.slice cut at multiples of it.
function writeSlices(sink, view) {
  for (let done = 0; done < view.length; ) {
    const at = sink.position + done;
    const n = Math.min(view.length - done, sink.slice - (at % sink.slice));
    done += writeSync(sink.fd, view, done, n, at);
  }
}
parentPort.on('message', (m) => {
  if (m.op in ops) {
    parentPort.postMessage({ op: m.op, id: m.id, result: ops[m.op](m) });
  } else if (m.op === 'block') {
    const view = new Uint8Array(m.buf, 0, m.length);
    whole.update(view);
    if (m.sink) {
      try {
        writeSlices(m.sink, view);
      } catch (e) {
        const error = { message: String(e && e.message), code: e && e.code, errno: e && e.errno, syscall: e && e.syscall };
        parentPort.postMessage({ op: 'block', id: m.id, error });
        return;
      }
    }
    parentPort.postMessage({ op: 'block', id: m.id });
  } else if (m.op === 'ranges') {
    const digests = [];
    for (const r of m.ranges) {
      let h = parts.get(r.key);
      if (!h) {
        h = createHash('sha256');
        if (r.prefix) h.update(r.prefix);
        parts.set(r.key, h);
      }
      h.update(new Uint8Array(m.buf, r.from, r.to - r.from));
      if (r.last) {
        digests.push({ key: r.key, digest: h.digest('hex') });
        parts.delete(r.key);
      }
    }
    parentPort.postMessage({ op: 'ranges', id: m.id, digests });
  } else if (m.op === 'end') {
    parentPort.postMessage({ op: 'end', id: m.id, digest: whole.digest('hex') });
    whole = createHash('sha256');
    parts = new Map();
    for (const reset of resets) reset();
  }
});
`;

/** One hashing stream: feed blocks in order, then `end()` for the digest. */
export interface HashStream {
  /**
   * Adds `buf[0, length)` to the digest. `buf` is shared, not copied: the caller must not
   * modify it until the returned promise resolves. Resolves in submission order. With a
   * `sink`, the worker then also writes those bytes to the sink's file (synchronously, on
   * its own thread: no threadpool request per write) and the promise rejects with the
   * write's error (message, code, errno, syscall) if that fails; the caller keeps the
   * descriptor open until the promise settles.
   */
  block(buf: SharedArrayBuffer, length: number, sink?: BlockSink): Promise<void>;
  /**
   * Adds `buf[from, to)` of each range to the separate hash named by its `key` (a new key
   * starts with `prefix`, if given); resolves with the digests of the ranges marked `last`,
   * in order. Same sharing rule as `block`. Independent of the whole-stream digest.
   */
  ranges(buf: SharedArrayBuffer, ranges: readonly HashRange[]): Promise<RangeDigest[]>;
  /** SHA-256 (hex) of every byte fed to `block`; resets the stream and any open ranges. */
  end(): Promise<string>;
  /**
   * Runs operation `op` of the worker's extension with `fields` (structured-cloned; shared
   * buffers are shared, under the same rule as `block`); resolves with its result, in
   * submission order with the other calls. Rejects with IoError if the worker fails.
   */
  request<T>(op: string, fields: Record<string, unknown>): Promise<T>;
}

/** Where HashStream.block also writes its bytes: `fd` at `position`. */
export interface BlockSink {
  readonly fd: number;
  readonly position: number;
  /** The most one write hands the kernel, cut at multiples of this in the file. */
  readonly slice: number;
}

/** A write error as the worker reports it. */
interface SinkError {
  readonly message: string;
  readonly code?: string;
  readonly errno?: number;
  readonly syscall?: string;
}

/** The worker's write error as an Error with the same message, code, errno and syscall. */
function sinkError(e: SinkError): Error {
  const err = new Error(e.message) as Error & Record<string, unknown>;
  if (e.code !== undefined) err.code = e.code;
  if (e.errno !== undefined) err.errno = e.errno;
  if (e.syscall !== undefined) err.syscall = e.syscall;
  return err;
}

/** One part of a keyed hash (HashStream.ranges). */
export interface HashRange {
  readonly key: number;
  readonly from: number;
  readonly to: number;
  readonly prefix?: Uint8Array;
  readonly last: boolean;
}

export interface RangeDigest {
  readonly key: number;
  readonly digest: string;
}

export interface HashLease extends HashStream {
  /** Gives the stream back (resetting it if it was not ended). Call exactly once. */
  release(): Promise<void>;
}

/**
 * Owns one worker thread, started on first use. One stream at a time: `acquire()` waits
 * for the current holder, `tryAcquire()` does not (the caller then hashes on its own
 * thread). The second core is the resource being shared.
 */
export class HashWorker {
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly waiting = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: unknown) => void }
  >();
  private failure: Error | undefined;
  private held = false;
  private readonly queue: (() => void)[] = [];

  /**
   * @param extension JavaScript source evaluated in the worker before it takes messages
   *   (see the protocol above); it must define only operations not named block, ranges
   *   or end.
   */
  constructor(private readonly extension = '') {}

  private start(): Worker {
    if (this.failure) throw this.failure;
    if (this.worker) return this.worker;
    const w = new Worker(
      WORKER_SOURCE.replace('/*EXTENSION*/', () => this.extension),
      {
        eval: true,
      },
    );
    w.on('message', (m: { id: number }) => {
      const p = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (this.waiting.size === 0) w.unref();
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
    // Referenced only while a call is outstanding (see call()): an idle worker never keeps
    // the process alive (the SDK never closes its worker), a busy one always does. After
    // the listeners, since adding a 'message' listener refs the worker's port again.
    w.unref();
    this.worker = w;
    return w;
  }

  private call<T>(msg: Record<string, unknown>): Promise<T> {
    const w = this.start();
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      if (this.waiting.size === 0) w.ref();
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      w.postMessage({ ...msg, id });
    });
  }

  private lease(): HashLease {
    let ended = true;
    let released = false;
    return {
      block: async (buf, length, sink) => {
        ended = false;
        const r = await this.call<{ error?: SinkError }>({
          op: 'block',
          buf,
          length,
          ...(sink ? { sink } : {}),
        });
        if (r.error) throw sinkError(r.error);
      },
      ranges: async (buf, ranges) => {
        ended = false;
        return (await this.call<{ digests: RangeDigest[] }>({ op: 'ranges', buf, ranges })).digests;
      },
      end: async () => {
        ended = true;
        return (await this.call<{ digest: string }>({ op: 'end' })).digest;
      },
      request: async <T>(op: string, fields: Record<string, unknown>) => {
        ended = false;
        return (await this.call<{ result: T }>({ ...fields, op })).result;
      },
      release: async () => {
        if (released) return;
        released = true;
        // An abandoned stream leaves state in the worker: reset it for the next holder.
        if (!ended && this.worker && !this.failure)
          await this.call({ op: 'end' }).catch(() => undefined);
        const next = this.queue.shift();
        if (next) next();
        else this.held = false;
      },
    };
  }

  /** The stream, once every earlier holder has released it. */
  async acquire(): Promise<HashLease> {
    if (this.held) await new Promise<void>((resolve) => this.queue.push(resolve));
    this.held = true;
    return this.lease();
  }

  /** The stream if nobody holds it, else undefined. */
  tryAcquire(): HashLease | undefined {
    if (this.held) return undefined;
    this.held = true;
    return this.lease();
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}

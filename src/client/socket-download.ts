/**
 * A plain-HTTP GET read straight off a TCP socket into reused buffers: the download path of
 * a pull over http:// in Node (node-download.ts picks it). node:http hands the body over
 * as a fresh 64 KiB buffer per socket read, which its parser then copies: on loopback
 * that allocation, the copy and their garbage collection cost more CPU than the SHA-256
 * every byte needs. Here the socket reads (`onread`) into a few 1 MiB slabs, each handed
 * to the caller whole and reused once the caller is done with it.
 *
 * Only the simple case is handled: a 2xx answer with a Content-Length and no
 * Transfer-Encoding (what the server sends for files and ranges). Anything else — an
 * error answer, a chunked or unframed body, a 1xx — closes the socket and yields
 * `undefined`, and the caller repeats the GET through node:http, which handles everything
 * (an error costs one more request; downloads are idempotent GETs).
 *
 * Each request uses its own connection (`Connection: close`): one TCP handshake per file
 * is nothing next to the body.
 */
import { connect, type Socket } from 'node:net';
import { ModelvaultError } from '../core/errors.js';
import type { HttpClient } from './http-client.js';
import type { Download } from './node-download.js';

/** Size of a reused body buffer. */
const SLAB_BYTES = 1024 * 1024;
/** The first buffer holds the response head (and the start of the body). */
const HEAD_BYTES = 64 * 1024;
/** A buffer with less room than this is handed over, and reading moves to the next. */
const MIN_READ = 64 * 1024;
/** Filled buffers waiting for or held by the caller before the socket pauses. */
const MAX_OUT = 3;

const CRLFCRLF = Buffer.from('\r\n\r\n');

interface Head {
  readonly status: number;
  readonly headers: ReadonlyMap<string, string>;
}

/** Parses a response head (latin1 text before the blank line); undefined if malformed. */
function parseHead(text: string): Head | undefined {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(lines[0] ?? '');
  if (!m) return undefined;
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const seen = headers.get(name);
    headers.set(name, seen === undefined ? value : `${seen}, ${value}`);
  }
  return { status: Number(m[1]), headers };
}

/** The request head; refuses header names or values that could split it. */
function requestHead(url: URL, headers: Readonly<Record<string, string>>): string {
  let head = `GET ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\nconnection: close\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    if (/[\r\n:]/.test(name) || /[\r\n]/.test(value)) {
      throw new ModelvaultError('INVALID_ARGUMENT', `invalid request header '${name}'`);
    }
    const lower = name.toLowerCase();
    if (lower === 'host' || lower === 'connection') continue;
    head += `${name}: ${value}\r\n`;
  }
  return `${head}\r\n`;
}

/**
 * GETs `path` over a plain TCP connection (an http:// server). Resolves the Download once
 * the response head has arrived, or undefined when the answer is not a simply framed 2xx
 * (the caller repeats the request through node:http). Blocks are lent (`lendsBlocks`).
 * @throws ModelvaultError UNAVAILABLE when the server cannot be reached; the signal's
 *   reason when aborted.
 */
export function socketDownload(
  http: HttpClient,
  path: string,
  headers: Readonly<Record<string, string>>,
  signal: AbortSignal | undefined,
): Promise<Download | undefined> {
  const url = new URL(http.url(path));
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port === '' ? 80 : Number(url.port);

  return new Promise<Download | undefined>((resolveHead, rejectHead) => {
    signal?.throwIfAborted();
    const request = requestHead(url, http.headersWith(headers));
    // Buffers: `slab` is being read into at `fill`; its bytes from `start` are body not
    // yet handed over. `ready` holds filled blocks not yet given to the consumer; `out`
    // counts blocks handed over or ready, whose buffers are not back yet.
    let slab: Buffer = Buffer.allocUnsafeSlow(HEAD_BYTES);
    let fill = 0;
    let start = 0;
    const free: Buffer[] = [];
    const ready: Buffer[] = [];
    let out = 0;
    let paused = false;

    let head: Head | undefined;
    let length = 0; // body bytes expected
    let received = 0; // body bytes read so far
    let complete = false;
    let settledHead = false;
    let consumer: ((block: Uint8Array) => Promise<void> | undefined) | undefined;
    let busy = false;
    let finish: { resolve: () => void; reject: (e: unknown) => void } | undefined;
    let failure: { error: unknown } | undefined;

    const takeSlab = (): Buffer => free.pop() ?? Buffer.allocUnsafeSlow(SLAB_BYTES);

    const lost = (e: unknown) => http.lostDuringDownload(e, signal);

    const fail = (e: unknown) => {
      if (failure) return;
      failure = { error: e };
      socket.destroy();
      signal?.removeEventListener('abort', onAbort);
      if (!settledHead) {
        settledHead = true;
        rejectHead(e);
      }
      finish?.reject(e);
    };
    const onAbort = () => fail(signal?.reason);

    /** Gives a block's buffer back; resumes a socket paused for want of buffers. */
    const giveBack = (block: Buffer) => {
      out--;
      if (block.buffer.byteLength === SLAB_BYTES) {
        free.push(Buffer.from(block.buffer, 0, SLAB_BYTES));
      }
      if (paused && out < MAX_OUT && !failure) {
        paused = false;
        socket.resume();
      }
    };

    /** Hands ready blocks to the consumer, one at a time; ends the download after the last. */
    const pump = () => {
      while (consumer && !busy && !failure && ready.length > 0) {
        const block = ready.shift()!;
        let wait: Promise<void> | undefined;
        try {
          wait = consumer(block);
        } catch (e) {
          fail(e);
          return;
        }
        if (!wait) {
          giveBack(block);
          continue;
        }
        busy = true;
        wait.then(
          () => {
            busy = false;
            giveBack(block);
            pump();
          },
          (e: unknown) => fail(e),
        );
      }
      if (consumer && complete && !busy && ready.length === 0 && !failure) {
        signal?.removeEventListener('abort', onAbort);
        socket.destroy();
        finish?.resolve();
      }
    };

    /** Moves the unsent body bytes of the current buffer to `ready`. */
    const handOver = () => {
      if (fill > start) {
        ready.push(slab.subarray(start, fill));
        out++;
      }
      start = fill;
    };

    const onHead = (end: number): boolean => {
      const parsed = parseHead(slab.toString('latin1', 0, end));
      const lengthText = parsed?.headers.get('content-length');
      if (
        !parsed ||
        parsed.status < 200 ||
        parsed.status > 299 ||
        parsed.headers.has('transfer-encoding') ||
        lengthText === undefined ||
        !/^\d{1,15}$/.test(lengthText)
      ) {
        // Not the simple case: node:http repeats the request and handles it.
        settledHead = true;
        socket.destroy();
        signal?.removeEventListener('abort', onAbort);
        resolveHead(undefined);
        return false;
      }
      head = parsed;
      length = Number(lengthText);
      start = end + CRLFCRLF.length;
      settledHead = true;
      resolveHead(download);
      return true;
    };

    /** After each socket read of `n` bytes into `slab` at `fill`. */
    const onRead = (n: number): boolean => {
      if (failure || complete) return false;
      const before = fill;
      fill += n;
      if (!head) {
        const at = slab.subarray(0, fill).indexOf(CRLFCRLF, Math.max(0, before - 3));
        if (at < 0) {
          if (fill === slab.length) fail(http.unreachable(new Error('response head too large')));
          return !failure;
        }
        if (!onHead(at)) return false;
      }
      const body = fill - start;
      if (received + body >= length) {
        // Bytes past the declared length (there should be none: the server closes) are ignored.
        fill = start + (length - received);
        received = length;
        complete = true;
        handOver();
        pump();
        return false;
      }
      if (slab.length - fill < MIN_READ) {
        received += fill - start;
        handOver();
        slab = takeSlab();
        fill = 0;
        start = 0;
        pump();
        if (out >= MAX_OUT) {
          paused = true;
          return false;
        }
      }
      return true;
    };

    const download: Download = {
      get status() {
        return head?.status ?? 0;
      },
      lendsBlocks: true,
      header: (name) => head?.headers.get(name.toLowerCase()),
      consume: (onBlock) =>
        new Promise<void>((resolve, reject) => {
          if (failure) return reject(failure.error);
          finish = { resolve, reject };
          consumer = onBlock;
          pump();
        }),
      cancel: () => fail(new ModelvaultError('UNAVAILABLE', 'the download was cancelled')),
    };

    const socket: Socket = connect({
      host,
      port,
      noDelay: true,
      onread: {
        buffer: () => slab.subarray(fill),
        callback: (n: number) => onRead(n),
      },
    });
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('connect', () => socket.write(request));
    socket.on('error', (e) => fail(settledHead ? lost(e) : http.unreachable(e)));
    socket.on('close', () => {
      if (complete || failure || (settledHead && head === undefined)) return;
      const e = new Error('the response ended early');
      fail(settledHead ? lost(e) : http.unreachable(e));
    });
  });
}

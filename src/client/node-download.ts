/**
 * GET requests whose bodies are file bytes (pulls), in Node. Without a caller-supplied
 * fetch, a plain-http server is read straight off the socket into reused buffers
 * (socket-download.ts: no per-block allocation or copy), and https, or an answer that
 * path does not handle (errors, chunked bodies), goes through node:http(s): there the
 * body arrives as the socket's own buffers, where fetch (undici) wraps every 64 KiB block
 * in a web stream read and copies it — on loopback that alone made a pull ~1.8× slower.
 * With a custom fetch (a proxy, fault injection in tests) that fetch is used, as for
 * every other request.
 *
 * Errors are those of HttpClient: an error response becomes its typed error, a refused or
 * dropped connection ModelvaultError UNAVAILABLE (transient: the caller resumes).
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { errorFromResponse } from './errors.js';
import type { HttpClient } from './http-client.js';
import { socketDownload } from './socket-download.js';

/** A successful (2xx) response whose body is read as byte blocks. */
export interface Download {
  readonly status: number;
  /**
   * False: every block handed to `consume`'s callback is the caller's to keep. True: the
   * block is lent — valid until the promise the callback returned resolves (or, when it
   * returned undefined, until it returns), its buffer reused afterwards.
   */
  readonly lendsBlocks: boolean;
  header(name: string): string | undefined;
  /**
   * Reads the body to its end, handing each block to `onBlock` as it arrives (see
   * `lendsBlocks`). A promise returned by `onBlock` pauses the body until it
   * resolves; an error thrown (or rejected) by it abandons the body and rejects. A
   * connection lost midway rejects with ModelvaultError UNAVAILABLE. Call at most once.
   */
  consume(onBlock: (block: Uint8Array) => Promise<void> | undefined): Promise<void>;
  /** Releases the connection of a body that will not be read to its end. */
  cancel(): void;
}

/** Largest error body read to build the typed error. */
const MAX_ERROR_BODY = 1024 * 1024;

/**
 * GETs `path` (retrying a request that cannot reach the server, like any idempotent GET).
 * @throws the typed error of an error response; UNAVAILABLE after the retries.
 */
export function openDownload(
  http: HttpClient,
  path: string,
  headers: Readonly<Record<string, string>>,
  signal: AbortSignal | undefined,
): Promise<Download> {
  return http.retrying({ idempotent: true, signal }, async () => {
    if (http.customFetch) return viaFetch(http, path, headers, signal);
    if (new URL(http.baseUrl).protocol === 'http:') {
      const direct = await socketDownload(http, path, headers, signal);
      if (direct) return direct;
    }
    return viaNode(http, path, headers, signal);
  });
}

async function viaFetch(
  http: HttpClient,
  path: string,
  headers: Readonly<Record<string, string>>,
  signal: AbortSignal | undefined,
): Promise<Download> {
  const res = await http.request('GET', path, { headers, signal });
  const reader = res.body?.getReader();
  let finished = false;
  const consume = async (onBlock: (block: Uint8Array) => Promise<void> | undefined) => {
    if (!reader) return;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) {
          finished = true;
          return;
        }
        if (value && value.length > 0) await onBlock(value);
      }
    } finally {
      if (!finished) await reader.cancel().catch(() => undefined);
    }
  };
  return {
    status: res.status,
    lendsBlocks: false,
    header: (name) => res.headers.get(name) ?? undefined,
    consume,
    cancel: () => void reader?.cancel().catch(() => undefined),
  };
}

async function viaNode(
  http: HttpClient,
  path: string,
  headers: Readonly<Record<string, string>>,
  signal: AbortSignal | undefined,
): Promise<Download> {
  const url = new URL(http.url(path));
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(
      url,
      { method: 'GET', headers: http.headersWith(headers), ...(signal ? { signal } : {}) },
      resolve,
    );
    req.on('error', (e) => reject(signal?.aborted ? (signal.reason ?? e) : http.unreachable(e)));
    req.end();
  });
  const status = res.statusCode ?? 0;
  const header = (name: string) => {
    const v = res.headers[name.toLowerCase()];
    return Array.isArray(v) ? v.join(', ') : v;
  };
  if (status < 200 || status > 299) {
    const text = await readBounded(res).catch(() => '');
    const flat = new Headers();
    for (const [k, v] of Object.entries(res.headers)) {
      if (v !== undefined) flat.set(k, Array.isArray(v) ? v.join(', ') : v);
    }
    // Response() refuses statuses outside 200-599; anything else is a broken server.
    const shown = status >= 200 && status <= 599 ? status : 502;
    throw await errorFromResponse(
      new Response(text, { status: shown, headers: flat }),
      `GET ${path}`,
    );
  }
  const lost = (e: unknown) => http.lostDuringDownload(e, signal);
  // 'data' events rather than async iteration: one call per socket block, no promise per
  // block unless the caller must wait (about a third less CPU for the same bytes).
  const consume = (onBlock: (block: Uint8Array) => Promise<void> | undefined) =>
    new Promise<void>((resolve, reject) => {
      let settled = false;
      let pending: Promise<void> | undefined;
      const fail = (e: unknown) => {
        if (settled) return;
        settled = true;
        // Abandoned early (a failed check): drop the connection rather than drain it.
        res.destroy();
        reject(e);
      };
      res.on('data', (b: Buffer) => {
        if (settled) return;
        let wait: Promise<void> | undefined;
        try {
          wait = onBlock(b);
        } catch (e) {
          fail(e);
          return;
        }
        if (wait) {
          res.pause();
          pending = wait.then(() => {
            pending = undefined;
            if (!settled) res.resume();
          }, fail);
        }
      });
      res.on('end', () => {
        void (pending ?? Promise.resolve()).then(() => {
          if (settled) return;
          settled = true;
          resolve();
        });
      });
      res.on('error', (e) => fail(lost(e)));
      res.on('close', () => {
        if (!res.complete) fail(lost(new Error('the response ended early')));
      });
    });
  return { status, lendsBlocks: false, header, consume, cancel: () => res.destroy() };
}

async function readBounded(res: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const b of res as AsyncIterable<Buffer>) {
    size += b.length;
    if (size > MAX_ERROR_BODY) {
      res.destroy();
      break;
    }
    parts.push(b);
  }
  return Buffer.concat(parts).toString('utf8');
}

/**
 * The SDK's transport: JSON requests over `fetch` against one server, typed errors, and
 * retries of idempotent requests when the server cannot be reached or is restarting.
 * Browser-safe: only fetch, URL and web streams.
 */
import { ModelvaultError } from '../core/errors.js';
import { errorFromResponse } from './errors.js';

export interface ClientOptions {
  /** A fetch implementation (default: the global one). Tests inject faults through it. */
  readonly fetch?: typeof fetch;
  /** Sent with every request (e.g. an Authorization header once the server has auth). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Sent as `Authorization: Bearer <token>`. */
  readonly token?: string;
  /** Retries of idempotent requests and of upload steps after a failure. Default 4. */
  readonly retries?: number;
  /** First retry delay; doubled each time. Default 200 ms. */
  readonly retryDelayMs?: number;
}

export type Query = Readonly<Record<string, string | number | boolean | undefined>>;

export interface RequestOptions {
  readonly query?: Query;
  /** Sent as JSON. */
  readonly json?: unknown;
  /** Sent as is (with `headers['content-type']`). */
  readonly body?: Uint8Array;
  readonly headers?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
  /** Retry when the server cannot be reached (only for requests safe to repeat). */
  readonly idempotent?: boolean;
}

/** True for failures worth retrying: no connection, reset, or the server restarting. */
export function isTransient(e: unknown): boolean {
  return e instanceof ModelvaultError && e.code === 'UNAVAILABLE';
}

/** Longest wait a server's Retry-After may impose on one retry. */
const MAX_RETRY_AFTER_MS = 60_000;

/**
 * How long to wait before retry `n` (1-based) after `e`: the doubling delay from `baseMs`,
 * or the server's Retry-After (`details.retryAfterSeconds`, e.g. a busy server's 503)
 * when that is longer, capped at a minute.
 */
export function retryDelay(e: unknown, n: number, baseMs: number): number {
  const backoff = baseMs * 2 ** (n - 1);
  const after = e instanceof ModelvaultError ? e.details?.retryAfterSeconds : undefined;
  if (typeof after !== 'number' || !(after > 0)) return backoff;
  return Math.max(backoff, Math.min(after * 1000, MAX_RETRY_AFTER_MS));
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export class HttpClient {
  readonly baseUrl: string;
  readonly retries: number;
  readonly retryDelayMs: number;
  /**
   * True when the caller supplied its own fetch: every request then goes through it (a
   * Node download could otherwise take the faster node:http path, see node-download.ts).
   */
  readonly customFetch: boolean;
  private readonly fetchImpl: typeof fetch;
  private readonly headers: Record<string, string>;

  constructor(baseUrl: string, options: ClientOptions = {}) {
    let url: URL;
    try {
      url = new URL(baseUrl);
    } catch {
      throw new ModelvaultError(
        'INVALID_ARGUMENT',
        `invalid server url '${baseUrl.slice(0, 200)}'`,
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new ModelvaultError('INVALID_ARGUMENT', `server url must be http(s): '${baseUrl}'`);
    }
    url.search = '';
    url.hash = '';
    this.baseUrl = url.href.endsWith('/') ? url.href : `${url.href}/`;
    this.customFetch = options.fetch !== undefined;
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
    this.headers = { ...(options.headers ?? {}) };
    if (options.token) this.headers.authorization = `Bearer ${options.token}`;
    this.retries = options.retries ?? 4;
    this.retryDelayMs = options.retryDelayMs ?? 200;
  }

  /** Absolute URL of an API path such as `/api/v1/models`. */
  url(path: string, query?: Query): string {
    const u = new URL(path.replace(/^\//, ''), this.baseUrl);
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v !== undefined) u.searchParams.set(k, String(v));
    }
    return u.href;
  }

  /**
   * Sends a request and returns the successful response (2xx or 304).
   * @throws the typed error of an error response; ModelvaultError UNAVAILABLE when the
   *   server cannot be reached (after retries, for idempotent requests).
   */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    return this.retrying(options, () => this.once(method, path, options));
  }

  /**
   * Runs `attempt`, repeating it (with doubling delays) while it fails transiently, when
   * `options.idempotent` allows.
   */
  async retrying<T>(
    options: Pick<RequestOptions, 'idempotent' | 'signal'>,
    attempt: () => Promise<T>,
  ): Promise<T> {
    const attempts = options.idempotent ? this.retries + 1 : 1;
    for (let n = 1; ; n++) {
      try {
        return await attempt();
      } catch (e) {
        if (n >= attempts || !isTransient(e) || options.signal?.aborted) throw e;
        await sleep(retryDelay(e, n, this.retryDelayMs), options.signal);
      }
    }
  }

  /** The headers every request carries (authorization, the caller's), plus `extra`. */
  headersWith(extra: Readonly<Record<string, string>> = {}): Record<string, string> {
    return { ...this.headers, ...extra };
  }

  private async once(method: string, path: string, options: RequestOptions): Promise<Response> {
    const headers = this.headersWith(options.headers);
    let body: Uint8Array | string | undefined;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] = 'application/json';
    } else if (options.body !== undefined) {
      body = options.body;
    }
    const url = this.url(path, options.query);
    let res: Response;
    try {
      res = await this.fetchImpl(url, {
        method,
        headers,
        // The DOM typings want Uint8Array<ArrayBuffer>; ours may view a SharedArrayBuffer
        // in principle, never in practice (bodies are built from plain buffers).
        ...(body !== undefined ? { body: body as NonNullable<RequestInit['body']> } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (e) {
      if (options.signal?.aborted) throw options.signal.reason ?? e;
      throw this.unreachable(e);
    }
    if (res.ok || res.status === 304) return res;
    const error = await errorFromResponse(res, `${method} ${path}`);
    throw error;
  }

  /** The error of a request that could not reach the server (transient: UNAVAILABLE). */
  unreachable(e: unknown): ModelvaultError {
    return new ModelvaultError(
      'UNAVAILABLE',
      `cannot reach the Modelvault server at ${this.baseUrl}: ${describeFetchError(e)}`,
      { url: this.baseUrl },
      { cause: e },
    );
  }

  /**
   * The error of a download whose connection broke after the response began: the abort
   * reason when `signal` was aborted, else UNAVAILABLE (transient: the pull can resume).
   */
  lostDuringDownload(e: unknown, signal: AbortSignal | undefined): unknown {
    if (signal?.aborted) return signal.reason ?? e;
    return new ModelvaultError(
      'UNAVAILABLE',
      `the connection to ${this.baseUrl} was lost during a download: ${(e as Error).message}`,
      { url: this.baseUrl },
      { cause: e },
    );
  }

  /** A JSON request; resolves the parsed body (undefined for 204). */
  async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.request(method, path, {
      idempotent: method === 'GET',
      ...options,
    });
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ModelvaultError('INTERNAL', `${method} ${path}: the server sent invalid JSON`, {
        status: res.status,
      });
    }
  }
}

function describeFetchError(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } })?.cause;
  if (cause?.code) return cause.code;
  if (cause?.message) return cause.message;
  const code = (e as { code?: unknown })?.code; // node:http's own errors
  if (typeof code === 'string') return code;
  return e instanceof Error ? e.message : String(e);
}

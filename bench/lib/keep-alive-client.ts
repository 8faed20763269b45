/**
 * One sequential HTTP client over a single keep-alive connection (node:http with an Agent
 * of one socket), for the single-call throughput benches (server-api.ts, mlflow.ts).
 * node:http rather than global fetch: undici's fetch costs ~1.5 ms of client CPU per request
 * on this machine, which capped a sequential client well below what the server answers.
 */
import { Agent, request } from 'node:http';
import { processCpu } from './util.js';

export interface KeepAliveClient {
  /**
   * Sends one request (a string body as JSON) and resolves with the response body as text.
   * @throws Error naming the path and status when the status is not 2xx.
   */
  call(method: string, path: string, body?: string): Promise<string>;
  /** Closes the connection. */
  destroy(): void;
}

/** A client of `baseUrl` (`http://host:port`) over one keep-alive connection. */
export function keepAliveClient(baseUrl: string): KeepAliveClient {
  const base = new URL(baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  return {
    call: (method, path, body) =>
      new Promise((resolve, reject) => {
        const req = request(
          {
            host: base.hostname,
            port: base.port,
            method,
            path,
            agent,
            headers:
              body === undefined
                ? {}
                : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          },
          (res) => {
            const parts: Buffer[] = [];
            res.on('data', (d: Buffer) => parts.push(d));
            res.on('end', () => {
              const text = Buffer.concat(parts).toString('utf8');
              const status = res.statusCode ?? 0;
              if (status < 200 || status > 299) reject(new Error(`${path}: ${status} ${text}`));
              else resolve(text);
            });
          },
        );
        req.on('error', reject);
        req.end(body);
      }),
    destroy: () => agent.destroy(),
  };
}

export interface SequentialResult {
  readonly reqPerS: number;
  /** Server CPU ms per request (NaN without `serverPid`). */
  readonly serverCpuMs: number;
  /** The database's CPU ms per request (NaN without `databaseCpu`). */
  readonly databaseCpuMs: number;
}

/**
 * Runs `fn` `warmup` times, then `count` times one after another, timing the latter; with
 * `serverPid` also the server process's CPU time (user + system from /proc) per request,
 * read before and after the measured loop: unlike req/s it hardly depends on what else a
 * shared machine runs. `databaseCpu` (CPU seconds so far, e.g. `postgresCpu`) is read
 * the same way, for a database server in processes of its own.
 */
export async function sequentialRate(
  count: number,
  fn: (i: number) => Promise<unknown>,
  options: {
    readonly warmup?: number;
    readonly serverPid?: number | undefined;
    readonly databaseCpu?: (() => Promise<number>) | undefined;
  } = {},
): Promise<SequentialResult> {
  for (let i = 0; i < (options.warmup ?? 200); i++) await fn(-1 - i);
  const db0 = options.databaseCpu ? await options.databaseCpu() : Number.NaN;
  const cpu0 = options.serverPid === undefined ? Number.NaN : await processCpu(options.serverPid);
  const t = performance.now();
  for (let i = 0; i < count; i++) await fn(i);
  const reqPerS = count / ((performance.now() - t) / 1000);
  const cpu1 = options.serverPid === undefined ? Number.NaN : await processCpu(options.serverPid);
  const db1 = options.databaseCpu ? await options.databaseCpu() : Number.NaN;
  return {
    reqPerS,
    serverCpuMs: ((cpu1 - cpu0) * 1000) / count,
    databaseCpuMs: ((db1 - db0) * 1000) / count,
  };
}

/**
 * Runs the server until SIGTERM/SIGINT: opens the registry directory, listens, prints the
 * URL, and shuts down gracefully. Used by `mvault serve` and by `npm start`.
 *
 * Shutdown: stop accepting connections (new requests get 503), let in-flight requests
 * finish — a chunk batch is at most maxBatchBytes, so they end soon — wait for commits
 * running in this process, then close the store and database. If that takes longer than
 * `shutdownTimeoutMs`, the process exits anyway: an upload cut off there stays resumable
 * (verified chunks are indexed as each batch ends; a session never commits half-way), and
 * temp files of the dead process are removed at the next start.
 */
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { InvalidArgumentError } from '../core/errors.js';
import { reportingMigrations } from '../metadata/migration-report.js';
import { buildApp } from './app.js';
import { type OpenBackendOptions, openServerBackend } from './open-backend.js';

export interface RunServerOptions extends OpenBackendOptions {
  readonly registry: string;
  readonly host?: string;
  readonly port?: number;
  /** Allow a non-loopback host without authentication (no users and no `auth`). */
  readonly insecure?: boolean;
  /** Require authentication even while the registry has no user (`--auth`). */
  readonly auth?: boolean;
  readonly logger?: Logger | false;
  /** The log level (pino's): fatal, error, warn, info (default), debug, trace or silent. */
  readonly logLevel?: string;
  /** Where the "serving at" line goes. Default stdout. */
  readonly print?: (line: string) => void;
  /**
   * Where the lines about a database upgrade applied while opening go
   * (migration-report.ts). Default stderr, after `mvault serve: `.
   */
  readonly progress?: (line: string) => void;
  /** Default 30 s. */
  readonly shutdownTimeoutMs?: number;
  /** Install SIGTERM/SIGINT handlers that stop the server and exit. Default true. */
  readonly handleSignals?: boolean;
  readonly maxBatchBytes?: number;
}

export interface RunningServer {
  readonly url: string;
  /** Graceful stop; idempotent. */
  close(): Promise<void>;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** The environment variable naming the server's log level (`mvault serve`, `npm start`). */
export const LOG_LEVEL_ENV = 'MODELVAULT_LOG_LEVEL';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK.has(host.toLowerCase()) || /^127(\.\d{1,3}){3}$/.test(host);
}

/** The registry directory `npm start` and `mvault serve` use when none is given. */
export function defaultRegistryPath(env: NodeJS.ProcessEnv = process.env): string {
  const home = env.MODELVAULT_HOME;
  return resolve(home && home !== '' ? home : '.modelvault');
}

export async function runServer(options: RunServerOptions): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 5000;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError(`invalid port ${port}`, { port });
  }
  const logLevel = options.logLevel ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new InvalidArgumentError(
      `invalid log level '${logLevel}': use one of ${LOG_LEVELS.join(', ')}`,
      { logLevel },
    );
  }
  const root = resolve(options.registry);
  const backend = await reportingMigrations(
    options.progress ?? ((line) => process.stderr.write(`mvault serve: ${line}\n`)),
    () => openServerBackend(root, options),
  );
  let built: Awaited<ReturnType<typeof buildApp>>;
  try {
    // Authentication is on with --auth or once the registry has a user (auth/enforce-access.ts).
    const authOn = options.auth === true || (await backend.access.users.hasUsers());
    if (!isLoopbackHost(host) && !authOn && !options.insecure) {
      throw new InvalidArgumentError(
        `refusing to serve on '${host}' without authentication: the API would be open to the network; create a user ('mvault user add NAME --admin'), pass --auth, bind a loopback address, or pass --insecure`,
        { host },
      );
    }
    built = await buildApp({
      backend,
      ...(options.auth ? { auth: { required: true } } : {}),
      ...(options.logger !== undefined ? { logger: options.logger } : { logLevel }),
      ...(options.maxBatchBytes ? { uploads: { maxBatchBytes: options.maxBatchBytes } } : {}),
    });
  } catch (e) {
    await backend.close();
    throw e;
  }
  const { app } = built;
  await app.listen({ host, port });
  const address = app.server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  const shownHost = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const url = `http://${shownHost}:${actualPort}`;
  (options.print ?? ((l: string) => process.stdout.write(`${l}\n`)))(
    `Modelvault serving ${root}${
      /^postgres(ql)?:/.test(backend.metadataLocation)
        ? ` (metadata: ${backend.metadataLocation})`
        : ''
    } at ${url} (API docs: ${url}/docs)`,
  );

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      // Keep-alive connections whose request was still running when shutdown began turn
      // idle afterwards; close them as they do, or app.close() waits for their timeout.
      const sweep = setInterval(() => app.server.closeIdleConnections?.(), 100);
      try {
        await app.close();
      } finally {
        clearInterval(sweep);
      }
      await backend.close();
    })();
    return closing;
  };

  if (options.handleSignals ?? true) {
    const onSignal = (signal: NodeJS.Signals) => {
      app.log.info({ signal }, 'shutting down: finishing in-flight requests');
      const timer = setTimeout(() => {
        app.log.warn('shutdown timed out; exiting with requests still running');
        process.exit(1);
      }, options.shutdownTimeoutMs ?? 30_000);
      timer.unref();
      close().then(
        () => {
          app.log.info('stopped');
          process.exit(0);
        },
        (e) => {
          app.log.error({ err: e }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }
  return { url, close };
}

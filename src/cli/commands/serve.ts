/**
 * `mvault serve [--host 127.0.0.1] [--port 5000] [--registry PATH] [--db URL] [--insecure]
 * [--blobs s3://bucket/prefix [--s3-endpoint URL] [--s3-region R]]`: the REST
 * API (and, later, the MLflow API and web UI) over a local registry directory, whose
 * metadata may live in PostgreSQL (`--db postgres://…` or MODELVAULT_DB) so that several
 * replicas share it. The log level comes from MODELVAULT_LOG_LEVEL (default info: one JSON
 * line per request on stdout). Authentication is on once the registry has a user (or with --auth);
 * without it a non-loopback host is refused unless --insecure. Stops gracefully on
 * SIGTERM/SIGINT (see src/server/run-server.ts).
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { isRegistryUrl } from '../../client/open-remote-registry.js';
import { InvalidArgumentError } from '../../core/errors.js';
import { type BlobsFlags, blobsFromFlags, DB_ENV, namedDatabase } from '../registry-location.js';

export interface ServeFlags extends BlobsFlags {
  readonly host: string;
  readonly port: string;
  readonly registry?: string;
  readonly db?: string;
  readonly insecure?: boolean;
  readonly auth?: boolean;
  readonly checkpointKey?: string;
}

/** Starts the server for parsed flags; resolves once it listens. */
export async function serve(flags: ServeFlags, env: NodeJS.ProcessEnv = process.env) {
  const port = Number(flags.port);
  if (!/^\d{1,5}$/.test(flags.port) || port > 65535) {
    throw new InvalidArgumentError(`invalid port '${flags.port}'`);
  }
  const database = namedDatabase(flags.db, env, process.cwd());
  const blobs = blobsFromFlags(flags);
  // Fastify and the engine load only when serving, so other commands start fast.
  const { defaultRegistryPath, LOG_LEVEL_ENV, runServer } = await import(
    '../../server/run-server.js'
  );
  const logLevel = env[LOG_LEVEL_ENV];
  const fromEnv = env.MODELVAULT_REGISTRY;
  const registry =
    flags.registry ?? (fromEnv && fromEnv !== '' ? fromEnv : undefined) ?? defaultRegistryPath(env);
  if (isRegistryUrl(registry)) {
    throw new InvalidArgumentError(
      `mvault serve needs a local registry directory, not the url '${registry}'`,
    );
  }
  return runServer({
    registry,
    host: flags.host,
    port,
    insecure: flags.insecure ?? false,
    auth: flags.auth ?? false,
    ...(flags.checkpointKey ? { checkpointKeyFile: resolve(flags.checkpointKey) } : {}),
    ...(database ? { database } : {}),
    ...(blobs ? { blobs } : {}),
    ...(logLevel ? { logLevel } : {}),
    // Serving the embedded default creates it, as `npm start` does; an explicit path must exist.
    create: flags.registry === undefined && !(fromEnv && fromEnv !== ''),
  });
}

/** Adds the `serve` command to the CLI program. */
export function registerServe(program: Command): Command {
  return program
    .command('serve')
    .description('serve the REST API over a local registry')
    .option(
      '--host <host>',
      'address to bind (non-loopback needs users, --auth or --insecure)',
      '127.0.0.1',
    )
    .option('--port <port>', 'port to listen on (0 picks a free one)', '5000')
    .option('--registry <path>', 'registry directory (default: MODELVAULT_HOME or ./.modelvault)')
    .option(
      '--db <url>',
      `metadata database: postgres://user:password@host:port/db, shared by replicas (default: ${DB_ENV}, else SQLite in the registry directory)`,
    )
    .option('--auth', 'require sign-in even before the registry has a user')
    .option('--insecure', 'allow a non-loopback host without authentication')
    .option(
      '--checkpoint-key <file>',
      'ed25519 private key (PEM) signing audit checkpoints (default: checkpoint-key.pem in the registry directory, made on first serve)',
    )
    .option('--blobs <s3-url>', 'packs in s3://bucket/prefix (recorded when creating the registry)')
    .option('--s3-endpoint <url>', 'S3-compatible server for --blobs (default: AWS)')
    .option('--s3-region <region>', 'region for --blobs (default: $AWS_REGION or us-east-1)')
    .action(async (_opts: unknown, command: Command) => {
      await serve(command.optsWithGlobals<ServeFlags>());
    });
}

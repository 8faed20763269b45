#!/usr/bin/env node
/**
 * `npm start`: serves the embedded default registry (MODELVAULT_HOME, or `.modelvault` in
 * the working directory, created if missing) until SIGTERM. Same flags as `mvault serve`:
 * --host (default 127.0.0.1), --port (default 5000, or PORT), --registry PATH, --auth,
 * --insecure; the log level from MODELVAULT_LOG_LEVEL (default info).
 */
import { parseArgs } from 'node:util';
import { ModelvaultError } from '../core/errors.js';
import { defaultRegistryPath, LOG_LEVEL_ENV, runServer } from './run-server.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: process.env.PORT ?? '5000' },
      registry: { type: 'string' },
      insecure: { type: 'boolean', default: false },
      auth: { type: 'boolean', default: false },
    },
  });
  await runServer({
    host: values.host,
    port: Number(values.port),
    registry: values.registry ?? defaultRegistryPath(),
    create: true,
    insecure: values.insecure,
    auth: values.auth,
    ...(process.env[LOG_LEVEL_ENV] ? { logLevel: process.env[LOG_LEVEL_ENV] } : {}),
  });
}

main().catch((e) => {
  const message = e instanceof ModelvaultError ? e.message : String(e);
  process.stderr.write(`mvault serve: ${message}\n`);
  process.exit(e instanceof ModelvaultError ? e.exitCode : 1);
});

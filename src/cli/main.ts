#!/usr/bin/env node
/**
 * The `mvault` binary. Everything is in program.ts; this only wires the process in.
 */
import { runCli } from './program.js';

// A closed pipe (`mvault audit export | head`) is not an error worth a stack trace.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  cwd: process.cwd(),
  stdout: process.stdout,
  stderr: process.stderr,
});

import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'web/src/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Vitest's default is one worker per core but one, so a 2-core machine (CI's) ran the
    // files one at a time while most tests wait on child processes (CLI runs, servers,
    // PostgreSQL, Swift): the serial suite kept ~0.9 of 2 cores busy. Two workers there.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    // The SDK's chunk cache (and the CLI's, which inherits it) in a directory of this run,
    // not the user's ~/.cache.
    env: { MODELVAULT_CACHE_DIR: join(tmpdir(), `modelvault-test-cache-${process.pid}`) },
    // The CLI and browser tests run the built binary and UI: build them when missing or stale.
    globalSetup: ['test/support/build-cli.ts', 'test/support/postgres-global-setup.ts'],
  },
});

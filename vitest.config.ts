import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'web/src/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // The SDK's chunk cache (and the CLI's, which inherits it) in a directory of this run,
    // not the user's ~/.cache.
    env: { MODELVAULT_CACHE_DIR: join(tmpdir(), `modelvault-test-cache-${process.pid}`) },
    // The CLI and browser tests run the built binary and UI: build them when missing or stale.
    globalSetup: ['test/support/build-cli.ts', 'test/support/postgres-global-setup.ts'],
  },
});

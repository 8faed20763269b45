import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'web/src/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // The CLI and browser tests run the built binary and UI: build them when missing or stale.
    globalSetup: ['test/support/build-cli.ts', 'test/support/postgres-global-setup.ts'],
  },
});

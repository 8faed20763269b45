import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // The CLI tests run the built binary: build it when dist is missing or stale.
    globalSetup: ['test/support/build-cli.ts', 'test/support/postgres-global-setup.ts'],
  },
});

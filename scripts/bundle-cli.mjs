/**
 * Bundles the `mvault` binary: dist/cli/main.js (tsc's output) and everything it imports
 * into dist/bin/ — mvault.js plus chunks for what commands load lazily.
 *
 * Why: unbundled, `mvault ls` spent most of its time loading ~530 module files (Kysely
 * alone is ~265), about 3× node's own start-up. A bundle reads a handful.
 *
 * Kept external (loaded from node_modules at run time): better-sqlite3 (native addon) and
 * what only `serve` and the S3/PostgreSQL backends load, lazily — pg, the AWS SDK, Fastify
 * and its plugins, pino (whose transports start workers by file path).
 * Bundled CommonJS packages call `require`; the banner gives the ES module one.
 *
 *   node scripts/bundle-cli.mjs
 */
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

// Chunk names carry content hashes: stale chunks of an earlier build would pile up.
rmSync('dist/bin', { recursive: true, force: true });

await build({
  entryPoints: { mvault: 'dist/cli/main.js' },
  outdir: 'dist/bin',
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['better-sqlite3', 'pg', '@aws-sdk/*', 'fastify', '@fastify/*', 'pino'],
  banner: {
    js: "import { createRequire as __mvaultCreateRequire } from 'node:module'; const require = __mvaultCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
});

/**
 * Builds the web UI into dist/web (served by `mvault serve` at `/`). Hashed file names in
 * dist/web/assets let the server cache them forever; index.html is served uncached.
 */
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

/**
 * The SDK's push and pull read and write local files (src/client/node-transfer.ts, loaded
 * lazily by RemoteRegistry). The browser never calls them: bundle a stub that says so
 * instead of Node's fs, crypto and path.
 */
function nodeOnlyStub(): Plugin {
  const STUB = '\0modelvault-node-transfer-stub';
  return {
    name: 'modelvault-node-only-stub',
    enforce: 'pre',
    resolveId(id, importer) {
      if (id === './node-transfer.js' && importer?.includes('/src/client/')) return STUB;
      return null;
    },
    load(id) {
      if (id !== STUB) return null;
      return `const no = () => { throw new Error('push and pull need Node.js, not a browser'); };
export const pushTree = no;
export const pullVersion = no;`;
    },
  };
}

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [nodeOnlyStub(), react()],
  publicDir: false,
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    chunkSizeWarningLimit: 1024,
  },
  server: {
    // `npx vite web` for development: the API comes from a running `mvault serve`.
    proxy: { '/api': 'http://127.0.0.1:5000' },
  },
});

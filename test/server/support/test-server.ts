/**
 * A real server on a random loopback port over a fresh registry directory, and helpers to
 * build model directories. Small chunks (min 1 KiB, avg 4 KiB, max 16 KiB) so that small
 * test files still have many chunks.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { RemoteRegistry, type RemoteRegistryOptions } from '../../../src/client/remote-registry.js';
import type { DatabaseConfig } from '../../../src/metadata/database.js';
import type { UploadService } from '../../../src/registry/upload-service.js';
import { type AppOptions, buildApp, type RouteInfo } from '../../../src/server/app.js';
import type { DeclaredRoute } from '../../../src/server/auth/enforce-access.js';
import type { App } from '../../../src/server/context.js';
import { type OpenedBackend, openServerBackend } from '../../../src/server/open-backend.js';
import { pseudoRandomBytes, writeSafetensors } from '../../fixtures/model-files.js';

export const TEST_CHUNKING = { minSize: 1024, avgSize: 4096, maxSize: 16 * 1024 };

export interface TestServer {
  readonly url: string;
  readonly dir: string;
  readonly app: App;
  /** Every route the server registered. */
  readonly routes: readonly RouteInfo[];
  readonly backend: OpenedBackend;
  readonly uploads: UploadService;
  /** Every route with its declared access rule. */
  readonly declaredRoutes: readonly DeclaredRoute[];
  client(options?: RemoteRegistryOptions): RemoteRegistry;
  close(): Promise<void>;
}

/**
 * `database`: the metadata database (test/support/dialects.ts); default SQLite in the
 * directory. `clock`: the registry's clock (deletion times, retention); default Date.now.
 */
export async function startTestServer(
  options: Omit<AppOptions, 'backend'> & { database?: DatabaseConfig; clock?: () => number } = {},
): Promise<TestServer> {
  const { database, clock, ...appOptions } = options;
  const dir = await mkdtemp(join(tmpdir(), 'mv-server-'));
  const backend = await openServerBackend(join(dir, 'registry'), {
    create: true,
    defaultActor: 'alice',
    chunking: TEST_CHUNKING,
    packTargetSize: 256 * 1024,
    ...(database ? { database } : {}),
    ...(clock ? { clock } : {}),
  });
  const { app, uploads, routes, declaredRoutes } = await buildApp({
    backend,
    logger: false,
    ...appOptions,
  } as AppOptions);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (!address || typeof address !== 'object') throw new Error('no address');
  const url = `http://127.0.0.1:${address.port}`;
  return {
    url,
    dir,
    app,
    routes,
    backend,
    uploads,
    declaredRoutes,
    client: (o = {}) => new RemoteRegistry(url, { retryDelayMs: 5, ...o }),
    close: async () => {
      await app.close();
      await backend.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Writes `files` (relative path → bytes) under `root`. */
export async function writeTree(root: string, files: Record<string, Uint8Array>): Promise<void> {
  for (const [rel, bytes] of Object.entries(files)) {
    const path = join(root, ...rel.split('/'));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, bytes);
  }
}

/**
 * A small model: a safetensors file of four tensors, a config and a tokenizer. `variant`
 * changes one tensor (and the config), so two variants share most chunks.
 */
export function modelFiles(variant = 0): Record<string, Uint8Array> {
  const tensor = (seed: number) => pseudoRandomBytes(seed, 64 * 1024);
  return {
    'model.safetensors': writeSafetensors([
      { name: 'embed', dtype: 'F32', shape: [16384], data: tensor(1) },
      { name: 'layer.0', dtype: 'F32', shape: [16384], data: tensor(2 + variant * 100) },
      { name: 'layer.1', dtype: 'F32', shape: [16384], data: tensor(3) },
      { name: 'head', dtype: 'F32', shape: [16384], data: tensor(4) },
    ]),
    'config.json': new TextEncoder().encode(JSON.stringify({ hidden: 64, variant })),
    'tokenizer/vocab.txt': pseudoRandomBytes(99, 20_000),
  };
}

/**
 * A real one-file manifest for `label` stored in `server`'s store, as `manifest(label)`
 * (test/support/temp-registry.ts) fakes one: a registry with a content store refuses a
 * version whose manifest it does not hold.
 */
export async function storedManifest(
  server: TestServer,
  label: string,
): Promise<{ digest: string; size: number; fileCount: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'mv-manifest-'));
  try {
    await writeFile(join(dir, 'model.bin'), `weights of ${label}\n`);
    const { manifest } = await server.backend.store.ingestTree(dir);
    return {
      digest: manifest.digest,
      size: manifest.totalSize,
      fileCount: manifest.entries.length,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

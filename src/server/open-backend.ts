/**
 * Opens an embedded registry directory for serving: the store directory (packs + SQLite)
 * with the registry's and the upload service's migrations, and a LocalRegistry over the
 * same database. Until `openRegistryDirectory` (src/registry/registry-directory.ts) exists
 * this is where the two are composed; afterwards it should delegate to it, adding
 * UPLOAD_MIGRATIONS to the migrations it runs.
 */
import type { Database } from '../metadata/database.js';
import type { RegistryDB } from '../metadata/schema.js';
import { LocalRegistry, REGISTRY_MIGRATIONS } from '../registry/local-registry.js';
import { openStoreDirectory } from '../registry/store-directory.js';
import { UPLOAD_MIGRATIONS } from '../registry/upload-service.js';
import type { ChunkingParams } from '../storage/chunking/chunking-params.js';
import type { ServerBackend } from './context.js';

export interface OpenBackendOptions {
  /** Create the registry directory if it does not exist. */
  readonly create?: boolean;
  /** Actor of mutations (until authentication exists). Default: the OS user. */
  readonly defaultActor?: string;
  readonly packTargetSize?: number;
  /** Chunking parameters of a store created now (tests use small chunks). */
  readonly chunking?: ChunkingParams;
}

export interface OpenedBackend extends ServerBackend {
  readonly root: string;
  close(): Promise<void>;
}

export async function openServerBackend(
  root: string,
  options: OpenBackendOptions = {},
): Promise<OpenedBackend> {
  const dir = await openStoreDirectory(root, {
    create: options.create ?? false,
    packTargetSize: options.packTargetSize,
    ...(options.chunking ? { chunking: options.chunking } : {}),
    migrations: [...REGISTRY_MIGRATIONS, ...UPLOAD_MIGRATIONS],
  });
  const registry = new LocalRegistry({
    database: dir.database as unknown as Database<RegistryDB>,
    manifests: async (digest) => (await dir.store.getManifest(digest)).entries,
    ownsDatabase: false,
    ...(options.defaultActor ? { defaultActor: options.defaultActor } : {}),
  });
  return {
    root,
    registry,
    store: dir.store,
    close: async () => {
      await registry.close();
      await dir.close();
    },
  };
}

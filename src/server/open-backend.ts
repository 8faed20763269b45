/**
 * Opens an embedded registry directory for serving: the store directory (packs + SQLite)
 * with the registry's and the upload service's migrations, and a LocalRegistry over the
 * same database. Until `openRegistryDirectory` (src/registry/registry-directory.ts) exists
 * this is where the two are composed; afterwards it should delegate to it, adding
 * UPLOAD_MIGRATIONS to the migrations it runs.
 */
import { openRegistryDirectory } from '../registry/registry-directory.js';
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
  // The same composition as the CLI's: registry (with push/pull, gc, fsck, repair) over the
  // store and one database that also holds the upload sessions.
  const dir = await openRegistryDirectory(root, {
    create: options.create ?? false,
    ...(options.packTargetSize !== undefined ? { packTargetSize: options.packTargetSize } : {}),
    ...(options.chunking ? { chunking: options.chunking } : {}),
    ...(options.defaultActor ? { defaultActor: options.defaultActor } : {}),
  });
  return {
    root,
    registry: dir.registry,
    store: dir.store,
    tracking: dir.tracking,
    close: () => dir.close(),
  };
}

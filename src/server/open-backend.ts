/**
 * Opens a registry directory for serving, through `openRegistryDirectory` (the same
 * composition as the CLI's): packs in the directory, the metadata in its SQLite file or in
 * the PostgreSQL database `database` names.
 */

import type { DatabaseConfig } from '../metadata/database.js';
import { ensureCheckpointKey, readCheckpointKey } from '../registry/checkpoint-key.js';
import { openRegistryDirectory } from '../registry/registry-directory.js';
import type { ChunkingParams } from '../storage/chunking/chunking-params.js';
import type { BlobsConfig } from '../storage/store-layout.js';
import type { ServerBackend } from './context.js';

export interface OpenBackendOptions {
  /** Create the registry directory if it does not exist. */
  readonly create?: boolean;
  /** Actor of mutations (until authentication exists). Default: the OS user. */
  readonly defaultActor?: string;
  readonly packTargetSize?: number;
  /** Chunking parameters of a store created now (tests use small chunks). */
  readonly chunking?: ChunkingParams;
  /** The metadata database. Default: SQLite in the registry directory. */
  readonly database?: DatabaseConfig;
  /** Packs in S3 (see `openStoreDirectory`): recorded if the registry is created now. */
  readonly blobs?: BlobsConfig;
  /**
   * The audit checkpoint key file. Default: the directory's `checkpoint-key.pem`, made
   * now if missing (checkpoint-key.ts).
   */
  readonly checkpointKeyFile?: string;
}

export interface OpenedBackend extends ServerBackend {
  readonly root: string;
  /** Where the metadata is (see RegistryDirectory.metadataLocation). */
  readonly metadataLocation: string;
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
    ...(options.checkpointKeyFile
      ? { checkpointKey: readCheckpointKey(options.checkpointKeyFile) }
      : {}),
    ...(options.packTargetSize !== undefined ? { packTargetSize: options.packTargetSize } : {}),
    ...(options.chunking ? { chunking: options.chunking } : {}),
    ...(options.defaultActor ? { defaultActor: options.defaultActor } : {}),
    ...(options.database ? { database: options.database } : {}),
    ...(options.blobs ? { blobs: options.blobs } : {}),
  });
  if (!options.checkpointKeyFile) {
    // Made after opening, so that a registry created now gets it too.
    try {
      const key = ensureCheckpointKey(root);
      dir.useCheckpointKey(key);
    } catch (e) {
      await dir.close();
      throw e;
    }
  }
  return {
    root,
    registry: dir.registry,
    store: dir.store,
    tracking: dir.tracking,
    access: dir.access,
    webhooks: dir.webhooks,
    lfs: dir.lfs,
    metadataLocation: dir.metadataLocation,
    ping: () => dir.ping(),
    close: () => dir.close(),
  };
}

/**
 * Opens a registry directory for serving, through `openRegistryDirectory` (the same
 * composition as the CLI's): packs in the directory, the metadata in its SQLite file or in
 * the PostgreSQL database `database` names.
 */

import type { DatabaseConfig } from '../metadata/database.js';
import { ensureCheckpointKey, readCheckpointKey } from '../registry/checkpoint-key.js';
import { openRegistryDirectory } from '../registry/registry-directory.js';
import { ensureServerSecret, readServerSecret } from '../registry/server-secret.js';
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
  /** The registry's clock (see OpenRegistryDirectoryOptions.clock); tests move it. */
  readonly clock?: () => number;
  /** Packs in S3 (see `openStoreDirectory`): recorded if the registry is created now. */
  readonly blobs?: BlobsConfig;
  /**
   * The audit checkpoint key file. Default: the directory's `checkpoint-key.pem`, made
   * now if missing (checkpoint-key.ts).
   */
  readonly checkpointKeyFile?: string;
  /**
   * The server secret file (registry/server-secret.ts). Default: the directory's
   * `server-secret.key`, made now if missing. Replicas must share one.
   */
  readonly serverSecretFile?: string;
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
    ...(options.clock ? { clock: options.clock } : {}),
  });
  // Made after opening, so that a registry created now gets them too.
  let serverSecret: Buffer;
  try {
    if (!options.checkpointKeyFile) dir.useCheckpointKey(ensureCheckpointKey(root));
    serverSecret = options.serverSecretFile
      ? readServerSecret(options.serverSecretFile)
      : ensureServerSecret(root);
    // Webhook secrets: encrypted with it from now on, and any still in plaintext now.
    dir.webhooks.useServerSecret(serverSecret);
    await dir.webhooks.sealStoredSecrets();
  } catch (e) {
    await dir.close();
    throw e;
  }
  return {
    root,
    registry: dir.registry,
    store: dir.store,
    tracking: dir.tracking,
    access: dir.access,
    webhooks: dir.webhooks,
    lfs: dir.lfs,
    serverSecret,
    metadataLocation: dir.metadataLocation,
    ping: () => dir.ping(),
    close: () => dir.close(),
  };
}

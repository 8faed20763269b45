/**
 * Opens a store directory (DESIGN §7), laid out as `store-layout.ts` describes: packs in
 * `<root>/objects`, or in `backend` / `blobs` (e.g. S3, DESIGN §7 "team server"); the
 * metadata database and the chunk index in the directory's SQLite (`metadata.db`), or in
 * the PostgreSQL database `options.database` names, shared by every replica using it.
 * Creates it on first use when `create` is set. Composes the storage engine and the
 * metadata layer, which do not know each other.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError, NotFoundError } from '../core/errors.js';
import {
  type Database,
  type DatabaseConfig,
  type NamedMigration,
  openDatabase,
} from '../metadata/database.js';
import { FsBackend } from '../storage/backends/fs/fs-backend.js';
import type { ObjectBackend } from '../storage/backends/object-backend.js';
import { openBlobBackend } from '../storage/backends/open-blob-backend.js';
import {
  type ChunkingParams,
  DEFAULT_CHUNKING,
  validateChunkingParams,
} from '../storage/chunking/chunking-params.js';
import { storageMigrations } from '../storage/index/storage-migrations.js';
import type { StorageTables } from '../storage/index/storage-schema.js';
import { Store } from '../storage/store.js';
import {
  type BlobsConfig,
  formatStoreConfig,
  metadataDbPath,
  objectsDir,
  parseProcessTmpDirName,
  parseStoreConfig,
  processTmpDirName,
  STORE_FORMAT_VERSION,
  storeConfigPath,
  TMP_STALE_AFTER_MS,
  tmpDir,
  validateBlobsConfig,
} from '../storage/store-layout.js';

export interface OpenStoreOptions {
  /** Create the directory if it is not a store yet. */
  readonly create?: boolean;
  readonly chunking?: ChunkingParams;
  readonly packTargetSize?: number;
  /** Extra migrations (the registry's) applied with the storage ones. */
  readonly migrations?: readonly NamedMigration[];
  /** The metadata database. Default: SQLite in the directory (`metadata.db`). */
  readonly database?: DatabaseConfig;
  /**
   * Where the packs live; default a filesystem backend on `<root>/objects`. The store owns
   * it from here on: it is closed with the store, or at once if opening fails.
   */
  readonly backend?: ObjectBackend;
  /**
   * An S3 location for the packs. Recorded in `modelvault.json` when the store is created,
   * so that every later open finds them there; opening an existing store with it requires
   * the same `url` (its endpoint and region then override the recorded ones).
   */
  readonly blobs?: BlobsConfig;
}

export interface StoreDirectory<DB extends StorageTables = StorageTables> {
  readonly root: string;
  readonly store: Store;
  readonly database: Database<DB>;
  close(): Promise<void>;
}

export async function openStoreDirectory<DB extends StorageTables = StorageTables>(
  root: string,
  options: OpenStoreOptions = {},
): Promise<StoreDirectory<DB>> {
  // Every backend opened here (or handed in) is closed if opening fails.
  const opened: { backend?: ObjectBackend } = {};
  if (options.backend) opened.backend = options.backend;
  try {
    return await openStoreDirectoryWith<DB>(root, options, opened);
  } catch (e) {
    await opened.backend?.close().catch(() => undefined);
    throw e;
  }
}

async function openStoreDirectoryWith<DB extends StorageTables>(
  root: string,
  options: OpenStoreOptions,
  opened: { backend?: ObjectBackend },
): Promise<StoreDirectory<DB>> {
  let configText: string | undefined;
  try {
    configText = await readFile(storeConfigPath(root), 'utf8');
  } catch {
    configText = undefined;
  }
  if (configText === undefined) {
    if (!options.create) {
      throw new NotFoundError(`no Modelvault store at '${root}' (run 'mvault init')`, {
        path: root,
      });
    }
    const blobs = options.blobs ? validateBlobsConfig(options.blobs) : undefined;
    configText = formatStoreConfig({
      formatVersion: STORE_FORMAT_VERSION,
      created: new Date().toISOString(),
      chunking: validateChunkingParams(options.chunking ?? DEFAULT_CHUNKING),
      ...(blobs ? { blobs } : {}),
    });
    // A store on S3 reaches its bucket before recording it: a wrong location, server or
    // credentials leave nothing behind.
    if (blobs && !opened.backend) opened.backend = await openBlobBackend(blobs);
    await mkdir(root, { recursive: true });
    // Written whole then renamed, so a crash never leaves a half-written config.
    const tmp = `${storeConfigPath(root)}.${process.pid}.tmp`;
    await writeFile(tmp, configText, { flush: true });
    await rename(tmp, storeConfigPath(root));
  }
  const config = parseStoreConfig(configText);
  const blobs = blobsToOpen(root, config.blobs, options.blobs);
  const processTmp = await claimTmpDir(tmpDir(root));
  if (!opened.backend && !blobs) await mkdir(objectsDir(root), { recursive: true });
  opened.backend ??= blobs ? await openBlobBackend(blobs) : new FsBackend(objectsDir(root));
  const backend = opened.backend;
  const database = await openDatabase<DB>(
    options.database ?? { kind: 'sqlite', path: metadataDbPath(root) },
    [...storageMigrations, ...(options.migrations ?? [])],
  );
  const store = new Store({
    backend,
    db: database as never,
    tmpDir: processTmp,
    chunking: config.chunking,
    packTargetSize: options.packTargetSize,
  });
  return {
    root,
    store,
    database,
    close: async () => {
      await store.close();
      await database.close();
      await rm(processTmp, { recursive: true, force: true });
    },
  };
}

/** The S3 location to open: the recorded one, with a matching `given`'s settings on top. */
function blobsToOpen(
  root: string,
  recorded: BlobsConfig | undefined,
  given: BlobsConfig | undefined,
): BlobsConfig | undefined {
  if (given === undefined) return recorded;
  const want = validateBlobsConfig(given);
  if (recorded?.url !== want.url) {
    throw new InvalidArgumentError(
      `the registry at '${root}' keeps its packs in ${recorded?.url ?? 'its objects/ directory'}, not in ${want.url}`,
      { path: root, blobs: recorded?.url ?? null },
    );
  }
  return { ...recorded, ...want };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM';
  }
}

/**
 * Each process writes temp files in its own `tmp/<pid>.<random>/`. Directories of processes
 * that are gone (killed mid-write) are removed here: nothing in them was ever referenced,
 * because a pack is indexed only after it has been moved out of tmp/.
 */
async function claimTmpDir(tmpRoot: string): Promise<string> {
  await mkdir(tmpRoot, { recursive: true });
  for (const name of await readdir(tmpRoot)) {
    const pid = parseProcessTmpDirName(name);
    const path = join(tmpRoot, name);
    const mtime = (await stat(path).catch(() => ({ mtimeMs: 0 }))).mtimeMs;
    if (pid === undefined || !processAlive(pid) || Date.now() - mtime > TMP_STALE_AFTER_MS) {
      await rm(path, { recursive: true, force: true });
    }
  }
  const mine = join(tmpRoot, processTmpDirName(process.pid, randomBytes(4).toString('hex')));
  await mkdir(mine, { recursive: true });
  return mine;
}

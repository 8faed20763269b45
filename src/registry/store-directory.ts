/**
 * Opens a store directory (DESIGN §7): packs on the local filesystem, laid out as
 * `store-layout.ts` describes, and the metadata database — embedded SQLite in the
 * directory (`metadata.db`), or the PostgreSQL database `options.database` names (the
 * chunk index then lives there too, shared by every process using it). Creates it on first use
 * when `create` is set. Composes the storage engine and the metadata layer, which do not
 * know each other.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NotFoundError } from '../core/errors.js';
import {
  type Database,
  type DatabaseConfig,
  type NamedMigration,
  openDatabase,
} from '../metadata/database.js';
import { FsBackend } from '../storage/backends/fs/fs-backend.js';
import {
  type ChunkingParams,
  DEFAULT_CHUNKING,
  validateChunkingParams,
} from '../storage/chunking/chunking-params.js';
import { storageMigrations } from '../storage/index/storage-migrations.js';
import type { StorageTables } from '../storage/index/storage-schema.js';
import { Store } from '../storage/store.js';
import {
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
    await mkdir(root, { recursive: true });
    configText = formatStoreConfig({
      formatVersion: STORE_FORMAT_VERSION,
      created: new Date().toISOString(),
      chunking: validateChunkingParams(options.chunking ?? DEFAULT_CHUNKING),
    });
    // Written whole then renamed, so a crash never leaves a half-written config.
    const tmp = `${storeConfigPath(root)}.${process.pid}.tmp`;
    await writeFile(tmp, configText, { flush: true });
    await rename(tmp, storeConfigPath(root));
  }
  const config = parseStoreConfig(configText);
  const processTmp = await claimTmpDir(tmpDir(root));
  await mkdir(objectsDir(root), { recursive: true });
  const database = await openDatabase<DB>(
    options.database ?? { kind: 'sqlite', path: metadataDbPath(root) },
    [...storageMigrations, ...(options.migrations ?? [])],
  );
  const store = new Store({
    backend: new FsBackend(objectsDir(root)),
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

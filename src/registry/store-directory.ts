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
import { sql } from 'kysely';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../core/errors.js';
import {
  type Database,
  type DatabaseConfig,
  type NamedMigration,
  openDatabase,
} from '../metadata/database.js';
import { redactUrl, samePostgresDatabase, withoutPassword } from '../metadata/database-config.js';
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
  type MetadataLocation,
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
  /**
   * The metadata database. Default: the one recorded in `modelvault.json` when the store
   * was created with a PostgreSQL database, else SQLite in the directory (`metadata.db`).
   * A PostgreSQL database given at creation is recorded (without its password); opening
   * the store later with another database is refused.
   */
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
  /** Where the metadata is, for people: the SQLite file, or the PostgreSQL URL (no password). */
  readonly metadataLocation: string;
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
      ...(options.database?.kind === 'postgres'
        ? { metadata: { kind: 'postgres', url: withoutPassword(options.database.url) } }
        : {}),
    });
    // A store on S3 reaches its bucket before recording it: a wrong location, server or
    // credentials leave nothing behind.
    if (blobs && !opened.backend) opened.backend = await openBlobBackend(blobs);
    await mkdir(root, { recursive: true });
    await writeStoreConfig(root, configText);
  }
  let config = parseStoreConfig(configText);
  const databaseConfig = await databaseToOpen(root, config.metadata, options.database);
  if (databaseConfig.kind === 'postgres' && !config.metadata) {
    // A store created before locations were recorded: record it now.
    config = {
      ...config,
      metadata: { kind: 'postgres', url: withoutPassword(databaseConfig.url) },
    };
    await writeStoreConfig(root, formatStoreConfig(config));
  }
  const blobs = blobsToOpen(root, config.blobs, options.blobs);
  const processTmp = await claimTmpDir(tmpDir(root));
  if (!opened.backend && !blobs) await mkdir(objectsDir(root), { recursive: true });
  opened.backend ??= blobs ? await openBlobBackend(blobs) : new FsBackend(objectsDir(root));
  const backend = opened.backend;
  const database = await openDatabase<DB>(databaseConfig, [
    ...storageMigrations,
    ...(options.migrations ?? []),
  ]);
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
    metadataLocation:
      databaseConfig.kind === 'postgres'
        ? redactUrl(withoutPassword(databaseConfig.url))
        : databaseConfig.path,
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

/** Tables with a row as soon as anything was stored, registered, logged or audited. */
const DATA_TABLES = ['registered_models', 'runs', 'packs', 'audit_events'];

/** True when the SQLite metadata database at `path` holds anything (see DATA_TABLES). */
async function sqliteHoldsData(path: string): Promise<boolean> {
  const database = await openDatabase<Record<string, never>>({ kind: 'sqlite', path }, []);
  try {
    const tables = new Set(
      (
        await sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table'`.execute(
          database.db,
        )
      ).rows.map((r) => r.name),
    );
    for (const table of DATA_TABLES.filter((t) => tables.has(t))) {
      const { rows } = await sql`SELECT 1 FROM ${sql.table(table)} LIMIT 1`.execute(database.db);
      if (rows.length > 0) return true;
    }
    return false;
  } finally {
    await database.close();
  }
}

/** Writes `modelvault.json` whole, then renames it: a crash never leaves half a config. */
async function writeStoreConfig(root: string, text: string): Promise<void> {
  const tmp = `${storeConfigPath(root)}.${process.pid}.tmp`;
  await writeFile(tmp, text, { flush: true });
  await rename(tmp, storeConfigPath(root));
}

/**
 * The metadata database to open: the recorded PostgreSQL one (a given PostgreSQL URL must
 * name the same database, and supplies the credentials), else the given one or the
 * directory's SQLite. A store whose metadata.db holds anything is a SQLite registry:
 * opening it with PostgreSQL would show another registry over its packs, so that is
 * refused too (an empty one, as `mvault init` leaves it, may move to PostgreSQL).
 * @throws ConflictError naming where the metadata is.
 */
async function databaseToOpen(
  root: string,
  recorded: MetadataLocation | undefined,
  given: DatabaseConfig | undefined,
): Promise<DatabaseConfig> {
  if (recorded) {
    if (given === undefined) return { kind: 'postgres', url: recorded.url };
    if (given.kind === 'postgres' && samePostgresDatabase(recorded.url, given.url)) return given;
    throw new ConflictError(
      `the registry at '${root}' keeps its metadata in PostgreSQL at ${recorded.url}, not in ${given.kind === 'postgres' ? redactUrl(given.url) : given.path}; name that database (--db or MODELVAULT_DB) or none`,
      { path: root, metadata: recorded.url },
    );
  }
  if (given?.kind === 'postgres') {
    const local = await stat(metadataDbPath(root)).then(
      () => true,
      () => false,
    );
    if (local && (await sqliteHoldsData(metadataDbPath(root)))) {
      throw new ConflictError(
        `the registry at '${root}' keeps its metadata in its own ${metadataDbPath(root)}, not in PostgreSQL`,
        { path: root, metadata: metadataDbPath(root) },
      );
    }
    return given;
  }
  return given ?? { kind: 'sqlite', path: metadataDbPath(root) };
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

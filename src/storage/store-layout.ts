/**
 * The one module that knows where things live in a store, on disk and in a bucket. Nothing
 * else in the code base builds a store path or an object key by hand: change the layout
 * here, bump `STORE_FORMAT_VERSION`, and every caller follows.
 *
 * Store format version 1:
 *
 * ```
 * <root>/
 * ├── modelvault.json            store config: {formatVersion, created, chunking, blobs?}
 * ├── metadata.db                SQLite metadata (plus its -wal/-shm files)
 * ├── checkpoint-key.pem         the server's ed25519 key signing audit checkpoints (0600;
 * ├── checkpoint-key.pub         made on first serve) and its public half, for verifiers
 * ├── server-secret.key          the server's secret for signed request capabilities (0600,
 * │                              made on first serve; registry/server-secret.ts)
 * ├── objects/                   root of the filesystem ObjectBackend (absent when `blobs`
 * │                              names an S3 location: the same tree under its prefix)
 * │   ├── .tmp/                  the fs backend's own temp files (put), never listed
 * │   └── packs/
 * │       └── <aa>/              fan-out: first two hex digits of the pack id (256 dirs)
 * │           └── <packid>.pack  packid = hex SHA-256 of the pack's trailer (pack-format.ts)
 * ├── tmp/                       temp files, on the same filesystem as objects/ so that a
 * │   └── <pid>.<random>/        finished pack is renamed into place; one directory per
 * │       └── pack-<random>.tmp  process, so a process can tell its own files from others'
 * └── locks/                     lock files (<name>.lock)
 * ```
 *
 * Object keys are backend-relative (`packs/ab/ab12….pack`), `/`-separated whatever the
 * OS, and valid by `validateObjectKey`. Paths are built with `node:path` for the host OS.
 *
 * Nothing under `tmp/` is worth keeping: a pack is indexed only after it has left tmp/.
 * On open, a process removes the directories of processes that are gone (and any older
 * than `TMP_STALE_AFTER_MS`), never those of live ones, which may be mid-write.
 *
 * Everything here is pure: no I/O, no clock, no randomness.
 */
import { join } from 'node:path';
import { isSha256Hex, type Sha256Hex } from '../core/digest.js';
import { CorruptionError, InvalidArgumentError, ModelvaultError } from '../core/errors.js';
import { parseS3Url, s3LocationUrl } from './backends/s3/s3-location.js';
import { type ChunkingParams, validateChunkingParams } from './chunking/chunking-params.js';

/** Version of the layout below and of `modelvault.json`. Bump on any incompatible change. */
export const STORE_FORMAT_VERSION = 1;

export const STORE_CONFIG_FILE = 'modelvault.json';
export const METADATA_DB_FILE = 'metadata.db';
export const OBJECTS_DIR = 'objects';
export const TMP_DIR = 'tmp';
export const LOCKS_DIR = 'locks';
export const CHECKPOINT_KEY_FILE = 'checkpoint-key.pem';
export const CHECKPOINT_PUBLIC_KEY_FILE = 'checkpoint-key.pub';
export const SERVER_SECRET_FILE = 'server-secret.key';

/** Key prefix of every pack object (backend-relative). */
export const PACKS_PREFIX = 'packs/';
export const PACK_SUFFIX = '.pack';

/** Directory, inside the fs backend's root, for its temp files. Not a valid first key segment. */
export const FS_BACKEND_TMP_DIR = '.tmp';

/** A temp directory or file older than this is garbage even if its process seems alive. */
export const TMP_STALE_AFTER_MS = 7 * 24 * 60 * 60 * 1000;

export function storeConfigPath(root: string): string {
  return join(root, STORE_CONFIG_FILE);
}

/** The server's audit checkpoint signing key (private, PEM) and its public half. */
export function checkpointKeyPaths(root: string): { privateKey: string; publicKey: string } {
  return {
    privateKey: join(root, CHECKPOINT_KEY_FILE),
    publicKey: join(root, CHECKPOINT_PUBLIC_KEY_FILE),
  };
}

export function metadataDbPath(root: string): string {
  return join(root, METADATA_DB_FILE);
}

/** Root directory of the filesystem backend holding the store's objects. */
export function objectsDir(root: string): string {
  return join(root, OBJECTS_DIR);
}

export function tmpDir(root: string): string {
  return join(root, TMP_DIR);
}

export function locksDir(root: string): string {
  return join(root, LOCKS_DIR);
}

const LOCK_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;

/**
 * Path of the lock file `name` (`gc`, `migrate`, …).
 * @throws InvalidArgumentError unless `name` is lowercase letters, digits and dashes.
 */
export function lockPath(root: string, name: string): string {
  if (!LOCK_NAME.test(name)) {
    throw new InvalidArgumentError(`invalid lock name '${name.slice(0, 80)}'`, { name });
  }
  return join(locksDir(root), `${name}.lock`);
}

/** Name of a process's own directory under `tmp/`: `<pid>.<unique>`. */
export function processTmpDirName(pid: number, unique: string): string {
  if (!Number.isSafeInteger(pid) || pid <= 0) {
    throw new InvalidArgumentError(`invalid process id ${pid}`);
  }
  if (!/^[0-9a-z]+$/.test(unique)) {
    throw new InvalidArgumentError(`invalid tmp dir suffix '${unique.slice(0, 80)}'`);
  }
  return `${pid}.${unique}`;
}

/** The pid of a `processTmpDirName`, or undefined when `name` is not one (remove it). */
export function parseProcessTmpDirName(name: string): number | undefined {
  const m = /^([1-9][0-9]{0,15})\.[0-9a-z]+$/.exec(name);
  if (!m) return undefined;
  const pid = Number(m[1]);
  return Number.isSafeInteger(pid) ? pid : undefined;
}

/**
 * Name of a temp file: `<purpose>-<unique>.tmp`. `unique` must be unique across processes
 * (random hex); `purpose` tells a person looking at `tmp/` what left the file behind.
 */
export function tempFileName(purpose: string, unique: string): string {
  return `${purpose}-${unique}.tmp`;
}

/** `packs/ab/ab12….pack` for the pack id `ab12…`. */
export function packKey(packId: Sha256Hex): string {
  if (!isSha256Hex(packId)) {
    throw new InvalidArgumentError(`invalid pack id '${String(packId).slice(0, 80)}'`);
  }
  return `${PACKS_PREFIX}${packId.slice(0, 2)}/${packId}${PACK_SUFFIX}`;
}

const PACK_KEY = /^packs\/([0-9a-f]{2})\/([0-9a-f]{64})\.pack$/;

/**
 * The pack id named by a pack key; the exact inverse of `packKey`.
 * @throws InvalidArgumentError when `key` is not a pack key (wrong prefix, fan-out
 *   directory not matching the id, uppercase hex, …).
 */
export function parsePackKey(key: string): Sha256Hex {
  const m = PACK_KEY.exec(key);
  if (!m || m[2]!.slice(0, 2) !== m[1]) {
    throw new InvalidArgumentError(`'${key.slice(0, 200)}' is not a pack key`, { key });
  }
  return m[2] as Sha256Hex;
}

export function isPackKey(key: string): boolean {
  const m = PACK_KEY.exec(key);
  return m !== null && m[2]!.slice(0, 2) === m[1];
}

/**
 * Where a store's objects live when not in `objects/`: an S3 location, and the server to
 * reach it at (recorded so that every command opening the directory finds its packs;
 * credentials are never recorded, they come from the environment).
 */
export interface BlobsConfig {
  /** `s3://bucket/prefix`. */
  readonly url: string;
  /** `http(s)://host:port` of an S3-compatible server; absent for AWS. */
  readonly endpoint?: string;
  readonly region?: string;
}

/** The contents of `modelvault.json`. */
export interface StoreConfig {
  readonly formatVersion: number;
  /** ISO-8601 UTC time the store was created. */
  readonly created: string;
  /** Chunking parameters every writer of this store must use, or dedup silently degrades. */
  readonly chunking: ChunkingParams;
  /** Absent: objects in `objects/` (the filesystem backend). */
  readonly blobs?: BlobsConfig;
  /** Absent: the metadata database is the directory's SQLite (`metadata.db`). */
  readonly metadata?: MetadataLocation;
}

/**
 * Where a store's metadata database (and chunk index) lives when it is not the directory's
 * SQLite: recorded so that a command opening the directory without naming the database
 * reaches the right one instead of creating an empty `metadata.db` — whose empty chunk
 * index `repair` would fill and `gc` would then collect. The URL never carries a password
 * (it comes from PGPASSWORD or ~/.pgpass, as for libpq).
 */
export interface MetadataLocation {
  readonly kind: 'postgres';
  /** `postgres://user@host:port/database?options`, without a password. */
  readonly url: string;
}

/**
 * Checks a recorded metadata location; returns it with only its known fields.
 * @throws InvalidArgumentError naming what is wrong.
 */
export function validateMetadataLocation(location: MetadataLocation): MetadataLocation {
  if (typeof location !== 'object' || location === null || location.kind !== 'postgres') {
    throw new InvalidArgumentError("metadata.kind must be 'postgres'");
  }
  let url: URL;
  try {
    url = new URL(String(location.url));
  } catch {
    throw new InvalidArgumentError('metadata.url must be a postgres:// URL');
  }
  if (!/^postgres(ql)?:$/.test(url.protocol) || url.hostname === '') {
    throw new InvalidArgumentError('metadata.url must be a postgres:// URL with a host');
  }
  if (url.password !== '') throw new InvalidArgumentError('metadata.url must not hold a password');
  return { kind: 'postgres', url: location.url };
}

const REGION = /^[a-z0-9][a-z0-9-]{0,39}$/;

/**
 * Checks a blobs location; returns it with only its known fields.
 * @throws InvalidArgumentError naming the bad field.
 */
export function validateBlobsConfig(blobs: BlobsConfig): BlobsConfig {
  if (typeof blobs !== 'object' || blobs === null) {
    throw new InvalidArgumentError('blobs must be an object');
  }
  const url = s3LocationUrl(parseS3Url(String(blobs.url)));
  if (blobs.endpoint !== undefined) validateS3Endpoint(blobs.endpoint);
  if (
    blobs.region !== undefined &&
    !(typeof blobs.region === 'string' && REGION.test(blobs.region))
  ) {
    throw new InvalidArgumentError(`invalid s3 region '${String(blobs.region).slice(0, 80)}'`);
  }
  return {
    url,
    ...(blobs.endpoint !== undefined ? { endpoint: blobs.endpoint } : {}),
    ...(blobs.region !== undefined ? { region: blobs.region } : {}),
  };
}

/**
 * Checks an S3 endpoint: an http or https URL with a host and no path, query or
 * credentials; returns it unchanged.
 * @throws InvalidArgumentError
 */
export function validateS3Endpoint(endpoint: string): string {
  let u: URL | undefined;
  try {
    u = new URL(endpoint);
  } catch {
    u = undefined;
  }
  if (
    !u ||
    (u.protocol !== 'http:' && u.protocol !== 'https:') ||
    u.username !== '' ||
    u.password !== '' ||
    u.search !== '' ||
    u.hash !== '' ||
    (u.pathname !== '/' && u.pathname !== '')
  ) {
    throw new InvalidArgumentError(
      `invalid s3 endpoint '${String(endpoint).slice(0, 200)}': expected http(s)://host[:port]`,
    );
  }
  return endpoint;
}

/** Serialises a store config as written to `modelvault.json` (stable key order). */
export function formatStoreConfig(config: StoreConfig): string {
  const { minSize, avgSize, maxSize } = config.chunking;
  return `${JSON.stringify(
    {
      formatVersion: config.formatVersion,
      created: config.created,
      chunking: { minSize, avgSize, maxSize },
      ...(config.blobs ? { blobs: validateBlobsConfig(config.blobs) } : {}),
      ...(config.metadata ? { metadata: validateMetadataLocation(config.metadata) } : {}),
    },
    null,
    2,
  )}\n`;
}

/**
 * Parses `modelvault.json`.
 * @throws CorruptionError when it is not a valid config;
 *   ModelvaultError('UNSUPPORTED') when it was written by a newer format version.
 */
export function parseStoreConfig(text: string): StoreConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new CorruptionError(`${STORE_CONFIG_FILE} is not valid json`, undefined, { cause: e });
  }
  const fail = (why: string): never => {
    throw new CorruptionError(`${STORE_CONFIG_FILE} is invalid: ${why}`);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('not an object');
  const o = raw as Record<string, unknown>;
  const version = o.formatVersion;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
    fail('formatVersion must be a positive integer');
  }
  if ((version as number) > STORE_FORMAT_VERSION) {
    throw new ModelvaultError(
      'UNSUPPORTED',
      `store format version ${version} is newer than this modelvault supports (${STORE_FORMAT_VERSION})`,
      { formatVersion: version, supported: STORE_FORMAT_VERSION },
    );
  }
  if (typeof o.created !== 'string' || Number.isNaN(Date.parse(o.created))) {
    fail('created must be an ISO-8601 time');
  }
  const c = o.chunking as Record<string, unknown> | undefined;
  if (typeof c !== 'object' || c === null) fail('chunking must be an object');
  const chunking = {
    minSize: c!.minSize as number,
    avgSize: c!.avgSize as number,
    maxSize: c!.maxSize as number,
  };
  try {
    validateChunkingParams(chunking);
  } catch (e) {
    fail((e as Error).message);
  }
  let blobs: BlobsConfig | undefined;
  if (o.blobs !== undefined) {
    try {
      blobs = validateBlobsConfig(o.blobs as BlobsConfig);
    } catch (e) {
      fail(`blobs: ${(e as Error).message}`);
    }
  }
  let metadata: MetadataLocation | undefined;
  if (o.metadata !== undefined) {
    try {
      metadata = validateMetadataLocation(o.metadata as MetadataLocation);
    } catch (e) {
      fail((e as Error).message);
    }
  }
  return {
    formatVersion: version as number,
    created: o.created as string,
    chunking,
    ...(blobs ? { blobs } : {}),
    ...(metadata ? { metadata } : {}),
  };
}

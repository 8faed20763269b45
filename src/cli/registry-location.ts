/**
 * Where the registry is, and the one place the CLI chooses local or remote (DESIGN §8):
 *
 * 1. `--registry PATH|URL`, else
 * 2. the `MODELVAULT_REGISTRY` environment variable, else
 * 3. the nearest `.modelvault` directory, walking up from the working directory.
 *
 * A PATH is the registry directory itself, or a directory with a `.modelvault` in it. A
 * URL (`http://…`) names a server (`mvault serve`): every command then goes through the
 * SDK, except the storage maintenance ones (gc, fsck, repair), which run on the server's
 * host.
 */
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { isSha256Hex } from '../core/digest.js';
import { InvalidArgumentError, ModelvaultError, NotFoundError } from '../core/errors.js';
import { type DatabaseConfig, databaseConfigFrom } from '../metadata/database-config.js';
import type { StoredFileSource } from '../registry/git-snapshot.js';
import type { MaintainedRegistry } from '../registry/registry-directory.js';
import { isRegistryDirectory } from '../registry/registry-root.js';
import { type BlobsConfig, validateBlobsConfig } from '../storage/store-layout.js';

export const REGISTRY_DIR_NAME = '.modelvault';
export const REGISTRY_ENV = 'MODELVAULT_REGISTRY';
export const USER_ENV = 'MODELVAULT_USER';
/** The metadata database of a registry directory, when it is not the directory's SQLite. */
export const DB_ENV = 'MODELVAULT_DB';

/**
 * The metadata database named by `--db` or MODELVAULT_DB (a postgres:// URL, or a SQLite
 * file path resolved against `cwd`); undefined means the registry directory's own SQLite.
 * @throws InvalidArgumentError for an unsupported URL.
 */
export function namedDatabase(
  flag: string | undefined,
  env: NodeJS.ProcessEnv,
  cwd: string,
): DatabaseConfig | undefined {
  const named = flag ?? env[DB_ENV];
  if (named === undefined || named === '') return undefined;
  const config = databaseConfigFrom(named);
  return config.kind === 'sqlite' ? { kind: 'sqlite', path: resolve(cwd, config.path) } : config;
}

export interface LocationInput {
  readonly flag: string | undefined;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

/** The path or URL the user named, if any (flag first, then the environment). */
export function namedLocation(input: LocationInput): string | undefined {
  const named = input.flag ?? input.env[REGISTRY_ENV];
  return named === undefined || named === '' ? undefined : named;
}

function isUrl(text: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(text);
}

function remoteUnsupported(url: string): never {
  throw new ModelvaultError(
    'UNSUPPORTED',
    `'mvault init' creates a local registry; '${url}' is a server (start one with 'mvault serve')`,
    { registry: url },
  );
}

/**
 * The registry directory to open, or the server URL.
 * @throws NotFoundError with a hint to run `mvault init`.
 */
export async function locateRegistry(input: LocationInput): Promise<string> {
  const named = namedLocation(input);
  if (named !== undefined) {
    if (isUrl(named)) return named;
    const path = resolve(input.cwd, named);
    if (await isRegistryDirectory(path)) return path;
    if (await isRegistryDirectory(join(path, REGISTRY_DIR_NAME))) {
      return join(path, REGISTRY_DIR_NAME);
    }
    throw new NotFoundError(
      `no Modelvault registry at '${path}': run 'mvault init ${named}' to create one there`,
      { path },
    );
  }
  let dir = resolve(input.cwd);
  for (;;) {
    const candidate = join(dir, REGISTRY_DIR_NAME);
    if (await isRegistryDirectory(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new NotFoundError(
    `no Modelvault registry found in '${resolve(input.cwd)}' or any parent directory: run 'mvault init' to create one here, or pass --registry PATH (or set ${REGISTRY_ENV})`,
    { cwd: resolve(input.cwd) },
  );
}

/**
 * The directory `mvault init [PATH]` creates: PATH/.modelvault, else the named location
 * as given, else ./.modelvault.
 */
export function initLocation(input: LocationInput, path: string | undefined): string {
  if (path !== undefined) return resolve(input.cwd, path, REGISTRY_DIR_NAME);
  const named = namedLocation(input);
  if (named !== undefined) {
    if (isUrl(named)) remoteUnsupported(named);
    return resolve(input.cwd, named);
  }
  return resolve(input.cwd, REGISTRY_DIR_NAME);
}

/** The `--blobs`, `--s3-endpoint`, `--s3-region` flags of `init` and `serve`. */
export interface BlobsFlags {
  readonly blobs?: string;
  readonly s3Endpoint?: string;
  readonly s3Region?: string;
}

/**
 * The S3 location the flags name, or undefined for packs in the registry directory.
 * @throws InvalidArgumentError for an invalid location, or S3 settings without --blobs.
 */
export function blobsFromFlags(flags: BlobsFlags): BlobsConfig | undefined {
  if (flags.blobs === undefined) {
    if (flags.s3Endpoint !== undefined || flags.s3Region !== undefined) {
      throw new InvalidArgumentError(
        '--s3-endpoint and --s3-region need --blobs s3://bucket/prefix',
      );
    }
    return undefined;
  }
  return validateBlobsConfig({
    url: flags.blobs,
    ...(flags.s3Endpoint !== undefined ? { endpoint: flags.s3Endpoint } : {}),
    ...(flags.s3Region !== undefined ? { region: flags.s3Region } : {}),
  });
}

export interface OpenedRegistry {
  readonly root: string;
  readonly registry: MaintainedRegistry;
  /** Bytes of a file the registry stores, by SHA-256 (import-git's LFS fallback). */
  readonly storedFile: StoredFileSource;
}

/**
 * Opens the registry at `root` (a local directory today; a client for URLs later). The
 * storage engine and database are loaded here, on first use, so that `--help` and usage
 * errors answer without loading them.
 */
export async function openRegistryAt(
  root: string,
  options: {
    readonly create?: boolean;
    readonly actor?: string | undefined;
    /** The metadata database, when not the directory's own SQLite (namedDatabase). */
    readonly database?: DatabaseConfig | undefined;
    /** Where a registry created now keeps its packs (see `blobsFromFlags`). */
    readonly blobs?: BlobsConfig | undefined;
    /** The API token sent to a server (credentials.ts: MODELVAULT_TOKEN or the stored login). */
    readonly token?: string | undefined;
    /** Where the lines about a database upgrade applied while opening go (migration-report.ts). */
    readonly progress?: ((line: string) => void) | undefined;
  },
): Promise<OpenedRegistry> {
  if (isUrl(root)) {
    if (options.create) remoteUnsupported(root);
    const { openRemoteRegistry } = await import('../client/open-remote-registry.js');
    const remote = await openRemoteRegistry(root, {
      check: true,
      ...(options.token ? { token: options.token } : {}),
    });
    const onServer = (what: string) => async (): Promise<never> => {
      throw new ModelvaultError(
        'UNSUPPORTED',
        `${what} runs on the server's host: run 'mvault ${what} --registry <directory>' there`,
        { registry: root },
      );
    };
    const registry: MaintainedRegistry = Object.assign(remote, {
      gc: onServer('gc'),
      fsck: onServer('fsck'),
      repair: onServer('repair'),
      compact: onServer('compact'),
    });
    const storedFile: StoredFileSource = async (sha256) => {
      const r = await fetch(
        `${root.replace(/\/+$/, '')}/api/v1/files/${encodeURIComponent(sha256)}`,
      );
      if (r.status === 404 || !r.body) return undefined;
      if (!r.ok)
        throw new ModelvaultError('UNAVAILABLE', `reading file ${sha256}: HTTP ${r.status}`);
      return Readable.fromWeb(r.body as import('node:stream/web').ReadableStream<Uint8Array>);
    };
    return { root, registry, storedFile };
  }
  const { openRegistryDirectory } = await import('../registry/registry-directory.js');
  const { reportingMigrations } = await import('../metadata/migration-report.js');
  const dir = await reportingMigrations(options.progress, () =>
    openRegistryDirectory(root, {
      ...(options.create ? { create: true } : {}),
      ...(options.actor ? { defaultActor: options.actor } : {}),
      ...(options.database ? { database: options.database } : {}),
      ...(options.blobs ? { blobs: options.blobs } : {}),
    }),
  );
  const storedFile: StoredFileSource = async (sha256) =>
    isSha256Hex(sha256) && (await dir.store.hasFile(sha256))
      ? dir.store.readFile(sha256)
      : undefined;
  return { root, registry: dir.registry, storedFile };
}

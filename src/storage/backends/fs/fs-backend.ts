/**
 * ObjectBackend over a local directory: the default store backend.
 *
 * Durability: a put writes a temp file in the backend's own tmp dir, `<root>/.tmp/` (inside
 * the root, so on the same filesystem and the rename is atomic), fsyncs it, renames it over
 * the key's path and fsyncs the parent directory, so after a crash a key holds either its
 * old content, its new content or nothing, never a torn file. Keys whose first segment is
 * `.tmp` are therefore refused here, and listing skips that directory. Temp files left by a
 * crash are removed, once they are an hour old, by the first write of a later process.
 *
 * Keys map to paths segment by segment (`packs/ab/x.pack` → `<root>/packs/ab/x.pack`), after
 * `validateObjectKey`, so no key can name a path outside the root. Directories are created
 * on first write; constructing a backend does no I/O. Because a file and a
 * directory cannot share a name, the keys `a` and `a/b` cannot both exist here (S3 allows
 * it); the store layout never asks for that.
 *
 * Deletes are not fsynced: an object that comes back after a crash is garbage that the
 * next GC collects. Empty fan-out directories are kept (there are at most 256 under
 * `packs/`), which also means a put never races a directory removal.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, constants as fsConstants } from 'node:fs';
import {
  copyFile,
  type FileHandle,
  mkdir,
  open,
  opendir,
  readdir,
  rename,
  rm,
  stat,
  unlink,
} from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  ConflictError,
  hasErrno,
  InvalidArgumentError,
  IoError,
  isModelvaultError,
  ModelvaultError,
} from '../../../core/errors.js';
import { FS_BACKEND_TMP_DIR, tempFileName } from '../../store-layout.js';
import type { BackendCapabilities, ObjectBackend, ObjectInfo } from '../object-backend.js';
import { checkRange, objectNotFound, shortObject, statSourceFile } from '../object-errors.js';
import { validateKeyPrefix, validateObjectKey } from '../object-key.js';
import { FileHandleCache } from './file-handle-cache.js';

export interface FsBackendOptions {
  /** Open file handles kept for getRange (LRU). Default 64. */
  readonly maxOpenFiles?: number;
  /** Size of the buffers getStream yields. Default 1 MiB. */
  readonly streamChunkSize?: number;
}

const DEFAULT_MAX_OPEN_FILES = 64;
const DEFAULT_STREAM_CHUNK_SIZE = 1024 * 1024;
/** Put temp files live seconds; one this old was left by a crash. */
const STALE_TEMP_MS = 60 * 60 * 1000;

export class FsBackend implements ObjectBackend {
  readonly location: string;
  readonly capabilities: BackendCapabilities = Object.freeze({ local: true, putFileCopies: false });
  readonly root: string;
  readonly tmpDir: string;

  private readonly handles: FileHandleCache;
  private readonly streamChunkSize: number;
  /** Directories known to exist with their entries fsynced all the way up to the root. */
  private readonly durableDirs = new Set<string>();
  private tmpReady: Promise<void> | undefined;
  private closed = false;

  /**
   * A backend over the directory `root` (created, with its `.tmp/`, on first write).
   * @throws InvalidArgumentError for options that are not positive integers.
   */
  constructor(root: string, options: FsBackendOptions = {}) {
    for (const [name, n] of Object.entries(options)) {
      if (n !== undefined && !(Number.isInteger(n) && n > 0)) {
        throw new InvalidArgumentError(`fs backend option ${name}=${n} must be a positive integer`);
      }
    }
    this.root = resolve(root);
    this.tmpDir = join(this.root, FS_BACKEND_TMP_DIR);
    this.location = pathToFileURL(this.root).href;
    this.handles = new FileHandleCache(options.maxOpenFiles ?? DEFAULT_MAX_OPEN_FILES);
    this.streamChunkSize = options.streamChunkSize ?? DEFAULT_STREAM_CHUNK_SIZE;
  }

  /** Absolute path of the file holding `key` (validated). */
  pathOf(key: string): string {
    validateObjectKey(key);
    if (key === FS_BACKEND_TMP_DIR || key.startsWith(`${FS_BACKEND_TMP_DIR}/`)) {
      throw new InvalidArgumentError(
        `object key '${key}' is reserved: '${FS_BACKEND_TMP_DIR}/' holds the fs backend's temp files`,
        { key },
      );
    }
    const path = join(this.root, ...key.split('/'));
    // Validation already guarantees this; a second, independent check costs nothing.
    if (!isWithin(this.root, path)) {
      throw new InvalidArgumentError(`object key '${key}' escapes the backend root`, { key });
    }
    return path;
  }

  async put(key: string, data: Uint8Array): Promise<void> {
    this.checkOpen();
    const dest = this.pathOf(key);
    const tmp = this.tempPath('put');
    try {
      await this.ensureTmpDir();
      const fh = await open(tmp, 'wx');
      try {
        await fh.writeFile(data);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await this.moveIntoPlace(tmp, dest, key);
    } catch (e) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw translate(e, 'put', key);
    }
  }

  async putFile(key: string, path: string): Promise<void> {
    this.checkOpen();
    const dest = this.pathOf(key);
    const _info = await statSourceFile(key, path, (e) => translate(e, 'putFile', key));
    try {
      // The caller fsynced the file; a rename plus a directory fsync makes it durable here.
      await this.moveIntoPlace(path, dest, key);
      return;
    } catch (e) {
      if (!hasErrno(e, 'EXDEV')) throw translate(e, 'putFile', key);
    }
    // Another filesystem: copy next to the destination's filesystem first, then rename.
    const tmp = this.tempPath('copy');
    try {
      await this.ensureTmpDir();
      await copyFile(path, tmp, fsConstants.COPYFILE_FICLONE);
      const fh = await open(tmp, 'r+');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      await this.moveIntoPlace(tmp, dest, key);
    } catch (e) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw translate(e, 'putFile', key);
    }
  }

  async getRange(
    key: string,
    offset: number,
    length: number,
    into?: Uint8Array,
  ): Promise<Uint8Array> {
    this.checkOpen();
    const path = this.pathOf(key);
    checkRange(key, offset, length);
    const lease = await this.handles
      .acquire(path, () => openRegularFile(path))
      .catch((e: unknown) => {
        throw translate(e, 'getRange', key);
      });
    try {
      if (length === 0) {
        const { size } = await lease.handle.stat();
        if (offset > size) throw shortObject(key, offset, length, 0);
        return new Uint8Array(0);
      }
      const buf =
        into && into.length >= length ? into.subarray(0, length) : Buffer.allocUnsafe(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await lease.handle.read(buf, done, length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      if (done < length) throw shortObject(key, offset, length, done);
      return buf;
    } catch (e) {
      throw translate(e, 'getRange', key);
    } finally {
      lease.release();
    }
  }

  /**
   * Checks the key exists now and returns a stream that opens it when first read, so a
   * stream that is never iterated holds no file descriptor. If the object is deleted in
   * between, the first read throws NotFoundError.
   */
  async getStream(key: string): Promise<AsyncIterable<Uint8Array>> {
    this.checkOpen();
    const path = this.pathOf(key);
    if ((await this.stat(key)) === undefined) throw objectNotFound(key);
    const highWaterMark = this.streamChunkSize;
    return (async function* () {
      try {
        // Breaking out of this loop destroys the stream, which closes the file.
        for await (const chunk of createReadStream(path, { highWaterMark })) {
          yield chunk as Buffer;
        }
      } catch (e) {
        throw translate(e, 'getStream', key);
      }
    })();
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    this.checkOpen();
    const path = this.pathOf(key);
    try {
      const s = await stat(path);
      return s.isFile() ? { key, size: s.size } : undefined;
    } catch (e) {
      if (hasErrno(e, 'ENOENT') || hasErrno(e, 'ENOTDIR')) return undefined;
      throw translate(e, 'stat', key);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    this.checkOpen();
    validateKeyPrefix(prefix);
    const slash = prefix.lastIndexOf('/');
    const dirKey = prefix.slice(0, slash + 1); // '' or 'a/b/'
    const namePrefix = prefix.slice(slash + 1);
    if (dirKey.startsWith(`${FS_BACKEND_TMP_DIR}/`)) return; // no object can live there
    const dir = dirKey === '' ? this.root : join(this.root, ...dirKey.slice(0, -1).split('/'));
    yield* this.walk(dir, dirKey, namePrefix, dirKey === '');
  }

  async delete(key: string): Promise<void> {
    this.checkOpen();
    const path = this.pathOf(key);
    this.handles.invalidate(path);
    try {
      await unlink(path);
    } catch (e) {
      if (hasErrno(e, 'ENOENT') || hasErrno(e, 'ENOTDIR')) return;
      // A directory (Linux says EISDIR, macOS EPERM) is only a prefix of other keys: there
      // is no such object either.
      if ((hasErrno(e, 'EISDIR') || hasErrno(e, 'EPERM')) && (await isDirectory(path))) return;
      throw translate(e, 'delete', key);
    }
  }

  /** Closes cached file handles; later calls throw. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    await this.handles.closeAll();
  }

  private checkOpen(): void {
    if (this.closed) {
      throw new ModelvaultError('UNAVAILABLE', `backend ${this.location} is closed`);
    }
  }

  private tempPath(purpose: string): string {
    return join(this.tmpDir, tempFileName(purpose, randomBytes(8).toString('hex')));
  }

  /** Renames `src` over `dest` and makes the new directory entry durable. */
  private async moveIntoPlace(src: string, dest: string, key: string): Promise<void> {
    const parent = dirname(dest);
    await this.ensureDurableDir(parent);
    try {
      await rename(src, dest);
    } catch (e) {
      if (!hasErrno(e, 'ENOENT') || !this.durableDirs.has(parent)) {
        throw conflictOr(e, key);
      }
      // Someone removed the directory behind our back: recreate it once.
      this.durableDirs.delete(parent);
      await this.ensureDurableDir(parent);
      await rename(src, dest).catch((e2: unknown) => {
        throw conflictOr(e2, key);
      });
    }
    this.handles.invalidate(dest);
    await fsyncDir(parent);
  }

  /**
   * Creates `.tmp/` on the first write of this process and removes the stale temp files a
   * crash may have left there. Runs once; a failure is retried by the next write.
   */
  private ensureTmpDir(): Promise<void> {
    this.tmpReady ??= (async () => {
      await this.ensureDurableDir(this.tmpDir);
      const now = Date.now();
      for (const name of await readdir(this.tmpDir)) {
        const path = join(this.tmpDir, name);
        const s = await stat(path).catch(() => undefined);
        if (s && now - s.mtimeMs > STALE_TEMP_MS) await rm(path, { force: true, recursive: true });
      }
    })().catch((e: unknown) => {
      this.tmpReady = undefined;
      throw e;
    });
    return this.tmpReady;
  }

  private async ensureDurableDir(dir: string): Promise<void> {
    if (this.durableDirs.has(dir)) return;
    try {
      await mkdir(dir, { recursive: true });
    } catch (e) {
      // A file where a directory should be: the key collides with an existing shorter key.
      if (hasErrno(e, 'EEXIST') || hasErrno(e, 'ENOTDIR')) {
        throw new ConflictError(
          `object path '${relative(this.root, dir)}' is a file; a key cannot be both an object and a prefix here`,
        );
      }
      throw e;
    }
    // Another put may have created part of the chain and not fsynced it yet, so fsync the
    // whole chain (up to the root's own entry) once per directory per process rather than
    // trusting mkdir's answer.
    await fsyncParents(dir, dirname(this.root));
    this.durableDirs.add(dir);
  }

  private async *walk(
    dir: string,
    dirKey: string,
    namePrefix: string,
    atRoot = false,
  ): AsyncIterable<ObjectInfo> {
    let handle: Awaited<ReturnType<typeof opendir>>;
    try {
      handle = await opendir(dir);
    } catch (e) {
      if (hasErrno(e, 'ENOENT') || hasErrno(e, 'ENOTDIR')) return;
      throw translate(e, 'list', dirKey);
    }
    // Collect subdirectories and descend after closing this one, so that open directory
    // handles do not pile up with the depth of the tree.
    const subdirs: string[] = [];
    try {
      for await (const entry of handle) {
        if (!entry.name.startsWith(namePrefix)) continue;
        if (atRoot && entry.name === FS_BACKEND_TMP_DIR) continue;
        const key = dirKey + entry.name;
        const path = join(dir, entry.name);
        let isDir = entry.isDirectory();
        let isFile = entry.isFile();
        if (!isDir && !isFile && !entry.isSymbolicLink()) {
          // Filesystems that do not report types in readdir.
          const s = await stat(path).catch(() => undefined);
          isDir = s?.isDirectory() ?? false;
          isFile = s?.isFile() ?? false;
        }
        if (isDir) {
          subdirs.push(entry.name);
        } else if (isFile) {
          const s = await stat(path).catch((e: unknown) => {
            if (hasErrno(e, 'ENOENT')) return undefined; // deleted while listing
            throw translate(e, 'list', key);
          });
          if (s?.isFile()) yield { key, size: s.size };
        }
      }
    } catch (e) {
      throw translate(e, 'list', dirKey);
    }
    for (const name of subdirs) {
      yield* this.walk(join(dir, name), `${dirKey}${name}/`, '');
    }
  }
}

function isWithin(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
}

async function openRegularFile(path: string): Promise<FileHandle> {
  const fh = await open(path, 'r');
  try {
    if ((await fh.stat()).isFile()) return fh;
  } catch (e) {
    await fh.close().catch(() => undefined);
    throw e;
  }
  await fh.close().catch(() => undefined);
  // A directory: the key is only a prefix of other keys, so there is no such object.
  throw Object.assign(new Error(`not a regular file: ${path}`), { code: 'ENOENT' });
}

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

async function fsyncDir(dir: string): Promise<void> {
  let fh: FileHandle;
  try {
    fh = await open(dir, 'r');
  } catch (e) {
    // Windows cannot open a directory; its rename is durable enough with NTFS journaling.
    if (process.platform === 'win32') return;
    throw e;
  }
  try {
    await fh.sync();
  } catch (e) {
    if (!(hasErrno(e, 'EINVAL') || hasErrno(e, 'EPERM') || hasErrno(e, 'EISDIR'))) throw e;
    // Some filesystems cannot fsync a directory; nothing better is possible there.
  } finally {
    await fh.close();
  }
}

/**
 * fsyncs the parent of every directory on the way from `dir` up to, not including, `top`,
 * so that each entry of that chain survives a crash.
 */
async function fsyncParents(dir: string, top: string): Promise<void> {
  for (let d = dir; d !== top; d = dirname(d)) {
    const parent = dirname(d);
    if (parent === d) return; // reached the filesystem root without meeting `top`
    await fsyncDir(parent);
  }
}

function conflictOr(e: unknown, key: string): unknown {
  if (hasErrno(e, 'EISDIR') || hasErrno(e, 'ENOTEMPTY') || hasErrno(e, 'EEXIST')) {
    return new ConflictError(
      `object key '${key}' is a prefix of other keys; a key cannot be both here`,
      { key },
    );
  }
  return e;
}

const READ_OPS = new Set(['getRange', 'getStream', 'stat', 'delete']);

/**
 * Maps a Node fs error to the project's typed errors; ModelvaultErrors pass through. A
 * missing path means a missing object only when reading; when writing or listing it means
 * the backend's own directories went away, which is an I/O failure.
 */
function translate(e: unknown, op: string, key: string): unknown {
  if (isModelvaultError(e)) return e;
  if (READ_OPS.has(op) && ['ENOENT', 'ENOTDIR', 'EISDIR'].some((c) => hasErrno(e, c))) {
    return objectNotFound(key);
  }
  const code = (e as { code?: string }).code;
  const why =
    hasErrno(e, 'ENOSPC') || hasErrno(e, 'EDQUOT') ? 'no space left' : (code ?? String(e));
  return new IoError(`${op} '${key}' failed: ${why}`, { key, op, errno: code }, { cause: e });
}

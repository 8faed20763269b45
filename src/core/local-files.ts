/**
 * Reading local files, shared by the storage engine (ingest) and the SDK (which chunks
 * before it uploads). Node built-ins only.
 */
import type { FileHandle } from 'node:fs/promises';
import { lstat, readdir } from 'node:fs/promises';
import { basename, join, relative, sep } from 'node:path';
import { hasErrno, InvalidArgumentError, NotFoundError } from './errors.js';
import { validateManifestPath } from './names.js';

/** Reads into `buf` at `position` until it is full or the file ends; returns bytes read. */
export async function readFully(
  fh: FileHandle,
  buf: Uint8Array,
  position: number,
): Promise<number> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await fh.read(buf, done, buf.length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

export interface LocalFile {
  /** The manifest path (relative, `/`-separated, validated). */
  readonly rel: string;
  readonly abs: string;
  readonly size: number;
}

/**
 * Regular files under `root` (or `root` itself if it is a file), with manifest paths,
 * sorted by their UTF-8 bytes. Symlinks and special files are refused rather than
 * followed: a version must be exactly the bytes in the directory, and following links
 * could read outside it.
 * @throws NotFoundError when `root` does not exist; InvalidArgumentError for a symlink,
 *   a special file or a path that is not a valid manifest path.
 */
export async function listLocalTree(root: string): Promise<LocalFile[]> {
  let st: Awaited<ReturnType<typeof lstat>>;
  try {
    st = await lstat(root);
  } catch (e) {
    if (hasErrno(e, 'ENOENT')) throw new NotFoundError(`'${root}' does not exist`, { path: root });
    throw e;
  }
  if (st.isFile()) return [{ rel: validateManifestPath(basename(root)), abs: root, size: st.size }];
  if (!st.isDirectory()) {
    throw new InvalidArgumentError(`'${root}' is not a file or directory`, { path: root });
  }
  const out: LocalFile[] = [];
  const walk = async (dir: string) => {
    for (const ent of await readdir(dir, { withFileTypes: true })) {
      const abs = join(dir, ent.name);
      if (ent.isDirectory()) await walk(abs);
      else if (ent.isFile()) {
        const rel = relative(root, abs).split(sep).join('/');
        out.push({ rel: validateManifestPath(rel), abs, size: (await lstat(abs)).size });
      } else {
        throw new InvalidArgumentError(
          `'${relative(root, abs)}' is a symlink or special file; only regular files can be stored`,
          { path: abs },
        );
      }
    }
  };
  await walk(root);
  out.sort((a, b) => Buffer.compare(Buffer.from(a.rel), Buffer.from(b.rel)));
  return out;
}

/**
 * Stages the files of one git commit as a plain directory, for registering them as a model
 * version (`mvault import-git`): regular files from git's object store, and Git LFS files
 * resolved from their pointers — from the repository's own `.git/lfs/objects` (hard-linked,
 * so nothing is copied) or, when the clone never fetched them, from the registry that
 * already stores them (an LFS server backed by Modelvault). Every LFS file's SHA-256 is
 * checked against its pointer's oid while staging, so a damaged local object is refused.
 *
 * Only git's `git` binary is run (no shell); paths from the tree are validated as manifest
 * paths, so a hostile tree cannot write outside the staging directory. Submodules and
 * symbolic links are skipped and reported.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { link, mkdir, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isSha256Hex } from '../core/digest.js';
import { InvalidArgumentError, NotFoundError, VerificationError } from '../core/errors.js';
import { validateManifestPath } from '../core/names.js';
import { redactRemote } from './git-lineage.js';

/** Bytes of a file the registry already stores, by SHA-256; undefined when it has none. */
export type StoredFileSource = (sha256: string) => Promise<AsyncIterable<Uint8Array> | undefined>;

/** A pointer file is small text (git-lfs writes < 200 bytes; the spec allows < 1024). */
const MAX_POINTER_BYTES = 1024;
const POINTER_VERSION =
  /^version https:\/\/(git-lfs\.github\.com\/spec\/v1|hawser\.github\.com\/spec\/v1)\n/;

export interface LfsPointer {
  readonly oid: string;
  readonly size: number;
}

/** The oid and size of a Git LFS pointer file, or undefined when `text` is not one. */
export function parseLfsPointer(text: string): LfsPointer | undefined {
  if (!POINTER_VERSION.test(text)) return undefined;
  const oid = /^oid sha256:([0-9a-f]{64})$/m.exec(text)?.[1];
  const size = /^size ([0-9]{1,16})$/m.exec(text)?.[1];
  if (!oid || !size || !isSha256Hex(oid)) return undefined;
  const n = Number(size);
  return Number.isSafeInteger(n) ? { oid, size: n } : undefined;
}

export interface GitSnapshot {
  readonly commit: string;
  /** The ref as resolved (`refs/heads/main`), or the argument when it names no ref. */
  readonly ref: string;
  /** The `origin` (else first) remote's URL without credentials, if any. */
  readonly remote?: string;
  readonly files: number;
  readonly lfsFiles: number;
  /** LFS files taken from the registry because the clone lacked them. */
  readonly fromRegistry: number;
  /** Tree entries not staged: submodules and symbolic links. */
  readonly skipped: readonly string[];
}

function run(
  cwd: string,
  args: readonly string[],
): { stdout: NodeJS.ReadableStream; done: Promise<void> } {
  const child = spawn('git', ['-C', cwd, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_OPTIONAL_LOCKS: '0' },
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    if (stderr.length < 4000) stderr += d.toString();
  });
  const done = new Promise<void>((ok, fail) => {
    child.on('error', (e) =>
      fail(new InvalidArgumentError(`cannot run git: ${e.message}`, { cause: 'git' })),
    );
    child.on('close', (code) =>
      code === 0
        ? ok()
        : fail(
            new InvalidArgumentError(
              `git ${args[0]} failed in '${cwd}': ${stderr.trim().split('\n')[0] ?? `exit ${code}`}`,
            ),
          ),
    );
  });
  return { stdout: child.stdout, done };
}

async function output(cwd: string, args: readonly string[]): Promise<Buffer> {
  const { stdout, done } = run(cwd, args);
  const parts: Buffer[] = [];
  stdout.on('data', (d: Buffer) => parts.push(d));
  await done;
  return Buffer.concat(parts);
}

async function optionalOutput(cwd: string, args: readonly string[]): Promise<string | undefined> {
  try {
    return (await output(cwd, args)).toString('utf8').trim();
  } catch {
    return undefined;
  }
}

/** A Transform that computes the SHA-256 and byte count of what passes through. */
function hashing(): Transform & { digest(): { sha256: string; size: number } } {
  const h = createHash('sha256');
  let size = 0;
  const t = new Transform({
    transform(chunk: Buffer, _enc, done) {
      h.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  }) as Transform & { digest(): { sha256: string; size: number } };
  t.digest = () => ({ sha256: h.digest('hex'), size });
  return t;
}

/**
 * Writes the files of `ref`'s commit in the repository at `repoPath` under `dest` (an
 * empty directory).
 * @throws NotFoundError (not a repository, unknown ref, an LFS object found nowhere),
 *   VerificationError (an LFS object whose bytes do not match its pointer),
 *   InvalidArgumentError (a path that is not a valid manifest path).
 */
export async function stageGitCommit(
  repoPath: string,
  ref: string,
  dest: string,
  options: { readonly stored?: StoredFileSource } = {},
): Promise<GitSnapshot> {
  if (ref.startsWith('-') || ref.includes('\0')) {
    throw new InvalidArgumentError(`invalid git ref '${ref.slice(0, 100)}'`);
  }
  if ((await optionalOutput(repoPath, ['rev-parse', '--git-dir'])) === undefined) {
    throw new NotFoundError(`'${repoPath}' is not a git repository`, { path: repoPath });
  }
  const commit = await optionalOutput(repoPath, [
    'rev-parse',
    '--verify',
    '--quiet',
    `${ref}^{commit}`,
  ]);
  if (!commit) throw new NotFoundError(`git ref '${ref}' not found in '${repoPath}'`, { ref });
  const fullRef =
    (await optionalOutput(repoPath, ['rev-parse', '--symbolic-full-name', ref])) || ref;
  const remotes = ((await optionalOutput(repoPath, ['remote'])) ?? '').split('\n').filter(Boolean);
  const remoteName = remotes.includes('origin') ? 'origin' : remotes[0];
  const remoteUrl =
    remoteName === undefined
      ? undefined
      : await optionalOutput(repoPath, ['remote', 'get-url', remoteName]);
  const gitDir = (await output(repoPath, ['rev-parse', '--git-common-dir'])).toString().trim();
  const lfsObjects = join(
    isAbsolute(gitDir) ? gitDir : resolve(repoPath, gitDir),
    'lfs',
    'objects',
  );

  const tree = (await output(repoPath, ['ls-tree', '-r', '-z', '--long', commit])).toString('utf8');
  let files = 0;
  let lfsFiles = 0;
  let fromRegistry = 0;
  const skipped: string[] = [];
  for (const line of tree.split('\0')) {
    if (line === '') continue;
    const tab = line.indexOf('\t');
    const [mode, type, blob, sizeText] = line.slice(0, tab).split(/\s+/);
    const path = line.slice(tab + 1);
    if (type !== 'blob' || mode === '120000') {
      skipped.push(path);
      continue;
    }
    validateManifestPath(path);
    const target = join(dest, ...path.split('/'));
    await mkdir(dirname(target), { recursive: true });
    const size = Number(sizeText);
    const pointer =
      size < MAX_POINTER_BYTES
        ? parseLfsPointer((await output(repoPath, ['cat-file', 'blob', blob!])).toString('utf8'))
        : undefined;
    files++;
    if (!pointer) {
      const { stdout, done } = run(repoPath, ['cat-file', 'blob', blob!]);
      await Promise.all([pipeline(stdout, createWriteStream(target)), done]);
      continue;
    }
    lfsFiles++;
    const local = join(lfsObjects, pointer.oid.slice(0, 2), pointer.oid.slice(2, 4), pointer.oid);
    const localSize = await stat(local).then(
      (s) => (s.isFile() ? s.size : -1),
      () => -1,
    );
    let source: AsyncIterable<Uint8Array> | NodeJS.ReadableStream | undefined;
    if (localSize === pointer.size) {
      // Hard-link the clone's object (no copy); fall back to copying across filesystems.
      const linked = await link(local, target).then(
        () => true,
        () => false,
      );
      source = linked ? undefined : createReadStream(local);
      if (linked) {
        const h = hashing();
        await pipeline(createReadStream(target), h, async (s: AsyncIterable<unknown>) => {
          for await (const _ of s);
        });
        checkObject(path, pointer, h.digest());
        continue;
      }
    } else {
      source = await options.stored?.(pointer.oid);
      if (source) fromRegistry++;
    }
    if (!source) {
      throw new NotFoundError(
        `LFS object ${pointer.oid} of '${path}' is neither in '${lfsObjects}' nor in the registry: run 'git lfs fetch' in the repository first`,
        { oid: pointer.oid, path },
      );
    }
    const h = hashing();
    await pipeline(source, h, createWriteStream(target));
    checkObject(path, pointer, h.digest());
  }
  return {
    commit,
    ref: fullRef,
    ...(remoteUrl ? { remote: redactRemote(remoteUrl) } : {}),
    files,
    lfsFiles,
    fromRegistry,
    skipped,
  };
}

function checkObject(path: string, pointer: LfsPointer, got: { sha256: string; size: number }) {
  if (got.sha256 !== pointer.oid || got.size !== pointer.size) {
    throw new VerificationError(
      `LFS file '${path}' does not match its pointer: expected ${pointer.oid} (${pointer.size} bytes), got ${got.sha256} (${got.size} bytes)`,
      { path, oid: pointer.oid },
    );
  }
}

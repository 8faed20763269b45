/**
 * Code lineage of a push: when the pushed path is inside a git work tree, the remote URL
 * (credentials removed), the HEAD commit and whether tracked files have uncommitted
 * changes. Runs the `git` binary with a timeout; no git, no repository, no commits or a
 * slow repository are not errors — whatever cannot be learnt is left out.
 */
import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/** What could be learnt; absent fields could not be (as LineageInput's code expects). */
export interface GitCode {
  readonly gitRemote?: string;
  readonly gitCommit?: string;
  readonly gitDirty?: boolean;
}

const TIMEOUT_MS = 5000;

/** stdout of `git -C dir …args`, trimmed; undefined when git fails, is missing or times out. */
function git(dir: string, args: readonly string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(
      'git',
      ['-C', dir, ...args],
      {
        timeout: TIMEOUT_MS,
        maxBuffer: 1024 * 1024,
        windowsHide: true,
        // Never prompt for credentials; never take index.lock (concurrent pushes in one repo).
        env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_OPTIONAL_LOCKS: '0' },
      },
      (error, stdout) => resolve(error ? undefined : stdout.trim()),
    );
  });
}

/** `https://user:token@host/x.git` → `https://host/x.git`; scp-like and paths unchanged. */
export function redactRemote(url: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return url;
  try {
    const u = new URL(url);
    if (u.username === '' && u.password === '') return url;
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return url;
  }
}

/** The code lineage of `path` (a file or directory), or null when it is not in a work tree. */
export async function detectGitCode(path: string): Promise<GitCode | null> {
  let dir = path;
  try {
    if (!(await stat(path)).isDirectory()) dir = dirname(path);
  } catch {
    return null;
  }
  if ((await git(dir, ['rev-parse', '--is-inside-work-tree'])) !== 'true') return null;
  const [commit, remotes, status] = await Promise.all([
    git(dir, ['rev-parse', '--verify', '--quiet', 'HEAD']),
    git(dir, ['remote']),
    git(dir, ['status', '--porcelain', '--untracked-files=no']),
  ]);
  const names = (remotes ?? '').split('\n').filter((n) => n !== '');
  const remote = names.includes('origin') ? 'origin' : names[0];
  const url = remote === undefined ? undefined : await git(dir, ['remote', 'get-url', remote]);
  return {
    ...(url ? { gitRemote: redactRemote(url) } : {}),
    ...(commit ? { gitCommit: commit } : {}),
    ...(status === undefined ? {} : { gitDirty: status !== '' }),
  };
}

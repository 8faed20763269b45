/**
 * The CLI's stored sign-ins: one API token per server, written by `mvault login` and read
 * whenever `--registry` (or MODELVAULT_REGISTRY) names that server. The file is
 * `$XDG_CONFIG_HOME/modelvault/credentials.json` (default `~/.config/…`), mode 0600 in a
 * 0700 directory, and holds
 *
 *   {"servers": {"http://host:5000": {"user": "alice", "token": "mvt_…", "tokenId": "mvt_…"}}}
 *
 * MODELVAULT_TOKEN, when set, wins over the file (CI jobs set it instead of logging in).
 */
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { InvalidArgumentError } from '../core/errors.js';

export const TOKEN_ENV = 'MODELVAULT_TOKEN';

export interface StoredLogin {
  readonly user: string;
  readonly token: string;
  readonly tokenId: string;
}

interface CredentialsFile {
  servers: Record<string, StoredLogin>;
}

export function credentialsPath(env: NodeJS.ProcessEnv): string {
  const base =
    env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME !== ''
      ? env.XDG_CONFIG_HOME
      : join(env.HOME || homedir(), '.config');
  return join(base, 'modelvault', 'credentials.json');
}

/** The key a server is stored under: its origin and path, without a trailing slash. */
export function serverKey(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InvalidArgumentError(`invalid server url '${url.slice(0, 200)}'`);
  }
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

async function readAll(env: NodeJS.ProcessEnv): Promise<CredentialsFile> {
  try {
    const parsed = JSON.parse(await readFile(credentialsPath(env), 'utf8')) as CredentialsFile;
    return parsed && typeof parsed.servers === 'object' ? parsed : { servers: {} };
  } catch {
    return { servers: {} };
  }
}

async function writeAll(env: NodeJS.ProcessEnv, file: CredentialsFile): Promise<void> {
  const path = credentialsPath(env);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}

export async function storedLogin(
  env: NodeJS.ProcessEnv,
  url: string,
): Promise<StoredLogin | undefined> {
  return (await readAll(env)).servers[serverKey(url)];
}

export async function saveLogin(
  env: NodeJS.ProcessEnv,
  url: string,
  login: StoredLogin,
): Promise<void> {
  const file = await readAll(env);
  file.servers[serverKey(url)] = login;
  await writeAll(env, file);
}

/** Forgets the server's login; returns what was stored. */
export async function forgetLogin(
  env: NodeJS.ProcessEnv,
  url: string,
): Promise<StoredLogin | undefined> {
  const file = await readAll(env);
  const key = serverKey(url);
  const login = file.servers[key];
  if (login === undefined) return undefined;
  delete file.servers[key];
  await writeAll(env, file);
  return login;
}

/** The token to send to `url`: MODELVAULT_TOKEN, else the stored login's. */
export async function tokenFor(env: NodeJS.ProcessEnv, url: string): Promise<string | undefined> {
  const fromEnv = env[TOKEN_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return (await storedLogin(env, url))?.token;
}

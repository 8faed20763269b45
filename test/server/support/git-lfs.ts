/**
 * The real `git` and `git-lfs` clients for tests, isolated from the machine's and user's
 * configuration (HOME in a temp directory, GIT_CONFIG_NOSYSTEM, no prompts, no proxies),
 * and a loopback TCP proxy that can cut uploads off mid-body (interrupted pushes).
 */
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { pseudoRandomBytes, writeSafetensors } from '../../fixtures/model-files.js';

export interface GitResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A git environment rooted at `home` (created): its own global config, no system config. */
export async function gitEnvironment(home: string): Promise<NodeJS.ProcessEnv> {
  await mkdir(home, { recursive: true });
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(GIT_|https?_proxy$|HTTPS?_PROXY$|all_proxy$|ALL_PROXY$)/.test(k)) env[k] = v;
  }
  Object.assign(env, {
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: '',
    NO_PROXY: '*',
    GIT_AUTHOR_NAME: 'Tester',
    GIT_AUTHOR_EMAIL: 'tester@example.com',
    GIT_COMMITTER_NAME: 'Tester',
    GIT_COMMITTER_EMAIL: 'tester@example.com',
  });
  return env;
}

/** Runs `git args…` in `cwd`; never rejects for a non-zero exit (see `gitOk`). */
export function git(
  env: NodeJS.ProcessEnv,
  cwd: string,
  args: readonly string[],
): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      args,
      { cwd, env, maxBuffer: 64 * 1024 * 1024, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (error as { code?: unknown }).code : 0;
        if (typeof code !== 'number') {
          reject(error ?? new Error('git did not exit'));
          return;
        }
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Like git(), but throws with the output unless it exits 0. */
export async function gitOk(
  env: NodeJS.ProcessEnv,
  cwd: string,
  args: readonly string[],
): Promise<GitResult> {
  const r = await git(env, cwd, args);
  if (r.code !== 0) {
    throw new Error(`git ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  }
  return r;
}

/**
 * A safetensors checkpoint of `tensors` tensors of `tensorBytes` bytes, where `version`
 * changes the tensors `changed(version)` names (a partial fine-tune: the rest stay equal).
 */
export function checkpoint(
  version: number,
  options: { tensors?: number; tensorBytes?: number; changed?: (i: number) => boolean } = {},
): Uint8Array {
  const n = options.tensors ?? 8;
  const bytes = options.tensorBytes ?? 64 * 1024;
  const changed = options.changed ?? ((i: number) => i === version % n);
  return writeSafetensors(
    Array.from({ length: n }, (_, i) => ({
      name: `layers.${i}.weight`,
      dtype: 'F32',
      shape: [bytes / 4],
      data: pseudoRandomBytes(changed(i) ? 1000 * version + i + 7 : i + 1, bytes),
    })),
  );
}

/**
 * A loopback TCP proxy to `target` (host:port). While `cutUploads` is true, a connection
 * that starts sending an HTTP PUT is cut off after `cutAfter` more bytes (client and
 * server side both destroyed), as a dropped network would.
 */
export class CuttingProxy {
  cutUploads = false;
  cuts = 0;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly targetPort: number,
    private readonly cutAfter = 32 * 1024,
  ) {
    this.server = createServer((client) => this.accept(client));
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    if (!address || typeof address !== 'object') throw new Error('no address');
    return address.port;
  }

  private accept(client: Socket): void {
    const upstream = createConnection({ host: '127.0.0.1', port: this.targetPort });
    this.sockets.add(client).add(upstream);
    let uploading = false;
    let sent = 0;
    const end = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('data', (data: Buffer) => {
      if (this.cutUploads && !uploading && data.includes('PUT /lfs/')) uploading = true;
      if (uploading) {
        sent += data.length;
        if (sent > this.cutAfter) {
          this.cuts++;
          end();
          return;
        }
      }
      upstream.write(data);
    });
    upstream.on('data', (data: Buffer) => client.write(data));
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * What a command's action gets: the global options, the registry (opened on first use,
 * closed after the action), output helpers that honour `--json`, progress bars, and an
 * abort signal tied to Ctrl-C. Command files use this and the RegistryApi, nothing else.
 *
 * Output contract: with `--json`, stdout carries exactly one JSON document (the command's
 * result, or `{error: {code, message, details}}`); without it, stdout carries text for
 * people. Errors, hints and progress go to stderr either way.
 */
import type { HttpClient } from '../client/http-client.js';
import type { AccessAdminApi } from '../core/auth-api.js';
import type { AccessControl } from '../registry/access-control.js';
import type { StoredFileSource } from '../registry/git-snapshot.js';
import type { MaintainedRegistry } from '../registry/registry-directory.js';
import type { BlobsConfig } from '../storage/store-layout.js';
import { type ProgressBar, startProgress } from './progress.js';
import {
  locateRegistry,
  namedDatabase,
  type OpenedRegistry,
  openRegistryAt,
  USER_ENV,
} from './registry-location.js';

export interface CliEnvironment {
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** Where `--password-stdin` and prompts read. Default: process.stdin. */
  readonly stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
}

export interface GlobalOptions {
  readonly json?: boolean;
  readonly registry?: string;
}

/** True when color may be used on `stream` (a terminal, and NO_COLOR unset or empty). */
export function useColor(cli: CliEnvironment, stream: { isTTY?: boolean }): boolean {
  const noColor = cli.env.NO_COLOR;
  return Boolean(stream.isTTY) && (noColor === undefined || noColor === '');
}

/** `error:`, in red when stderr is a terminal that may have color. */
export function errorPrefix(cli: CliEnvironment): string {
  return useColor(cli, cli.stderr) ? '\u001b[31merror:\u001b[39m' : 'error:';
}

export function writeJson(cli: CliEnvironment, value: unknown): void {
  cli.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export class Run {
  /** The exit code the command asks for when it completes without throwing. */
  exitCode = 0;
  private opened: OpenedRegistry | undefined;
  private bars: ProgressBar[] = [];
  private abort: AbortController | undefined;
  private readonly onSigint = () => this.abort?.abort(new Error('interrupted'));

  constructor(
    readonly cli: CliEnvironment,
    readonly globals: GlobalOptions,
  ) {}

  get json(): boolean {
    return this.globals.json === true;
  }

  /** The acting user: MODELVAULT_USER, else the registry's default (the OS user). */
  get actor(): string | undefined {
    const user = this.cli.env[USER_ENV];
    return user === undefined || user === '' ? undefined : user;
  }

  /** The metadata database MODELVAULT_DB names (a server's host runs gc/fsck/repair on it). */
  private database() {
    return namedDatabase(undefined, this.cli.env, this.cli.cwd);
  }

  /** Locates and opens the registry (once). */
  async registry(): Promise<MaintainedRegistry> {
    if (!this.opened) {
      const root = await locateRegistry({
        flag: this.globals.registry,
        env: this.cli.env,
        cwd: this.cli.cwd,
      });
      const { tokenFor } = await import('./credentials.js');
      const token = /^https?:\/\//i.test(root) ? await tokenFor(this.cli.env, root) : undefined;
      this.opened = await openRegistryAt(root, {
        actor: this.actor,
        database: this.database(),
        token,
        progress: (line) => this.note(line),
      });
    }
    return this.opened.registry;
  }

  /** Reads files the opened registry stores, by SHA-256 (after `registry()`). */
  async storedFile(): Promise<StoredFileSource> {
    await this.registry();
    return this.opened!.storedFile;
  }

  /**
   * Users, tokens and permissions of the registry: over the API for a server, directly in
   * the database for a local registry (whoever can open its directory administers it).
   */
  async access(): Promise<AccessAdminApi> {
    const registry = await this.registry();
    const local = (registry as { access?: AccessControl }).access;
    if (local) return local.admin(local.actor(this.actor));
    const { RemoteAccess } = await import('../client/remote-access.js');
    return new RemoteAccess((registry as unknown as { http: HttpClient }).http);
  }

  /** Opens (creating) the registry at `root`: only `init` does this. */
  async createRegistry(root: string, blobs?: BlobsConfig): Promise<MaintainedRegistry> {
    this.opened = await openRegistryAt(root, {
      create: true,
      actor: this.actor,
      blobs,
      database: this.database(),
      progress: (line) => this.note(line),
    });
    return this.opened.registry;
  }

  /** Prints the result: `value` as JSON under --json, else `human()`'s text. */
  emit(value: unknown, human: () => string): void {
    if (this.json) {
      writeJson(this.cli, value);
      return;
    }
    const text = human();
    if (text !== '') this.cli.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** A line for people on stderr (hints, summaries next to streamed output). */
  note(text: string): void {
    this.cli.stderr.write(`${text}\n`);
  }

  /** A hint on stderr, for people only, when a listing has another page. */
  morePages(nextPageToken: string | undefined, command: string): void {
    if (nextPageToken !== undefined && !this.json) {
      this.note(`more results: ${command} --page-token ${nextPageToken}`);
    }
  }

  /**
   * Reports a failed check (fsck damage, a broken audit chain): `error: message` on
   * stderr, and the exit code the command ends with. The result itself is emitted as usual.
   */
  fail(exitCode: number, message: string): void {
    this.cli.stderr.write(`${errorPrefix(this.cli)} ${message}\n`);
    this.exitCode = exitCode;
  }

  /** A progress bar on stderr when it is a terminal; undefined otherwise. */
  progress(label: string): ProgressBar | undefined {
    const bar = startProgress(this.cli.stderr, label);
    if (bar) this.bars.push(bar);
    return bar;
  }

  /** Aborted by Ctrl-C (SIGINT) while the command runs. */
  signal(): AbortSignal {
    if (!this.abort) {
      this.abort = new AbortController();
      process.once('SIGINT', this.onSigint);
    }
    return this.abort.signal;
  }

  /** Stops progress bars, releases the registry and the SIGINT handler. */
  async close(): Promise<void> {
    for (const bar of this.bars) bar.stop();
    this.bars = [];
    if (this.abort) process.removeListener('SIGINT', this.onSigint);
    const opened = this.opened;
    this.opened = undefined;
    await opened?.registry.close();
  }
}

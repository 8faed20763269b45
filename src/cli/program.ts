/**
 * The `mvault` command tree and how a run ends: builds the commander program from the
 * command files, runs it, and turns every outcome into an exit code (docs/cli.md):
 *
 *   0 ok · 1 failure · 2 usage (bad option, argument, name or filter) · 3 not found ·
 *   4 verification failed or damage found · 5 refused by a promotion policy
 *
 * Errors print `error: <message>` on stderr; under --json stdout also gets
 * `{"error": {"code", "message", "details"}}`.
 */
import { readFileSync } from 'node:fs';
import {
  Command,
  CommanderError,
  InvalidArgumentError as CommanderInvalidArgumentError,
} from 'commander';
import { ERROR_CODES, InvalidArgumentError, isModelvaultError } from '../core/errors.js';
import { type CliState, commandKit, examples } from './command-kit.js';
import { registerAlias } from './commands/alias.js';
import { registerApprove } from './commands/approve.js';
import { registerAudit } from './commands/audit.js';
import { registerCompact } from './commands/compact.js';
import { registerDescribe } from './commands/describe.js';
import { registerDiff } from './commands/diff.js';
import { registerFsck } from './commands/fsck.js';
import { registerGc } from './commands/gc.js';
import { registerImportGit } from './commands/import-git.js';
import { registerInit } from './commands/init.js';
import { registerInspect } from './commands/inspect.js';
import { registerLog } from './commands/log.js';
import { registerLogin } from './commands/login.js';
import { registerLs } from './commands/ls.js';
import { registerPerm } from './commands/perm.js';
import { registerPolicy } from './commands/policy.js';
import { registerPull } from './commands/pull.js';
import { registerPush } from './commands/push.js';
import { registerReject } from './commands/reject.js';
import { registerRepair } from './commands/repair.js';
import { registerRestore } from './commands/restore.js';
import { registerRm } from './commands/rm.js';
import { registerRollback } from './commands/rollback.js';
import { registerScan } from './commands/scan.js';
import { registerSearch } from './commands/search.js';
import { registerServe } from './commands/serve.js';
import { registerShow } from './commands/show.js';
import { registerKeygen, registerSign } from './commands/sign.js';
import { registerStage } from './commands/stage.js';
import { registerTag } from './commands/tag.js';
import { registerToken } from './commands/token.js';
import { registerUser } from './commands/user.js';
import { registerVerify } from './commands/verify.js';
import { registerWebhook } from './commands/webhook.js';
import { TOKEN_ENV } from './credentials.js';
import { REGISTRY_ENV, USER_ENV } from './registry-location.js';
import { type CliEnvironment, errorPrefix, writeJson } from './run.js';

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    return String(pkg.version);
  } catch {
    return 'unknown';
  }
}

const ROOT_HELP = `${examples(
  'mvault init',
  'mvault push fraud-detector ./model --metric auc=0.941 --param lr=3e-4 -m "retrained on Q3"',
  'mvault ls fraud-detector',
  'mvault diff fraud-detector@3 fraud-detector@4',
  'mvault alias set fraud-detector production 4',
  'mvault rollback fraud-detector production',
  'mvault pull fraud-detector@production ./deploy',
  `mvault search "metrics.auc > 0.93 AND tags.team = 'risk'"`,
  'mvault audit verify',
)}
References:  NAME (latest), NAME@4, NAME@v4, NAME@ALIAS, NAME@sha256:<hex>,
             models:/NAME/4, models:/NAME/Production, models:/NAME@ALIAS
Registry:    --registry PATH, else $${REGISTRY_ENV}, else the nearest .modelvault directory
             above the working directory (create one with 'mvault init')
Acting user: $${USER_ENV}, else the operating-system user (local registries); on a server,
             who signed in: 'mvault login URL', or $${TOKEN_ENV}
Exit codes:  0 ok, 1 failure, 2 usage error, 3 not found, 4 verification failed or damage,
             5 refused by a promotion policy
Docs:        docs/cli.md
`;

export function buildProgram(cli: CliEnvironment, state: CliState): Command {
  const program = new Command('mvault');
  program
    .description('Modelvault: versioned, deduplicated model registry')
    .version(packageVersion(), '-V, --version', 'print the version')
    .option('--json', 'print one JSON document on stdout (errors too)')
    .option(
      '--registry <path>',
      `registry directory (default: $${REGISTRY_ENV} or ./.modelvault above)`,
    )
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({
      writeOut: (s) => cli.stdout.write(s),
      writeErr: (s) => cli.stderr.write(s),
    })
    .showHelpAfterError('(add --help for usage and examples)')
    .exitOverride()
    .addHelpText('after', ROOT_HELP);
  const kit = commandKit(cli, state);
  for (const register of [
    registerInit,
    registerPush,
    registerImportGit,
    registerPull,
    registerLs,
    registerShow,
    registerInspect,
    registerLog,
    registerDiff,
    registerAlias,
    registerRollback,
    registerStage,
    registerApprove,
    registerReject,
    registerTag,
    registerDescribe,
    registerSearch,
    registerRm,
    registerRestore,
    registerGc,
    registerFsck,
    registerRepair,
    registerCompact,
    registerAudit,
    registerScan,
    registerKeygen,
    registerSign,
    registerVerify,
    registerLogin,
    registerUser,
    registerToken,
    registerPerm,
    registerPolicy,
    registerWebhook,
  ]) {
    register(program, kit);
  }
  // The server runs until SIGTERM/SIGINT; it loads Fastify only when invoked.
  registerServe(program);
  return program;
}

/** Prints the error (stderr, and stdout as JSON under --json) and returns the exit code. */
function reportError(cli: CliEnvironment, e: unknown, json: boolean): number {
  const usage = ERROR_CODES.INVALID_ARGUMENT.exit;
  if (e instanceof CommanderInvalidArgumentError) {
    // A parse-args.ts parser called from an action (not by commander, which would have
    // printed it and thrown its own error): nothing has been printed yet.
    cli.stderr.write(`${errorPrefix(cli)} ${e.message}\n`);
    if (json)
      writeJson(cli, { error: { code: 'INVALID_ARGUMENT', message: e.message, details: {} } });
    return usage;
  }
  if (e instanceof CommanderError) {
    // Commander printed its message already; help and --version end well.
    if (e.exitCode === 0) return 0;
    if (json) {
      const message = e.message.replace(/^error: /, '');
      writeJson(cli, { error: { code: 'INVALID_ARGUMENT', message, details: { usage: e.code } } });
    }
    return usage;
  }
  const prefix = errorPrefix(cli);
  if (isModelvaultError(e)) {
    cli.stderr.write(`${prefix} ${e.message}\n`);
    if (json) {
      writeJson(cli, { error: { code: e.code, message: e.message, details: e.details ?? {} } });
    }
    return e.exitCode;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  const errno = (err as { code?: unknown; syscall?: unknown }).syscall !== undefined;
  const interrupted = err.name === 'AbortError' || err.message === 'interrupted';
  const code = interrupted ? 'INTERRUPTED' : errno ? 'IO' : 'INTERNAL';
  const message = interrupted
    ? 'interrupted'
    : errno
      ? err.message
      : `internal error: ${err.message}`;
  cli.stderr.write(`${prefix} ${message}\n`);
  if (code === 'INTERNAL' && cli.env.MODELVAULT_DEBUG) cli.stderr.write(`${err.stack}\n`);
  if (json) writeJson(cli, { error: { code, message, details: {} } });
  return interrupted ? 130 : 1;
}

/** Runs `mvault` with `argv` (the arguments after the program name); resolves the exit code. */
export async function runCli(argv: readonly string[], cli: CliEnvironment): Promise<number> {
  const state: CliState = { exitCode: 0 };
  const json = argv.includes('--json');
  try {
    // A shell cannot pass NUL (argv are C strings), but an embedding caller can; no path,
    // name or value may contain one, and the fs calls would fail with a raw TypeError.
    const nul = argv.findIndex((a) => a.includes('\u0000'));
    if (nul >= 0) {
      throw new InvalidArgumentError(`argument ${nul + 1} contains a NUL character`, {
        argument: nul + 1,
      });
    }
    await buildProgram(cli, state).parseAsync([...argv], { from: 'user' });
    return state.exitCode;
  } catch (e) {
    return reportError(cli, e, json);
  }
}

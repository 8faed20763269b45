import type { KeyObject } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { access, rename, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { ERROR_CODES, InvalidArgumentError } from '../../core/errors.js';
import { loadPrivateKey, loadPublicKey } from '../../core/model-signing.js';
import type { AuditQuery } from '../../core/registry-api.js';
import {
  CHECKPOINT_LINE_TYPE,
  verifyAuditExport,
  withCheckpoints,
} from '../../registry/audit-export.js';
import { type CommandKit, examples } from '../command-kit.js';
import { collectList, parseCount, parseTime } from '../parse-args.js';
import type { Run } from '../run.js';
import { eventTable } from '../views.js';
import { readKeyFile } from './sign.js';

/** `audit verify --file --key`: the export checked offline (registry/audit-export.ts). */
async function verifyFile(run: Run, file: string, keyFile: string): Promise<void> {
  const key = loadPublicKey(readKeyFile(run, keyFile));
  const path = resolve(run.cli.cwd, file);
  try {
    await access(path);
  } catch (e) {
    throw new InvalidArgumentError(`cannot read export '${file}': ${(e as Error).message}`);
  }
  const open = () => createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  const r = await verifyAuditExport(open, key);
  run.emit(r, () => {
    if (!r.ok) return `export NOT verified: ${r.problem?.message}`;
    const unattested = (r.lastSeq ?? 0) - (r.lastCheckpointSeq ?? 0);
    return `export verified: ${r.events} events, ${r.checkpoints} checkpoint(s), attested through seq ${r.lastCheckpointSeq}${unattested > 0 ? ` (${unattested} later event(s) intact but not yet attested)` : ''}`;
  });
  if (r.problem) {
    const where = r.problem.seq === null ? '' : ` at seq ${r.problem.seq}`;
    run.fail(
      ERROR_CODES.VERIFICATION_FAILED.exit,
      `audit export broken${where}: ${r.problem.message}`,
    );
  }
}

interface FilterOptions {
  readonly model?: string;
  readonly actor?: string;
  readonly action?: string[];
  readonly since?: number;
  readonly until?: number;
}

function withFilters(command: Command): Command {
  return command
    .option('--model <name>', 'events about this model, its versions and aliases')
    .option('--actor <user>', 'events by this user')
    .option('--action <action>', 'e.g. alias.set, version.created; repeatable', collectList)
    .option('--since <time>', 'from this time (2024-05-01, ISO time, epoch ms, or 7d ago)', (t) =>
      parseTime(t),
    )
    .option('--until <time>', 'before this time', (t) => parseTime(t));
}

function filters(opts: FilterOptions) {
  return {
    ...(opts.model !== undefined ? { model: opts.model } : {}),
    ...(opts.actor !== undefined ? { actor: opts.actor } : {}),
    ...(opts.action !== undefined ? { actions: opts.action } : {}),
    ...(opts.since !== undefined ? { since: opts.since } : {}),
    ...(opts.until !== undefined ? { until: opts.until } : {}),
  };
}

export function registerAudit(program: Command, kit: CommandKit): void {
  const audit = program
    .command('audit')
    .description('read, verify and export the tamper-evident audit trail')
    .addHelpText(
      'after',
      examples(
        'mvault audit log --model fraud-detector --since 7d',
        'mvault audit verify',
        'mvault audit export --output trail.jsonl',
      ),
    );

  withFilters(
    audit
      .command('log')
      .description('audit events, newest first')
      .option('--asc', 'oldest first')
      .option('--max <n>', 'at most N events (default 100)', parseCount)
      .option('--page-token <token>', 'the next page of an earlier listing'),
  )
    .addHelpText(
      'after',
      examples(
        'mvault audit log',
        'mvault audit log --model fraud-detector --action alias.set --action alias.rolled_back',
        'mvault audit log --actor alice --since 2024-05-01 --until 2024-06-01',
      ),
    )
    .action(
      kit.action(
        async (run, opts: FilterOptions & { asc?: boolean; max?: number; pageToken?: string }) => {
          const query: AuditQuery = {
            ...filters(opts),
            order: opts.asc ? 'asc' : 'desc',
            ...(opts.max !== undefined ? { maxResults: opts.max } : {}),
            ...(opts.pageToken !== undefined ? { pageToken: opts.pageToken } : {}),
          };
          const page = await (await run.registry()).auditLog(query);
          run.emit(page, () => eventTable(page.items));
          run.morePages(page.nextPageToken, 'mvault audit log (same filters)');
        },
      ),
    );

  audit
    .command('verify')
    .description('recompute the hash chain; name the first broken link')
    .option('--file <export.jsonl>', 'verify an export offline instead of the registry')
    .option('--key <server.pub>', "with --file: the server's checkpoint public key (PEM)")
    .addHelpText(
      'after',
      `${examples(
        'mvault audit verify',
        'mvault audit verify --file trail.jsonl --key checkpoint-key.pub',
      )}
Exit code 0 when the trail is intact, 4 when it is broken (the first broken event's seq
is named). Compare headHash with one exported earlier to detect a truncated trail.
With --file, nothing but the file and the key is read: every checkpoint's signature, then
the chain through every checkpoint (a rewritten or cut trail fails); events after the
last checkpoint are intact but not yet attested.
`,
    )
    .action(
      kit.action(async (run, opts: { file?: string; key?: string }) => {
        if (opts.file !== undefined || opts.key !== undefined) {
          if (opts.file === undefined || opts.key === undefined) {
            throw new InvalidArgumentError('--file and --key go together');
          }
          await verifyFile(run, opts.file, opts.key);
          return;
        }
        const result = await (await run.registry()).auditVerify();
        run.emit(result, () =>
          result.ok
            ? `audit trail intact: ${result.checked} events, head ${result.headHash ?? '-'}`
            : [
                `audit trail broken: ${result.problems.length} problem(s) in ${result.checked} events`,
                ...result.problems.map((p) => `  seq ${p.seq}: ${p.kind}: ${p.message}`),
              ].join('\n'),
        );
        if (!result.ok) {
          const first = result.problems[0]!;
          run.fail(
            ERROR_CODES.VERIFICATION_FAILED.exit,
            `audit trail broken at seq ${first.seq}: ${first.message}`,
          );
        }
      }),
    );

  audit
    .command('checkpoint')
    .description("sign a checkpoint of the trail's head now (a server signs them periodically)")
    .option(
      '--key <file>',
      'embedded registry: the ed25519 private key (default: the directory’s checkpoint-key.pem)',
    )
    .addHelpText(
      'after',
      examples('mvault audit checkpoint', 'mvault audit checkpoint --key server.key'),
    )
    .action(
      kit.action(async (run, opts: { key?: string }) => {
        const registry = await run.registry();
        if (opts.key !== undefined) {
          // Only the embedded registry takes a key; a server signs with its own.
          const local = registry as Partial<{ useCheckpointKey(key: KeyObject): void }>;
          if (typeof local.useCheckpointKey !== 'function') {
            throw new InvalidArgumentError(
              '--key is for an embedded registry: a server signs with its own key',
            );
          }
          local.useCheckpointKey(loadPrivateKey(readKeyFile(run, opts.key)));
        }
        const cp = await registry.createAuditCheckpoint();
        run.emit({ checkpoint: cp }, () =>
          cp === null
            ? 'the audit trail is empty: nothing to sign'
            : `checkpoint at seq ${cp.seq}, head ${cp.hash}, key ${cp.keyId}`,
        );
      }),
    );

  withFilters(
    audit
      .command('export')
      .description('write events, oldest first, as JSON Lines (one event per line)')
      .option('-o, --output <file>', 'write to FILE instead of stdout'),
  )
    .addHelpText(
      'after',
      `${examples(
        'mvault audit export --output trail.jsonl',
        'mvault audit export --model fraud-detector | jq .action',
      )}
Without --output, stdout is JSON Lines whether or not --json is given; with it, stdout
gets a summary (JSON under --json). An unfiltered export also holds the signed checkpoints
(lines {"type": "checkpoint", …} after the event each signs): check it offline with
mvault audit verify --file FILE --key checkpoint-key.pub.
`,
    )
    .action(
      kit.action(async (run, opts: FilterOptions & { output?: string }) => {
        const registry = await run.registry();
        const query = filters(opts);
        // A filtered export has holes in its chain, so its checkpoints could not be checked.
        const checkpoints =
          Object.keys(query).length === 0 ? await registry.auditCheckpoints() : [];
        const lines = withCheckpoints(registry.auditExport(query), checkpoints);
        if (opts.output === undefined) {
          for await (const line of lines) {
            if (!run.cli.stdout.write(`${line}\n`)) await once(run.cli.stdout, 'drain');
          }
          return;
        }
        const file = resolve(run.cli.cwd, opts.output);
        const partial = `${file}.partial`;
        const out = createWriteStream(partial);
        let count = 0;
        let written = 0;
        let head: string | null = null;
        try {
          for await (const line of lines) {
            if (!out.write(`${line}\n`)) await once(out, 'drain');
            const value = JSON.parse(line) as { type?: string; hash: string };
            if (value.type === CHECKPOINT_LINE_TYPE) written++;
            else {
              count++;
              head = value.hash;
            }
          }
          out.end();
          await once(out, 'finish');
          await rename(partial, file);
        } catch (e) {
          out.destroy();
          await rm(partial, { force: true });
          throw e;
        }
        run.emit(
          { output: file, events: count, checkpoints: written, lastHash: head },
          () => `exported ${count} event(s) and ${written} checkpoint(s) to ${file}`,
        );
      }),
    );
}

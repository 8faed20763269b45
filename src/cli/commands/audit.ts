import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ERROR_CODES } from '../../core/errors.js';
import type { AuditQuery } from '../../core/registry-api.js';
import { type CommandKit, examples } from '../command-kit.js';
import { collectList, parseCount, parseTime } from '../parse-args.js';
import { eventTable } from '../views.js';

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
    .addHelpText(
      'after',
      `${examples('mvault audit verify', 'mvault audit verify --json')}
Exit code 0 when the trail is intact, 4 when it is broken (the first broken event's seq
is named). Compare headHash with one exported earlier to detect a truncated trail.
`,
    )
    .action(
      kit.action(async (run) => {
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
gets a summary (JSON under --json).
`,
    )
    .action(
      kit.action(async (run, opts: FilterOptions & { output?: string }) => {
        const registry = await run.registry();
        const events = registry.auditExport(filters(opts));
        if (opts.output === undefined) {
          for await (const e of events) {
            if (!run.cli.stdout.write(`${JSON.stringify(e)}\n`)) {
              await once(run.cli.stdout, 'drain');
            }
          }
          return;
        }
        const file = resolve(run.cli.cwd, opts.output);
        const partial = `${file}.partial`;
        const out = createWriteStream(partial);
        let count = 0;
        let head: string | null = null;
        try {
          for await (const e of events) {
            if (!out.write(`${JSON.stringify(e)}\n`)) await once(out, 'drain');
            count++;
            head = e.hash;
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
          { output: file, events: count, lastHash: head },
          () => `exported ${count} event(s) to ${file}`,
        );
      }),
    );
}

/**
 * `mvault webhook add|ls|rm|deliveries|test` (docs/cli.md). Deliveries are sent by a
 * running `mvault serve` over the registry; `test` sends one itself, now.
 */
import type { Command } from 'commander';
import { ERROR_CODES } from '../../core/errors.js';
import type { WebhookDelivery } from '../../core/registry-api.js';
import { type CommandKit, examples } from '../command-kit.js';
import { formatTime, table } from '../format.js';
import { collectList, parseCount } from '../parse-args.js';

function deliveryRow(d: WebhookDelivery): string[] {
  return [
    String(d.id),
    d.event,
    d.auditSeq === null ? '-' : String(d.auditSeq),
    d.state,
    String(d.attempts),
    d.lastStatus === null ? '-' : String(d.lastStatus),
    d.lastError ?? '',
    d.state === 'pending' && d.nextAttemptAt !== null ? `next ${formatTime(d.nextAttemptAt)}` : '',
  ];
}

const DELIVERY_HEADERS = ['ID', 'EVENT', 'SEQ', 'STATE', 'ATTEMPTS', 'STATUS', 'ERROR', ''];

export function registerWebhook(program: Command, kit: CommandKit): void {
  const webhook = program
    .command('webhook')
    .description('HMAC-signed HTTP notifications of registry events')
    .addHelpText(
      'after',
      examples(
        'mvault webhook add https://ci.example.com/hooks/mvault --event model_version_alias.created --model fraud-detector',
        'mvault webhook ls',
        'mvault webhook deliveries wh_0123abcd…',
        'mvault webhook test wh_0123abcd…',
      ),
    );

  webhook
    .command('add')
    .description('subscribe a URL to events; prints its secret once')
    .argument('<url>', 'http:// or https:// endpoint')
    .option(
      '--event <name>',
      "an event (MLflow's names, see docs/api.md); repeatable; default all",
      collectList,
    )
    .option('--model <name>', "only this model's events (default: every model's)")
    .option('--description <text>', 'a note for people')
    .action(
      kit.action(
        async (
          run,
          url: string,
          opts: { event?: string[]; model?: string; description?: string },
        ) => {
          const created = await (await run.registry()).createWebhook({
            url,
            events: opts.event ?? ['*'],
            ...(opts.model !== undefined ? { model: opts.model } : {}),
            ...(opts.description !== undefined ? { description: opts.description } : {}),
          });
          run.emit(created, () =>
            [
              `webhook ${created.id} → ${created.url}`,
              `  events ${created.events.join(', ')}${created.model ? ` of ${created.model}` : ''}`,
              `  secret ${created.secret}`,
              '  (the secret is shown only now: receivers verify X-Modelvault-Signature with it)',
            ].join('\n'),
          );
        },
      ),
    );

  webhook
    .command('ls')
    .description('list webhooks')
    .action(
      kit.action(async (run) => {
        const webhooks = await (await run.registry()).listWebhooks();
        run.emit({ webhooks }, () =>
          webhooks.length === 0
            ? 'no webhooks'
            : table(
                ['ID', 'URL', 'MODEL', 'EVENTS', 'CREATED'],
                webhooks.map((w) => [
                  w.id,
                  w.url,
                  w.model ?? '(all)',
                  w.events.join(','),
                  `${formatTime(w.createdAt)} by ${w.createdBy}`,
                ]),
              ),
        );
      }),
    );

  webhook
    .command('rm')
    .description('delete a webhook (its pending deliveries are dropped)')
    .argument('<id>', 'the webhook id')
    .action(
      kit.action(async (run, id: string) => {
        const deleted = await (await run.registry()).deleteWebhook(id);
        run.emit({ deleted }, () => (deleted ? `deleted ${id}` : `no webhook ${id}`));
      }),
    );

  webhook
    .command('deliveries')
    .description("a webhook's delivery log, newest first")
    .argument('<id>', 'the webhook id')
    .option('--max <n>', 'at most N deliveries (default 100)', parseCount)
    .action(
      kit.action(async (run, id: string, opts: { max?: number }) => {
        const deliveries = await (await run.registry()).webhookDeliveries(
          id,
          opts.max === undefined ? {} : { maxResults: opts.max },
        );
        run.emit({ deliveries }, () =>
          deliveries.length === 0
            ? 'no deliveries yet'
            : table(DELIVERY_HEADERS, deliveries.map(deliveryRow)),
        );
      }),
    );

  webhook
    .command('test')
    .description('send a webhook.test event now (one attempt); exit 1 when it fails')
    .argument('<id>', 'the webhook id')
    .action(
      kit.action(async (run, id: string) => {
        const d = await (await run.registry()).testWebhook(id);
        run.emit(d, () =>
          d.state === 'delivered'
            ? `delivered (HTTP ${d.lastStatus})`
            : `failed: ${d.lastError ?? 'no answer'}`,
        );
        if (d.state !== 'delivered') {
          run.fail(ERROR_CODES.UNAVAILABLE.exit, `test delivery to ${id} failed: ${d.lastError}`);
        }
      }),
    );
}

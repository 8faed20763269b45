/**
 * Migration 0111: webhooks. `webhooks` holds the subscriptions (`model_id` 0: every model;
 * `events` a JSON array of event names, `["*"]` for all; `after_seq`: the audit seq when
 * it was created — it gets events after that). `webhook_deliveries` is the durable outbox
 * and the delivery log at once: one row per (webhook, event) to send, with its state
 * (`pending`, `delivered`, `failed`), attempts, when to try next, a lease while a
 * dispatcher sends it, and the last response code or error. `webhook_cursor` (one row,
 * id 1) is the last audit seq turned into deliveries: deliveries are derived from the
 * audit trail, which is written in every mutation's own transaction, so an event can
 * never be lost between the change and its delivery, even if a server dies.
 * Portable: text / integer / bigint columns.
 */
import type { Kysely } from 'kysely';
import type { NamedMigration } from '../database.js';
import { addIdColumn } from '../dialects/portable-ddl.js';

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists
async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('webhooks')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('model_id', 'bigint', (c) => c.notNull())
    .addColumn('events', 'text', (c) => c.notNull())
    .addColumn('secret', 'text', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('after_seq', 'bigint', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('deleted_at', 'bigint')
    .execute();
  await addIdColumn(db.schema.createTable('webhook_deliveries'))
    .addColumn('webhook_id', 'text', (c) => c.notNull())
    .addColumn('event', 'text', (c) => c.notNull())
    .addColumn('audit_seq', 'bigint')
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
    .addColumn('claimed_until', 'bigint')
    .addColumn('last_status', 'integer')
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('webhook_deliveries_due')
    .on('webhook_deliveries')
    .columns(['state', 'next_attempt_at'])
    .execute();
  await db.schema
    .createIndex('webhook_deliveries_webhook')
    .on('webhook_deliveries')
    .columns(['webhook_id', 'id'])
    .execute();
  await db.schema
    .createTable('webhook_cursor')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .execute();
}

export const webhooksMigration: NamedMigration = { name: '0111-webhooks', up };

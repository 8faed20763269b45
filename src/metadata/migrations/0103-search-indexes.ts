/**
 * Migration 0103: covering indexes for search. A filter such as `metrics.acc > 0.9` or
 * `params.lr = '0.1'` finds its versions through `(key, value)`; with the version id in
 * the index too, the lookup never visits the table (at 100,000 versions with 10 metrics
 * each, the table visits were most of a search's time: see docs/benchmarks.md). ORDER BY
 * a metric reads `(version_id, key) → value`, covered the same way. The narrower indexes
 * of 0100 become redundant and are dropped. Portable: plain multi-column indexes.
 */
import type { Kysely } from 'kysely';
import type { NamedMigration } from '../database.js';

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists
async function up(db: Kysely<any>): Promise<void> {
  const keyed = [
    ['version_tags', 'version_id'],
    ['version_params', 'version_id'],
    ['version_latest_metrics', 'version_id'],
    ['model_tags', 'model_id'],
  ] as const;
  for (const [table, owner] of keyed) {
    await db.schema.dropIndex(`${table}_key_value`).execute();
    await db.schema
      .createIndex(`${table}_key_value_owner`)
      .on(table)
      .columns(['key', 'value', owner])
      .execute();
  }
  await db.schema
    .createIndex('version_latest_metrics_version_key_value')
    .on('version_latest_metrics')
    .columns(['version_id', 'key', 'value'])
    .execute();
}

export const searchIndexesMigration: NamedMigration = { name: '0103-search-indexes', up };

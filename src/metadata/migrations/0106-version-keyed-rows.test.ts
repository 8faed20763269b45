import { type Kysely, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type FreshDatabase,
  freshDatabase,
  TEST_DIALECTS,
} from '../../../test/support/dialects.js';
import { openDatabase } from '../database.js';
import { registryMigration } from './0100-registry.js';
import { modelCardMigration } from './0101-model-card.js';
import { versionSummaryMigration } from './0102-version-summary.js';
import { searchIndexesMigration } from './0103-search-indexes.js';
import { signaturesMigration } from './0104-signatures.js';
import { scansMigration } from './0105-scans.js';
import { versionKeyedRowsMigration } from './0106-version-keyed-rows.js';
import { policiesMigration } from './0110-policies.js';

// biome-ignore lint/suspicious/noExplicitAny: tables of migrations before the typed schema
type AnyDb = Kysely<any>;

/** What a database had before 0106, a later migration (0110) included: 0106 lands after it. */
const BEFORE = [
  registryMigration,
  modelCardMigration,
  versionSummaryMigration,
  searchIndexesMigration,
  signaturesMigration,
  scansMigration,
  policiesMigration,
];
const TABLES = ['version_latest_metrics', 'version_params', 'version_tags'] as const;

/** Every row of the three tables, with SQLite's storage class of each value. */
async function contents(db: AnyDb): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const table of TABLES) {
    const { rows } = await sql<Record<string, unknown>>`select * from ${sql.table(table)}
      order by version_id, key`.execute(db);
    out[table] = rows.map((r) => ({ ...r, version_id: Number(r.version_id) }));
  }
  return out;
}

async function indexes(db: AnyDb, dialect: string): Promise<string[]> {
  const { rows } =
    dialect === 'sqlite'
      ? await sql<{ name: string }>`select name from sqlite_master where type = 'index'
          and tbl_name in ('version_latest_metrics', 'version_params', 'version_tags')
          and name not like 'sqlite_autoindex%'`.execute(db)
      : await sql<{ name: string }>`select indexname as name from pg_indexes
          where schemaname = current_schema()
          and tablename in ('version_latest_metrics', 'version_params', 'version_tags')`.execute(
          db,
        );
  return rows.map((r) => r.name).sort();
}

describe.each(TEST_DIALECTS)('migration 0106-version-keyed-rows on %s', (dialect) => {
  let fresh: FreshDatabase | undefined;
  afterEach(async () => {
    await fresh?.cleanup();
    fresh = undefined;
  });

  it('keeps every row, key, foreign key and the key-first search indexes', async () => {
    fresh = await freshDatabase(dialect);
    // biome-ignore lint/suspicious/noExplicitAny: as above
    const before = await openDatabase<any>(fresh.config, BEFORE);
    await sql`insert into registered_models (id, name, created_at, updated_at)
      values (1, 'm', 1, 1)`.execute(before.db);
    for (const id of [1, 2, 3]) {
      await sql`insert into model_versions (id, model_id, version, manifest_digest, size,
        file_count, created_at, updated_at) values (${id}, 1, ${id}, 'd', 0, 0, 1, 1)`.execute(
        before.db,
      );
    }
    await sql`insert into version_latest_metrics (version_id, key, value, step, timestamp) values
      (2, 'loss', -0.125, 3, 1700000000123), (1, 'acc', 0.9, 0, 1),
      (2, 'acc', 1e-300, 9007199254740991, 2), (1, 'é', 1.7976931348623157e308, -4, 3),
      (3, 'acc', 0.5, 1, 4)`.execute(before.db);
    await sql`insert into version_params (version_id, key, value) values
      (1, 'lr', '0.1'), (2, 'lr', ''), (1, 'a b', 'x'), (3, 'lr', '0.2')`.execute(before.db);
    await sql`insert into version_tags (version_id, key, value) values
      (2, 'team', 'risk'), (1, 'team', 'ops'), (2, 'z', '🙂')`.execute(before.db);
    const rowsBefore = await contents(before.db);
    const indexesBefore = await indexes(before.db, dialect);
    await before.close();

    // biome-ignore lint/suspicious/noExplicitAny: as above
    const after = await openDatabase<any>(fresh.config, [...BEFORE, versionKeyedRowsMigration]);
    try {
      expect(await contents(after.db)).toEqual(rowsBefore);
      expect(rowsBefore.version_latest_metrics).toHaveLength(5);
      if (dialect === 'sqlite') {
        for (const table of TABLES) {
          const { rows } = await sql<{ sql: string }>`select sql from sqlite_master
            where type = 'table' and name = ${table}`.execute(after.db);
          expect(rows[0]!.sql).toMatch(/without rowid$/i);
        }
        // Values keep their storage classes (the declared types came along).
        const { rows } = await sql<Record<string, string>>`select typeof(version_id) as v,
          typeof(value) as value, typeof(step) as step, typeof(timestamp) as t
          from version_latest_metrics group by 1, 2, 3, 4`.execute(after.db);
        expect(rows).toEqual([{ v: 'integer', value: 'real', step: 'integer', t: 'integer' }]);
        // The key-first search indexes stay; the by-version covering index is the table now.
        expect(await indexes(after.db, dialect)).toEqual([
          'version_latest_metrics_key_value_owner',
          'version_params_key_value_owner',
          'version_tags_key_value_owner',
        ]);
      } else {
        // PostgreSQL is left as it was.
        expect(await indexes(after.db, dialect)).toEqual(indexesBefore);
      }
      // The primary key still refuses a second row for a key, the foreign key a version
      // that does not exist.
      await expect(
        after.writeTransaction((trx) =>
          sql`insert into version_params (version_id, key, value) values (1, 'lr', 'y')`.execute(
            trx,
          ),
        ),
      ).rejects.toThrow();
      await expect(
        after.writeTransaction((trx) =>
          sql`insert into version_tags (version_id, key, value) values (99, 'k', 'v')`.execute(trx),
        ),
      ).rejects.toThrow();
      // Deleting a version still deletes its rows (the cascade came along).
      await after.writeTransaction((trx) =>
        sql`delete from model_versions where id = 2`.execute(trx),
      );
      const left = await contents(after.db);
      for (const table of TABLES) {
        expect(left[table]).toEqual(
          rowsBefore[table]!.filter((r) => (r as { version_id: number }).version_id !== 2),
        );
      }
    } finally {
      await after.close();
    }
  });
});

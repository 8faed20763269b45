/**
 * Migration 0106: on SQLite, a version's latest metrics, params and tags are stored in
 * their `(version_id, key)` order as the table itself (`WITHOUT ROWID`, `withoutRowid` in
 * ../dialects/portable-ddl.ts).
 *
 * As rowid tables each row was written to the table, to its primary-key index
 * `(version_id, key)`, to the key-first search index `(key, value, owner)` (0103) and, for
 * the latest metrics, to the covering `(version_id, key, value)` index (0103): three or
 * four b-trees. Keyed by `(version_id, key)`, the table is the by-version covering
 * structure (hydration, EXISTS probes, ORDER BY a metric's value per version), so a row
 * goes into two b-trees: the table and the key-first index, which search at scale needs
 * and which is recreated here unchanged. The covering `(version_id, key, value)` index
 * becomes redundant and is not recreated.
 *
 * The rows are copied exactly (same columns, types, key, foreign key and cascade). On
 * PostgreSQL nothing changes: a heap and its primary-key index are what it has anyway.
 */
import { type CreateTableBuilder, type Kysely, SqliteAdapter, sql } from 'kysely';
import type { NamedMigration } from '../database.js';
import { withoutRowid } from '../dialects/portable-ddl.js';

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists
type AnyDb = Kysely<any>;

const KEY_VALUE_TABLES = ['version_params', 'version_tags'] as const;

/**
 * Builds `table` anew as `WITHOUT ROWID` keyed `(version_id, key)` with the value columns
 * `addValues` adds, copies its rows (`columns`), and recreates its key-first index.
 */
async function rebuild(
  db: AnyDb,
  table: string,
  columns: readonly string[],
  // biome-ignore lint/suspicious/noExplicitAny: as AnyDb
  addValues: (t: CreateTableBuilder<any, any>) => CreateTableBuilder<any, any>,
): Promise<void> {
  const next = `${table}_keyed`;
  await withoutRowid(
    addValues(
      db.schema
        .createTable(next)
        .addColumn('version_id', 'bigint', (c) =>
          c.notNull().references('model_versions.id').onDelete('cascade'),
        )
        .addColumn('key', 'text', (c) => c.notNull()),
    ).addPrimaryKeyConstraint(`${table}_pk`, ['version_id', 'key']),
  ).execute();
  const list = sql.join(columns.map((c) => sql.ref(c)));
  await sql`insert into ${sql.table(next)} (${list})
    select ${list} from ${sql.table(table)} order by version_id, key`.execute(db);
  await db.schema.dropTable(table).execute();
  await db.schema.alterTable(next).renameTo(table).execute();
  await db.schema
    .createIndex(`${table}_key_value_owner`)
    .on(table)
    .columns(['key', 'value', 'version_id'])
    .execute();
}

async function up(db: AnyDb): Promise<void> {
  if (!(db.getExecutor().adapter instanceof SqliteAdapter)) return;
  for (const table of KEY_VALUE_TABLES) {
    await rebuild(db, table, ['version_id', 'key', 'value'], (t) =>
      t.addColumn('value', 'text', (c) => c.notNull()),
    );
  }
  await rebuild(
    db,
    'version_latest_metrics',
    ['version_id', 'key', 'value', 'step', 'timestamp'],
    (t) =>
      t
        .addColumn('value', 'real', (c) => c.notNull())
        .addColumn('step', 'bigint', (c) => c.notNull())
        .addColumn('timestamp', 'bigint', (c) => c.notNull()),
  );
}

export const versionKeyedRowsMigration: NamedMigration = { name: '0106-version-keyed-rows', up };

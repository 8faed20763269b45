/**
 * Metric points as the tables before migration 0305 stored them (`run_metrics`,
 * `run_pending_metrics`: a point per row, NaN as value 0 with is_nan 1), for the tests
 * that build a registry at 0304 and upgrade it.
 */
import type { Kysely } from 'kysely';

/** One old point: key, step, timestamp, value (NaN allowed). */
export type OldPoint = [key: string, step: number, timestamp: number, value: number];

/**
 * Inserts `points` of the run `runKey` into one of the old tables, 500 rows a statement;
 * pending rows are numbered in the order given.
 */
export async function insertOldPoints(
  // biome-ignore lint/suspicious/noExplicitAny: tables of migration 0304, before the typed schema
  db: Kysely<any>,
  table: 'run_metrics' | 'run_pending_metrics',
  runKey: number,
  points: readonly OldPoint[],
): Promise<void> {
  for (let i = 0; i < points.length; i += 500) {
    await db
      .insertInto(table)
      .values(
        points.slice(i, i + 500).map(([key, step, timestamp, value], j) => ({
          run_key: runKey,
          ...(table === 'run_pending_metrics' ? { seq: i + j } : {}),
          key,
          step,
          timestamp,
          value: Number.isNaN(value) ? 0 : value,
          is_nan: Number.isNaN(value) ? 1 : 0,
        })),
      )
      .execute();
  }
}

/**
 * Migration 0306: every key's `run_metric_segments` in order — each segment's first
 * (step, timestamp) at or after the previous one's last, by fold — which the fold of
 * re-logged points relies on from now on: it finds the segments a range meets by a binary
 * search over folds (tracking-service.ts, mergeSegments) instead of an aggregate over all
 * the key's segments (docs/design.md "Tracking"; docs/benchmarks.md, MLflow section,
 * session 13). Segments out of order were only written by the first fold of 0305, which
 * appended overlapping ones; a key with such segments has them all merged once, as
 * get-history read them: every point of the key's segments, in fold order, sorted stably
 * in get-history's order (step, timestamp, NaN first, value) with identical points once
 * (the first kept; -0 and 0 identical), cut into segments of at most SEGMENT_MAX_POINTS
 * from fold 0. Keys in order are not touched; pending batches are left as they are.
 */
import { type Kysely, sql } from 'kysely';
import type { NamedMigration } from '../database.js';
import { decodeMetricPoints, segmentEnds, segmentFields } from '../metric-points-codec.js';

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists
type AnyDb = Kysely<any>;

/** Rewrites one key's segments as one ordered list (see the module comment). */
async function orderKey(db: AnyDb, runKey: number, key: string): Promise<void> {
  const rows = await db
    .selectFrom('run_metric_segments')
    .select('points')
    .where('run_key', '=', runKey)
    .where('key', '=', key)
    .orderBy('fold')
    .execute();
  const steps: number[] = [];
  const timestamps: number[] = [];
  const values: number[] = [];
  const nans: number[] = [];
  for (const r of rows as { points: Uint8Array }[]) {
    const d = decodeMetricPoints(r.points);
    for (let i = 0; i < d.steps.length; i++) {
      steps.push(d.steps[i]!);
      timestamps.push(d.timestamps[i]!);
      values.push(d.values[i]!);
      nans.push(d.nans[i]!);
    }
  }
  const cmp = (a: number, b: number) => {
    const v = (x: number, y: number) => (x < y ? -1 : x > y ? 1 : 0);
    return (
      steps[a]! - steps[b]! ||
      timestamps[a]! - timestamps[b]! ||
      nans[b]! - nans[a]! ||
      v(values[a]!, values[b]!)
    );
  };
  // Array.prototype.sort is stable: of identical points the first in fold order leads.
  const order = Array.from({ length: steps.length }, (_, i) => i).sort(cmp);
  const kept: number[] = [];
  for (const i of order)
    if (kept.length === 0 || cmp(kept[kept.length - 1]!, i) !== 0) kept.push(i);
  const col = (xs: number[]) => kept.map((i) => xs[i]!);
  const p = {
    steps: col(steps),
    timestamps: col(timestamps),
    values: col(values),
    nans: col(nans),
  };
  await db
    .deleteFrom('run_metric_segments')
    .where('run_key', '=', runKey)
    .where('key', '=', key)
    .execute();
  let start = 0;
  let fold = 0;
  for (const end of segmentEnds(p.steps, p.timestamps)) {
    await db
      .insertInto('run_metric_segments')
      .values({ run_key: runKey, key, fold: fold++, ...segmentFields(key, p, start, end) })
      .execute();
    start = end;
  }
}

/** Orders every key whose segments are out of order (see the module comment). */
export async function orderMetricSegments(db: AnyDb): Promise<void> {
  const keys = await sql<{ run_key: number; key: string }>`select distinct run_key, key from (
      select run_key, key, first_step, first_timestamp,
        lag(last_step) over w as prev_step, lag(last_timestamp) over w as prev_timestamp
      from run_metric_segments window w as (partition by run_key, key order by fold)
    ) as s
    where first_step < prev_step or (first_step = prev_step and first_timestamp < prev_timestamp)
    order by run_key, key`.execute(db);
  for (const { run_key, key } of keys.rows) await orderKey(db, Number(run_key), key);
}

export const orderedMetricSegmentsMigration: NamedMigration = {
  name: '0306-ordered-metric-segments',
  up: orderMetricSegments,
};

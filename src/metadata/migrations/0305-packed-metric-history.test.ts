import { type Kysely, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type FreshDatabase,
  freshDatabase,
  TEST_DIALECTS,
} from '../../../test/support/dialects.js';
import { insertOldPoints, type OldPoint } from '../../../test/support/old-metric-rows.js';
import { comparableSegment } from '../../../test/support/segment-rows.js';
import { REGISTRY_MIGRATIONS } from '../../registry/local-registry.js';
import { openDatabase } from '../database.js';
import { encodeMetricPoints, SEGMENT_MAX_POINTS, segmentEnds } from '../metric-points-codec.js';
import type { RunMetricSegmentsTable } from '../tracking-schema.js';
import { packMetricHistory } from './0305-packed-metric-history.js';

const BEFORE_0305 = REGISTRY_MIGRATIONS.filter((m) => m.name < '0305');

// biome-ignore lint/suspicious/noExplicitAny: tables of migrations before the typed schema
type AnyDb = Kysely<any>;

/** A segment row as the test compares them: its points as hex. */
type SegmentRow = Omit<RunMetricSegmentsTable, 'points'> & { points: string };

/**
 * What the migration wrote before it read in pages: each key's whole UNION in one query,
 * cut by segmentEnds — the straightforward path the paged copy must reproduce byte for byte.
 */
async function unpaged(db: AnyDb): Promise<SegmentRow[]> {
  const out: SegmentRow[] = [];
  const runs = await sql<{ k: number }>`select run_key as k from runs order by run_key`.execute(db);
  for (const { k } of runs.rows) {
    const runKey = Number(k);
    const keys = await sql<{ key: string }>`select key from run_metrics where run_key = ${runKey}
      union select key from run_pending_metrics where run_key = ${runKey} order by key`.execute(db);
    for (const { key } of keys.rows) {
      const rows = (
        await sql<{ step: number; timestamp: number; value: number; is_nan: number }>`
          select step, timestamp, value, is_nan from run_metrics where run_key = ${runKey} and key = ${key}
          union select step, timestamp, value, is_nan from run_pending_metrics where run_key = ${runKey} and key = ${key}
          order by step, timestamp, is_nan desc, value`.execute(db)
      ).rows;
      const steps = rows.map((r) => Number(r.step));
      const timestamps = rows.map((r) => Number(r.timestamp));
      let start = 0;
      let fold = 0;
      for (const end of segmentEnds(steps, timestamps)) {
        const part = rows.slice(start, end);
        const points = encodeMetricPoints({
          keys: [key],
          keyIndex: null,
          steps: steps.slice(start, end),
          timestamps: timestamps.slice(start, end),
          values: part.map((r) => (r.is_nan ? 0 : Number(r.value))),
          nans: part.map((r) => (r.is_nan ? 1 : 0)),
        });
        out.push({
          run_key: runKey,
          key,
          fold: fold++,
          n: end - start,
          first_step: steps[start]!,
          first_timestamp: timestamps[start]!,
          last_step: steps[end - 1]!,
          last_timestamp: timestamps[end - 1]!,
          points: points.toString('hex'),
        });
        start = end;
      }
    }
  }
  return out;
}

async function segments(db: AnyDb): Promise<SegmentRow[]> {
  const rows = await db
    .selectFrom('run_metric_segments')
    .selectAll()
    .orderBy('run_key')
    .orderBy('key')
    .orderBy('fold')
    .execute();
  return rows.map((r: Record<string, unknown>) => ({
    run_key: Number(r.run_key),
    ...comparableSegment(r),
    points: Buffer.from(r.points as Uint8Array).toString('hex'),
  }));
}

type Row = OldPoint;

describe.each(TEST_DIALECTS)('migration 0305-packed-metric-history on %s', (dialect) => {
  let fresh: FreshDatabase | undefined;
  afterEach(async () => {
    await fresh?.cleanup();
    fresh = undefined;
  });

  it('copies each key in pages exactly as one query did: no point lost, doubled or moved at a page boundary', async () => {
    fresh = await freshDatabase(dialect);
    const database = await openDatabase<unknown>(fresh.config, BEFORE_0305);
    const db = database.db as AnyDb;
    try {
      for (const k of [1, 2, 3]) {
        await sql`insert into runs (id, experiment_id, name, user_id, status, start_time,
          lifecycle_stage, artifact_uri, run_key)
          values (${`r${k}`}, 0, 'r', 'u', 'RUNNING', ${k}, 'active', 'x', ${k})`.execute(db);
      }
      // Run 1, 'loss': more points than two segments hold. Every 7th step has a group of
      // points at one (step, timestamp) — NaN, -Infinity, -0, +Infinity, 1.5 — so that the
      // small pages below end inside groups, on every special value; a run of 40 points at
      // one (step, timestamp) straddles the first segment's cut (moved back to its start).
      const specials = [Number.NaN, Number.NEGATIVE_INFINITY, -0, Number.POSITIVE_INFINITY, 1.5];
      const folded: Row[] = [];
      for (let step = 0; folded.length < 2 * SEGMENT_MAX_POINTS + 500; step++) {
        if (folded.length >= SEGMENT_MAX_POINTS - 20 && folded.length < SEGMENT_MAX_POINTS) {
          for (let i = 0; i < 40; i++) folded.push(['loss', step, 7, i / 8]);
        } else if (step % 7 === 0) {
          for (const v of specials) folded.push(['loss', step, 5, v]);
        } else folded.push(['loss', step, 5 + (step % 3), step / 3]);
      }
      folded.push(['acc', 1, 1, 0.25], ['acc', 2, 1, Number.NaN]);
      // A key with no pending point (read from run_metrics alone), over several pages.
      for (let step = 0; step < 6; step++) {
        for (const v of specials) folded.push(['solo', step, 1, v]);
      }
      // Pending: folded points again (across tables), a point twice, points inside the
      // folded range and in its groups, a key only pending.
      const pending1: Row[] = [
        ...folded.slice(3000, 3010),
        ['loss', 14, 5, 2],
        ['loss', 14, 5, 2],
        ['loss', 14, 5, Number.NaN],
        ['loss', 21, 5, Number.NEGATIVE_INFINITY],
        ['loss', -1, 0, Number.POSITIVE_INFINITY],
        ['loss', 100000, 1, -0.5],
        ['acc', 1, 1, 0.25],
        ['new', 3, 3, 3],
        ['new', 3, 3, 3],
      ];
      // Run 2 only pending: a point more times than a page holds, before others.
      const pending2: Row[] = [
        ...Array.from({ length: 8 }, (): Row => ['loss', 0, 1, 9]),
        ['loss', 0, 2, 1],
        ['loss', 2, 1, 5],
        ['loss', 1, 1, Number.NaN],
        ['loss', 2, 1, 5],
        ['loss', 2, 1, -1],
      ];
      await insertOldPoints(db, 'run_metrics', 1, folded);
      await insertOldPoints(db, 'run_pending_metrics', 1, pending1);
      await insertOldPoints(db, 'run_pending_metrics', 2, pending2);
      // Run 3 has no points.

      const want = await unpaged(db);
      const loss = want.filter((s) => s.run_key === 1 && s.key === 'loss');
      expect(loss.length).toBe(3);
      // The cut moved back to the start of the 40 points at one (step, timestamp).
      expect(loss[0]!.n).toBeLessThan(SEGMENT_MAX_POINTS);
      expect(loss[1]!.first_timestamp).toBe(7);
      for (const pageSize of [3, 5, 7, 4096, 100_000, undefined]) {
        await packMetricHistory(db, pageSize === undefined ? {} : { pageSize });
        expect(await segments(db), `page size ${pageSize}`).toEqual(want);
        await db.schema.dropTable('run_metric_segments').execute();
        await db.schema.dropTable('run_metric_batches').execute();
      }
    } finally {
      await database.close();
    }
  });
});

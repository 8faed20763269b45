/**
 * Permanent deletion of MLflow runs and experiments deleted longer ago than the retention
 * period: Modelvault's `mlflow gc`, run by garbage collection (registry-directory.ts gc())
 * before it reads its roots, so the bytes that only purged runs used are reclaimed by that
 * same collection (bytes another run's artifact or a version still uses stay: they have
 * roots of their own).
 *
 * A run deleted before `cutoff` (gc's: now − retention − grace, the rule that lets deleted
 * versions' files go) loses everything: its metric history (pending batches, segments,
 * latest values), params, tags, dataset inputs, its artifact tree in the proxy (entries,
 * and multipart uploads into it) and its row. No tombstone: MLflow answers runs/get of a
 * purged run RESOURCE_DOES_NOT_EXIST, run ids are random (never given again), and nothing
 * outside the tracking tables refers to a run by a foreign key. A model version registered
 * from the run keeps its run id as text (its lineage), its own copy of the run's metrics
 * and params, and its own manifest of the frozen files, which is a root by itself: it stays
 * whole. The run's integer key may be given again (nothing refers to it any more).
 *
 * An experiment deleted before `cutoff`, other than `0`, with no run left once its runs are
 * purged, loses its row, tags and permission grants, and its name becomes free (why MLflow
 * users run `mlflow gc`). Its id is recorded as the highest ever given (`tracking_sequences`,
 * migration 0307), so createExperiment never gives it again: a new experiment must not
 * inherit its audit subject. Files under the experiment's artifact location that no run
 * logged are left where they are (as MLflow's gc does).
 *
 * Each purge appends a `run.purged` / `experiment.purged` audit event, by gc's actor, in
 * the transaction that deletes, which first re-reads the row under the write lock: a run
 * restored since it was listed (or deleted again later) is left alone, like a manifest that
 * GC's `stillReferenced` finds referenced again. Runs are listed PURGE_BATCH at a time in
 * (deleted_at, id) order through the runs_deleted index and purged one batch per
 * transaction; a run's history and artifacts are deleted by statements, never read. So
 * memory and the write lock's hold are bounded by the batch, whatever the number of deleted
 * runs or the length of their histories.
 */
import type { Kysely } from 'kysely';
import { InvalidArgumentError } from '../core/errors.js';
import type { RegistryDB } from '../metadata/schema.js';
import {
  type ArtifactService,
  checkArtifactPath,
  isReservedArtifactPath,
} from './artifact-service.js';
import type { AuditService } from './audit-service.js';
import { proxyPathOf } from './mlflow-version-service.js';
import type { RegistryContext } from './registry-context.js';
import { EXPERIMENT_ID_SEQUENCE } from './tracking-service.js';

/** Runs (or experiments) listed and purged per write transaction. */
export const PURGE_BATCH = 100;

/** How many runs and experiments a purge deleted (or, counted, would delete). */
export interface PurgeCounts {
  readonly runs: number;
  readonly experiments: number;
}

type Db = Kysely<RegistryDB>;

/** The proxy directory of a run's artifacts, or undefined when they are not in the proxy. */
function proxiedRoot(artifactUri: string): string | undefined {
  const root = proxyPathOf(artifactUri);
  if (root === undefined || root === '' || isReservedArtifactPath(root)) return undefined;
  try {
    return checkArtifactPath(root);
  } catch (e) {
    if (e instanceof InvalidArgumentError) return undefined;
    throw e;
  }
}

export class TrackingPurge {
  constructor(
    private readonly ctx: RegistryContext,
    private readonly audit: AuditService,
    private readonly artifacts: ArtifactService,
    private readonly batch: number = PURGE_BATCH,
  ) {}

  /** What purge(cutoff) would delete now, counted; changes nothing (gc's dry run). */
  async count(cutoff: number): Promise<PurgeCounts> {
    const db = this.ctx.database.db;
    const runs = await db
      .selectFrom('runs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('deleted_at', '<', cutoff)
      .where('lifecycle_stage', '=', 'deleted')
      .executeTakeFirst();
    const experiments = await db
      .selectFrom('experiments as e')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('e.lifecycle_stage', '=', 'deleted')
      .where('e.deleted_at', '<', cutoff)
      .where('e.id', '<>', 0)
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('runs as r')
              .select('r.id')
              .whereRef('r.experiment_id', '=', 'e.id')
              .where((w) =>
                w.or([
                  w('r.lifecycle_stage', '<>', 'deleted'),
                  w('r.deleted_at', 'is', null),
                  w('r.deleted_at', '>=', cutoff),
                ]),
              ),
          ),
        ),
      )
      .executeTakeFirst();
    return { runs: Number(runs?.n ?? 0), experiments: Number(experiments?.n ?? 0) };
  }

  /**
   * Deletes every run, then every experiment, deleted before `cutoff` (see the module
   * comment), each with an audit event by `actor`. Safe while runs are logged, restored
   * and deleted: each batch's rows are checked again in its own transaction.
   */
  async purge(cutoff: number, actor: string): Promise<PurgeCounts> {
    const db = this.ctx.database.db;
    let runs = 0;
    let after: { deletedAt: number; id: string } | undefined;
    for (;;) {
      let q = db
        .selectFrom('runs')
        .select(['id', 'deleted_at'])
        .where('deleted_at', '<', cutoff)
        .where('lifecycle_stage', '=', 'deleted');
      if (after) {
        const a = after;
        q = q.where((eb) => eb(eb.refTuple('deleted_at', 'id'), '>', eb.tuple(a.deletedAt, a.id)));
      }
      const listed = await q.orderBy('deleted_at').orderBy('id').limit(this.batch).execute();
      const last = listed[listed.length - 1];
      if (!last) break;
      after = { deletedAt: Number(last.deleted_at), id: last.id };
      const ids = listed.map((r) => r.id);
      runs += await this.ctx.database.writeTransaction((trx) =>
        this.purgeRuns(trx, ids, cutoff, actor),
      );
      if (listed.length < this.batch) break;
    }
    let experiments = 0;
    let afterId = 0; // also keeps the Default experiment `0` out
    for (;;) {
      const listed = await db
        .selectFrom('experiments')
        .select('id')
        .where('lifecycle_stage', '=', 'deleted')
        .where('deleted_at', '<', cutoff)
        .where('id', '>', afterId)
        .orderBy('id')
        .limit(this.batch)
        .execute();
      const last = listed[listed.length - 1];
      if (!last) break;
      afterId = Number(last.id);
      const ids = listed.map((r) => Number(r.id));
      experiments += await this.ctx.database.writeTransaction((trx) =>
        this.purgeExperiments(trx, ids, cutoff, actor),
      );
      if (listed.length < this.batch) break;
    }
    return { runs, experiments };
  }

  /** Purges those of `ids` that are still deleted before `cutoff`; resolves how many. */
  private async purgeRuns(
    trx: Db,
    ids: readonly string[],
    cutoff: number,
    actor: string,
  ): Promise<number> {
    const rows = await trx
      .selectFrom('runs')
      .select(['id', 'run_key', 'experiment_id', 'name', 'artifact_uri', 'deleted_at'])
      .where('id', 'in', [...ids])
      .where('lifecycle_stage', '=', 'deleted')
      .where('deleted_at', '<', cutoff)
      .orderBy('deleted_at')
      .orderBy('id')
      .execute();
    if (rows.length === 0) return 0;
    const keys = rows.map((r) => r.run_key);
    const runIds = rows.map((r) => r.id);
    await trx.deleteFrom('run_metric_batches').where('run_key', 'in', keys).execute();
    await trx.deleteFrom('run_metric_segments').where('run_key', 'in', keys).execute();
    await trx.deleteFrom('run_latest_metrics').where('run_key', 'in', keys).execute();
    await trx.deleteFrom('run_params').where('run_id', 'in', runIds).execute();
    await trx.deleteFrom('run_tags').where('run_id', 'in', runIds).execute();
    await trx.deleteFrom('run_inputs').where('run_id', 'in', runIds).execute();
    const now = this.ctx.now();
    for (const r of rows) {
      const root = proxiedRoot(r.artifact_uri);
      const files = root === undefined ? 0 : await this.artifacts.deleteTree(trx, root);
      await trx.deleteFrom('runs').where('id', '=', r.id).execute();
      await this.audit.append(trx, {
        actor,
        action: 'run.purged',
        subject: `run:${r.id}`,
        data: {
          experiment_id: String(r.experiment_id),
          run_name: r.name,
          deleted_at: Number(r.deleted_at),
          artifact_files: files,
        },
        time: now,
      });
    }
    return rows.length;
  }

  /**
   * Purges those of `ids` that are still deleted before `cutoff` and have no run left;
   * resolves how many.
   */
  private async purgeExperiments(
    trx: Db,
    ids: readonly number[],
    cutoff: number,
    actor: string,
  ): Promise<number> {
    const rows = await trx
      .selectFrom('experiments as e')
      .select(['e.id', 'e.name', 'e.deleted_at'])
      .where('e.id', 'in', [...ids])
      .where('e.id', '<>', 0)
      .where('e.lifecycle_stage', '=', 'deleted')
      .where('e.deleted_at', '<', cutoff)
      .where((eb) =>
        eb.not(
          eb.exists(
            eb.selectFrom('runs as r').select('r.id').whereRef('r.experiment_id', '=', 'e.id'),
          ),
        ),
      )
      .orderBy('e.id')
      .execute();
    if (rows.length === 0) return 0;
    const expIds = rows.map((r) => Number(r.id));
    const highest = Math.max(...expIds);
    const seq = await trx
      .selectFrom('tracking_sequences')
      .select('last_value')
      .where('name', '=', EXPERIMENT_ID_SEQUENCE)
      .executeTakeFirst();
    if (!seq) {
      await trx
        .insertInto('tracking_sequences')
        .values({ name: EXPERIMENT_ID_SEQUENCE, last_value: highest })
        .execute();
    } else if (Number(seq.last_value) < highest) {
      await trx
        .updateTable('tracking_sequences')
        .set({ last_value: highest })
        .where('name', '=', EXPERIMENT_ID_SEQUENCE)
        .execute();
    }
    await trx.deleteFrom('experiment_tags').where('experiment_id', 'in', expIds).execute();
    const now = this.ctx.now();
    for (const r of rows) {
      const id = Number(r.id);
      // Grants on a resource that no longer exists; the ids are never given again anyway.
      const grants = await trx
        .deleteFrom('permissions')
        .where('resource_kind', '=', 'experiment')
        .where('resource_id', '=', id)
        .executeTakeFirst();
      await trx.deleteFrom('experiments').where('id', '=', id).execute();
      await this.audit.append(trx, {
        actor,
        action: 'experiment.purged',
        subject: `experiment:${id}`,
        data: {
          name: r.name,
          deleted_at: Number(r.deleted_at),
          permissions_revoked: Number(grants.numDeletedRows),
        },
        time: now,
      });
    }
    return rows.length;
  }
}

/**
 * Tables of MLflow tracking (migration `0300-tracking`), owned by
 * `src/registry/tracking-service.ts`. Same conventions as `schema.ts`: timestamps are
 * integer ms, booleans 0/1, JSON as text.
 */
import type { Selectable } from 'kysely';

export type LifecycleStage = 'active' | 'deleted';
export type RunStatus = 'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED';

export interface ExperimentsTable {
  /** MLflow's experiment_id as a number; `0` is the Default experiment. */
  id: number;
  /** Unique over active and deleted experiments, as in MLflow. */
  name: string;
  /** `mlflow-artifacts:/<id>` unless the client chose one. */
  artifact_location: string;
  lifecycle_stage: LifecycleStage;
  created_at: number;
  updated_at: number;
  deleted_at: number | null;
}

export interface ExperimentTagsTable {
  experiment_id: number;
  key: string;
  value: string;
}

export interface RunsTable {
  /** 32 lowercase hex characters (MLflow's run_uuid). */
  id: string;
  experiment_id: number;
  name: string;
  user_id: string;
  status: RunStatus;
  start_time: number;
  end_time: number | null;
  lifecycle_stage: LifecycleStage;
  /** `mlflow-artifacts:/<experiment_id>/<run_id>/artifacts`. */
  artifact_uri: string;
  deleted_at: number | null;
  /**
   * The run's integer key (migration 0304), by which run_metric_batches,
   * run_metric_segments and run_latest_metrics refer to it: assigned max + 1 on creation, unique, never changed.
   */
  run_key: number;
}

export interface RunKeyValueTable {
  run_id: string;
  key: string;
  value: string;
}

/**
 * A pending log-batch (migration 0305): its points packed in logged order
 * (metric-points-codec.ts), not yet folded into run_metric_segments.
 */
export interface RunMetricBatchesTable {
  run_key: number;
  /** Its first point's position among the run's pending points, from 0. */
  seq: number;
  /** Its position among the run's pending rows, from 0. */
  batch: number;
  /** How many points it holds. */
  n: number;
  points: Uint8Array;
}

/**
 * One key's folded points (migration 0305), packed in get-history's order (step,
 * timestamp, NaN first, value) without identical points.
 */
export interface RunMetricSegmentsTable {
  run_key: number;
  key: string;
  /** Increases with each segment of the (run, key). */
  fold: number;
  n: number;
  first_step: number;
  first_timestamp: number;
  last_step: number;
  last_timestamp: number;
  points: Uint8Array;
}

export interface RunLatestMetricsTable {
  run_key: number;
  key: string;
  /** NULL when is_nan. */
  value: number | null;
  is_nan: number;
  step: number;
  timestamp: number;
}

export interface RunInputsTable {
  run_id: string;
  /** Order of first logging. */
  position: number;
  name: string;
  digest: string;
  /** JSON of MLflow's Dataset message (name, digest, source_type, source, schema, profile). */
  dataset: string;
  /** JSON array of `{key, value}` (MLflow's InputTag). */
  tags: string;
}

/**
 * Counters that must never go back (migration 0307): `experiment_id`, the highest
 * experiment id ever given, kept when that experiment is purged.
 */
export interface TrackingSequencesTable {
  name: string;
  last_value: number;
}

export interface TrackingTables {
  experiments: ExperimentsTable;
  experiment_tags: ExperimentTagsTable;
  runs: RunsTable;
  run_params: RunKeyValueTable;
  run_tags: RunKeyValueTable;
  run_metric_batches: RunMetricBatchesTable;
  run_metric_segments: RunMetricSegmentsTable;
  run_latest_metrics: RunLatestMetricsTable;
  run_inputs: RunInputsTable;
  tracking_sequences: TrackingSequencesTable;
}

export type ExperimentRow = Selectable<ExperimentsTable>;
export type RunRow = Selectable<RunsTable>;

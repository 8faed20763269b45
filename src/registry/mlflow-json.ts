/**
 * MLflow's JSON encoding of tracking messages, as MLflow's server writes them (protobuf's
 * JSON mapping): an empty repeated field is left out, a double that is NaN or infinite is
 * the string "NaN", "Infinity" or "-Infinity". The MLflow routes send these; the tracking
 * service's one-statement run read (TrackingService.getRunJson) produces the same JSON.
 */
import type { Metric, Run } from './tracking-service.js';

/** A double as MLflow's JSON writes it: NaN and infinities as strings. */
export function jsonDouble(v: number): number | string {
  if (Number.isFinite(v)) return v;
  if (Number.isNaN(v)) return 'NaN';
  return v > 0 ? 'Infinity' : '-Infinity';
}

/** Copies `obj` without the keys whose value is an empty list (protobuf JSON omits them). */
export function omitEmpty<T extends object>(obj: T): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (Array.isArray(v) && v.length === 0) continue;
    if (v === undefined) continue;
    out[k] = v;
  }
  return out as Partial<T>;
}

/** A Metric message. */
export function metricJson(x: Metric): object {
  return { key: x.key, value: jsonDouble(x.value), timestamp: x.timestamp, step: x.step };
}

/** A Run message: empty lists omitted, NaN as "NaN". */
export function runJson(run: Run): object {
  return {
    info: run.info,
    data: omitEmpty({
      metrics: run.data.metrics.map(metricJson),
      params: run.data.params,
      tags: run.data.tags,
    }),
    inputs: omitEmpty({
      dataset_inputs: run.inputs.dataset_inputs.map((d) => omitEmpty(d)),
    }),
  };
}

/**
 * MLflow data for the browser tests, logged over HTTP through the server's MLflow REST API
 * (as an MLflow client would): an experiment of a small hyperparameter search — runs with
 * params, a metric history per run and a final accuracy — and model artifacts uploaded
 * through the artifact proxy on the best run.
 */
import { pseudoRandomBytes } from '../../fixtures/model-files.js';
import { mlflowClient } from '../../server/mlflow/support.js';

export const EXPERIMENT = 'churn-search';

export interface SeededMlflow {
  readonly experimentId: string;
  /** Run ids by run name (`trial-0` … `trial-5`). */
  readonly runs: Readonly<Record<string, string>>;
  /** The run with the highest accuracy (it holds the artifacts). */
  readonly best: { readonly name: string; readonly id: string; readonly acc: number };
  /** Bytes of the best run's `model/weights.bin`. */
  readonly weights: Uint8Array;
}

/** Accuracy of trial i: the lowest learning rate with the deepest trees wins. */
const TRIALS = [
  { lr: '0.1', depth: '2', optimizer: 'sgd', acc: 0.71 },
  { lr: '0.1', depth: '6', optimizer: 'adam', acc: 0.78 },
  { lr: '0.01', depth: '2', optimizer: 'sgd', acc: 0.8 },
  { lr: '0.01', depth: '6', optimizer: 'adam', acc: 0.86 },
  { lr: '0.001', depth: '4', optimizer: 'sgd', acc: 0.83 },
  { lr: '0.001', depth: '8', optimizer: 'adam', acc: 0.91 },
];
export const LOSS_STEPS = 5;

export async function seedMlflow(baseUrl: string): Promise<SeededMlflow> {
  const api = mlflowClient(baseUrl);
  const { experiment_id: experimentId } = await api.ok('mlflow/experiments/create', {
    name: EXPERIMENT,
    tags: [{ key: 'team', value: 'growth' }],
  });
  const runs: Record<string, string> = {};
  const t0 = Date.now() - 3_600_000;
  for (const [i, t] of TRIALS.entries()) {
    const name = `trial-${i}`;
    const { run } = await api.ok('mlflow/runs/create', {
      experiment_id: experimentId,
      run_name: name,
      start_time: t0 + i * 60_000,
      tags: [{ key: 'stage', value: 'search' }],
    });
    const id: string = run.info.run_id;
    runs[name] = id;
    const metrics = Array.from({ length: LOSS_STEPS }, (_, step) => ({
      key: 'loss',
      value: 1 / (step + 1) + (1 - t.acc),
      timestamp: t0 + i * 60_000 + step * 1000,
      step,
    }));
    metrics.push({ key: 'acc', value: t.acc, timestamp: t0 + i * 60_000 + 9000, step: 0 });
    await api.ok('mlflow/runs/log-batch', {
      run_id: id,
      metrics,
      params: [
        { key: 'lr', value: t.lr },
        { key: 'depth', value: t.depth },
        { key: 'optimizer', value: t.optimizer },
      ],
    });
    await api.ok('mlflow/runs/update', {
      run_id: id,
      status: 'FINISHED',
      end_time: t0 + i * 60_000 + 30_000,
    });
  }
  const bestIndex = TRIALS.reduce((b, t, i) => (t.acc > TRIALS[b]!.acc ? i : b), 0);
  const best = {
    name: `trial-${bestIndex}`,
    id: runs[`trial-${bestIndex}`]!,
    acc: TRIALS[bestIndex]!.acc,
  };
  const weights = pseudoRandomBytes(42, 70_000);
  const root = `${baseUrl}/api/2.0/mlflow-artifacts/artifacts/${experimentId}/${best.id}/artifacts`;
  for (const [path, body] of [
    ['model/weights.bin', weights],
    ['model/MLmodel', new TextEncoder().encode('flavors:\n  python_function: {}\n')],
    ['notes.txt', new TextEncoder().encode('best of the search\n')],
  ] as const) {
    const res = await fetch(`${root}/${path}`, { method: 'PUT', body });
    if (!res.ok) throw new Error(`upload ${path}: ${res.status} ${await res.text()}`);
  }
  return { experimentId, runs, best, weights };
}

export const SWEEP_EXPERIMENT = 'big-sweep';
export const WIDE_EXPERIMENT = 'wide-run';
/** Metrics of the wide run: `metric_00` … `metric_39`, WIDE_STEPS points each. */
export const WIDE_METRICS = 40;
export const WIDE_STEPS = 3;

export interface SeededSweep {
  readonly experimentId: string;
  /** Run ids in creation (= start time) order: the first is the oldest. */
  readonly runIds: readonly string[];
  /** The run with the highest `score`. */
  readonly topScore: string;
  readonly wideExperimentId: string;
  readonly wideRunId: string;
}

/**
 * A sweep of `count` runs (more than one runs/search page), each with a `score` metric
 * (a permutation of 0…count-1, so score order differs from start-time order) and a `seed`
 * param, created a few requests at a time; and a run logging WIDE_METRICS metrics.
 */
export async function seedSweep(baseUrl: string, count: number): Promise<SeededSweep> {
  const api = mlflowClient(baseUrl);
  const { experiment_id: experimentId } = await api.ok('mlflow/experiments/create', {
    name: SWEEP_EXPERIMENT,
  });
  const t0 = Date.now() - 7_200_000;
  // 37 is coprime with the counts used, so i → 37·i mod count is a permutation.
  const score = (i: number) => (i * 37) % count;
  const runIds: string[] = new Array(count);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const { run } = await api.ok('mlflow/runs/create', {
        experiment_id: experimentId,
        run_name: `sweep-${String(i).padStart(3, '0')}`,
        start_time: t0 + i * 1000,
      });
      runIds[i] = run.info.run_id;
      await api.ok('mlflow/runs/log-batch', {
        run_id: run.info.run_id,
        metrics: [{ key: 'score', value: score(i), timestamp: t0 + i * 1000, step: 0 }],
        params: [{ key: 'seed', value: String(i) }],
      });
    }
  };
  await Promise.all(Array.from({ length: 6 }, worker));
  const top = Array.from({ length: count }, (_, i) => i).find((i) => score(i) === count - 1)!;

  const { experiment_id: wideExperimentId } = await api.ok('mlflow/experiments/create', {
    name: WIDE_EXPERIMENT,
  });
  const { run } = await api.ok('mlflow/runs/create', {
    experiment_id: wideExperimentId,
    run_name: 'wide',
    start_time: t0,
  });
  const metrics = [];
  for (let m = 0; m < WIDE_METRICS; m++) {
    for (let step = 0; step < WIDE_STEPS; step++) {
      metrics.push({
        key: `metric_${String(m).padStart(2, '0')}`,
        value: m + step / 10,
        timestamp: t0 + step,
        step,
      });
    }
  }
  await api.ok('mlflow/runs/log-batch', { run_id: run.info.run_id, metrics });
  return {
    experimentId,
    runIds,
    topScore: runIds[top]!,
    wideExperimentId,
    wideRunId: run.info.run_id,
  };
}

/**
 * MLflow clients against a real server process (src/server/main.ts): the npm package
 * `mlflow` (2.0.7, a Node client for the tracking half) for the calls it implements
 * correctly — its `Experiments.list` (removed in MLflow 2.0) and `setExperimentTag`
 * (requests a path without its slash) are broken against any server — and the MLflow
 * Python client's tracking request sequence (shared/notes/mlflow-client.md) replayed at
 * the HTTP level.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BUILT_MAIN, type ChildServer, startChild } from '../support/child-server.js';
import { mlflowClient } from './support.js';

// biome-ignore lint/suspicious/noExplicitAny: the package ships loose typings
type Any = any;
const MLflow = createRequire(import.meta.url)('mlflow') as new (o: { endpoint: string }) => Any;

let work: string;
let server: ChildServer;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mv-mlflow-clients-'));
  server = await startChild(BUILT_MAIN, ['--port', '0', '--registry', join(work, 'reg')]);
});
afterAll(async () => {
  server?.child.kill('SIGTERM');
  await server?.exited;
  await rm(work, { recursive: true, force: true });
});

describe('the npm mlflow client', () => {
  it('drives experiments, runs and metric history', async () => {
    // The package logs every request body with console.log.
    const quiet = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      const { Experiments, Runs, Metrics } = new MLflow({ endpoint: server.url });
      const { experiment_id } = await Experiments.create({ name: 'npm-client' });
      expect((await Experiments.get({ experiment_id })).experiment.name).toBe('npm-client');
      await Experiments.update({ experiment_id, new_name: 'npm-client-2' });
      const { run } = await Runs.create({
        experiment_id,
        start_time: 1700000000000,
        tags: [{ key: 'mlflow.user', value: 'node' }],
      });
      const run_id = run.info.run_id as string;
      await Runs.logParameter({ run_id, key: 'lr', value: '0.01' });
      await Runs.logMetric({ run_id, key: 'loss', value: 0.5, timestamp: 1, step: 0 });
      await Runs.logMetric({ run_id, key: 'loss', value: 0.25, timestamp: 2, step: 1 });
      await Runs.logBatch({
        run_id,
        metrics: [{ key: 'acc', value: 0.9, timestamp: 3, step: 1 }],
        params: [{ key: 'layers', value: '4' }],
        tags: [{ key: 'team', value: 'risk' }],
      });
      await Runs.setTag({ run_id, key: 'tmp', value: 'x' });
      await Runs.deleteTag({ run_id, key: 'tmp' });
      await Runs.update({ run_id, status: 'FINISHED', end_time: 1700000005000 });
      const got = (await Runs.get({ run_id })).run;
      expect(got.info).toMatchObject({ status: 'FINISHED', end_time: 1700000005000 });
      expect(got.data.metrics).toEqual([
        { key: 'acc', value: 0.9, timestamp: 3, step: 1 },
        { key: 'loss', value: 0.25, timestamp: 2, step: 1 },
      ]);
      expect(got.data.params).toEqual([
        { key: 'layers', value: '4' },
        { key: 'lr', value: '0.01' },
      ]);
      const history = await Metrics.getHistory({ run_id, metric_key: 'loss' });
      expect(history.metrics.map((m: Any) => m.value)).toEqual([0.5, 0.25]);
      const found = await Runs.search({
        experiment_ids: [experiment_id],
        filter: "metrics.loss < 0.3 and params.lr = '0.01'",
        run_view_type: 'ACTIVE_ONLY',
        max_results: 10,
        order_by: ['attributes.start_time DESC'],
      });
      expect(found.runs.map((r: Any) => r.info.run_id)).toEqual([run_id]);
      await Runs.delete({ run_id });
      expect((await Runs.get({ run_id })).run.info.lifecycle_stage).toBe('deleted');
      await Runs.restore({ run_id });
      await Experiments.delete({ experiment_id });
      expect((await Experiments.get({ experiment_id })).experiment.lifecycle_stage).toBe('deleted');
      await Experiments.restore({ experiment_id });
      // Errors reach the client as MLflow's error body.
      await expect(Runs.get({ run_id: 'f'.repeat(32) })).rejects.toThrow(/RESOURCE_DOES_NOT_EXIST/);
    } finally {
      quiet.mockRestore();
    }
  });
});

describe("the MLflow Python client's tracking sequence, replayed", () => {
  it('create experiment … runs/search with a filter', async () => {
    const c = mlflowClient(server.url);
    const created = await c.post('mlflow/experiments/create', { name: 'py-exp' });
    expect(created.status).toBe(200);
    const exp = await c.get('mlflow/experiments/get-by-name', { experiment_name: 'py-exp' });
    const experimentId = exp.body.experiment.experiment_id;
    expect(experimentId).toBe(created.body.experiment_id);

    const run = await c.post('mlflow/runs/create', {
      experiment_id: experimentId,
      user_id: 'scientist',
      start_time: 1700000000000,
      tags: [
        { key: 'mlflow.user', value: 'scientist' },
        { key: 'mlflow.source.name', value: 'train.py' },
        { key: 'mlflow.source.type', value: 'LOCAL' },
        { key: 'mlflow.runName', value: 'brave-owl-42' },
      ],
      run_name: 'brave-owl-42',
    });
    expect(run.status).toBe(200);
    const runId = run.body.run.info.run_id;
    expect(run.body.run.info.run_name).toBe('brave-owl-42');

    await c.ok('mlflow/runs/log-parameter', {
      run_id: runId,
      run_uuid: runId,
      key: 'alpha',
      value: '0.5',
    });
    await c.ok('mlflow/runs/log-batch', {
      run_id: runId,
      params: [{ key: 'l1_ratio', value: '0.1' }],
      metrics: [],
      tags: [],
    });
    await c.ok('mlflow/runs/log-metric', {
      run_id: runId,
      run_uuid: runId,
      key: 'loss',
      value: 0.42,
      timestamp: 1700000001000,
      step: 0,
    });
    await c.ok('mlflow/runs/log-batch', {
      run_id: runId,
      metrics: [
        { key: 'rmse', value: 0.8, timestamp: 1700000002000, step: 0 },
        { key: 'r2', value: 'NaN', timestamp: 1700000002000, step: 0 },
      ],
      params: [],
      tags: [],
    });
    await c.ok('mlflow/runs/set-tag', {
      run_id: runId,
      run_uuid: runId,
      key: 'stage',
      value: 'dev',
    });

    const got = await c.get('mlflow/runs/get', { run_id: runId, run_uuid: runId });
    expect(got.body.run.info.artifact_uri).toBe(
      `mlflow-artifacts:/${experimentId}/${runId}/artifacts`,
    );
    expect(got.body.run.data.metrics).toContainEqual({
      key: 'r2',
      value: 'NaN',
      timestamp: 1700000002000,
      step: 0,
    });

    const ended = await c.post('mlflow/runs/update', {
      run_id: runId,
      run_uuid: runId,
      status: 'FINISHED',
      end_time: 1700000009000,
    });
    expect(ended.body.run_info.status).toBe('FINISHED');

    const search = await c.post('mlflow/runs/search', {
      experiment_ids: [experimentId],
      filter: "metrics.loss < 1 and params.alpha = '0.5'",
      run_view_type: 'ACTIVE_ONLY',
      max_results: 1000,
      order_by: [],
    });
    expect(search.status).toBe(200);
    expect(search.body.runs.map((r: Any) => r.info.run_id)).toEqual([runId]);
    expect(search.body.runs[0].data.params).toEqual([
      { key: 'alpha', value: '0.5' },
      { key: 'l1_ratio', value: '0.1' },
    ]);
  });
});

/**
 * Conformance of the MLflow tracking API at the HTTP level, against a real server over a
 * temp registry: success shapes, paging and the documented errors of experiments, runs and
 * metrics endpoints, under both prefixes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { expectError, type MlflowTestClient, mlflowClient } from './support.js';

let server: TestServer;
let c: MlflowTestClient;

beforeAll(async () => {
  server = await startTestServer();
  c = mlflowClient(server.url);
});
afterAll(async () => {
  await server.close();
});

async function newRun(experimentId = '0', extra: Record<string, unknown> = {}): Promise<string> {
  const body = await c.ok('mlflow/runs/create', { experiment_id: experimentId, ...extra });
  return body.run.info.run_id as string;
}

describe('MLflow experiments API', () => {
  it('answers under both prefixes, with the Default experiment 0', async () => {
    for (const prefix of ['/api/2.0', '/ajax-api/2.0']) {
      const r = await mlflowClient(server.url, prefix).get('mlflow/experiments/get', {
        experiment_id: '0',
      });
      expect(r.status).toBe(200);
      expect(r.body.experiment).toMatchObject({
        experiment_id: '0',
        name: 'Default',
        artifact_location: 'mlflow-artifacts:/0',
        lifecycle_stage: 'active',
      });
      expect(typeof r.body.experiment.creation_time).toBe('number');
      expect(r.body.experiment.tags).toBeUndefined();
    }
    expectError(await c.get('mlflow/no-such-thing'), 404, 'ENDPOINT_NOT_FOUND');
  });

  it('creates, gets (by id and name), renames, tags, deletes and restores', async () => {
    const created = await c.post('mlflow/experiments/create', {
      name: 'exp-a',
      tags: [{ key: 'team', value: 'risk' }],
      unknown_field: 1,
    });
    expect(created.status).toBe(200);
    const id = created.body.experiment_id;
    expect(id).toMatch(/^[1-9][0-9]*$/);
    expectError(
      await c.post('mlflow/experiments/create', { name: 'exp-a' }),
      400,
      'RESOURCE_ALREADY_EXISTS',
      /Experiment 'exp-a' already exists/,
    );
    expectError(
      await c.post('mlflow/experiments/create', {}),
      400,
      'INVALID_PARAMETER_VALUE',
      /Missing value for required parameter 'name'/,
    );
    expectError(
      await c.post('mlflow/experiments/create', { name: 5 }),
      400,
      'INVALID_PARAMETER_VALUE',
    );

    const got = await c.get('mlflow/experiments/get', { experiment_id: id });
    expect(got.body.experiment).toMatchObject({
      experiment_id: id,
      name: 'exp-a',
      artifact_location: `mlflow-artifacts:/${id}`,
      tags: [{ key: 'team', value: 'risk' }],
    });
    const byName = await c.get('mlflow/experiments/get-by-name', { experiment_name: 'exp-a' });
    expect(byName.body.experiment.experiment_id).toBe(id);
    expectError(
      await c.get('mlflow/experiments/get-by-name', { experiment_name: 'nope' }),
      404,
      'RESOURCE_DOES_NOT_EXIST',
      /Could not find experiment with name 'nope'/,
    );
    expectError(
      await c.get('mlflow/experiments/get', { experiment_id: '999' }),
      404,
      'RESOURCE_DOES_NOT_EXIST',
      /No Experiment with id=999 exists/,
    );
    expectError(
      await c.get('mlflow/experiments/get', {}),
      400,
      'INVALID_PARAMETER_VALUE',
      /Missing value for required parameter 'experiment_id'/,
    );

    await c.ok('mlflow/experiments/update', { experiment_id: id, new_name: 'exp-b' });
    expect(
      (await c.get('mlflow/experiments/get', { experiment_id: id })).body.experiment.name,
    ).toBe('exp-b');
    await c.ok('mlflow/experiments/create', { name: 'exp-c' });
    expectError(
      await c.post('mlflow/experiments/update', { experiment_id: id, new_name: 'exp-c' }),
      400,
      'RESOURCE_ALREADY_EXISTS',
    );
    await c.ok('mlflow/experiments/set-experiment-tag', {
      experiment_id: id,
      key: 'k',
      value: 'v',
    });
    const tagged = await c.get('mlflow/experiments/get', { experiment_id: id });
    expect(tagged.body.experiment.tags).toEqual([
      { key: 'k', value: 'v' },
      { key: 'team', value: 'risk' },
    ]);

    const run = await newRun(id);
    await c.ok('mlflow/experiments/delete', { experiment_id: id });
    const deleted = await c.get('mlflow/experiments/get', { experiment_id: id });
    expect(deleted.body.experiment.lifecycle_stage).toBe('deleted');
    expect((await c.get('mlflow/runs/get', { run_id: run })).body.run.info.lifecycle_stage).toBe(
      'deleted',
    );
    expectError(
      await c.post('mlflow/runs/create', { experiment_id: id }),
      400,
      'INVALID_PARAMETER_VALUE',
      /must be in the 'active' state/,
    );
    expectError(
      await c.post('mlflow/experiments/update', { experiment_id: id, new_name: 'x' }),
      400,
      'INVALID_PARAMETER_VALUE',
      /non-active/,
    );
    expectError(
      await c.post('mlflow/experiments/set-experiment-tag', {
        experiment_id: id,
        key: 'a',
        value: 'b',
      }),
      400,
      'INVALID_PARAMETER_VALUE',
      /must be in the 'active' state/,
    );
    expectError(
      await c.post('mlflow/experiments/delete', { experiment_id: '0' }),
      400,
      'INVALID_PARAMETER_VALUE',
      /Cannot delete the default experiment/,
    );
    expectError(
      await c.post('mlflow/experiments/delete', { experiment_id: '12345' }),
      404,
      'RESOURCE_DOES_NOT_EXIST',
    );
    await c.ok('mlflow/experiments/restore', { experiment_id: id });
    expect((await c.get('mlflow/runs/get', { run_id: run })).body.run.info.lifecycle_stage).toBe(
      'active',
    );

    const audit = await server.backend.registry.auditLog({ order: 'asc' });
    const actions = audit.items
      .filter((e) => e.subject === `experiment:${id}`)
      .map((e) => e.action);
    expect(actions).toEqual([
      'experiment.created',
      'experiment.renamed',
      'experiment.deleted',
      'experiment.restored',
    ]);
    expect(audit.items.find((e) => e.subject === `run:${run}`)?.actor).toBe('alice');
  });

  it('searches experiments with filters, order, view types and page tokens', async () => {
    for (const n of ['s-1', 's-2', 's-3']) {
      await c.ok('mlflow/experiments/create', { name: n, tags: [{ key: 'grp', value: 's' }] });
    }
    const first = await c.post('mlflow/experiments/search', {
      filter: "name LIKE 's-%' AND tags.grp = 's'",
      order_by: ['name ASC'],
      max_results: 2,
    });
    expect(first.status).toBe(200);
    expect(first.body.experiments.map((e: { name: string }) => e.name)).toEqual(['s-1', 's-2']);
    expect(typeof first.body.next_page_token).toBe('string');
    const second = await c.get('mlflow/experiments/search', {
      filter: "name LIKE 's-%' AND tags.grp = 's'",
      order_by: 'name ASC',
      max_results: 2,
      page_token: first.body.next_page_token,
    });
    expect(second.body.experiments.map((e: { name: string }) => e.name)).toEqual(['s-3']);
    expect(second.body.next_page_token).toBeUndefined();
    const none = await c.post('mlflow/experiments/search', { filter: "name = 'zzz'" });
    expect(none.body).toEqual({});
    expectError(
      await c.post('mlflow/experiments/search', { max_results: 50001 }),
      400,
      'INVALID_PARAMETER_VALUE',
      /at most 50000/,
    );
    expectError(
      await c.post('mlflow/experiments/search', { filter: 'name ~ 3' }),
      400,
      'INVALID_PARAMETER_VALUE',
      /position/,
    );
    expectError(
      await c.post('mlflow/experiments/search', { view_type: 'SOME' }),
      400,
      'INVALID_PARAMETER_VALUE',
    );
    expectError(
      await c.post('mlflow/experiments/search', { filter: "name LIKE 's-%'", page_token: 'bogus' }),
      400,
      'INVALID_PARAMETER_VALUE',
      /page token/,
    );
    const s3 = (await c.get('mlflow/experiments/get-by-name', { experiment_name: 's-3' })).body
      .experiment.experiment_id;
    await c.ok('mlflow/experiments/delete', { experiment_id: s3 });
    const deletedOnly = await c.post('mlflow/experiments/search', {
      filter: "name LIKE 's-%'",
      view_type: 'DELETED_ONLY',
    });
    expect(deletedOnly.body.experiments.map((e: { name: string }) => e.name)).toEqual(['s-3']);
    const all = await c.post('mlflow/experiments/search', {
      filter: "name LIKE 's-%'",
      view_type: 'ALL',
    });
    expect(all.body.experiments).toHaveLength(3);
  });
});

describe('MLflow runs API', () => {
  it('creates and gets a run in MLflow shape, by run_id or run_uuid', async () => {
    const r = await c.post('mlflow/runs/create', {
      experiment_id: '0',
      run_name: 'my-run',
      start_time: 1700000000000,
      user_id: 'bob',
      tags: [{ key: 'mlflow.source.type', value: 'LOCAL' }],
    });
    expect(r.status).toBe(200);
    const info = r.body.run.info;
    expect(info).toEqual({
      run_id: info.run_id,
      run_uuid: info.run_id,
      run_name: 'my-run',
      experiment_id: '0',
      user_id: 'bob',
      status: 'RUNNING',
      start_time: 1700000000000,
      artifact_uri: `mlflow-artifacts:/0/${info.run_id}/artifacts`,
      lifecycle_stage: 'active',
    });
    expect(r.body.run.data).toEqual({
      tags: [
        { key: 'mlflow.runName', value: 'my-run' },
        { key: 'mlflow.source.type', value: 'LOCAL' },
      ],
    });
    expect(r.body.run.inputs).toEqual({});
    const byUuid = await c.get('mlflow/runs/get', { run_uuid: info.run_id });
    expect(byUuid.body).toEqual(r.body);
    expectError(
      await c.get('mlflow/runs/get', { run_id: 'f'.repeat(32) }),
      404,
      'RESOURCE_DOES_NOT_EXIST',
      /Run with id=f+ not found/,
    );
    expectError(await c.get('mlflow/runs/get', {}), 400, 'INVALID_PARAMETER_VALUE', /'run_id'/);
    expectError(
      await c.get('mlflow/runs/get', { run_id: '../x' }),
      400,
      'INVALID_PARAMETER_VALUE',
      /Invalid run ID/,
    );
    expectError(
      await c.post('mlflow/runs/create', { experiment_id: '4242' }),
      404,
      'RESOURCE_DOES_NOT_EXIST',
    );
    expectError(
      await c.post('mlflow/runs/create', {
        run_name: 'a',
        tags: [{ key: 'mlflow.runName', value: 'b' }],
      }),
      400,
      'INVALID_PARAMETER_VALUE',
    );
    expectError(
      await c.post('mlflow/runs/create', { start_time: 'soon' }),
      400,
      'INVALID_PARAMETER_VALUE',
      /Invalid value soon for parameter 'start_time'/,
    );
  });

  it('logs metrics, params and tags with MLflow rules and limits', async () => {
    const id = await newRun();
    await c.ok('mlflow/runs/log-parameter', {
      run_id: id,
      run_uuid: id,
      key: 'alpha',
      value: '0.5',
    });
    await c.ok('mlflow/runs/log-parameter', { run_id: id, key: 'alpha', value: '0.5' });
    expectError(
      await c.post('mlflow/runs/log-parameter', { run_id: id, key: 'alpha', value: '0.7' }),
      400,
      'INVALID_PARAMETER_VALUE',
      /Changing param values is not allowed/,
    );
    expectError(
      await c.post('mlflow/runs/log-parameter', {
        run_id: id,
        key: 'big',
        value: 'x'.repeat(6001),
      }),
      400,
      'INVALID_PARAMETER_VALUE',
      /exceeded length limit of 6000/,
    );
    expectError(
      await c.post('mlflow/runs/log-parameter', { run_id: id, key: 'a/../b', value: '1' }),
      400,
      'INVALID_PARAMETER_VALUE',
    );
    await c.ok('mlflow/runs/log-metric', {
      run_id: id,
      key: 'loss',
      value: 2,
      timestamp: 10,
      step: 0,
    });
    await c.ok('mlflow/runs/log-metric', {
      run_id: id,
      key: 'loss',
      value: 1,
      timestamp: 20,
      step: 1,
    });
    await c.ok('mlflow/runs/log-metric', { run_id: id, key: 'odd', value: 'NaN', timestamp: 1 });
    await c.ok('mlflow/runs/log-metric', {
      run_id: id,
      key: 'big',
      value: 'Infinity',
      timestamp: '1',
    });
    expectError(
      await c.post('mlflow/runs/log-metric', { run_id: id, key: 'loss', value: 1 }),
      400,
      'INVALID_PARAMETER_VALUE',
      /Missing value for required parameter 'timestamp'/,
    );
    expectError(
      await c.post('mlflow/runs/log-metric', {
        run_id: id,
        key: 'loss',
        value: 'high',
        timestamp: 1,
      }),
      400,
      'INVALID_PARAMETER_VALUE',
    );
    expectError(
      await c.post('mlflow/runs/log-metric', { key: 'loss', value: 1, timestamp: 1 }),
      400,
      'INVALID_PARAMETER_VALUE',
      /'run_id'/,
    );
    await c.ok('mlflow/runs/log-batch', {
      run_id: id,
      metrics: [{ key: 'acc', value: 0.9, timestamp: 5, step: 3 }],
      params: [{ key: 'beta', value: '2' }],
      tags: [{ key: 'note', value: 'hello' }],
    });
    const tooMany = (n: number, kind: string) =>
      Array.from({ length: n }, (_, i) =>
        kind === 'metrics'
          ? { key: `m${i}`, value: i, timestamp: 1 }
          : { key: `k${i}`, value: 'v' },
      );
    expectError(
      await c.post('mlflow/runs/log-batch', { run_id: id, metrics: tooMany(1001, 'metrics') }),
      400,
      'INVALID_PARAMETER_VALUE',
      /at most 1000 metrics. Got 1001 metrics/,
    );
    expectError(
      await c.post('mlflow/runs/log-batch', { run_id: id, params: tooMany(101, 'params') }),
      400,
      'INVALID_PARAMETER_VALUE',
      /at most 100 params/,
    );
    expectError(
      await c.post('mlflow/runs/log-batch', { run_id: id, tags: tooMany(101, 'tags') }),
      400,
      'INVALID_PARAMETER_VALUE',
      /at most 100 tags/,
    );
    expectError(
      await c.post('mlflow/runs/log-batch', {
        run_id: id,
        metrics: tooMany(950, 'metrics'),
        params: tooMany(60, 'params'),
      }),
      400,
      'INVALID_PARAMETER_VALUE',
      /at most 1000 metrics, params, and tags\. Got 1010 metrics, params, and tags\./,
    );
    expectError(
      await c.post('mlflow/runs/log-batch', { run_id: id, metrics: 'lots' }),
      400,
      'INVALID_PARAMETER_VALUE',
    );
    // A failed batch logs nothing.
    expectError(
      await c.post('mlflow/runs/log-batch', {
        run_id: id,
        metrics: [{ key: 'partial', value: 1, timestamp: 1 }],
        params: [{ key: 'alpha', value: 'changed' }],
      }),
      400,
      'INVALID_PARAMETER_VALUE',
    );
    await c.ok('mlflow/runs/set-tag', { run_id: id, run_uuid: id, key: 'stage', value: 'x' });
    await c.ok('mlflow/runs/delete-tag', { run_id: id, key: 'stage' });
    expectError(
      await c.post('mlflow/runs/delete-tag', { run_id: id, key: 'stage' }),
      404,
      'RESOURCE_DOES_NOT_EXIST',
      /No tag with name: stage/,
    );

    const run = (await c.get('mlflow/runs/get', { run_id: id })).body.run;
    expect(run.data.metrics).toEqual([
      { key: 'acc', value: 0.9, timestamp: 5, step: 3 },
      { key: 'big', value: 'Infinity', timestamp: 1, step: 0 },
      { key: 'loss', value: 1, timestamp: 20, step: 1 },
      { key: 'odd', value: 'NaN', timestamp: 1, step: 0 },
    ]);
    expect(run.data.params).toEqual([
      { key: 'alpha', value: '0.5' },
      { key: 'beta', value: '2' },
    ]);
    expect(run.data.tags.map((t: { key: string }) => t.key)).toEqual(['mlflow.runName', 'note']);

    // Logging to a deleted run is refused; restoring allows it again.
    await c.ok('mlflow/runs/delete', { run_id: id });
    expectError(
      await c.post('mlflow/runs/log-metric', { run_id: id, key: 'loss', value: 1, timestamp: 30 }),
      400,
      'INVALID_PARAMETER_VALUE',
      new RegExp(`The run ${id} must be in the 'active' state. Current state is deleted.`),
    );
    await c.ok('mlflow/runs/restore', { run_id: id });
    await c.ok('mlflow/runs/log-metric', { run_id: id, key: 'loss', value: 1, timestamp: 30 });
    expectError(
      await c.post('mlflow/runs/delete', { run_id: 'e'.repeat(32) }),
      404,
      'RESOURCE_DOES_NOT_EXIST',
    );
  });

  it('pages metric history', async () => {
    const id = await newRun();
    await c.ok('mlflow/runs/log-batch', {
      run_id: id,
      metrics: [0, 1, 2, 3, 4].map((s) => ({
        key: 'l',
        value: s / 10,
        timestamp: 100 + s,
        step: s,
      })),
    });
    const all = await c.get('mlflow/metrics/get-history', {
      run_id: id,
      run_uuid: id,
      metric_key: 'l',
    });
    expect(all.body.metrics).toHaveLength(5);
    expect(all.body.metrics[0]).toEqual({ key: 'l', value: 0, timestamp: 100, step: 0 });
    expect(all.body.next_page_token).toBeUndefined();
    const p1 = await c.get('mlflow/metrics/get-history', {
      run_id: id,
      metric_key: 'l',
      max_results: 2,
    });
    expect(p1.body.metrics.map((m: { step: number }) => m.step)).toEqual([0, 1]);
    const p2 = await c.get('mlflow/metrics/get-history', {
      run_id: id,
      metric_key: 'l',
      max_results: 2,
      page_token: p1.body.next_page_token,
    });
    expect(p2.body.metrics.map((m: { step: number }) => m.step)).toEqual([2, 3]);
    const none = await c.get('mlflow/metrics/get-history', { run_id: id, metric_key: 'nothing' });
    expect(none.body).toEqual({});
    expectError(
      await c.get('mlflow/metrics/get-history', { run_id: 'a'.repeat(32), metric_key: 'l' }),
      404,
      'RESOURCE_DOES_NOT_EXIST',
    );
    expectError(
      await c.get('mlflow/metrics/get-history', { run_id: id }),
      400,
      'INVALID_PARAMETER_VALUE',
      /'metric_key'/,
    );
    expectError(
      await c.get('mlflow/metrics/get-history', { run_id: id, metric_key: 'l', max_results: 'x' }),
      400,
      'INVALID_PARAMETER_VALUE',
    );
  });

  it('updates, logs models and inputs', async () => {
    const id = await newRun();
    const upd = await c.post('mlflow/runs/update', {
      run_id: id,
      run_uuid: id,
      status: 'FINISHED',
      end_time: 1700000001000,
      run_name: 'renamed',
    });
    expect(upd.status).toBe(200);
    expect(upd.body.run_info).toMatchObject({
      run_id: id,
      status: 'FINISHED',
      end_time: 1700000001000,
      run_name: 'renamed',
    });
    const got = (await c.get('mlflow/runs/get', { run_id: id })).body.run;
    expect(got.data.tags).toContainEqual({ key: 'mlflow.runName', value: 'renamed' });
    expectError(
      await c.post('mlflow/runs/update', { run_id: id, status: 'DONE' }),
      400,
      'INVALID_PARAMETER_VALUE',
    );

    const model = {
      artifact_path: 'model',
      flavors: { python_function: {} },
      utc_time_created: '2024-01-01 00:00:00.000000',
      run_id: id,
    };
    await c.ok('mlflow/runs/log-model', { run_id: id, model_json: JSON.stringify(model) });
    await c.ok('mlflow/runs/log-model', {
      run_id: id,
      model_json: JSON.stringify({ ...model, artifact_path: 'm2' }),
    });
    const tags = (await c.get('mlflow/runs/get', { run_id: id })).body.run.data.tags;
    const history = tags.find((t: { key: string }) => t.key === 'mlflow.log-model.history');
    expect(
      JSON.parse(history.value).map((m: { artifact_path: string }) => m.artifact_path),
    ).toEqual(['model', 'm2']);
    expectError(
      await c.post('mlflow/runs/log-model', { run_id: id, model_json: '{bad' }),
      400,
      'INVALID_PARAMETER_VALUE',
      /Malformed model info/,
    );
    expectError(
      await c.post('mlflow/runs/log-model', { run_id: id, model_json: '{}' }),
      400,
      'INVALID_PARAMETER_VALUE',
      /missing mandatory fields/,
    );

    const dataset = {
      name: 'train',
      digest: 'abc123',
      source_type: 'local',
      source: '{"uri": "/data/train.csv"}',
      schema: '{}',
    };
    await c.ok('mlflow/runs/log-inputs', {
      run_id: id,
      datasets: [{ tags: [{ key: 'mlflow.data.context', value: 'training' }], dataset }],
    });
    await c.ok('mlflow/runs/log-inputs', { run_id: id, datasets: [{ dataset }] });
    const inputs = (await c.get('mlflow/runs/get', { run_id: id })).body.run.inputs;
    expect(inputs).toEqual({
      dataset_inputs: [{ tags: [{ key: 'mlflow.data.context', value: 'training' }], dataset }],
    });
    expectError(
      await c.post('mlflow/runs/log-inputs', {
        run_id: id,
        datasets: [{ dataset: { name: 'x' } }],
      }),
      400,
      'INVALID_PARAMETER_VALUE',
      /Missing value for required parameter 'digest'/,
    );
  });

  it('searches runs with filters, order_by, view types and page tokens', async () => {
    const exp = (await c.ok('mlflow/experiments/create', { name: 'search-runs' })).experiment_id;
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const id = await newRun(exp, { run_name: `r${i}`, start_time: 1000 + i });
      ids.push(id);
      await c.ok('mlflow/runs/log-batch', {
        run_id: id,
        metrics: [{ key: 'loss', value: 1 - i * 0.25, timestamp: 1, step: 0 }],
        params: [{ key: 'alpha', value: i % 2 === 0 ? '0.5' : '0.1' }],
        tags: [{ key: 'team', value: i < 2 ? 'risk' : 'ops' }],
      });
    }
    await c.ok('mlflow/runs/update', { run_id: ids[3], status: 'FINISHED' });
    const search = async (body: Record<string, unknown>) => {
      const r = await c.post('mlflow/runs/search', { experiment_ids: [exp], ...body });
      expect(r.status).toBe(200);
      return r.body;
    };
    const names = (b: { runs?: { info: { run_name: string } }[] }) =>
      (b.runs ?? []).map((r) => r.info.run_name);
    expect(names(await search({}))).toEqual(['r3', 'r2', 'r1', 'r0']); // start_time DESC
    expect(names(await search({ filter: "metrics.loss < 1 and params.alpha = '0.5'" }))).toEqual([
      'r2',
    ]);
    expect(
      names(await search({ filter: "tags.team = 'risk'", order_by: ['metrics.loss ASC'] })),
    ).toEqual(['r1', 'r0']);
    expect(names(await search({ filter: "attributes.status = 'FINISHED'" }))).toEqual(['r3']);
    expect(
      names(
        await search({
          filter: "attributes.run_name ILIKE 'R_'",
          order_by: ['attributes.start_time ASC'],
        }),
      ),
    ).toEqual(['r0', 'r1', 'r2', 'r3']);
    expect(names(await search({ filter: "attributes.run_name IN ('r1', 'r2')" }))).toEqual([
      'r2',
      'r1',
    ]);
    expect(names(await search({ filter: 'attributes.start_time >= 1002' }))).toEqual(['r3', 'r2']);
    expect(names(await search({ filter: `attributes.run_id = '${ids[0]}'` }))).toEqual(['r0']);
    const p1 = await search({ max_results: 3, order_by: ['attributes.run_name'] });
    expect(names(p1)).toEqual(['r0', 'r1', 'r2']);
    const p2 = await search({
      max_results: 3,
      order_by: ['attributes.run_name'],
      page_token: p1.next_page_token,
    });
    expect(names(p2)).toEqual(['r3']);
    expect(p2.next_page_token).toBeUndefined();
    await c.ok('mlflow/runs/delete', { run_id: ids[0] });
    expect(names(await search({}))).toEqual(['r3', 'r2', 'r1']);
    expect(names(await search({ run_view_type: 'DELETED_ONLY' }))).toEqual(['r0']);
    expect(names(await search({ run_view_type: 'ALL' }))).toHaveLength(4);
    expect(await search({ filter: "tags.team = 'nobody'" })).toEqual({});
    expect((await c.post('mlflow/runs/search', { experiment_ids: [] })).body).toEqual({});
    expectError(
      await c.post('mlflow/runs/search', { experiment_ids: [exp], max_results: 50001 }),
      400,
      'INVALID_PARAMETER_VALUE',
      /at most 50000/,
    );
    expectError(
      await c.post('mlflow/runs/search', { experiment_ids: [exp], filter: 'metrics.loss < ' }),
      400,
      'INVALID_PARAMETER_VALUE',
    );
    expectError(
      await c.post('mlflow/runs/search', {
        experiment_ids: [exp],
        filter: 'attributes.colour = 1',
      }),
      400,
      'INVALID_PARAMETER_VALUE',
    );
    expectError(
      await c.post('mlflow/runs/search', {
        experiment_ids: [exp],
        order_by: ['metrics.loss SIDEWAYS'],
      }),
      400,
      'INVALID_PARAMETER_VALUE',
    );
    expectError(
      await c.post('mlflow/runs/search', { experiment_ids: [exp], run_view_type: 'SOME' }),
      400,
      'INVALID_PARAMETER_VALUE',
    );
    expectError(
      await c.post('mlflow/runs/search', { experiment_ids: exp }),
      400,
      'INVALID_PARAMETER_VALUE',
    );
  });
});

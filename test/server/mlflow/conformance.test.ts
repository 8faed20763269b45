/**
 * Conformance with MLflow 2.17's tracking server where Modelvault used to differ, at the
 * HTTP level: each case is the request that showed the difference and MLflow's answer
 * (status, error_code and, where clients or users read it, the message).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { type MlflowTestClient, mlflowClient } from './support.js';

let server: TestServer;
let c: MlflowTestClient;

beforeAll(async () => {
  server = await startTestServer();
  c = mlflowClient(server.url);
});
afterAll(async () => {
  await server.close();
});

function expectError(
  r: { status: number; body: unknown },
  status: number,
  code: string,
  message?: RegExp,
) {
  expect(r.status).toBe(status);
  expect(r.body).toMatchObject({ error_code: code });
  if (message) expect((r.body as { message: string }).message).toMatch(message);
}

describe('MLflow conformance: experiments', () => {
  it('deleting a deleted experiment or restoring an active one is RESOURCE_DOES_NOT_EXIST', async () => {
    const id = (await c.ok('mlflow/experiments/create', { name: 'conf-lifecycle' })).experiment_id;
    // MLflow's SQL store looks for an active experiment to delete and a deleted one to restore.
    expectError(
      await c.post('mlflow/experiments/restore', { experiment_id: id }),
      404,
      'RESOURCE_DOES_NOT_EXIST',
      new RegExp(`^No Experiment with id=${id} exists$`),
    );
    await c.ok('mlflow/experiments/delete', { experiment_id: id });
    expectError(
      await c.post('mlflow/experiments/delete', { experiment_id: id }),
      404,
      'RESOURCE_DOES_NOT_EXIST',
      new RegExp(`^No Experiment with id=${id} exists$`),
    );
    await c.ok('mlflow/experiments/restore', { experiment_id: id });
    const got = await c.get('mlflow/experiments/get', { experiment_id: id });
    expect(got.body.experiment.lifecycle_stage).toBe('active');
  });

  it('a missing name or new_name is a missing required parameter', async () => {
    const id = (await c.ok('mlflow/experiments/create', { name: 'conf-names' })).experiment_id;
    for (const [path, body, field] of [
      ['mlflow/experiments/create', {}, 'name'],
      ['mlflow/experiments/create', { name: '' }, 'name'],
      ['mlflow/experiments/update', { experiment_id: id }, 'new_name'],
      ['mlflow/experiments/update', { experiment_id: id, new_name: '' }, 'new_name'],
    ] as const) {
      expectError(
        await c.post(path, body),
        400,
        'INVALID_PARAMETER_VALUE',
        new RegExp(
          `^Missing value for required parameter '${field}'\\. See the API docs for more information about request parameters\\.$`,
        ),
      );
    }
    expectError(
      await c.post('mlflow/experiments/create', { name: 5 }),
      400,
      'INVALID_PARAMETER_VALUE',
      /^Invalid value 5 for parameter 'name' supplied\. Hint: Value was of type 'int'\./,
    );
  });
});

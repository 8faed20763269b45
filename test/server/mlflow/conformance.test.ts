/**
 * Conformance with MLflow 2.17's tracking server where Modelvault used to differ, at the
 * HTTP level: each case is the request that showed the difference and MLflow's answer
 * (status, error_code and, where clients or users read it, the message).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FreshDatabase, freshDatabase, TEST_DIALECTS } from '../../support/dialects.js';
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

describe('MLflow conformance: experiments', () => {
  it('searches newest-created first by default, whatever was updated since', async () => {
    const ids: string[] = [];
    for (const name of ['conf-order-a', 'conf-order-b', 'conf-order-c']) {
      ids.push((await c.ok('mlflow/experiments/create', { name })).experiment_id);
      // Distinct millisecond timestamps, so the expected order has no ties.
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    // Updating the oldest one must not move it (MLflow orders by creation_time DESC).
    await c.ok('mlflow/experiments/update', { experiment_id: ids[0], new_name: 'conf-order-a2' });
    await c.ok('mlflow/experiments/set-experiment-tag', {
      experiment_id: ids[0],
      key: 'k',
      value: 'v',
    });
    const r = await c.post('mlflow/experiments/search', { filter: "name LIKE 'conf-order-%'" });
    expect(r.status).toBe(200);
    const got = (r.body.experiments as { experiment_id: string }[]).map((e) => e.experiment_id);
    const byCreation = await c.post('mlflow/experiments/search', {
      filter: "name LIKE 'conf-order-%'",
      order_by: ['creation_time DESC', 'experiment_id ASC'],
    });
    expect(got).toEqual(
      (byCreation.body.experiments as { experiment_id: string }[]).map((e) => e.experiment_id),
    );
    expect(got.at(-1)).toBe(ids[0]);
  });

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

  it('refuses a runs:/ URI as artifact_location', async () => {
    expectError(
      await c.post('mlflow/experiments/create', {
        name: 'conf-runs-uri',
        artifact_location: 'runs:/abc/artifacts',
      }),
      400,
      'INVALID_PARAMETER_VALUE',
      /^Artifact location cannot be a runs:\/ URI\. Given: 'runs:\/abc\/artifacts'$/,
    );
    expectError(
      await c.get('mlflow/experiments/get-by-name', { experiment_name: 'conf-runs-uri' }),
      404,
      'RESOURCE_DOES_NOT_EXIST',
    );
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

async function newRun(experimentId: string, extra: Record<string, unknown> = {}): Promise<string> {
  const body = await c.ok('mlflow/runs/create', { experiment_id: experimentId, ...extra });
  return body.run.info.run_id as string;
}

type SearchReply = { runs?: { info: { run_name: string } }[] };
type PageReply = { runs?: { info: { run_id: string } }[]; next_page_token?: string };
const names = (b: SearchReply) => (b.runs ?? []).map((r) => r.info.run_name);

describe('MLflow conformance: runs/search', () => {
  it("accepts MLflow's alternate attribute names: Created, run name, Run name, Run Name", async () => {
    const exp = (await c.ok('mlflow/experiments/create', { name: 'conf-aliases' })).experiment_id;
    for (let i = 0; i < 3; i++) await newRun(exp, { run_name: `r${i}`, start_time: 1000 + i });
    const search = async (body: Record<string, unknown>) => {
      const r = await c.post('mlflow/runs/search', { experiment_ids: [exp], ...body });
      expect(r.status).toBe(200);
      return names(r.body);
    };
    expect(await search({ filter: 'attributes.Created > 1000' })).toEqual(['r2', 'r1']);
    expect(await search({ filter: 'attributes.created <= 1001' })).toEqual(['r1', 'r0']);
    expect(await search({ order_by: ['attributes.Created ASC'] })).toEqual(['r0', 'r1', 'r2']);
    for (const alias of ['run name', 'Run name', 'Run Name']) {
      expect(await search({ filter: `attributes.\`${alias}\` = 'r1'` })).toEqual(['r1']);
      expect(await search({ order_by: [`attributes.\`${alias}\` ASC`] })).toEqual([
        'r0',
        'r1',
        'r2',
      ]);
    }
  });
});

describe('MLflow conformance: registered-models/search', () => {
  it("orders by MLflow's timestamp key, which means last_updated_timestamp", async () => {
    for (const name of ['conf-ts-a', 'conf-ts-b', 'conf-ts-c']) {
      await c.ok('mlflow/registered-models/create', { name });
    }
    await c.ok('mlflow/registered-models/update', { name: 'conf-ts-a', description: 'x' }, 'PATCH');
    const order = async (order_by: string[]) => {
      const r = await c.get('mlflow/registered-models/search', {
        filter: "name LIKE 'conf-ts-%'",
        order_by,
      });
      expect(r.status).toBe(200);
      return (r.body.registered_models as { name: string }[]).map((m) => m.name);
    };
    const desc = await order(['last_updated_timestamp DESC']);
    expect(desc[0]).toBe('conf-ts-a');
    expect(await order(['timestamp DESC'])).toEqual(desc);
    expect(await order(['timestamp'])).toEqual(await order(['last_updated_timestamp']));
    expect(await order(['timestamp ASC', 'name DESC'])).toEqual(
      await order(['last_updated_timestamp ASC', 'name DESC']),
    );
    // A tag named timestamp is not the attribute.
    expect(await order(['tags.timestamp'])).toEqual(['conf-ts-a', 'conf-ts-b', 'conf-ts-c']);
  });
});

describe('MLflow conformance: logging', () => {
  it("refuses a negative metric timestamp, single or batched, with MLflow's message", async () => {
    const exp = (await c.ok('mlflow/experiments/create', { name: 'conf-ts' })).experiment_id;
    const run = await newRun(exp);
    const message =
      /^Got invalid timestamp -1 for metric 'loss' \(value=0\.5\)\. Timestamp must be a nonnegative long \(64-bit integer\) $/;
    expectError(
      await c.post('mlflow/runs/log-metric', {
        run_id: run,
        key: 'loss',
        value: 0.5,
        timestamp: -1,
      }),
      400,
      'INVALID_PARAMETER_VALUE',
      message,
    );
    expectError(
      await c.post('mlflow/runs/log-batch', {
        run_id: run,
        metrics: [
          { key: 'loss', value: 0.5, timestamp: 1, step: 0 },
          { key: 'loss', value: 0.5, timestamp: -1, step: 1 },
        ],
      }),
      400,
      'INVALID_PARAMETER_VALUE',
      message,
    );
    // Nothing of the refused batch was logged; timestamp 0 and negative steps are valid.
    const got = await c.get('mlflow/runs/get', { run_id: run });
    expect(got.body.run.data.metrics ?? []).toEqual([]);
    await c.ok('mlflow/runs/log-metric', {
      run_id: run,
      key: 'loss',
      value: 1,
      timestamp: 0,
      step: -3,
    });
  });

  it("states the combined batch limit in MLflow's words", async () => {
    const exp = (await c.ok('mlflow/experiments/create', { name: 'conf-batch' })).experiment_id;
    const run = await newRun(exp);
    expectError(
      await c.post('mlflow/runs/log-batch', {
        run_id: run,
        metrics: Array.from({ length: 950 }, (_, i) => ({
          key: 'm',
          value: 1,
          timestamp: 1,
          step: i,
        })),
        params: Array.from({ length: 60 }, (_, i) => ({ key: `p${i}`, value: '1' })),
      }),
      400,
      'INVALID_PARAMETER_VALUE',
      /^A batch logging request can contain at most 1000 metrics, params, and tags\. Got 1010 metrics, params, and tags\. Please split up metrics, params, and tags across multiple requests and try again\.$/,
    );
  });
});

describe.each(TEST_DIALECTS)('MLflow conformance: runs/search (%s)', (dialect) => {
  let fresh: FreshDatabase;
  let db: TestServer;
  let api: MlflowTestClient;
  beforeAll(async () => {
    fresh = await freshDatabase(dialect);
    db = await startTestServer({ database: fresh.config });
    api = mlflowClient(db.url);
  });
  afterAll(async () => {
    await db.close();
    await fresh.cleanup();
  });

  const input = (name: string, digest: string, context?: string) => ({
    tags: context === undefined ? [] : [{ key: 'mlflow.data.context', value: context }],
    dataset: { name, digest, source_type: 'local', source: '{}' },
  });

  it('orders a run without the key last in both directions, and NaN after numbers', async () => {
    const exp = (await api.ok('mlflow/experiments/create', { name: 'conf-order' })).experiment_id;
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const body = await api.ok('mlflow/runs/create', {
        experiment_id: exp,
        run_name: `r${i}`,
        start_time: 1000 + i,
      });
      ids.push(body.run.info.run_id);
    }
    const metric = (run: number, value: number | string) =>
      api.ok('mlflow/runs/log-metric', { run_id: ids[run], key: 'm', value, timestamp: 1 });
    await metric(0, 'NaN');
    await metric(1, 5);
    await metric(3, 2);
    await api.ok('mlflow/runs/log-parameter', { run_id: ids[1], key: 'p', value: 'b' });
    await api.ok('mlflow/runs/log-parameter', { run_id: ids[2], key: 'p', value: 'a' });
    await api.ok('mlflow/runs/update', { run_id: ids[1], status: 'FINISHED', end_time: 5000 });
    const order = async (order_by: string[]) => {
      const r = await api.post('mlflow/runs/search', { experiment_ids: [exp], order_by });
      expect(r.status).toBe(200);
      return names(r.body);
    };
    // Numbers, then NaN, then no metric (ties: start_time DESC).
    expect(await order(['metrics.m ASC'])).toEqual(['r3', 'r1', 'r0', 'r2']);
    expect(await order(['metrics.m DESC'])).toEqual(['r1', 'r3', 'r0', 'r2']);
    expect(await order(['params.p ASC'])).toEqual(['r2', 'r1', 'r3', 'r0']);
    expect(await order(['params.p DESC'])).toEqual(['r1', 'r2', 'r3', 'r0']);
    expect(await order(['attributes.end_time ASC'])).toEqual(['r1', 'r3', 'r2', 'r0']);
    expect(await order(['attributes.end_time DESC'])).toEqual(['r1', 'r3', 'r2', 'r0']);
    expect(await order(['tags.none ASC'])).toEqual(['r3', 'r2', 'r1', 'r0']);
  });

  it('writes each run of a page as runs/get writes it, byte for byte, on every page', async () => {
    // On PostgreSQL the page's runs come from one statement (TrackingService.searchRunsPage),
    // runs/get's from another: the two texts must agree byte for byte, numbers included
    // (NaN, ±Infinity, -0, the shortest text of a double), and the pages keep the order.
    const exp = (await api.ok('mlflow/experiments/create', { name: 'conf-bytes' })).experiment_id;
    const values: (number | string)[] = [
      'NaN',
      'Infinity',
      '-Infinity',
      -0,
      0.1 + 0.2,
      5e-324,
      1e21,
      1 / 3,
    ];
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const body = await api.ok('mlflow/runs/create', {
        experiment_id: exp,
        run_name: `r${i} "q"`,
        start_time: 1000 + (i % 3),
      });
      const id = body.run.info.run_id as string;
      ids.push(id);
      await api.ok('mlflow/runs/log-batch', {
        run_id: id,
        metrics: ['m', 'a b', 'z'].slice(0, 1 + (i % 3)).map((key, k) => ({
          key,
          value: values[(i + k) % values.length],
          timestamp: 1_700_000_000_000 + i,
          step: i - 3,
        })),
        params: [{ key: 'p', value: `v\\${i % 2}\u0001é` }],
        tags: i % 2 ? [{ key: 't', value: `${i}` }] : [],
      });
      if (i % 3 === 1) {
        await api.ok('mlflow/runs/log-inputs', {
          run_id: id,
          datasets: [input(`ds${i}`, 'abc', 'training'), input('ds', 'def')],
        });
      }
    }
    await api.ok('mlflow/runs/delete', { run_id: ids[5] });
    const raw = async (path: string, init?: RequestInit) => {
      const res = await fetch(`${db.url}/api/2.0/mlflow/${path}`, init);
      expect(res.status).toBe(200);
      return res.text();
    };
    const runText = async (id: string) => {
      const text = await raw(`runs/get?run_id=${id}`);
      expect(text.startsWith('{"run":')).toBe(true);
      return text.slice('{"run":'.length, -1);
    };
    for (const order_by of [['metrics.m DESC'], ['params.p ASC', 'metrics.z ASC'], []]) {
      const seen: string[] = [];
      let page_token: string | undefined;
      do {
        const text = await raw('runs/search', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            experiment_ids: [exp],
            order_by,
            run_view_type: 'ALL',
            max_results: 3,
            ...(page_token ? { page_token } : {}),
          }),
        });
        const body = JSON.parse(text) as PageReply;
        const pageIds = (body.runs ?? []).map((r) => r.info.run_id);
        const texts = await Promise.all(pageIds.map(runText));
        const expected = `{"runs":[${texts.join(',')}]${body.next_page_token ? `,"next_page_token":${JSON.stringify(body.next_page_token)}` : ''}}`;
        // SQLite's runs/get writes some doubles its own way (5e-324 as 4.94…e-324, the same
        // double): there the two are compared parsed.
        if (dialect === 'postgres') expect(text).toBe(expected);
        else expect(JSON.parse(text)).toEqual(JSON.parse(expected));
        seen.push(...pageIds);
        page_token = body.next_page_token;
      } while (page_token);
      const whole = await api.ok('mlflow/runs/search', {
        experiment_ids: [exp],
        order_by,
        run_view_type: 'ALL',
      });
      expect(seen).toEqual((whole as PageReply).runs!.map((r) => r.info.run_id));
      expect([...seen].sort()).toEqual([...ids].sort());
    }
  });

  it('filters on datasets.name, datasets.digest and datasets.context as MLflow does', async () => {
    const exp = (await api.ok('mlflow/experiments/create', { name: 'conf-datasets' }))
      .experiment_id;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const body = await api.ok('mlflow/runs/create', {
        experiment_id: exp,
        run_name: `r${i}`,
        start_time: 1000 + i,
      });
      ids.push(body.run.info.run_id);
    }
    await api.ok('mlflow/runs/log-inputs', {
      run_id: ids[0],
      datasets: [input('ds1', 'abc', 'training'), input('ds2', 'def', 'eval')],
    });
    await api.ok('mlflow/runs/log-inputs', {
      run_id: ids[1],
      datasets: [input('ds2', 'def', 'eval')],
    });
    await api.ok('mlflow/runs/log-inputs', { run_id: ids[2], datasets: [input('ds3', 'ghi')] });
    const search = async (filter: string) => {
      const r = await api.post('mlflow/runs/search', { experiment_ids: [exp], filter });
      expect(r.status, `${filter}: ${JSON.stringify(r.body)}`).toBe(200);
      return names(r.body);
    };
    expect(await search("datasets.name = 'ds1'")).toEqual(['r0']);
    expect(await search("dataset.name = 'ds2'")).toEqual(['r1', 'r0']);
    expect(await search("datasets.digest IN ('abc', 'ghi')")).toEqual(['r2', 'r0']);
    expect(await search("datasets.context = 'training'")).toEqual(['r0']);
    expect(await search("datasets.context LIKE 'ev%'")).toEqual(['r1', 'r0']);
    expect(await search("datasets.context ILIKE 'TRAIN%'")).toEqual(['r0']);
    // Some input of the run differs (MLflow's semantics), so r0 matches through ds1.
    expect(await search("datasets.name != 'ds2'")).toEqual(['r2', 'r0']);
    expect(await search("datasets.name NOT IN ('ds1', 'ds2')")).toEqual(['r2']);
    expect(await search("datasets.context != 'eval'")).toEqual(['r0']);
    expect(await search("datasets.name = 'ds2' AND datasets.context = 'training'")).toEqual(['r0']);
    expect(await search("datasets.name = 'nope'")).toEqual([]);
    expectError(
      await api.post('mlflow/runs/search', {
        experiment_ids: [exp],
        filter: "datasets.size = '1'",
      }),
      400,
      'INVALID_PARAMETER_VALUE',
    );
    expectError(
      await api.post('mlflow/runs/search', {
        experiment_ids: [exp],
        filter: "datasets.name > 'a'",
      }),
      400,
      'INVALID_PARAMETER_VALUE',
    );
    expectError(
      await api.post('mlflow/runs/search', { experiment_ids: [exp], order_by: ['datasets.name'] }),
      400,
      'INVALID_PARAMETER_VALUE',
    );
  });
});

describe('MLflow conformance: registry tags', () => {
  it('set-tag without a value sets the empty string, as MLflow does', async () => {
    const exp = (await c.ok('mlflow/experiments/create', { name: 'conf-tags' })).experiment_id;
    const run = await newRun(exp);
    const root = `${exp}/${run}/artifacts`;
    const put = await fetch(
      `${server.url}/api/2.0/mlflow-artifacts/artifacts/${root}/model/MLmodel`,
      { method: 'PUT', body: 'artifact_path: model\n' },
    );
    expect(put.status).toBe(200);
    await c.ok('mlflow/registered-models/create', { name: 'conf-tags' });
    await c.ok('mlflow/model-versions/create', {
      name: 'conf-tags',
      source: `mlflow-artifacts:/${root}/model`,
      run_id: run,
    });
    await c.ok('mlflow/registered-models/set-tag', { name: 'conf-tags', key: 'flag' });
    await c.ok('mlflow/model-versions/set-tag', { name: 'conf-tags', version: '1', key: 'flag' });
    const model = await c.get('mlflow/registered-models/get', { name: 'conf-tags' });
    expect(model.body.registered_model.tags).toEqual([{ key: 'flag', value: '' }]);
    const version = await c.get('mlflow/model-versions/get', { name: 'conf-tags', version: '1' });
    expect(version.body.model_version.tags).toEqual([{ key: 'flag', value: '' }]);
    // The key stays required.
    expectError(
      await c.post('mlflow/model-versions/set-tag', {
        name: 'conf-tags',
        version: '1',
        value: 'x',
      }),
      400,
      'INVALID_PARAMETER_VALUE',
      /Missing value for required parameter 'key'/,
    );
  });
});

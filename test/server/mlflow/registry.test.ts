/**
 * MLflow's model registry at the HTTP level against a real server: every registered-model
 * and model-version endpoint (success shapes, paging, documented errors), the Python
 * client's sequences from the client note (log_model + register_model with the
 * RESOURCE_ALREADY_EXISTS-then-carry-on path, aliases, load by alias after the run's
 * artifacts changed, deletes with DELETE + JSON bodies), and that versions registered
 * through MLflow are first-class Modelvault versions (native API, audit trail).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pseudoRandomBytes } from '../../fixtures/model-files.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { artifactUrl, getBytes, putBytes } from './artifact-http.js';
import { type MlflowTestClient, mlflowClient } from './support.js';

const text = (s: string) => new TextEncoder().encode(s);

describe('MLflow model registry', () => {
  let server: TestServer;
  let url: string;
  let api: MlflowTestClient;
  let experimentId: string;

  beforeAll(async () => {
    server = await startTestServer();
    url = server.url;
    api = mlflowClient(url);
    experimentId = (await api.ok('mlflow/experiments/create', { name: 'registry-tests' }))
      .experiment_id;
  });
  afterAll(async () => {
    await server.close();
  });

  /** A run with params and metrics that logged a model (log_model's PUTs). */
  async function runWithModel(weights: Uint8Array, loss = 0.25) {
    const run = (await api.ok('mlflow/runs/create', { experiment_id: experimentId })).run.info;
    await api.ok('mlflow/runs/log-batch', {
      run_id: run.run_id,
      params: [{ key: 'alpha', value: '0.5' }],
      metrics: [
        { key: 'loss', value: 0.9, timestamp: 1, step: 0 },
        { key: 'loss', value: loss, timestamp: 2, step: 1 },
      ],
    });
    const got = await api.get('mlflow/runs/get', { run_id: run.run_id });
    const artifactUri: string = got.body.run.info.artifact_uri;
    expect(artifactUri).toMatch(/^mlflow-artifacts:\//);
    const root = artifactUri.slice('mlflow-artifacts:/'.length);
    const files: Record<string, Uint8Array> = {
      'model/MLmodel': text('artifact_path: model\nflavors:\n  python_function: {}\n'),
      'model/conda.yaml': text('name: env\n'),
      'model/python_env.yaml': text('python: 3.11\n'),
      'model/requirements.txt': text('mlflow==2.17\n'),
      'model/python_model.pkl': weights,
    };
    for (const [p, bytes] of Object.entries(files)) {
      const r = await putBytes(artifactUrl(url, `${root}/${p}`), bytes, 'application/octet-stream');
      expect(r.status).toBe(200);
    }
    return { runId: run.run_id as string, root, artifactUri };
  }

  /** load_model("models:/name@alias"): alias → download URI → listing → downloads. */
  async function loadByAlias(name: string, alias: string): Promise<Record<string, Uint8Array>> {
    const v = await api.get('mlflow/registered-models/alias', { name, alias });
    expect(v.status).toBe(200);
    const uri = await api.get('mlflow/model-versions/get-download-uri', {
      name,
      version: v.body.model_version.version,
    });
    expect(uri.status).toBe(200);
    const base = (uri.body.artifact_uri as string).slice('mlflow-artifacts:/'.length);
    const out: Record<string, Uint8Array> = {};
    const walk = async (rel: string) => {
      const listed = await api.get('mlflow-artifacts/artifacts', {
        path: rel === '' ? base : `${base}/${rel}`,
      });
      for (const f of listed.body.files ?? []) {
        const p = rel === '' ? f.path : `${rel}/${f.path}`;
        if (f.is_dir) await walk(p);
        else {
          const got = await getBytes(artifactUrl(url, `${base}/${p}`));
          expect(got.status).toBe(200);
          expect(got.bytes.length).toBe(f.file_size);
          out[p] = got.bytes;
        }
      }
    };
    await walk('');
    return out;
  }

  it('log_model + register_model: create (then RESOURCE_ALREADY_EXISTS and carry on), version READY with the run', async () => {
    const weights = pseudoRandomBytes(1, 50_000);
    const { runId, artifactUri } = await runWithModel(weights);
    const created = await api.post('mlflow/registered-models/create', {
      name: 'churn',
      tags: [{ key: 'team', value: 'risk' }],
      description: 'churn model',
    });
    expect(created.status).toBe(200);
    expect(created.body.registered_model).toMatchObject({
      name: 'churn',
      description: 'churn model',
      tags: [{ key: 'team', value: 'risk' }],
      latest_versions: [],
      aliases: [],
    });
    expect(typeof created.body.registered_model.creation_timestamp).toBe('number');
    // register_model("runs:/<run>/model") on an existing name: 400, then it carries on.
    const again = await api.post('mlflow/registered-models/create', { name: 'churn' });
    expect(again.status).toBe(400);
    expect(again.body.error_code).toBe('RESOURCE_ALREADY_EXISTS');
    const v1 = await api.post('mlflow/model-versions/create', {
      name: 'churn',
      source: `${artifactUri}/model`,
      run_id: runId,
      tags: [{ key: 'k', value: 'v' }],
    });
    expect(v1.status).toBe(200);
    expect(v1.body.model_version).toMatchObject({
      name: 'churn',
      version: '1',
      current_stage: 'None',
      source: `${artifactUri}/model`,
      run_id: runId,
      status: 'READY',
      tags: [{ key: 'k', value: 'v' }],
      aliases: [],
    });
    const v2 = await api.post('mlflow/model-versions/create', {
      name: 'churn',
      source: `runs:/${runId}/model`,
    });
    expect(v2.body.model_version).toMatchObject({ version: '2', run_id: runId });

    // First-class Modelvault versions: files, the run's params and latest metrics, audit.
    const native = await server.backend.registry.getVersion('churn@2');
    expect(native).toMatchObject({
      runId,
      source: `runs:/${runId}/model`,
      params: { alpha: '0.5' },
      metrics: { loss: 0.25 },
      fileCount: 5,
      status: 'READY',
    });
    const sameFiles = await server.backend.registry.getVersion('churn@1');
    expect(sameFiles.digest).toBe(native.digest);
    const audit = await server.backend.registry.auditLog({ model: 'churn', order: 'asc' });
    expect(audit.items.map((e) => e.action)).toEqual([
      'model.created',
      'version.created',
      'version.created',
    ]);
    expect(audit.items.every((e) => e.actor === 'alice')).toBe(true);
  });

  it('freezes the source: load by alias returns the registered bytes after the run overwrote them', async () => {
    const original = pseudoRandomBytes(2, 40_000);
    const { runId, root, artifactUri } = await runWithModel(original);
    await api.ok('mlflow/registered-models/create', { name: 'frozen' });
    await api.ok('mlflow/model-versions/create', {
      name: 'frozen',
      source: `${artifactUri}/model`,
      run_id: runId,
    });
    const set = await api.post('mlflow/registered-models/alias', {
      name: 'frozen',
      alias: 'champion',
      version: '1',
    });
    expect(set).toMatchObject({ status: 200, body: {} });
    // The run overwrites its model and adds a file.
    await putBytes(artifactUrl(url, `${root}/model/python_model.pkl`), text('tampered'));
    await putBytes(artifactUrl(url, `${root}/model/extra.txt`), text('new'));
    const loaded = await loadByAlias('frozen', 'champion');
    expect(Object.keys(loaded).sort()).toEqual([
      'MLmodel',
      'conda.yaml',
      'python_env.yaml',
      'python_model.pkl',
      'requirements.txt',
    ]);
    expect(Buffer.from(loaded['python_model.pkl']!).equals(Buffer.from(original))).toBe(true);
    // The run's own path serves the new bytes.
    const current = await getBytes(artifactUrl(url, `${root}/model/python_model.pkl`));
    expect(Buffer.from(current.bytes).toString()).toBe('tampered');
    // A version from models:/…@alias shares the frozen content.
    const copy = await api.post('mlflow/model-versions/create', {
      name: 'frozen',
      source: 'models:/frozen@champion',
    });
    expect(copy.status).toBe(200);
    const [a, b] = await Promise.all([
      server.backend.registry.getVersion('frozen@1'),
      server.backend.registry.getVersion('frozen@2'),
    ]);
    expect(b.digest).toBe(a.digest);
    // …and so does one from the frozen view's URI.
    const uri = await api.get('mlflow/model-versions/get-download-uri', {
      name: 'frozen',
      version: '1',
    });
    expect(uri.body).toEqual({ artifact_uri: 'mlflow-artifacts:/_modelvault/models/frozen@1' });
    const fromView = await api.post('mlflow/model-versions/create', {
      name: 'frozen',
      source: uri.body.artifact_uri,
    });
    expect(
      (await server.backend.registry.getVersion(`frozen@${fromView.body.model_version.version}`))
        .digest,
    ).toBe(a.digest);
    // Garbage collection keeps the frozen bytes although no artifact path refers to them.
    const registry = server.backend.registry as unknown as {
      gc(r: { graceMs: number }): Promise<unknown>;
    };
    await registry.gc({ graceMs: 0 });
    await registry.gc({ graceMs: 0 });
    const after = await loadByAlias('frozen', 'champion');
    expect(Buffer.from(after['python_model.pkl']!).equals(Buffer.from(original))).toBe(true);
  });

  it('model-versions/create errors', async () => {
    await api.ok('mlflow/registered-models/create', { name: 'errs' });
    const cases: [unknown, number, string][] = [
      [{ name: 'nope', source: 'runs:/x/model' }, 404, 'RESOURCE_DOES_NOT_EXIST'],
      [{ name: 'errs', source: 's3://bucket/model' }, 400, 'INVALID_PARAMETER_VALUE'],
      [
        { name: 'errs', source: 'mlflow-artifacts:/9/none/artifacts/model' },
        404,
        'RESOURCE_DOES_NOT_EXIST',
      ],
      [{ name: 'errs', source: 'mlflow-artifacts:/1/../../x' }, 400, 'INVALID_PARAMETER_VALUE'],
      [
        { name: 'errs', source: 'runs:/0123456789abcdef0123456789abcdef/model' },
        404,
        'RESOURCE_DOES_NOT_EXIST',
      ],
      [{ name: 'errs', source: 'models:/errs/7' }, 404, 'RESOURCE_DOES_NOT_EXIST'],
      [{ name: 'errs' }, 400, 'INVALID_PARAMETER_VALUE'],
    ];
    for (const [body, status, code] of cases) {
      const r = await api.post('mlflow/model-versions/create', body);
      expect([r.status, r.body.error_code], JSON.stringify(body)).toEqual([status, code]);
    }
    const missing = await api.post('mlflow/model-versions/create', { name: 'errs' });
    expect(missing.body.message).toContain("'source'");
  });

  it('registered models: get, update, rename, tags, latest versions, search with paging, delete', async () => {
    const weights = pseudoRandomBytes(3, 10_000);
    const { artifactUri } = await runWithModel(weights);
    for (const name of ['rm-a', 'rm-b', 'rm-c']) {
      await api.ok('mlflow/registered-models/create', {
        name,
        tags: [{ key: 'group', value: 'rm' }],
      });
    }
    for (let i = 0; i < 3; i++) {
      await api.ok('mlflow/model-versions/create', {
        name: 'rm-a',
        source: `${artifactUri}/model`,
      });
    }
    await api.ok('mlflow/model-versions/transition-stage', {
      name: 'rm-a',
      version: '2',
      stage: 'Production',
      archive_existing_versions: false,
    });
    const got = await api.get('mlflow/registered-models/get', { name: 'rm-a' });
    expect(
      got.body.registered_model.latest_versions.map(
        (v: { version: string; current_stage: string }) => [v.version, v.current_stage],
      ),
    ).toEqual([
      ['3', 'None'],
      ['2', 'Production'],
    ]);
    const latest = await api.post('mlflow/registered-models/get-latest-versions', {
      name: 'rm-a',
      stages: ['production'],
    });
    expect(latest.body.model_versions.map((v: { version: string }) => v.version)).toEqual(['2']);
    const badStage = await api.post('mlflow/registered-models/get-latest-versions', {
      name: 'rm-a',
      stages: ['Live'],
    });
    expect(badStage.body.error_code).toBe('INVALID_PARAMETER_VALUE');
    const viaGet = await api.get('mlflow/registered-models/get-latest-versions', { name: 'rm-a' });
    expect(viaGet.body.model_versions).toHaveLength(2);

    const upd = await api.call('PATCH', 'mlflow/registered-models/update', {
      name: 'rm-b',
      description: 'second',
    });
    expect(upd.body.registered_model).toMatchObject({ name: 'rm-b', description: 'second' });
    expect(
      (await api.post('mlflow/registered-models/set-tag', { name: 'rm-b', key: 'x', value: '1' }))
        .body,
    ).toEqual({});
    const del = await api.call('DELETE', 'mlflow/registered-models/delete-tag', {
      name: 'rm-b',
      key: 'x',
    });
    expect(del).toMatchObject({ status: 200, body: {} });
    expect(
      (await api.call('DELETE', 'mlflow/registered-models/delete-tag', { name: 'rm-b', key: 'x' }))
        .status,
    ).toBe(200);

    const renamed = await api.post('mlflow/registered-models/rename', {
      name: 'rm-a',
      new_name: 'rm-z',
    });
    expect(renamed.body.registered_model.name).toBe('rm-z');
    expect(renamed.body.registered_model.latest_versions[0].name).toBe('rm-z');
    expect((await api.get('mlflow/registered-models/get', { name: 'rm-a' })).body.error_code).toBe(
      'RESOURCE_DOES_NOT_EXIST',
    );
    const taken = await api.post('mlflow/registered-models/rename', {
      name: 'rm-z',
      new_name: 'rm-b',
    });
    expect([taken.status, taken.body.error_code]).toEqual([400, 'RESOURCE_ALREADY_EXISTS']);
    const events = await server.backend.registry.auditLog({ actions: ['model.renamed'] });
    expect(events.items[0]).toMatchObject({ subject: 'rm-z', data: { from: 'rm-a', to: 'rm-z' } });

    // Search: filter, order, pages.
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const page = await api.get('mlflow/registered-models/search', {
        filter: "tags.group = 'rm'",
        max_results: 2,
        order_by: 'name DESC',
        page_token: token,
      });
      expect(page.status).toBe(200);
      seen.push(...page.body.registered_models.map((m: { name: string }) => m.name));
      token = page.body.next_page_token;
    } while (token);
    expect(seen).toEqual(['rm-z', 'rm-c', 'rm-b']);
    const like = await api.get('mlflow/registered-models/search', { filter: "name LIKE 'rm-%'" });
    expect(like.body.registered_models).toHaveLength(3);
    const none = await api.get('mlflow/registered-models/search', { filter: "name = 'zzz'" });
    expect(none).toMatchObject({ status: 200, body: {} });
    for (const q of [{ filter: 'name ==== 1' }, { max_results: 1001 }, { page_token: 'garbage' }]) {
      const r = await api.get('mlflow/registered-models/search', q);
      expect([r.status, r.body.error_code], JSON.stringify(q)).toEqual([
        400,
        'INVALID_PARAMETER_VALUE',
      ]);
    }

    const gone = await api.call('DELETE', 'mlflow/registered-models/delete', { name: 'rm-c' });
    expect(gone).toMatchObject({ status: 200, body: {} });
    expect((await api.get('mlflow/registered-models/get', { name: 'rm-c' })).status).toBe(404);
    expect(
      (await api.call('DELETE', 'mlflow/registered-models/delete', { name: 'rm-c' })).status,
    ).toBe(404);
    for (const [path, body] of [
      ['mlflow/registered-models/get', { name: 'missing' }],
      ['mlflow/registered-models/get', {}],
    ] as const) {
      const r = await api.get(path, body);
      expect(r.status).toBe('name' in body ? 404 : 400);
    }
  });

  it('model versions: get, update, tags, stages, search with filters and pages, download URI, delete', async () => {
    const { runId, artifactUri } = await runWithModel(pseudoRandomBytes(4, 10_000));
    await api.ok('mlflow/registered-models/create', { name: 'mv' });
    for (let i = 0; i < 4; i++) {
      await api.ok('mlflow/model-versions/create', {
        name: 'mv',
        source: `${artifactUri}/model`,
        ...(i < 2 ? { run_id: runId } : {}),
      });
    }
    const got = await api.get('mlflow/model-versions/get', { name: 'mv', version: '3' });
    expect(got.body.model_version).toMatchObject({ name: 'mv', version: '3', status: 'READY' });
    for (const [q, status] of [
      [{ name: 'mv', version: '99' }, 404],
      [{ name: 'mv', version: 'abc' }, 400],
      [{ name: 'mv' }, 400],
    ] as const) {
      expect((await api.get('mlflow/model-versions/get', q)).status, JSON.stringify(q)).toBe(
        status,
      );
    }
    const upd = await api.call('PATCH', 'mlflow/model-versions/update', {
      name: 'mv',
      version: '3',
      description: 'tuned',
    });
    expect(upd.body.model_version.description).toBe('tuned');
    await api.ok('mlflow/model-versions/set-tag', {
      name: 'mv',
      version: '3',
      key: 'ok',
      value: 'yes',
    });
    expect(
      (await api.get('mlflow/model-versions/get', { name: 'mv', version: '3' })).body.model_version
        .tags,
    ).toEqual([{ key: 'ok', value: 'yes' }]);
    await api.ok(
      'mlflow/model-versions/delete-tag',
      { name: 'mv', version: '3', key: 'ok' },
      'DELETE',
    );

    // transition-stage with archive_existing_versions.
    await api.ok('mlflow/model-versions/transition-stage', {
      name: 'mv',
      version: '1',
      stage: 'Production',
      archive_existing_versions: false,
    });
    const t = await api.post('mlflow/model-versions/transition-stage', {
      name: 'mv',
      version: '2',
      stage: 'production',
      archive_existing_versions: true,
    });
    expect(t.body.model_version.current_stage).toBe('Production');
    expect(
      (await api.get('mlflow/model-versions/get', { name: 'mv', version: '1' })).body.model_version
        .current_stage,
    ).toBe('Archived');
    const badStage = await api.post('mlflow/model-versions/transition-stage', {
      name: 'mv',
      version: '2',
      stage: 'Live',
      archive_existing_versions: false,
    });
    expect(badStage.status).toBe(400);

    // Search, as the client sends it: filter=name='…'&max_results=10000; then filters, pages.
    const all = await api.get('mlflow/model-versions/search', {
      filter: "name='mv'",
      max_results: 10000,
    });
    expect(all.body.model_versions.map((v: { version: string }) => v.version)).toEqual([
      '4',
      '3',
      '2',
      '1',
    ]);
    // Search reads less of each version (no metrics or params, which MLflow's ModelVersion
    // lacks) but answers every version exactly as model-versions/get does.
    for (const v of all.body.model_versions as { version: string }[]) {
      const one = await api.get('mlflow/model-versions/get', { name: 'mv', version: v.version });
      expect(v).toEqual(one.body.model_version);
    }
    const byRun = await api.get('mlflow/model-versions/search', { filter: `run_id = '${runId}'` });
    expect(byRun.body.model_versions.map((v: { version: string }) => v.version)).toEqual([
      '2',
      '1',
    ]);
    const bySource = await api.get('mlflow/model-versions/search', {
      filter: `name = 'mv' AND source_path = '${artifactUri}/model'`,
    });
    expect(bySource.body.model_versions).toHaveLength(4);
    const byTag = await api.get('mlflow/model-versions/search', { filter: "tags.nothing = 'x'" });
    expect(byTag.body).toEqual({});
    const pages: string[] = [];
    let token: string | undefined;
    do {
      const page = await api.get('mlflow/model-versions/search', {
        filter: "name = 'mv'",
        max_results: 3,
        order_by: ['version_number ASC'],
        page_token: token,
      });
      pages.push(page.body.model_versions.map((v: { version: string }) => v.version).join(','));
      token = page.body.next_page_token;
    } while (token);
    expect(pages).toEqual(['1,2,3', '4']);
    const huge = await api.get('mlflow/model-versions/search', { max_results: 200001 });
    expect(huge.body.error_code).toBe('INVALID_PARAMETER_VALUE');

    const uri = await api.get('mlflow/model-versions/get-download-uri', {
      name: 'mv',
      version: '4',
    });
    expect(uri.body).toEqual({ artifact_uri: 'mlflow-artifacts:/_modelvault/models/mv@4' });
    expect(
      (await api.get('mlflow/model-versions/get-download-uri', { name: 'mv', version: '40' }))
        .status,
    ).toBe(404);

    // Deleting an aliased version takes its aliases with it (MLflow's semantics).
    await api.ok('mlflow/registered-models/alias', { name: 'mv', alias: 'best', version: '4' });
    const del = await api.call('DELETE', 'mlflow/model-versions/delete', {
      name: 'mv',
      version: '4',
    });
    expect(del).toMatchObject({ status: 200, body: {} });
    expect(
      (await api.get('mlflow/registered-models/alias', { name: 'mv', alias: 'best' })).status,
    ).toBe(404);
    expect((await api.get('mlflow/model-versions/get', { name: 'mv', version: '4' })).status).toBe(
      404,
    );
    // Its frozen view is gone too.
    const view = await api.get('mlflow-artifacts/artifacts', { path: '_modelvault/models/mv@4' });
    expect(view).toMatchObject({ status: 200, body: {} });
    expect(
      (await api.call('DELETE', 'mlflow/model-versions/delete', { name: 'mv', version: '4' }))
        .status,
    ).toBe(404);
  });

  it('aliases: set, get, move, delete (DELETE + JSON), and their errors', async () => {
    const { artifactUri } = await runWithModel(pseudoRandomBytes(5, 5_000));
    await api.ok('mlflow/registered-models/create', { name: 'al' });
    await api.ok('mlflow/model-versions/create', { name: 'al', source: `${artifactUri}/model` });
    await api.ok('mlflow/model-versions/create', { name: 'al', source: `${artifactUri}/model` });
    await api.ok('mlflow/registered-models/alias', { name: 'al', alias: 'champion', version: '1' });
    await api.ok('mlflow/registered-models/alias', { name: 'al', alias: 'champion', version: '2' });
    const got = await api.get('mlflow/registered-models/alias', { name: 'al', alias: 'champion' });
    expect(got.body.model_version).toMatchObject({ version: '2', aliases: ['champion'] });
    const model = await api.get('mlflow/registered-models/get', { name: 'al' });
    expect(model.body.registered_model.aliases).toEqual([{ alias: 'champion', version: '2' }]);
    for (const [body, status] of [
      [{ name: 'al', alias: 'latest', version: '1' }, 400],
      [{ name: 'al', alias: 'x', version: '9' }, 404],
      [{ name: 'nope', alias: 'x', version: '1' }, 404],
      [{ name: 'al', alias: 'x', version: 'one' }, 400],
    ] as const) {
      expect(
        (await api.post('mlflow/registered-models/alias', body)).status,
        JSON.stringify(body),
      ).toBe(status);
    }
    expect(
      (await api.get('mlflow/registered-models/alias', { name: 'al', alias: '1' })).status,
    ).toBe(400);
    const del = await api.call('DELETE', 'mlflow/registered-models/alias', {
      name: 'al',
      alias: 'champion',
    });
    expect(del).toMatchObject({ status: 200, body: {} });
    expect(
      (await api.get('mlflow/registered-models/alias', { name: 'al', alias: 'champion' })).body
        .error_code,
    ).toBe('RESOURCE_DOES_NOT_EXIST');
    const history = await server.backend.registry.aliasHistory('al', 'champion');
    expect(history.map((h) => h.action)).toEqual(['set', 'set', 'deleted']);
  });

  it('the older artifacts/list by run, and the UI prefix', async () => {
    const { runId, artifactUri } = await runWithModel(pseudoRandomBytes(6, 1_000));
    const root = await api.get('mlflow/artifacts/list', { run_id: runId });
    expect(root.body).toEqual({ root_uri: artifactUri, files: [{ path: 'model', is_dir: true }] });
    const sub = await api.get('mlflow/artifacts/list', { run_id: runId, path: 'model' });
    expect(sub.body.files.map((f: { path: string }) => f.path)).toEqual([
      'model/MLmodel',
      'model/conda.yaml',
      'model/python_env.yaml',
      'model/python_model.pkl',
      'model/requirements.txt',
    ]);
    expect(sub.body.files[3]).toEqual({
      path: 'model/python_model.pkl',
      is_dir: false,
      file_size: 1000,
    });
    expect((await api.get('mlflow/artifacts/list', {})).status).toBe(400);
    expect((await api.get('mlflow/artifacts/list', { run_id: 'f'.repeat(32) })).status).toBe(404);
    const ajax = mlflowClient(url, '/ajax-api/2.0');
    const listed = await ajax.get('mlflow/registered-models/search', {});
    expect(listed.status).toBe(200);
  });
});

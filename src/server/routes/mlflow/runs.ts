/**
 * MLflow runs: create, get, update, delete, restore, search, and logging (metric,
 * parameter, batch, model, inputs, tags).
 */

import type { FastifyRequest } from 'fastify';
import { runJson } from '../../../registry/mlflow-json.js';
import type { ResourceRef } from '../../../registry/permission-service.js';
import type { DatasetInput, Metric } from '../../../registry/tracking-service.js';
import { field, onExperiment } from '../../auth/access-rule.js';
import type { App, RouteContext } from '../../context.js';
import { maxResultsOf, viewTypeOf } from './experiments.js';
import {
  endpoint,
  JsonText,
  keyValues,
  type Message,
  missing,
  omitEmpty,
  optInt64,
  optObjectList,
  optString,
  optStringList,
  parseDouble,
  reqInt64,
  reqString,
  runIdOf,
} from './mlflow-request.js';

function metricOf(m: Message): Metric {
  const value = m.value;
  if (value === undefined || value === null) throw missing('value');
  return {
    key: reqString(m, 'key'),
    value: parseDouble('value', value),
    timestamp: reqInt64(m, 'timestamp'),
    step: optInt64(m, 'step') ?? 0,
  };
}

function datasetInputsOf(m: Message): DatasetInput[] {
  return (optObjectList(m, 'datasets') ?? []).map((d) => {
    const dataset = d.dataset;
    if (dataset === undefined || dataset === null) throw missing('dataset');
    const ds = optObjectList({ dataset: [dataset] }, 'dataset')![0]!;
    const text = (k: string) => optString(ds, k);
    return {
      tags: keyValues(d, 'tags') ?? [],
      dataset: {
        name: reqString(ds, 'name'),
        digest: reqString(ds, 'digest'),
        source_type: reqString(ds, 'source_type'),
        source: reqString(ds, 'source'),
        ...(text('schema') !== undefined ? { schema: text('schema')! } : {}),
        ...(text('profile') !== undefined ? { profile: text('profile')! } : {}),
      },
    };
  });
}

/** The run a request names (`run_id`, or MLflow's older `run_uuid`): its experiment's access applies. */
function runOfRequest(req: FastifyRequest): ResourceRef | undefined {
  const id = field(req, 'run_id') || field(req, 'run_uuid');
  return id ? { kind: 'run', id } : undefined;
}

export function runRoutes(scope: App, ctx: RouteContext): void {
  const { tracking } = ctx;

  endpoint(
    scope,
    'POST',
    '/mlflow/runs/create',
    onExperiment('EDIT', (req) => ({ kind: 'experiment', id: field(req, 'experiment_id') || '0' })),
    async (m, req) => {
      const experimentId = optString(m, 'experiment_id');
      const userId = optString(m, 'user_id');
      const startTime = optInt64(m, 'start_time');
      const runName = optString(m, 'run_name');
      const run = await tracking.createRun({
        ...(experimentId ? { experimentId } : {}),
        ...(userId ? { userId } : {}),
        ...(startTime !== undefined ? { startTime } : {}),
        ...(runName ? { runName } : {}),
        tags: keyValues(m, 'tags') ?? [],
        actor: ctx.actor(req),
      });
      return { run: runJson(run) };
    },
  );

  // The run's JSON comes encoded from the database (one statement on SQLite).
  endpoint(
    scope,
    'GET',
    '/mlflow/runs/get',
    onExperiment('READ', runOfRequest),
    async (m) => new JsonText(`{"run":${await tracking.getRunJson(runIdOf(m))}}`),
  );

  endpoint(
    scope,
    'POST',
    '/mlflow/runs/update',
    onExperiment('EDIT', runOfRequest),
    async (m, req) => {
      const status = optString(m, 'status');
      const endTime = optInt64(m, 'end_time');
      const runName = optString(m, 'run_name');
      const info = await tracking.updateRun(
        runIdOf(m),
        {
          ...(status !== undefined ? { status } : {}),
          ...(endTime !== undefined ? { endTime } : {}),
          ...(runName !== undefined ? { runName } : {}),
        },
        { actor: ctx.actor(req) },
      );
      return { run_info: info };
    },
  );

  endpoint(
    scope,
    'POST',
    '/mlflow/runs/delete',
    onExperiment('MANAGE', runOfRequest),
    async (m, req) => {
      await tracking.deleteRun(runIdOf(m), { actor: ctx.actor(req) });
      return {};
    },
  );

  endpoint(
    scope,
    'POST',
    '/mlflow/runs/restore',
    onExperiment('MANAGE', runOfRequest),
    async (m, req) => {
      await tracking.restoreRun(runIdOf(m), { actor: ctx.actor(req) });
      return {};
    },
  );

  endpoint(scope, 'POST', '/mlflow/runs/search', 'user', async (m, req) => {
    const filter = optString(m, 'filter');
    const orderBy = optStringList(m, 'order_by');
    const pageToken = optString(m, 'page_token');
    const viewType = viewTypeOf(m, 'run_view_type');
    const maxResults = maxResultsOf(m);
    const page = await tracking.searchRuns({
      // Only experiments the user may read are searched.
      experimentIds: await ctx.auth.filterExperiments(
        req,
        optStringList(m, 'experiment_ids') ?? [],
        (id) => id,
      ),
      ...(filter !== undefined ? { filter } : {}),
      ...(orderBy !== undefined ? { orderBy } : {}),
      ...(pageToken ? { pageToken } : {}),
      ...(viewType !== undefined ? { viewType } : {}),
      ...(maxResults !== undefined ? { maxResults } : {}),
    });
    return omitEmpty({ runs: page.items.map(runJson), next_page_token: page.nextPageToken });
  });

  endpoint(
    scope,
    'POST',
    '/mlflow/runs/log-metric',
    onExperiment('EDIT', runOfRequest),
    async (m) => {
      await tracking.logMetric(runIdOf(m), metricOf(m));
      return {};
    },
  );

  endpoint(
    scope,
    'POST',
    '/mlflow/runs/log-parameter',
    onExperiment('EDIT', runOfRequest),
    async (m) => {
      await tracking.logParam(runIdOf(m), {
        key: reqString(m, 'key'),
        value: optString(m, 'value') ?? '',
      });
      return {};
    },
  );

  endpoint(
    scope,
    'POST',
    '/mlflow/runs/log-batch',
    onExperiment('EDIT', runOfRequest),
    async (m) => {
      const runId = runIdOf(m);
      await tracking.logBatch(runId, {
        metrics: (optObjectList(m, 'metrics') ?? []).map(metricOf),
        params: keyValues(m, 'params') ?? [],
        tags: keyValues(m, 'tags') ?? [],
      });
      return {};
    },
  );

  endpoint(
    scope,
    'POST',
    '/mlflow/runs/log-model',
    onExperiment('EDIT', runOfRequest),
    async (m) => {
      await tracking.logModel(runIdOf(m), reqString(m, 'model_json'));
      return {};
    },
  );

  endpoint(
    scope,
    'POST',
    '/mlflow/runs/log-inputs',
    onExperiment('EDIT', runOfRequest),
    async (m) => {
      await tracking.logInputs(runIdOf(m), datasetInputsOf(m));
      return {};
    },
  );

  endpoint(scope, 'POST', '/mlflow/runs/set-tag', onExperiment('EDIT', runOfRequest), async (m) => {
    await tracking.setTag(runIdOf(m), {
      key: reqString(m, 'key'),
      value: optString(m, 'value') ?? '',
    });
    return {};
  });

  endpoint(
    scope,
    'POST',
    '/mlflow/runs/delete-tag',
    onExperiment('EDIT', runOfRequest),
    async (m) => {
      await tracking.deleteTag(runIdOf(m), reqString(m, 'key'));
      return {};
    },
  );
}

/** MLflow experiments: create, get, get-by-name, search, update, delete, restore, tags. */

import type { Experiment, ViewType } from '../../../registry/tracking-service.js';
import { field, onExperiment } from '../../auth/access-rule.js';
import type { App, RouteContext } from '../../context.js';
import {
  endpoint,
  invalidValue,
  keyValues,
  type Message,
  omitEmpty,
  optInt64,
  optString,
  optStringList,
  reqString,
} from './mlflow-request.js';

const VIEW_TYPES: readonly string[] = ['ACTIVE_ONLY', 'DELETED_ONLY', 'ALL'];

/** MLflow's ViewType from a request field (default ACTIVE_ONLY). */
export function viewTypeOf(m: Message, name: string): ViewType | undefined {
  const v = optString(m, name);
  if (v === undefined) return undefined;
  if (!VIEW_TYPES.includes(v)) throw invalidValue(name, v);
  return v as ViewType;
}

/** A max_results field (int32). */
export function maxResultsOf(m: Message): number | undefined {
  return optInt64(m, 'max_results');
}

export function experimentJson(e: Experiment): object {
  return omitEmpty(e);
}

export function experimentRoutes(scope: App, ctx: RouteContext): void {
  const { tracking } = ctx;

  endpoint(scope, 'POST', '/mlflow/experiments/create', 'user', async (m, req) => {
    const artifactLocation = optString(m, 'artifact_location');
    const experimentId = await tracking.createExperiment({
      name: reqString(m, 'name'),
      ...(artifactLocation ? { artifactLocation } : {}),
      tags: keyValues(m, 'tags') ?? [],
      actor: ctx.actor(req),
    });
    return { experiment_id: experimentId };
  });

  endpoint(
    scope,
    'GET',
    '/mlflow/experiments/get',
    onExperiment('READ', (req) => {
      const id = field(req, 'experiment_id');
      return id === undefined ? undefined : { kind: 'experiment', id };
    }),
    async (m) => ({
      experiment: experimentJson(await tracking.getExperiment(reqString(m, 'experiment_id'))),
    }),
  );

  endpoint(
    scope,
    'GET',
    '/mlflow/experiments/get-by-name',
    onExperiment('READ', (req) => {
      const name = field(req, 'experiment_name');
      return name === undefined ? undefined : { kind: 'experiment_name', name };
    }),
    async (m) => ({
      experiment: experimentJson(
        await tracking.getExperimentByName(reqString(m, 'experiment_name')),
      ),
    }),
  );

  endpoint(scope, ['GET', 'POST'], '/mlflow/experiments/search', 'user', async (m, req) => {
    const filter = optString(m, 'filter');
    const orderBy = optStringList(m, 'order_by');
    const pageToken = optString(m, 'page_token');
    const viewType = viewTypeOf(m, 'view_type');
    const maxResults = maxResultsOf(m);
    // Only experiments the user may read, in full pages.
    const page = await tracking.searchExperiments(
      {
        ...(filter !== undefined ? { filter } : {}),
        ...(orderBy !== undefined ? { orderBy } : {}),
        ...(pageToken !== undefined ? { pageToken } : {}),
        ...(viewType !== undefined ? { viewType } : {}),
        ...(maxResults !== undefined ? { maxResults } : {}),
      },
      await ctx.auth.readScope(req),
    );
    return omitEmpty({
      experiments: page.items.map(experimentJson),
      next_page_token: page.nextPageToken,
    });
  });

  endpoint(
    scope,
    'POST',
    '/mlflow/experiments/update',
    onExperiment('EDIT', (req) => {
      const id = field(req, 'experiment_id');
      return id === undefined ? undefined : { kind: 'experiment', id };
    }),
    async (m, req) => {
      await tracking.renameExperiment(reqString(m, 'experiment_id'), reqString(m, 'new_name'), {
        actor: ctx.actor(req),
      });
      return {};
    },
  );

  endpoint(
    scope,
    'POST',
    '/mlflow/experiments/delete',
    onExperiment('MANAGE', (req) => {
      const id = field(req, 'experiment_id');
      return id === undefined ? undefined : { kind: 'experiment', id };
    }),
    async (m, req) => {
      await tracking.deleteExperiment(reqString(m, 'experiment_id'), { actor: ctx.actor(req) });
      return {};
    },
  );

  endpoint(
    scope,
    'POST',
    '/mlflow/experiments/restore',
    onExperiment('MANAGE', (req) => {
      const id = field(req, 'experiment_id');
      return id === undefined ? undefined : { kind: 'experiment', id };
    }),
    async (m, req) => {
      await tracking.restoreExperiment(reqString(m, 'experiment_id'), { actor: ctx.actor(req) });
      return {};
    },
  );

  endpoint(
    scope,
    'POST',
    '/mlflow/experiments/set-experiment-tag',
    onExperiment('EDIT', (req) => {
      const id = field(req, 'experiment_id');
      return id === undefined ? undefined : { kind: 'experiment', id };
    }),
    async (m) => {
      await tracking.setExperimentTag(reqString(m, 'experiment_id'), {
        key: reqString(m, 'key'),
        value: optString(m, 'value') ?? '',
      });
      return {};
    },
  );
}

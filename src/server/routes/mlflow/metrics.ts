/** MLflow metric histories: metrics/get-history (paged). */
import { metricJson } from '../../../registry/mlflow-json.js';
import { field, onExperiment } from '../../auth/access-rule.js';
import type { App, RouteContext } from '../../context.js';
import { maxResultsOf } from './experiments.js';
import { endpoint, omitEmpty, optString, reqString, runIdOf } from './mlflow-request.js';

export function metricRoutes(scope: App, ctx: RouteContext): void {
  const { tracking } = ctx;

  endpoint(
    scope,
    'GET',
    '/mlflow/metrics/get-history',
    onExperiment('READ', (req) => {
      const id = field(req, 'run_id') || field(req, 'run_uuid');
      return id ? { kind: 'run', id } : undefined;
    }),
    async (m) => {
      const maxResults = maxResultsOf(m);
      const pageToken = optString(m, 'page_token');
      const page = await tracking.metricHistory(runIdOf(m), reqString(m, 'metric_key'), {
        ...(maxResults !== undefined ? { maxResults } : {}),
        ...(pageToken ? { pageToken } : {}),
      });
      return omitEmpty({
        metrics: page.items.map(metricJson),
        next_page_token: page.nextPageToken,
      });
    },
  );
}

/**
 * The MLflow-compatible API (DESIGN §5): MLflow's REST paths under `/api/2.0/` and, for
 * MLflow's own web UI, the same routes under `/ajax-api/2.0/`. Each prefix is an
 * encapsulated Fastify scope whose error and not-found handlers answer in MLflow's shape
 * (`{error_code, message}`, mlflow-errors.ts), so MLflow clients see MLflow's errors while
 * the native API keeps its own.
 *
 * Route modules are `(scope, ctx) => void` functions registering paths relative to the
 * prefix (`/mlflow/experiments/create`, `/mlflow-artifacts/artifacts/*`); they are listed
 * once in MLFLOW_ROUTE_MODULES and registered under every prefix.
 */
import type { App, RouteContext } from '../../context.js';
import { artifactRoutes } from './artifacts.js';
import { experimentRoutes } from './experiments.js';
import { metricRoutes } from './metrics.js';
import { toMlflowError } from './mlflow-errors.js';
import { modelVersionRoutes } from './model-versions.js';
import { registeredModelRoutes } from './registered-models.js';
import { runRoutes } from './runs.js';

/** MLflow's API prefixes: the REST API and the one its web UI calls. */
export const MLFLOW_PREFIXES = ['/api/2.0', '/ajax-api/2.0'] as const;

/** True when `url` is under one of MLflow's prefixes (its errors then take MLflow's shape). */
export function isMlflowPath(url: string): boolean {
  return MLFLOW_PREFIXES.some((prefix) => url.startsWith(`${prefix}/`));
}

export type MlflowRouteModule = (scope: App, ctx: RouteContext) => void;

/** Every MLflow route module, registered under each prefix. */
const MLFLOW_ROUTE_MODULES: readonly MlflowRouteModule[] = [
  artifactRoutes,
  registeredModelRoutes,
  modelVersionRoutes,
  experimentRoutes,
  runRoutes,
  metricRoutes,
];

export async function mlflowRoutes(
  app: App,
  ctx: RouteContext,
  modules: readonly MlflowRouteModule[] = MLFLOW_ROUTE_MODULES,
): Promise<void> {
  for (const prefix of MLFLOW_PREFIXES) {
    await app.register(
      async (scope) => {
        const mlflowScope = scope as unknown as App;
        mlflowScope.setErrorHandler((error, req, reply) => {
          const mapped = toMlflowError(error, req.id);
          if (mapped.serverFault) req.log.error({ err: error }, 'request failed');
          else req.log.info({ code: mapped.body.error_code }, mapped.body.message);
          return reply.status(mapped.status).type('application/json').send(mapped.body);
        });
        mlflowScope.setNotFoundHandler((req, reply) => {
          const path = req.url.split('?')[0]!.slice(0, 200);
          return reply
            .status(404)
            .type('application/json')
            .send({
              error_code: 'ENDPOINT_NOT_FOUND',
              message: `no MLflow endpoint ${req.method} ${path}`,
            });
        });
        for (const register of modules) register(mlflowScope, ctx);
      },
      { prefix },
    );
  }
}

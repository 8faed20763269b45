/**
 * Vitest global setup: starts one throwaway PostgreSQL server for the whole run when the
 * metadata suites are to run on PostgreSQL (dialect-env.ts), hands its superuser URL to
 * the test files (`inject('pgAdminUrl')`; each file makes its own database, see
 * dialects.ts), and stops it at the end, whether the tests passed or not.
 */
import type { TestProject } from 'vitest/node';
import { requestedDialects, requireAll } from './dialect-env.js';
import { findPostgresBin, startPostgres } from './postgres-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Superuser URL of the run's PostgreSQL server; null when the run has none. */
    pgAdminUrl: string | null;
  }
}

export default async function setup(project: TestProject): Promise<() => void> {
  const requested = requestedDialects();
  const bin = findPostgresBin();
  const wanted = requested ? requested.includes('postgres') : true;
  if (!wanted || (!bin && !requested && !requireAll())) {
    project.provide('pgAdminUrl', null);
    return () => undefined;
  }
  if (!bin) {
    throw new Error(
      'PostgreSQL binaries (initdb, pg_ctl, postgres) are not on this machine, but ' +
        (requested
          ? 'MODELVAULT_TEST_DIALECTS asks for postgres'
          : 'MODELVAULT_TEST_REQUIRE_ALL=1'),
    );
  }
  const server = await startPostgres(bin);
  project.provide('pgAdminUrl', server.url);
  return () => server.stop();
}

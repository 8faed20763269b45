/**
 * Permission-scoped lists and searches come in full pages, over real HTTP on SQLite and
 * PostgreSQL: a user who may read only every 10th model and experiment pages through each
 * listing route (native models list, native model and version search — also ordered by a
 * metric, MLflow's search_registered_models, search_model_versions, search_experiments,
 * search_runs) and gets pages of exactly max_results until the last, and exactly the
 * readable set with no duplicates. The same grants are checked under both defaults (READ,
 * where explicit NO_PERMISSIONS grants hide; NO_PERMISSIONS, where explicit grants show),
 * with one ungranted model and experiment (and MLflow's Default experiment) that only the
 * READ default shows. An admin sees
 * everything.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PermissionLevel } from '../../src/core/auth-api.js';
import { startTestServer, storedManifest, type TestServer } from '../server/support/test-server.js';
import { type FreshDatabase, freshDatabase, TEST_DIALECTS } from '../support/dialects.js';

const COUNT = 40;
const PAGE = 3;
const pad = (i: number) => String(i).padStart(2, '0');

/** One listing route: fetches a page, returns its keys and next-page token. */
interface Route {
  readonly name: string;
  /** What it lists: models (by name), versions (name@v), experiments or runs (by id). */
  readonly lists: 'models' | 'versions' | 'experiments' | 'runs';
  page(token: string | undefined): Promise<{ keys: string[]; next: string | undefined }>;
}

describe.each(TEST_DIALECTS)('full pages of permission-scoped lists on %s', (dialect) => {
  let fresh: FreshDatabase;
  let server: TestServer;
  let credential = '';
  const experimentIds: string[] = [];
  /** Experiment id → its run's id. */
  const runOf = new Map<string, string>();
  const readable = {
    models: new Set<string>(),
    experiments: new Set<string>(),
  };

  beforeAll(async () => {
    fresh = await freshDatabase(dialect);
    server = await startTestServer({ database: fresh.config });
    const { access, registry, tracking } = server.backend;
    await access.users.create({ name: 'root', password: 'root-password', admin: true }, 'setup');
    await access.users.create({ name: 'tenth', password: 'tenth-password' }, 'setup');
    credential = (await access.users.createToken({ name: 't', user: 'tenth' }, 'setup')).token;
    // Created by the default actor (no user): no creator grants.
    for (let i = 0; i < COUNT; i++) {
      const name = `m${pad(i)}`;
      await registry.createModel({ name });
      await registry.createVersion({ model: name, manifest: await storedManifest(server, name) });
      // A metric whose order differs from the names' (for the metric-ordered search).
      await registry.logVersionMetrics(`${name}@1`, [{ key: 'auc', value: (i * 7) % COUNT }]);
      const exp = await tracking.createExperiment({ name: `e${pad(i)}` });
      experimentIds.push(exp);
      runOf.set(exp, (await tracking.createRun({ experimentId: exp, tags: [] })).info.run_id);
      const level: PermissionLevel = i % 10 === 0 ? 'READ' : 'NO_PERMISSIONS';
      await access.permissions.grant(
        { user: 'tenth', kind: 'registered_model', resource: name, level },
        'setup',
      );
      await access.permissions.grant(
        { user: 'tenth', kind: 'experiment', resource: exp, level },
        'setup',
      );
      if (level === 'READ') {
        readable.models.add(name);
        readable.experiments.add(exp);
      }
    }
    // No grant on these: visible by the READ default only.
    await registry.createModel({ name: 'open' });
    await registry.createVersion({ model: 'open', manifest: await storedManifest(server, 'open') });
    await registry.logVersionMetrics('open@1', [{ key: 'auc', value: 0.5 }]);
    const open = await tracking.createExperiment({ name: 'open' });
    experimentIds.push(open);
    runOf.set(open, (await tracking.createRun({ experimentId: open, tags: [] })).info.run_id);
    readable.models.add('open');
    // MLflow's Default experiment (0) has no grant either.
    readable.experiments.add(open).add('0');
  }, 300_000);

  afterAll(async () => {
    await server?.close();
    await fresh?.cleanup();
  });

  async function call(method: string, path: string, body?: unknown): Promise<unknown> {
    const r = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${credential}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await r.text();
    expect(r.status, text).toBe(200);
    return JSON.parse(text);
  }

  const query = (params: Record<string, string | number | undefined>) =>
    new URLSearchParams(
      Object.entries(params).flatMap(([k, v]): [string, string][] =>
        v === undefined ? [] : [[k, String(v)]],
      ),
    ).toString();

  type Native<T> = { items: T[]; nextPageToken?: string };
  type Version = { model: string; version: number };
  const routes: readonly Route[] = [
    {
      name: 'GET /api/v1/models',
      lists: 'models',
      async page(token) {
        const p = (await call(
          'GET',
          `/api/v1/models?${query({ maxResults: PAGE, pageToken: token })}`,
        )) as Native<{ name: string }>;
        return { keys: p.items.map((m) => m.name), next: p.nextPageToken };
      },
    },
    {
      name: 'POST /api/v1/search/models',
      lists: 'models',
      async page(token) {
        const p = (await call('POST', '/api/v1/search/models', {
          maxResults: PAGE,
          orderBy: ['name DESC'],
          ...(token ? { pageToken: token } : {}),
        })) as Native<{ name: string }>;
        return { keys: p.items.map((m) => m.name), next: p.nextPageToken };
      },
    },
    {
      name: 'POST /api/v1/search/versions',
      lists: 'versions',
      async page(token) {
        const p = (await call('POST', '/api/v1/search/versions', {
          maxResults: PAGE,
          ...(token ? { pageToken: token } : {}),
        })) as Native<Version>;
        return { keys: p.items.map((v) => `${v.model}@${v.version}`), next: p.nextPageToken };
      },
    },
    {
      name: 'POST /api/v1/search/versions ordered by a metric',
      lists: 'versions',
      async page(token) {
        const p = (await call('POST', '/api/v1/search/versions', {
          maxResults: PAGE,
          orderBy: ['metrics.auc DESC'],
          ...(token ? { pageToken: token } : {}),
        })) as Native<Version & { metrics?: Record<string, number> }>;
        return { keys: p.items.map((v) => `${v.model}@${v.version}`), next: p.nextPageToken };
      },
    },
    {
      name: 'MLflow registered-models/search',
      lists: 'models',
      async page(token) {
        const p = (await call(
          'GET',
          `/api/2.0/mlflow/registered-models/search?${query({ max_results: PAGE, page_token: token })}`,
        )) as { registered_models?: { name: string }[]; next_page_token?: string };
        return {
          keys: (p.registered_models ?? []).map((m) => m.name),
          next: p.next_page_token,
        };
      },
    },
    {
      name: 'MLflow model-versions/search',
      lists: 'versions',
      async page(token) {
        const p = (await call(
          'GET',
          `/api/2.0/mlflow/model-versions/search?${query({ max_results: PAGE, page_token: token })}`,
        )) as { model_versions?: { name: string; version: string }[]; next_page_token?: string };
        return {
          keys: (p.model_versions ?? []).map((v) => `${v.name}@${v.version}`),
          next: p.next_page_token,
        };
      },
    },
    {
      name: 'MLflow experiments/search',
      lists: 'experiments',
      async page(token) {
        const p = (await call('POST', '/api/2.0/mlflow/experiments/search', {
          max_results: PAGE,
          ...(token ? { page_token: token } : {}),
        })) as { experiments?: { experiment_id: string }[]; next_page_token?: string };
        return {
          keys: (p.experiments ?? []).map((e) => e.experiment_id),
          next: p.next_page_token,
        };
      },
    },
    {
      name: 'MLflow runs/search over every experiment',
      lists: 'runs',
      async page(token) {
        const p = (await call('POST', '/api/2.0/mlflow/runs/search', {
          experiment_ids: experimentIds,
          max_results: PAGE,
          ...(token ? { page_token: token } : {}),
        })) as { runs?: { info: { run_id: string } }[]; next_page_token?: string };
        return { keys: (p.runs ?? []).map((r) => r.info.run_id), next: p.next_page_token };
      },
    },
  ];

  /** Every page of `route`, checking each but the last is full. */
  async function pageThrough(route: Route): Promise<string[]> {
    const all: string[] = [];
    let token: string | undefined;
    for (let pages = 0; ; pages++) {
      expect(pages, `${route.name}: too many pages`).toBeLessThan(COUNT);
      const { keys, next } = await route.page(token);
      if (next !== undefined) expect(keys.length, `${route.name}: a short page`).toBe(PAGE);
      else expect(keys.length, `${route.name}: an empty last page`).toBeGreaterThan(0);
      all.push(...keys);
      if (next === undefined) return all;
      token = next;
    }
  }

  function expectedKeys(route: Route, models: Set<string>, experiments: Set<string>): string[] {
    switch (route.lists) {
      case 'models':
        return [...models];
      case 'versions':
        return [...models].map((m) => `${m}@1`);
      case 'experiments':
        return [...experiments];
      case 'runs':
        return [...experiments].flatMap((e) => runOf.get(e) ?? []);
    }
  }

  for (const defaultLevel of ['READ', 'NO_PERMISSIONS'] as const) {
    it(`default ${defaultLevel}: full pages of exactly the readable set on every route`, async () => {
      await server.backend.access.permissions.setDefaultLevel(defaultLevel, 'setup');
      const models = new Set(readable.models);
      const experiments = new Set(readable.experiments);
      if (defaultLevel === 'NO_PERMISSIONS') {
        models.delete('open');
        experiments.delete(experimentIds.at(-1)!);
        experiments.delete('0');
      }
      expect(models.size).toBe(defaultLevel === 'READ' ? 5 : 4);
      for (const route of routes) {
        const got = await pageThrough(route);
        expect(new Set(got).size, `${route.name}: duplicates`).toBe(got.length);
        expect([...got].sort(), route.name).toEqual(
          expectedKeys(route, models, experiments).sort(),
        );
      }
    });
  }

  it('orders scoped pages as the unscoped query does', async () => {
    await server.backend.access.permissions.setDefaultLevel('READ', 'setup');
    const byMetric = routes.find((r) => r.name.includes('ordered by a metric'))!;
    const got = await pageThrough(byMetric);
    const auc = (key: string) => {
      const i = key === 'open@1' ? -1 : Number(key.slice(1, 3));
      return i < 0 ? 0.5 : (i * 7) % COUNT;
    };
    expect(got.map(auc)).toEqual([...got.map(auc)].sort((a, b) => b - a));
    const byName = routes.find((r) => r.name === 'POST /api/v1/search/models')!;
    const names = await pageThrough(byName);
    expect(names).toEqual([...names].sort().reverse());
  });

  it('an admin is not scoped', async () => {
    const admin = (await server.backend.access.users.createToken({ name: 'a', user: 'root' }, 's'))
      .token;
    const r = await fetch(`${server.url}/api/v1/models?maxResults=1000`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(((await r.json()) as { items: unknown[] }).items).toHaveLength(COUNT + 1);
  });
});

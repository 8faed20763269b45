/**
 * The permission matrix: every route the server registers (enumerated from the app, so a
 * new route is covered without touching this file) × every role — anonymous, a user with
 * no grant (default NO_PERMISSIONS), READ, EDIT, MANAGE, admin — over real HTTP. The
 * access decision the server makes for each request must equal the matrix's expectation
 * (no access the matrix does not allow, and no denial it does not call for), and the
 * denials must answer 401 (with WWW-Authenticate), 403 or 404.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { levelIncludes, type PermissionLevel } from '../../src/core/auth-api.js';
import type { AccessRule } from '../../src/server/auth/access-rule.js';
import type {
  AccessDecision,
  AccessOutcome,
  DeclaredRoute,
} from '../../src/server/auth/enforce-access.js';
import { startTestServer, storedManifest, type TestServer } from '../server/support/test-server.js';

type Role = 'anonymous' | 'none' | 'READ' | 'EDIT' | 'MANAGE' | 'admin';
const ROLES: readonly Role[] = ['anonymous', 'none', 'READ', 'EDIT', 'MANAGE', 'admin'];
const USER_OF: Record<Exclude<Role, 'anonymous'>, string> = {
  none: 'u-none',
  READ: 'u-read',
  EDIT: 'u-edit',
  MANAGE: 'u-manage',
  admin: 'root',
};

/** What the matrix allows: the expected decision of `rule` for `role`. */
function expected(rule: AccessRule, role: Role): AccessOutcome {
  if (rule === 'public') return 'allowed';
  if (role === 'anonymous') return 'unauthenticated';
  if (rule === 'user') return 'allowed';
  if (role === 'admin') return 'allowed';
  if (rule === 'admin') return 'forbidden';
  if (role === 'none') return 'hidden';
  return levelIncludes(role as PermissionLevel, rule.level) ? 'allowed' : 'forbidden';
}

let server: TestServer;
const decisions: AccessDecision[] = [];
const tokens = new Map<string, string>();
let expId = '';
let runId = '';

beforeAll(async () => {
  server = await startTestServer({ auth: { onDecision: (d) => decisions.push(d) } });
  const { access, registry, tracking } = server.backend;
  await access.users.create({ name: 'root', password: 'root-password', admin: true }, 'setup');
  for (const name of ['u-none', 'u-read', 'u-edit', 'u-manage', 'u-other']) {
    await access.users.create({ name, password: `${name}-password` }, 'setup');
  }
  for (const [role, user] of Object.entries(USER_OF)) {
    const t = await access.users.createToken({ name: `matrix-${role}`, user }, 'setup');
    tokens.set(role, t.token);
  }
  await access.permissions.setDefaultLevel('NO_PERMISSIONS', 'setup');
  // Created by the registry's default actor (not a user): nobody gets a creator grant.
  await registry.createModel({ name: 'm' });
  await registry.createVersion({ model: 'm', manifest: await storedManifest(server, 'a') });
  expId = await tracking.createExperiment({ name: 'exp' });
  runId = (await tracking.createRun({ experimentId: expId, tags: [] })).info.run_id;
  // An LFS repository, made by its first lock (by the default actor: no creator grant).
  await server.backend.lfs.createLock({ namespace: 'team', repo: 'models' }, 'fixture.bin');
  for (const level of ['READ', 'EDIT', 'MANAGE'] as const) {
    const user = USER_OF[level];
    await access.permissions.grant(
      { user, kind: 'registered_model', resource: 'm', level },
      'setup',
    );
    await access.permissions.grant({ user, kind: 'experiment', resource: expId, level }, 'setup');
    await access.permissions.grant(
      { user, kind: 'lfs_repo', resource: 'team/models', level },
      'setup',
    );
  }
}, 120_000);

afterAll(async () => {
  await server?.close();
});

/** A concrete URL for a route template, naming the fixtures. */
function concrete(route: DeclaredRoute): string {
  const wildcard = route.url.includes('mlflow-artifacts/artifacts')
    ? `${expId}/${runId}/artifacts/f.txt`
    : route.url.includes('mlflow-artifacts/mpu/')
      ? `${expId}/${runId}/artifacts`
      : 'f.txt';
  const id = route.url.startsWith('/api/v1/tokens')
    ? 'mvt_AAAAAAAA'
    : route.url.startsWith('/api/v1/experiments')
      ? expId
      : '0'.repeat(32);
  const values: Record<string, string> = {
    name: route.url.startsWith('/api/v1/users') ? 'u-other' : 'm',
    ref: encodeURIComponent('m@1'),
    v: '1',
    key: 'k',
    alias: 'prod',
    sha256: '0'.repeat(64),
    id,
    user: 'u-other',
    uploadId: '0'.repeat(32),
    partNumber: '1',
    namespace: 'team',
    repo: 'models',
  };
  return route.url
    .replace(/:([A-Za-z]+)/g, (_m, p: string) => values[p] ?? 'x')
    .replace(/\*$/, wildcard);
}

/** Every field a route may read its resource from (unknown ones fail validation after the decision). */
function fields(): Record<string, string> {
  return {
    name: 'm',
    model: 'm',
    experiment_id: expId,
    experiment_name: 'exp',
    run_id: runId,
    a: 'm@1',
    b: 'm@1',
    ref: 'm@1',
    path: `${expId}/${runId}/artifacts`,
    source: `mlflow-artifacts:/${expId}/${runId}/artifacts/model`,
    // Changes the matrix makes must not move the fixtures: invalid new names, no-op levels.
    new_name: '\u0001',
    newName: '\u0001',
    level: 'NO_PERMISSIONS',
    // The LFS batch API needs READ to download (EDIT to upload: test/server/lfs-auth.test.ts).
    operation: 'download',
  };
}

async function call(route: DeclaredRoute, role: Role): Promise<Response> {
  const headers: Record<string, string> = {};
  if (role !== 'anonymous') headers.authorization = `Bearer ${tokens.get(role)}`;
  const bodyless = route.method === 'GET' || route.method === 'HEAD';
  let url = `${server.url}${concrete(route)}`;
  if (bodyless) url += `?${new URLSearchParams(fields())}`;
  else headers['content-type'] = 'application/json';
  return fetch(url, {
    method: route.method,
    headers,
    redirect: 'manual',
    ...(bodyless ? {} : { body: JSON.stringify(fields()) }),
  });
}

describe('permission matrix', () => {
  it('decides every route for every role exactly as the matrix says', async () => {
    const routes = [
      ...new Map(server.declaredRoutes.map((r) => [`${r.method} ${r.url}`, r])).values(),
    ];
    // The enumeration covers the whole API surface (native, both MLflow prefixes, ops, UI).
    const urls = routes.map((r) => r.url);
    expect(urls).toContain('/api/v1/models/:name');
    expect(urls).toContain('/api/2.0/mlflow/runs/search');
    expect(urls).toContain('/ajax-api/2.0/mlflow-artifacts/artifacts/*');
    expect(urls).toContain('/api/v1/tokens');
    expect(urls).toContain('/lfs/:namespace/:repo/objects/batch');
    expect(urls).toContain('/api/v1/lfs/:namespace/:repo/permissions/:user');
    expect(routes.length).toBeGreaterThan(150);

    const mismatches: string[] = [];
    let resourceChecks = 0;
    for (const route of routes) {
      for (const role of ROLES) {
        const before = decisions.length;
        const res = await call(route, role);
        await res.arrayBuffer();
        const mine = decisions.slice(before);
        const want = expected(route.access, role);
        const got = mine.length === 1 ? mine[0]!.outcome : `${mine.length} decisions`;
        const where = `${route.method} ${route.url} as ${role}`;
        if (got !== want) {
          mismatches.push(`${where}: decided ${got}, matrix says ${want} (HTTP ${res.status})`);
          continue;
        }
        const wantStatus = { unauthenticated: 401, forbidden: 403, hidden: 404 }[
          want as 'unauthenticated' | 'forbidden' | 'hidden'
        ];
        if (wantStatus !== undefined && res.status !== wantStatus) {
          mismatches.push(`${where}: ${want} answered HTTP ${res.status}`);
        }
        if (
          want === 'unauthenticated' &&
          !res.headers.get('www-authenticate')?.includes('Bearer')
        ) {
          mismatches.push(`${where}: 401 without WWW-Authenticate`);
        }
        if (typeof route.access === 'object' && role !== 'admin' && role !== 'anonymous') {
          // A resource rule must have found the fixture it protects, or "allowed" means nothing.
          if (mine[0]!.checked < 1) mismatches.push(`${where}: checked no resource`);
          else resourceChecks++;
        }
      }
    }
    expect(mismatches).toEqual([]);
    expect(resourceChecks).toBeGreaterThan(300);
  }, 600_000);
});

/**
 * What each route declares it needs (`config: { access }`), checked by the hooks of
 * enforce-access.ts. A route without a declaration makes the server refuse to start, so a
 * new route cannot be forgotten.
 *
 *   'public'  anyone, also without credentials (health, docs, UI assets, server info)
 *   'user'    any signed-in user; the handler scopes the answer to what the user may read
 *             (lists and searches) or to the user's own things (uploads, tokens)
 *   'admin'   registry admins only (users, the default permission, audit export, metrics)
 *   {level, resources}
 *             the request acts on the resources `resources(req)` names (read from params,
 *             query or body, after schema validation); the user needs `level` on each.
 *
 * With authentication off (no users and no --auth) every route is open, as before.
 */
import type { FastifyRequest } from 'fastify';
import type { PermissionLevel } from '../../core/auth-api.js';
import { parseVersionRef } from '../../core/version-ref.js';
import { isReservedArtifactPath } from '../../registry/artifact-service.js';
import { parseFrozenPath } from '../../registry/frozen-artifact-view.js';
import type { ResourceRef } from '../../registry/permission-service.js';

/** A resource, and the level it needs when not the rule's (e.g. READ on a source run). */
export type NeededRef = ResourceRef & { readonly level?: ResourceRule['level'] };

export interface ResourceRule {
  readonly level: Exclude<PermissionLevel, 'NO_PERMISSIONS'>;
  /**
   * The resources the request acts on; empty when the request names none (the handler
   * then refuses it as invalid). `'admin'`: this request needs an admin (e.g. the whole
   * audit trail rather than one model's).
   */
  readonly resources: (
    req: FastifyRequest,
  ) => readonly NeededRef[] | 'admin' | Promise<readonly NeededRef[] | 'admin'>;
}

export type AccessRule = 'public' | 'user' | 'admin' | ResourceRule;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call this route (server/auth/access-rule.ts). Required on every route. */
    access?: AccessRule;
  }
}

/** A route's `config` with its access rule (keeps route files short). */
export function access(rule: AccessRule): { config: { access: AccessRule } } {
  return { config: { access: rule } };
}

/** Needs `level` on the model named by `name(req)` (skipped when undefined). */
export function onModel(
  level: ResourceRule['level'],
  name: (req: FastifyRequest) => string | undefined | readonly (string | undefined)[],
): ResourceRule {
  return {
    level,
    resources: (req) => {
      const names = name(req);
      const list = typeof names === 'string' || names === undefined ? [names] : names;
      return list
        .filter((n): n is string => typeof n === 'string' && n !== '')
        .map((n) => ({ kind: 'registered_model' as const, name: n }));
    },
  };
}

/** Needs `level` on the experiment that `ref(req)` names (by id, name, or one of its runs). */
export function onExperiment(
  level: ResourceRule['level'],
  ref: (req: FastifyRequest) => ResourceRef | undefined,
): ResourceRule {
  return {
    level,
    resources: (req) => {
      const r = ref(req);
      return r ? [r] : [];
    },
  };
}

/** Needs `level` on the LFS repository `name(req)` names (`<namespace>/<repo>`). */
export function onLfsRepo(
  level: ResourceRule['level'],
  name: (req: FastifyRequest) => string | undefined,
  /** A higher level this request needs (e.g. EDIT to upload through the batch API). */
  elevate?: (req: FastifyRequest) => NeededRef['level'] | Promise<NeededRef['level']>,
): ResourceRule {
  return {
    level,
    resources: async (req) => {
      const n = name(req);
      if (n === undefined) return [];
      const needs = elevate ? await elevate(req) : undefined;
      return [{ kind: 'lfs_repo', name: n, ...(needs !== undefined ? { level: needs } : {}) }];
    },
  };
}

/** A string field of the request (params, then query, then a JSON body), if present. */
export function field(req: FastifyRequest, name: string): string | undefined {
  for (const source of [req.params, req.query, req.body]) {
    if (source && typeof source === 'object' && !Array.isArray(source)) {
      const v = (source as Record<string, unknown>)[name];
      if (typeof v === 'string') return v;
      if (typeof v === 'number') return String(v);
      if (Array.isArray(v) && typeof v[v.length - 1] === 'string') return v[v.length - 1];
    }
  }
  return undefined;
}

/**
 * Routes that plugins register (not our route files) and the rule they get. Any other
 * route without a declaration is a startup error.
 */
export const PLUGIN_ROUTE_ACCESS: readonly {
  readonly prefix: string;
  readonly rule: AccessRule;
}[] = [
  { prefix: '/docs', rule: 'public' }, // @fastify/swagger-ui: the API's documentation
  { prefix: '/assets/', rule: 'public' }, // @fastify/static: the UI's built files
];

/** The model a version reference names, or undefined when it does not parse (the handler refuses it). */
export function modelOfRef(ref: string | undefined): string | undefined {
  if (ref === undefined) return undefined;
  try {
    return parseVersionRef(ref).model;
  } catch {
    return undefined;
  }
}

/** READ on the model a request's `model` field names; without one, an admin (the whole trail). */
export const modelOrAdmin: ResourceRule = {
  level: 'READ',
  resources: (req) => {
    const model = field(req, 'model');
    return model === undefined ? 'admin' : [{ kind: 'registered_model', name: model }];
  },
};

/**
 * The resource an artifact-proxy path belongs to: `<experiment id>/…` (MLflow's default
 * layout, `mlflow-artifacts:/<experiment>/<run>/artifacts/…`), or a registered version's
 * frozen view `_modelvault/models/<name>@<n>/…`. Any other path (the root, custom artifact
 * locations) is admin-only.
 */
export function artifactResource(path: string | undefined): ResourceRef | 'admin' {
  const p = (path ?? '').replace(/^\/+/, '');
  const first = p.split('/')[0] ?? '';
  if (/^[0-9]{1,15}$/.test(first)) return { kind: 'experiment', id: first };
  if (isReservedArtifactPath(p)) {
    try {
      const frozen = parseFrozenPath(p);
      if (frozen) return { kind: 'registered_model', name: frozen.model };
    } catch {
      // an invalid version number: admin-only, like any other unknown path
    }
  }
  return 'admin';
}

/** `level` on the resource of an artifact path (see artifactResource). */
export function onArtifact(
  level: ResourceRule['level'],
  path: (req: FastifyRequest) => string | undefined,
): ResourceRule {
  return {
    level,
    resources: (req) => {
      const r = artifactResource(path(req));
      return r === 'admin' ? 'admin' : [r];
    },
  };
}

/**
 * The artifacts a `model-versions/create` source reads (READ needed on them): a run
 * (`runs:/<id>/…`, or `run_id`), an artifact path (`mlflow-artifacts:/…`), or another
 * version (`models:/…`).
 */
export function sourceResources(
  source: string | undefined,
  runId: string | undefined,
): NeededRef[] | 'admin' {
  const out: NeededRef[] = [];
  if (runId) out.push({ kind: 'run', id: runId, level: 'READ' });
  if (source === undefined) return out;
  if (source.startsWith('runs:/')) {
    const id = source.slice('runs:/'.length).split('/')[0] ?? '';
    if (id !== '') out.push({ kind: 'run', id, level: 'READ' });
  } else if (source.startsWith('models:/')) {
    const model = modelOfRef(source);
    if (model) out.push({ kind: 'registered_model', name: model, level: 'READ' });
  } else {
    const m = /^mlflow-artifacts:(?:\/\/[^/]*)?(\/.*)$/.exec(source);
    const r = artifactResource(m ? m[1] : undefined);
    if (r === 'admin') return 'admin';
    out.push({ ...r, level: 'READ' });
  }
  return out;
}

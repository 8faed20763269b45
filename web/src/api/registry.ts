/**
 * The UI's way to the server: the public TypeScript SDK (`modelvault/client`) over the
 * page's own origin, wrapped in TanStack Query for caching, loading and error states.
 * Every read has a query key under the resource it reads, so a mutation invalidates
 * exactly what it may have changed.
 */
import { QueryClient } from '@tanstack/react-query';
import { RemoteRegistry } from '../../../src/client/remote-registry.js';
import type { ModelVersion } from '../../../src/core/registry-api.js';

export type { TensorDiff } from '../../../src/core/model-inspection.js';
export type {
  AuditEvent,
  AuditVerifyResult,
  ModelVersion,
  RegisteredModel,
  VersionDiff,
} from '../../../src/core/registry-api.js';

/**
 * Sign-in: when the server asks for credentials (401), the app shows a sign-in form
 * (components/sign-in.tsx), which creates an API token with the user name and password
 * (HTTP Basic, once) and keeps it in sessionStorage; every request then sends it as
 * `Authorization: Bearer`. The password itself is never stored.
 */
const TOKEN_KEY = 'mv-token';
const signInListeners = new Set<(needed: boolean) => void>();
let signInNeeded = false;

export function onSignInNeeded(listener: (needed: boolean) => void): () => void {
  signInListeners.add(listener);
  listener(signInNeeded);
  return () => signInListeners.delete(listener);
}

function setSignInNeeded(needed: boolean): void {
  if (signInNeeded === needed) return;
  signInNeeded = needed;
  for (const l of signInListeners) l(needed);
}

function authorized(init: RequestInit | undefined): RequestInit {
  const headers = new Headers(init?.headers);
  // Asks the server not to send a Basic challenge, which would open the browser's dialog.
  headers.set('x-requested-with', 'XMLHttpRequest');
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.set('authorization', `Bearer ${token}`);
  return { ...init, headers };
}

async function authFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const res = await fetch(input, authorized(init));
  if (res.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    setSignInNeeded(true);
  }
  return res;
}

/** Creates a token for the user and keeps it for this tab. @throws Error with the server's message */
export async function signIn(user: string, password: string): Promise<void> {
  const basic = btoa(String.fromCharCode(...new TextEncoder().encode(`${user}:${password}`)));
  const res = await fetch('/api/v1/tokens', {
    method: 'POST',
    headers: {
      authorization: `Basic ${basic}`,
      'content-type': 'application/json',
      'x-requested-with': 'XMLHttpRequest',
    },
    body: JSON.stringify({ name: 'web-ui', expiresInMs: 12 * 60 * 60 * 1000 }),
  });
  const body = (await res.json().catch(() => ({}))) as {
    token?: string;
    error?: { message?: string };
  };
  if (!res.ok || !body.token)
    throw new Error(body.error?.message ?? `sign-in failed (${res.status})`);
  sessionStorage.setItem(TOKEN_KEY, body.token);
  setSignInNeeded(false);
  await queryClient.invalidateQueries();
}

/** Whether this tab is signed in (holds a token). */
export function signedIn(): boolean {
  return sessionStorage.getItem(TOKEN_KEY) !== null;
}

/**
 * The URL to download `path` (a version's file or an artifact) from. Signed in, a plain
 * link would be refused (401: the browser sends no Authorization header when it follows
 * one), so this asks the server for a short-lived URL of that one path
 * (POST /api/v1/signed-urls): it works for a few minutes, for GET of that path only, and
 * the API token never enters a URL. Not signed in, it is the path itself.
 * @throws Error with the server's message
 */
export async function downloadUrl(path: string): Promise<string> {
  if (!signedIn()) return path;
  const res = await authFetch('/api/v1/signed-urls', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ path }),
  });
  const body = (await res.json().catch(() => ({}))) as {
    url?: string;
    error?: { message?: string };
  };
  if (!res.ok || !body.url) {
    throw new Error(body.error?.message ?? `download failed (${res.status})`);
  }
  return body.url;
}

export const registry = new RemoteRegistry(window.location.origin, {
  retries: 1,
  fetch: authFetch,
});

export const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 10_000,
      retry: (count, error) => count < 1 && (error as { code?: string }).code === 'UNAVAILABLE',
      refetchOnWindowFocus: false,
    },
  },
});

const enc = encodeURIComponent;

/** Download URL of one file of a version (each path segment encoded). */
export function fileUrl(model: string, version: number, path: string): string {
  return `/api/v1/versions/${enc(`${model}@${version}`)}/files/${path.split('/').map(enc).join('/')}`;
}

/** The message to show for a failed request: the server's own, with its code. */
export function errorText(error: unknown): string {
  if (error && typeof error === 'object' && 'message' in error) {
    const code = (error as { code?: string }).code;
    const msg = String((error as { message: unknown }).message);
    return code && code !== 'INTERNAL' ? `${msg} (${code})` : msg;
  }
  return String(error);
}

/** Query keys: prefix-matched on invalidation. */
export const keys = {
  models: ['models'] as const,
  model: (name: string) => ['model', name] as const,
  versions: (name: string) => ['model', name, 'versions'] as const,
  version: (name: string, v: number) => ['model', name, 'version', v] as const,
  audit: ['audit'] as const,
};

/** After any change to a model or its versions: refetch what shows them, and the trail. */
export function invalidateModel(name: string): Promise<void> {
  return Promise.all([
    queryClient.invalidateQueries({ queryKey: keys.model(name) }),
    queryClient.invalidateQueries({ queryKey: keys.models }),
    queryClient.invalidateQueries({ queryKey: keys.audit }),
  ]).then(() => undefined);
}

/** All versions matching a search, page after page (the server caps a page at 10,000). */
export async function searchAllVersions(
  filter: string,
  orderBy: string[],
  onPage?: (loaded: readonly ModelVersion[]) => void,
  signal?: AbortSignal,
): Promise<ModelVersion[]> {
  const out: ModelVersion[] = [];
  let pageToken: string | undefined;
  do {
    const page = await registry.searchVersions({
      filter,
      orderBy,
      maxResults: 2000,
      ...(pageToken ? { pageToken } : {}),
    });
    out.push(...page.items);
    onPage?.(out);
    pageToken = page.nextPageToken;
    if (signal?.aborted) break;
  } while (pageToken);
  return out;
}

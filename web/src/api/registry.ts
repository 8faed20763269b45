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

export const registry = new RemoteRegistry(window.location.origin, { retries: 1 });

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

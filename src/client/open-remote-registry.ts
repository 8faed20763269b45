/**
 * The entry point the CLI's registry resolution calls when `--registry` or
 * MODELVAULT_REGISTRY is an http(s) URL.
 */
import { InvalidArgumentError } from '../core/errors.js';
import type { RegistryApi } from '../core/registry-api.js';
import { RemoteRegistry, type RemoteRegistryOptions } from './remote-registry.js';

/** True when `location` names a server rather than a local path. */
export function isRegistryUrl(location: string): boolean {
  return /^https?:\/\//i.test(location);
}

/**
 * A RegistryApi talking to the server at `url`, sending `options.token` (else
 * MODELVAULT_TOKEN) as a Bearer token. With `check`, resolves only once the server
 * has answered `GET /api/v1/info` (so a wrong URL fails here, with UNAVAILABLE or
 * NOT_FOUND, rather than at the first command).
 * @throws InvalidArgumentError for a URL that is not http(s).
 */
export async function openRemoteRegistry(
  url: string,
  options: RemoteRegistryOptions & { readonly check?: boolean } = {},
): Promise<RegistryApi & RemoteRegistry> {
  if (!isRegistryUrl(url)) {
    throw new InvalidArgumentError(`'${url.slice(0, 200)}' is not an http(s) registry url`);
  }
  // MODELVAULT_TOKEN signs in when no token is given (Node only; browsers have no process).
  const envToken = typeof process === 'undefined' ? undefined : process.env.MODELVAULT_TOKEN;
  const registry = new RemoteRegistry(url, {
    ...options,
    ...(options.token === undefined && envToken ? { token: envToken } : {}),
  });
  if (options.check) await registry.info();
  return registry;
}

/**
 * Opens the backend a store's `blobs` configuration names (store-layout.ts): today an S3
 * location. The S3 client is loaded only here, on first use, so that stores on the local
 * filesystem never load it.
 *
 * Settings not recorded in the store come from the environment: the endpoint from
 * MODELVAULT_S3_ENDPOINT (which overrides a recorded one: the same bucket behind a new
 * address), else AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL; the region from AWS_REGION or
 * AWS_DEFAULT_REGION (default us-east-1); credentials from the AWS SDK's standard chain
 * (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, shared profiles, …).
 */
import type { BlobsConfig } from '../store-layout.js';
import { validateBlobsConfig, validateS3Endpoint } from '../store-layout.js';
import type { ObjectBackend } from './object-backend.js';
import { parseS3Url } from './s3/s3-location.js';

export const S3_ENDPOINT_ENV = 'MODELVAULT_S3_ENDPOINT';

/**
 * @throws InvalidArgumentError for an invalid location; NotFoundError when the bucket does
 *   not exist; ModelvaultError('UNAVAILABLE') when the server cannot be reached.
 */
export async function openBlobBackend(
  blobs: BlobsConfig,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ObjectBackend> {
  const valid = validateBlobsConfig(blobs);
  const fromEnv = (name: string) => (env[name] && env[name] !== '' ? env[name] : undefined);
  const endpoint =
    fromEnv(S3_ENDPOINT_ENV) ??
    valid.endpoint ??
    fromEnv('AWS_ENDPOINT_URL_S3') ??
    fromEnv('AWS_ENDPOINT_URL');
  if (endpoint !== undefined) validateS3Endpoint(endpoint);
  const region =
    valid.region ?? fromEnv('AWS_REGION') ?? fromEnv('AWS_DEFAULT_REGION') ?? 'us-east-1';
  const { openS3Backend } = await import('./s3/open-s3-backend.js');
  return openS3Backend({
    ...parseS3Url(valid.url),
    region,
    ...(endpoint !== undefined ? { endpoint } : {}),
  });
}

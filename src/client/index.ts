/**
 * `modelvault/client`: the typed TypeScript SDK of a Modelvault server (docs/sdk.md).
 *
 *   import { RemoteRegistry, NotFoundError } from 'modelvault/client';
 *   const registry = new RemoteRegistry('http://registry:5000');
 *   const v = await registry.getVersion('fraud-detector@production');
 *
 * RemoteRegistry implements the same RegistryApi as the local registry and throws the same
 * error classes. It runs in Node 20+ and in browsers (push and pull need Node).
 */
export * from '../core/errors.js';
export type * from '../core/registry-api.js';
export { findStage, STAGES } from '../core/registry-api.js';
export type * from '../core/upload-protocol.js';
export {
  CHUNK_BATCH_MAGIC,
  CHUNK_BATCH_MEDIA_TYPE,
  decodeChunkFrameHeader,
  encodeChunkFrameHeader,
} from '../core/upload-protocol.js';
export { errorFromBody, errorFromResponse } from './errors.js';
export { type ClientOptions, HttpClient } from './http-client.js';
export type { TransferTuning } from './node-transfer.js';
export { isRegistryUrl, openRemoteRegistry } from './open-remote-registry.js';
/** Alias: the SDK's main class under the name the docs use for it. */
export {
  RemoteRegistry,
  RemoteRegistry as ModelvaultClient,
  type RemoteRegistryOptions,
} from './remote-registry.js';

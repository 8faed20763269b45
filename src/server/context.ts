/**
 * What route modules receive: the registry behind the API, the store for the data plane,
 * the upload service and the metrics. Routes are thin: they validate, call these, and
 * shape the reply.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import type { RegistryApi } from '../core/registry-api.js';
import type { AccessControl } from '../registry/access-control.js';
import type { ArtifactService } from '../registry/artifact-service.js';
import type { FrozenArtifactView } from '../registry/frozen-artifact-view.js';
import type { LfsService } from '../registry/lfs-service.js';
import type { ChecksModels, CreatesVersionFromReadManifest } from '../registry/local-registry.js';
import type { MlflowVersionService } from '../registry/mlflow-version-service.js';
import type { ReadScopedSearch } from '../registry/search-service.js';
import type { TrackingService } from '../registry/tracking-service.js';
import type { UploadService } from '../registry/upload-service.js';
import type { WebhookService } from '../registry/webhook-service.js';
import type { Store } from '../storage/store.js';
import type { RequestAuth } from './auth/enforce-access.js';
import type { ServerMetrics } from './metrics.js';
import type { SchemaTypeProvider } from './schema.js';

/** The Fastify instance routes register on, typed by our schema builder. */
export type App = FastifyInstance<
  Server,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  SchemaTypeProvider
>;

/**
 * The server's view of a registry: its operations and the content store holding its files
 * (both over the same metadata database). Whatever opens a registry directory provides it.
 */
export interface ServerBackend {
  /**
   * With scoped lists and searches: what a signed-in user may read, in full pages; and a
   * createVersion that takes the manifest the route has read (any RegistryApi qualifies:
   * one that ignores it reads the manifest itself); and a check that a model exists that
   * reads its row only (MLflow's model-versions/create).
   */
  readonly registry: RegistryApi & ReadScopedSearch & CreatesVersionFromReadManifest & ChecksModels;
  readonly store: Store;
  /** MLflow tracking (experiments, runs) over the same database, for the MLflow routes. */
  readonly tracking: TrackingService;
  /** Users, tokens and permissions in the same database. */
  readonly access: AccessControl;
  /** The webhook outbox the server's dispatcher sends (none: webhooks are not dispatched). */
  readonly webhooks?: WebhookService;
  /** The Git LFS server's objects and locks (routes/lfs/). */
  readonly lfs: LfsService;
  /**
   * The server secret (registry/server-secret.ts) its request capabilities are signed
   * with; none: a random one per process (capabilities then work on this process only).
   */
  readonly serverSecret?: Uint8Array;
  /** Resolves when the metadata database answers (GET /health). */
  ping(): Promise<void>;
}

export interface RouteContext extends ServerBackend {
  readonly uploads: UploadService;
  /** MLflow's artifact proxy store (run artifacts, multipart uploads). */
  readonly artifacts: ArtifactService;
  /** Read-only artifact views of registered versions (`_modelvault/models/…`). */
  readonly frozenArtifacts: FrozenArtifactView;
  /** MLflow's registry semantics beyond one-to-one calls (frozen sources, latest versions). */
  readonly mlflowVersions: MlflowVersionService;
  readonly metrics: ServerMetrics;
  readonly version: string;
  /** How long a commit request waits before answering 202 `committing`. */
  readonly commitWaitMs: number;
  /** Who the request is (auth/enforce-access.ts), to scope lists and searches. */
  readonly auth: RequestAuth;
  /**
   * The authenticated user acting (the audit trail's actor), or undefined for the
   * registry's default actor when authentication is off.
   */
  actor(request: FastifyRequest): string | undefined;
}

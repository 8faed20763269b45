/**
 * The embedded registry (DESIGN §7): one directory holding the store and the registry's
 * metadata in the same SQLite database. Opens the store directory with the registry's
 * migrations and composes a LocalRegistry over the same Database and the store, plus the
 * maintenance operations that need the storage engine itself (gc, fsck, repair).
 *
 * Retention (retention.ts): a soft-deleted version or model can be restored for
 * `retentionMs` (default 30 days); gc keeps its files for that long plus the grace period,
 * then collects them. Expired versions keep their rows (history), not their files.
 * MLflow runs and experiments deleted that long ago are purged, rows and artifacts, by the
 * same gc before it reads its roots (tracking-purge.ts, MLflow's `mlflow gc`).
 */
import type { KeyObject } from 'node:crypto';
import { CompiledQuery, type Kysely } from 'kysely';
import type { Sha256Hex } from '../core/digest.js';
import { InvalidArgumentError, NotFoundError } from '../core/errors.js';
import type {
  CompactResult,
  FsckResult,
  GcRequest,
  GcResult,
  IntegrityProblem,
  RegistryApi,
  RegistryMaintenance,
  RepairResult,
} from '../core/registry-api.js';
import type { Database, DatabaseConfig } from '../metadata/database.js';
import type { RegistryDB } from '../metadata/schema.js';
import type { ObjectBackend } from '../storage/backends/object-backend.js';
import type { ChunkingParams } from '../storage/chunking/chunking-params.js';
import { collectGarbage } from '../storage/garbage-collector.js';
import type { StorageTables } from '../storage/index/storage-schema.js';
import type { Store } from '../storage/store.js';
import { type CheckReport, checkStore, repairStore } from '../storage/store-checker.js';
import type { BlobsConfig } from '../storage/store-layout.js';
import type { AccessControl } from './access-control.js';
import { ARTIFACT_MIGRATIONS, ArtifactService } from './artifact-service.js';
import { AuditService } from './audit-service.js';
import { findCheckpointKey } from './checkpoint-key.js';
import { LFS_MIGRATIONS, LfsService } from './lfs-service.js';
import { type ChecksModels, LocalRegistry, REGISTRY_MIGRATIONS } from './local-registry.js';
import { actorOf } from './registry-context.js';
import { retainedVersions } from './retention.js';
import type { ReadScopedSearch } from './search-service.js';
import { findServerSecret } from './server-secret.js';
import { openStoreDirectory, type StoreDirectory } from './store-directory.js';
import { type PurgeCounts, TrackingPurge } from './tracking-purge.js';
import { TrackingService } from './tracking-service.js';
import { UPLOAD_MIGRATIONS, UploadService } from './upload-service.js';
import type { WebhookService, WebhookServiceOptions } from './webhook-service.js';

/** Nothing stored more recently than this is collected unless a gc asks otherwise. */
export const DEFAULT_GC_GRACE_MS = 60 * 60 * 1000;

export interface OpenRegistryDirectoryOptions {
  /** Create the directory (store and database) if it is not a registry yet. */
  readonly create?: boolean;
  /** Actor of mutations whose options name none. Default: the OS user name. */
  readonly defaultActor?: string;
  /** The registry's clock (timestamps of versions, events, deletions). Default Date.now. */
  readonly clock?: () => number;
  /** How long soft-deleted versions and models stay restorable. Default 30 days. */
  readonly retentionMs?: number;
  readonly packTargetSize?: number;
  readonly chunking?: ChunkingParams;
  /** The metadata database (and chunk index). Default: SQLite in the directory. */
  readonly database?: DatabaseConfig;
  /** Where the packs live instead of `<root>/objects` (see `openStoreDirectory`). */
  readonly backend?: ObjectBackend;
  /** An S3 location for the packs, recorded at creation (see `openStoreDirectory`). */
  readonly blobs?: BlobsConfig;
  /**
   * Signs audit checkpoints. Default: the directory's `checkpoint-key.pem` when present
   * and readable (checkpoint-key.ts).
   */
  readonly checkpointKey?: KeyObject;
  /** Retry and timeout defaults of webhook deliveries. */
  readonly webhooks?: WebhookServiceOptions;
}

export type MaintainedRegistry = RegistryApi & ReadScopedSearch & RegistryMaintenance;

export interface RegistryDirectory {
  readonly root: string;
  /** A local registry: it checks a model by its row alone (ChecksModels). */
  readonly registry: MaintainedRegistry & ChecksModels;
  readonly store: Store;
  /** MLflow tracking (experiments, runs) in the same database. */
  readonly tracking: TrackingService;
  /** Users, tokens and permissions (the server's authentication). */
  readonly access: AccessControl;
  /** Webhook outbox and deliveries over the same database (a server dispatches them). */
  readonly webhooks: WebhookService;
  /** Signs audit checkpoints with `key` from now on. */
  useCheckpointKey(key: KeyObject): void;
  /** The Git LFS server's objects and locks in the same database and store. */
  readonly lfs: LfsService;
  /** Where the metadata is: the SQLite file, or the PostgreSQL URL without its password. */
  readonly metadataLocation: string;
  /** Resolves when the metadata database answers a trivial query (health checks). */
  ping(): Promise<void>;
  /** Closes the registry, the store and the database (the same as registry.close()). */
  close(): Promise<void>;
}

type Tables = RegistryDB & StorageTables;

/** Compiled once: health checks run it on every probe. */
const PING = CompiledQuery.raw('SELECT 1');

/** The registry's view of the shared database (it holds the storage tables too). */
function registryDatabase(dir: StoreDirectory<Tables>): Database<RegistryDB> {
  return dir.database as unknown as Database<RegistryDB>;
}

class DirectoryRegistry extends LocalRegistry implements RegistryMaintenance {
  private directoryClosed = false;
  /** MLflow tracking over the same database, clock and default actor as the registry. */
  readonly tracking: TrackingService;
  /** Git LFS objects and locks; its objects are garbage-collection roots. */
  readonly lfs: LfsService;

  constructor(
    private readonly dir: StoreDirectory<Tables>,
    options: OpenRegistryDirectoryOptions & { readonly checkpointKey: KeyObject | undefined },
  ) {
    super({
      database: registryDatabase(dir),
      content: dir.store,
      ownsDatabase: false,
      ...(options.checkpointKey ? { checkpointKey: options.checkpointKey } : {}),
      ...(options.webhooks ? { webhooks: options.webhooks } : {}),
      ...(options.defaultActor !== undefined ? { defaultActor: options.defaultActor } : {}),
      ...(options.clock !== undefined ? { clock: options.clock } : {}),
      ...(options.retentionMs !== undefined ? { retentionMs: options.retentionMs } : {}),
    });
    const audit = new AuditService(this.context);
    this.tracking = new TrackingService(this.context, audit);
    this.lfs = new LfsService(this.context, audit, dir.store);
    this.purge = new TrackingPurge(this.context, audit, new ArtifactService({ store: dir.store }));
  }

  /** Deletes expired runs and experiments for gc (tracking-purge.ts). */
  private readonly purge: TrackingPurge;

  async gc(request: GcRequest = {}): Promise<GcResult> {
    const graceMs = request.graceMs ?? DEFAULT_GC_GRACE_MS;
    if (!Number.isSafeInteger(graceMs) || graceMs < 0) {
      throw new InvalidArgumentError('gc grace period must be a non-negative number of ms');
    }
    const dryRun = request.dryRun ?? false;
    // Deletion times come from the registry's clock; the store's own times are wall clock,
    // which collectGarbage reads itself.
    const cutoff = this.context.now() - this.context.retentionMs - graceMs;
    const artifacts = new ArtifactService({ store: this.dir.store, now: this.context.now });
    // Chunks a server told a client it has (open upload sessions) must survive too.
    const uploads = new UploadService({ registry: this, store: this.dir.store });
    const liveChunks = await uploads.liveChunkIds();
    let purged: PurgeCounts = { runs: 0, experiments: 0 };
    let uploadsExpired = 0;
    let liveCount = 0;
    const report = await collectGarbage(this.dir.store, {
      // Under the GC lease: first the runs and experiments past retention go (MLflow's
      // `mlflow gc`), so that the roots read next no longer hold their artifacts.
      liveManifests: async () => {
        // Only a purge needs an actor (its audit events); a dry run changes nothing.
        purged = dryRun
          ? await this.purge.count(cutoff)
          : await this.purge.purge(cutoff, actorOf(this.context, request));
        // Abandoned MLflow multipart uploads go too, so their parts are no longer roots.
        uploadsExpired = await artifacts.expireUploads({ dryRun });
        const live = new Set(
          (await retainedVersions(registryDatabase(this.dir).db, cutoff)).map((v) => v.digest),
        );
        // MLflow run artifacts (and multipart parts) keep their bytes through their manifests.
        for (const digest of await artifacts.liveManifests()) live.add(digest);
        // Git LFS objects are roots: a repository's history may need any of them.
        for (const digest of await this.lfs.liveManifests()) live.add(digest);
        liveCount = live.size;
        return live;
      },
      liveChunks,
      // A version, artifact or LFS object committed while this ran keeps its manifest.
      stillReferenced: async (trx, digests) => {
        const found = new Set<string>();
        const db = trx as unknown as Kysely<RegistryDB>;
        for (const v of await retainedVersions(db, cutoff, digests)) found.add(v.digest);
        for (const d of await artifacts.liveManifests(digests, trx)) found.add(d);
        for (const d of await this.lfs.liveManifests(digests, trx)) found.add(d);
        return found;
      },
      graceMs,
      dryRun,
    });
    return {
      dryRun,
      retentionMs: this.context.retentionMs,
      graceMs,
      runsPurged: purged.runs,
      experimentsPurged: purged.experiments,
      uploadsExpired,
      liveManifests: liveCount,
      manifestsDeleted: report.manifestsDeleted,
      filesDeleted: report.filesDeleted,
      chunksTombstoned: report.chunksTombstoned,
      chunksRevived: report.chunksRevived,
      packsDeleted: report.packsDeleted,
      packsRepacked: report.packsRepacked,
      bytesFreed: report.bytesFreed,
    };
  }

  async compact(): Promise<CompactResult> {
    const started = performance.now();
    const report = await this.dir.database.compact();
    return {
      dialect: this.dir.database.kind,
      location: this.dir.metadataLocation,
      ...report,
      durationMs: performance.now() - started,
    };
  }

  async fsck(): Promise<FsckResult> {
    return this.withVersions(await checkStore(this.dir.store));
  }

  async repair(): Promise<RepairResult> {
    const r = await repairStore(this.dir.store);
    return {
      packsIndexed: r.packsIndexed,
      chunksAdded: r.chunksAdded,
      chunksRepointed: r.chunksRepointed,
      chunksRemoved: r.chunksRemoved,
      after: await this.withVersions(r.after),
    };
  }

  /** Adds the registry's view to a store check: which restorable versions are affected. */
  private async withVersions(report: CheckReport): Promise<FsckResult> {
    const versions = await retainedVersions(
      registryDatabase(this.dir).db,
      this.context.now() - this.context.retentionMs,
    );
    const problems: IntegrityProblem[] = report.problems.map((p) => ({
      kind: p.kind,
      id: p.id,
      message: p.message,
    }));
    const damaged = new Set(report.damagedManifests);
    const stored = new Map<string, boolean>();
    const damagedVersions: string[] = [];
    for (const v of versions) {
      const label = `${v.model}@${v.version}`;
      let present = stored.get(v.digest);
      if (present === undefined) {
        present = await this.dir.store.getManifest(v.digest as Sha256Hex).then(
          () => true,
          (e: unknown) => {
            if (e instanceof NotFoundError) return false;
            return true; // unreadable: already reported as manifest-damaged
          },
        );
        stored.set(v.digest, present);
      }
      if (!present) {
        problems.push({
          kind: 'version-content-missing',
          id: label,
          message: `version '${label}': its manifest ${v.digest} is not stored`,
        });
        damagedVersions.push(label);
      } else if (damaged.has(v.digest)) {
        damagedVersions.push(label);
      }
    }
    return {
      ok: problems.length === 0,
      packs: report.packs,
      chunks: report.chunks,
      files: report.files,
      manifests: report.manifests,
      versions: versions.length,
      problems,
      damagedVersions,
    };
  }

  override async close(): Promise<void> {
    await super.close();
    if (this.directoryClosed) return;
    this.directoryClosed = true;
    await this.dir.close();
  }
}

/**
 * Opens the registry directory at `root` (creating it with `create`).
 * @throws NotFoundError `no Modelvault store at '…' (run 'mvault init')` when it is not one.
 */
export async function openRegistryDirectory(
  root: string,
  options: OpenRegistryDirectoryOptions = {},
): Promise<RegistryDirectory> {
  const dir = await openStoreDirectory<Tables>(root, {
    // The upload and artifact tables belong to every registry: a directory used by the CLI
    // today may be served tomorrow, and GC must see what a server left behind.
    migrations: [
      ...REGISTRY_MIGRATIONS,
      ...UPLOAD_MIGRATIONS,
      ...ARTIFACT_MIGRATIONS,
      ...LFS_MIGRATIONS,
    ],
    ...(options.create !== undefined ? { create: options.create } : {}),
    ...(options.packTargetSize !== undefined ? { packTargetSize: options.packTargetSize } : {}),
    ...(options.chunking !== undefined ? { chunking: options.chunking } : {}),
    ...(options.database !== undefined ? { database: options.database } : {}),
    ...(options.backend !== undefined ? { backend: options.backend } : {}),
    ...(options.blobs !== undefined ? { blobs: options.blobs } : {}),
  });
  const registry = new DirectoryRegistry(dir, {
    ...options,
    checkpointKey: options.checkpointKey ?? findCheckpointKey(root),
  });
  // Webhook secrets are encrypted with the server secret when the directory has one
  // (made by the first serve); until then they are stored as they are, and the server
  // seals them when it starts (open-backend.ts).
  const serverSecret = findServerSecret(root);
  if (serverSecret) registry.webhooks.useServerSecret(serverSecret);
  return {
    root,
    registry,
    store: dir.store,
    tracking: registry.tracking,
    access: registry.access,
    webhooks: registry.webhooks,
    useCheckpointKey: (key) => registry.useCheckpointKey(key),
    lfs: registry.lfs,
    metadataLocation: dir.metadataLocation,
    ping: async () => {
      await dir.database.db.executeQuery(PING);
    },
    close: () => registry.close(),
  };
}

/**
 * MLflow's model-registry semantics over the RegistryApi, where they go beyond a one-to-one
 * call (DESIGN §5):
 *
 * - `createFromSource`: `model-versions/create` with a `source` FREEZES that artifact tree
 *   into the new version's immutable manifest — Store.commitManifest over files already
 *   stored by the artifact proxy, no byte copied — so the version cannot change when the
 *   run's artifacts do. Sources:
 *     mlflow-artifacts:/<exp>/<run>/artifacts/<path>   (also mlflow-artifacts://host/…)
 *     runs:/<run_id>/<path>                             (through the run's artifact root)
 *     models:/<name>/<version>, models:/<name>@<alias>, models:/<name>/<Stage>
 *     mlflow-artifacts:/_modelvault/models/<name>@<n>[/<path>]  (a frozen view)
 *   The version is a first-class Modelvault version: the run's params and latest (finite)
 *   metrics become the version's, `run_id` and `source` are recorded, status READY, and
 *   its creation is audited with the caller as actor.
 * - `downloadUri`: where the artifact proxy serves a version's frozen files
 *   (frozen-artifact-view.ts).
 * - `latestVersions`: MLflow's latest version per stage.
 * - `deleteVersion`: MLflow deletes a version's aliases with it; the registry refuses to
 *   delete an aliased version, so the aliases are deleted (each audited) first.
 */
import { ConflictError, InvalidArgumentError, NotFoundError } from '../core/errors.js';
import {
  type ModelVersion,
  type MutationOptions,
  type RegistryApi,
  STAGES,
  type Stage,
} from '../core/registry-api.js';
import type { Manifest, ManifestEntry } from '../storage/content-store.js';
import type { Store } from '../storage/store.js';
import {
  type ArtifactService,
  checkArtifactPath,
  isReservedArtifactPath,
} from './artifact-service.js';
import { type FrozenArtifactView, frozenVersionPath } from './frozen-artifact-view.js';
import type { ChecksModels, CreatesVersionFromReadManifest } from './local-registry.js';
import type { Run, TrackingService } from './tracking-service.js';

export interface CreateFromSourceInput extends MutationOptions {
  readonly name: string;
  readonly source: string;
  readonly runId?: string;
  readonly tags?: Readonly<Record<string, string>>;
  readonly description?: string;
}

/** The URI scheme of the artifact proxy. */
const PROXY_SCHEME = 'mlflow-artifacts:';

/** The proxy path of `mlflow-artifacts:/p` or `mlflow-artifacts://host:port/p`. */
export function proxyPathOf(uri: string): string | undefined {
  if (!uri.startsWith(PROXY_SCHEME)) return undefined;
  let rest = uri.slice(PROXY_SCHEME.length);
  if (rest.startsWith('//')) {
    const slash = rest.indexOf('/', 2);
    rest = slash < 0 ? '' : rest.slice(slash);
  }
  return rest.replace(/^\/+/, '').replace(/\/+$/, '');
}

export class MlflowVersionService {
  constructor(
    private readonly registry: RegistryApi & CreatesVersionFromReadManifest & ChecksModels,
    private readonly store: Store,
    private readonly artifacts: ArtifactService,
    private readonly frozen: FrozenArtifactView,
    private readonly tracking: TrackingService,
  ) {}

  /**
   * Registers a new version of `name` frozen from `source` (see the module comment).
   * @throws InvalidArgumentError (unsupported source, bad path), NotFoundError (model, run,
   *   source version, or no artifact under the source).
   */
  async createFromSource(input: CreateFromSourceInput): Promise<ModelVersion> {
    const source = input.source;
    if (typeof source !== 'string' || source.length === 0 || source.length > 8192) {
      throw new InvalidArgumentError("Missing value for required parameter 'source'.");
    }
    await this.registry.requireModel(input.name);
    let runId = input.runId === '' ? undefined : input.runId;
    type Summary = { digest: string; size: number; fileCount: number };
    /**
     * The version's manifest: a source version's, or the source tree frozen (again), then
     * also the frozen manifest itself, which createVersion need not read back.
     */
    let manifestOf: () => Promise<{ summary: Summary; frozen?: Manifest }>;
    /** Whether manifestOf freezes (and so stores a manifest no version refers to yet). */
    let freezes = false;
    if (source.startsWith('models:/')) {
      const v = await this.registry.getVersion(source);
      manifestOf = async () => ({
        summary: { digest: v.digest, size: v.size, fileCount: v.fileCount },
      });
    } else {
      let path: string;
      if (source.startsWith('runs:/')) {
        const rest = source.slice('runs:/'.length);
        const slash = rest.indexOf('/');
        const sourceRun = slash < 0 ? rest : rest.slice(0, slash);
        const root = await this.runArtifactRoot(await this.tracking.getRun(sourceRun));
        const sub = slash < 0 ? '' : rest.slice(slash + 1).replace(/\/+$/, '');
        path = sub === '' ? root : `${root}/${sub}`;
        runId ??= sourceRun;
      } else {
        const p = proxyPathOf(source);
        if (p === undefined) {
          throw new InvalidArgumentError(
            `unsupported source '${source.slice(0, 200)}': use mlflow-artifacts:/…, runs:/<run_id>/… or models:/…`,
          );
        }
        path = p;
      }
      const frozenPath = checkArtifactPath(path, 'source path');
      manifestOf = async () => {
        const m = await this.freeze(frozenPath);
        return {
          summary: { digest: m.digest, size: m.totalSize, fileCount: m.entries.length },
          frozen: m,
        };
      };
      freezes = true;
    }
    const { metrics, params } =
      runId === undefined ? { metrics: {}, params: {} } : await this.tracking.getRunValues(runId);
    for (let attempt = 1; ; attempt++) {
      const { summary: manifest, frozen } = await manifestOf();
      try {
        const create = {
          model: input.name,
          manifest,
          source,
          ...(runId !== undefined ? { runId } : {}),
          ...(input.description ? { description: input.description } : {}),
          ...(input.tags ? { tags: input.tags } : {}),
          metrics,
          params,
          ...(input.actor !== undefined ? { actor: input.actor } : {}),
        };
        return await this.registry.createVersion(create, frozen && { manifest: frozen });
      } catch (e) {
        // A GC with no grace period collected the just-frozen manifest before the version
        // committed (LocalRegistry.createVersion refuses it then): freeze it again.
        const details = (e as { details?: { collected?: unknown; manifest?: unknown } }).details;
        const collected =
          (e instanceof ConflictError && details?.collected === true) ||
          (e instanceof NotFoundError && details?.manifest === manifest.digest);
        if (!collected || !freezes || attempt >= 3) throw e;
      }
    }
  }

  /** `mlflow-artifacts:/_modelvault/models/<name>@<n>`. @throws NotFoundError */
  async downloadUri(name: string, version: number): Promise<string> {
    const v = await this.registry.getVersion(`${name}@${version}`);
    return `${PROXY_SCHEME}/${frozenVersionPath(v.model, v.version)}`;
  }

  /**
   * The highest-numbered live version in each of `stages` (every stage when empty), in
   * stage order. @throws NotFoundError (model), InvalidArgumentError (unknown stage).
   */
  async latestVersions(name: string, stages: readonly string[] = []): Promise<ModelVersion[]> {
    await this.registry.getModel(name);
    const wanted: Stage[] = [];
    for (const s of stages.length === 0 ? STAGES : stages) {
      const stage = STAGES.find((x) => x.toLowerCase() === String(s).toLowerCase());
      if (!stage) {
        throw new InvalidArgumentError(
          `Invalid Model Version stage: ${String(s).slice(0, 50)}. Value must be one of ${STAGES.join(', ')}.`,
        );
      }
      if (!wanted.includes(stage)) wanted.push(stage);
    }
    const out: ModelVersion[] = [];
    for (const stage of wanted) {
      const page = await this.registry.searchVersions({
        filter: `name = '${name}' AND current_stage = '${stage}'`,
        orderBy: ['version_number DESC'],
        maxResults: 1,
      });
      if (page.items[0]) out.push(page.items[0]);
    }
    return out;
  }

  /** Deletes the version's aliases, then the version (MLflow's semantics). */
  async deleteVersion(name: string, version: number, options: MutationOptions): Promise<void> {
    const v = await this.registry.getVersion(`${name}@${version}`);
    for (const alias of v.aliases) await this.registry.deleteAlias(v.model, alias, options);
    await this.registry.deleteVersion(`${v.model}@${v.version}`, options);
  }

  /** The proxy path of a run's artifact root. @throws InvalidArgumentError when not proxied. */
  async runArtifactRoot(run: Run): Promise<string> {
    const root = proxyPathOf(run.info.artifact_uri);
    if (root === undefined || root === '') {
      throw new InvalidArgumentError(
        `run '${run.info.run_id}' stores artifacts at '${run.info.artifact_uri.slice(0, 200)}', not in the artifact proxy`,
      );
    }
    return root;
  }

  /** The version committed right after makes the manifest durable (CommitOptions). */
  private async freeze(path: string) {
    if (!isReservedArtifactPath(path)) return this.artifacts.freeze(path, { durable: false });
    const entries: ManifestEntry[] = await this.frozen.entries(path);
    if (entries.length === 0) throw new NotFoundError(`no artifacts under '${path}'`);
    return this.store.commitManifest(entries, { durable: false });
  }
}

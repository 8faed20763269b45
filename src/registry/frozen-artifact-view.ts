/**
 * Read-only artifact views of registered versions, in the artifact proxy's reserved
 * namespace (artifact-service.ts, RESERVED_ARTIFACT_ROOT):
 *
 *   _modelvault/models/<model name>@<version number>[/<path in the version>]
 *
 * `model-versions/get-download-uri` answers `mlflow-artifacts:/_modelvault/models/<name>@<n>`,
 * so MLflow clients list and download a version through the same proxy endpoints as run
 * artifacts, but from the version's immutable manifest: what they get is what was frozen
 * at registration, whatever happened to the run's artifacts since. Model names cannot
 * contain `@`, so the first segment holding one ends the name (names may contain `/`).
 * A deleted version's view is gone (404) like the version.
 */
import type { Sha256Hex } from '../core/digest.js';
import { InvalidArgumentError, NotFoundError } from '../core/errors.js';
import type { RegistryApi } from '../core/registry-api.js';
import type { Manifest, ManifestEntry } from '../storage/content-store.js';
import type { Store } from '../storage/store.js';
import {
  type ArtifactListEntry,
  type ArtifactNode,
  RESERVED_ARTIFACT_ROOT,
} from './artifact-service.js';

export const FROZEN_MODELS_ROOT = `${RESERVED_ARTIFACT_ROOT}/models`;

/** The artifact path of a version's frozen view (no leading slash). */
export function frozenVersionPath(model: string, version: number): string {
  return `${FROZEN_MODELS_ROOT}/${model}@${version}`;
}

export interface FrozenPath {
  readonly model: string;
  readonly version: number;
  /** Path inside the version, `''` for its root. */
  readonly sub: string;
}

/**
 * Splits a reserved-namespace path into model, version and sub-path; undefined for paths
 * above any version (`_modelvault`, `_modelvault/models`, `_modelvault/models/team`).
 * @throws InvalidArgumentError for a version that is not a positive integer.
 */
export function parseFrozenPath(path: string): FrozenPath | undefined {
  if (!path.startsWith(`${FROZEN_MODELS_ROOT}/`)) return undefined;
  const segments = path.slice(FROZEN_MODELS_ROOT.length + 1).split('/');
  const at = segments.findIndex((s) => s.includes('@'));
  if (at < 0) return undefined;
  const seg = segments[at]!;
  const cut = seg.indexOf('@');
  const number = seg.slice(cut + 1);
  if (!/^[1-9][0-9]{0,14}$/.test(number)) {
    throw new InvalidArgumentError(
      `invalid version '${number.slice(0, 40)}' in '${path.slice(0, 200)}'`,
    );
  }
  return {
    model: [...segments.slice(0, at), seg.slice(0, cut)].join('/'),
    version: Number(number),
    sub: segments.slice(at + 1).join('/'),
  };
}

const CACHE_ENTRIES = 64;

export class FrozenArtifactView {
  /** Manifests are immutable: a small cache saves re-reading one per listing and download. */
  private readonly manifests = new Map<string, Manifest>();

  constructor(
    private readonly registry: RegistryApi,
    private readonly store: Store,
  ) {}

  /** What `path` (in the reserved namespace) names. */
  async stat(path: string): Promise<ArtifactNode> {
    const parsed = parseFrozenPath(path);
    if (!parsed) return { kind: 'none' };
    const m = await this.manifest(parsed);
    if (m === undefined) return { kind: 'none' };
    if (parsed.sub === '') return { kind: 'dir' };
    const entry = m.entries.find((e) => e.path === parsed.sub);
    if (entry) return { kind: 'file', file: { path, sha256: entry.sha256, size: entry.size } };
    const prefix = `${parsed.sub}/`;
    return m.entries.some((e) => e.path.startsWith(prefix)) ? { kind: 'dir' } : { kind: 'none' };
  }

  /** The entries directly under directory `path`; empty for a file or nothing. */
  async list(path: string): Promise<ArtifactListEntry[]> {
    const parsed = parseFrozenPath(path);
    if (!parsed) return [];
    const m = await this.manifest(parsed);
    if (m === undefined) return [];
    const prefix = parsed.sub === '' ? '' : `${parsed.sub}/`;
    const out = new Map<string, ArtifactListEntry>();
    for (const e of m.entries) {
      if (!e.path.startsWith(prefix)) continue;
      const rest = e.path.slice(prefix.length);
      const slash = rest.indexOf('/');
      if (slash < 0) out.set(rest, { name: rest, isDir: false, size: e.size });
      else out.set(rest.slice(0, slash), { name: rest.slice(0, slash), isDir: true });
    }
    return [...out.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * The files under `path` (a version's root or a directory or file in it), with paths
   * relative to it: the entries a version created from this view freezes.
   * @throws NotFoundError when `path` names no file or directory of a live version.
   */
  async entries(path: string): Promise<ManifestEntry[]> {
    const parsed = parseFrozenPath(path);
    const m = parsed && (await this.manifest(parsed));
    const notFound = () => new NotFoundError(`no artifacts under '${path.slice(0, 300)}'`);
    if (!parsed || !m) throw notFound();
    if (parsed.sub === '') return [...m.entries];
    const file = m.entries.find((e) => e.path === parsed.sub);
    if (file) return [{ ...file, path: parsed.sub.slice(parsed.sub.lastIndexOf('/') + 1) }];
    const prefix = `${parsed.sub}/`;
    const out = m.entries
      .filter((e) => e.path.startsWith(prefix))
      .map((e) => ({ ...e, path: e.path.slice(prefix.length) }));
    if (out.length === 0) throw notFound();
    return out;
  }

  /** The version's manifest, or undefined when there is no such live version. */
  private async manifest(p: FrozenPath): Promise<Manifest | undefined> {
    let digest: string;
    try {
      digest = (await this.registry.getVersion(`${p.model}@${p.version}`)).digest;
    } catch (e) {
      if (e instanceof NotFoundError || e instanceof InvalidArgumentError) return undefined;
      throw e;
    }
    const cached = this.manifests.get(digest);
    if (cached) return cached;
    const m = await this.store.getManifest(digest as Sha256Hex);
    if (this.manifests.size >= CACHE_ENTRIES) {
      this.manifests.delete(this.manifests.keys().next().value as string);
    }
    this.manifests.set(digest, m);
    return m;
  }
}

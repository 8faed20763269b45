/**
 * The canonical JSON of a version manifest, whose SHA-256 is the version digest. One
 * definition for the storage engine (which commits manifests) and the SDK (which checks a
 * pulled manifest against the version digest). RFC 8785 (JCS) compatible for these values:
 * fixed key order, no whitespace, integer sizes, strings escaped as JSON.stringify does.
 *
 *   {"files":[{"path":"config.json","sha256":"…","size":123},…],"format":"modelvault.manifest.v1"}
 */
import { createHash } from 'node:crypto';

export const MANIFEST_FORMAT = 'modelvault.manifest.v1';

export interface ManifestFileJson {
  readonly path: string;
  readonly sha256: string;
  readonly size: number;
}

/** Manifest order: by the UTF-8 bytes of the path. */
export function compareManifestPaths(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Canonical JSON of entries already in manifest order. */
export function canonicalManifestJson(sorted: readonly ManifestFileJson[]): string {
  const files = sorted.map((e) => ({ path: e.path, sha256: e.sha256, size: e.size }));
  return JSON.stringify({ files, format: MANIFEST_FORMAT });
}

/** The version digest of `files` (any order): SHA-256 of their canonical JSON. */
export function manifestDigest(files: readonly ManifestFileJson[]): string {
  const sorted = [...files].sort((a, b) => compareManifestPaths(a.path, b.path));
  return createHash('sha256').update(canonicalManifestJson(sorted)).digest('hex');
}

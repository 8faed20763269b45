/**
 * Version manifests: the list of `{path, size, sha256}` of a version's files, sorted by the
 * UTF-8 bytes of the path; the version digest is the SHA-256 of their canonical JSON
 * (core/manifest-json.ts). This module validates, builds and parses them.
 */
import { createHash } from 'node:crypto';
import { isSha256Hex, type Sha256Hex } from '../core/digest.js';
import { CorruptionError, InvalidArgumentError } from '../core/errors.js';
import {
  canonicalManifestJson,
  compareManifestPaths,
  MANIFEST_FORMAT,
} from '../core/manifest-json.js';
import { validateManifestPath } from '../core/names.js';
import type { Manifest, ManifestEntry } from './content-store.js';

export { canonicalManifestJson, MANIFEST_FORMAT };

/** Validates entries and returns them sorted; rejects duplicates. */
export function normalizeEntries(entries: readonly ManifestEntry[]): ManifestEntry[] {
  const out = entries.map((e) => {
    validateManifestPath(e.path);
    if (!isSha256Hex(e.sha256)) throw new InvalidArgumentError(`invalid sha256 for '${e.path}'`);
    if (!Number.isSafeInteger(e.size) || e.size < 0) {
      throw new InvalidArgumentError(`invalid size ${e.size} for '${e.path}'`);
    }
    return { path: e.path, size: e.size, sha256: e.sha256 };
  });
  out.sort((a, b) => compareManifestPaths(a.path, b.path));
  for (let i = 1; i < out.length; i++) {
    if (out[i]!.path === out[i - 1]!.path)
      throw new InvalidArgumentError(`duplicate file path '${out[i]!.path}'`);
  }
  return out;
}

export function buildManifest(entries: readonly ManifestEntry[]): Manifest & { body: string } {
  const sorted = normalizeEntries(entries);
  const body = canonicalManifestJson(sorted);
  const digest = createHash('sha256').update(body).digest('hex') as Sha256Hex;
  const totalSize = sorted.reduce((s, e) => s + e.size, 0);
  return { digest, entries: sorted, totalSize, body };
}

/** Parses a stored manifest body, checking it hashes to `digest`. */
export function parseManifest(digest: Sha256Hex, body: string): Manifest {
  const actual = createHash('sha256').update(body).digest('hex');
  if (actual !== digest) {
    throw new CorruptionError(`manifest ${digest} is damaged: its body hashes to ${actual}`, {
      manifest: digest,
    });
  }
  let parsed: { files?: ManifestEntry[]; format?: string };
  try {
    parsed = JSON.parse(body);
  } catch (e) {
    throw new CorruptionError(
      `manifest ${digest} is not valid JSON`,
      { manifest: digest },
      { cause: e },
    );
  }
  if (parsed.format !== MANIFEST_FORMAT || !Array.isArray(parsed.files)) {
    throw new CorruptionError(`manifest ${digest} has an unknown format`, { manifest: digest });
  }
  const entries = parsed.files;
  return { digest, entries, totalSize: entries.reduce((s, e) => s + e.size, 0) };
}

/** True when `body` hashes to `digest`. */
export function manifestDigestOk(digest: string, body: string): boolean {
  return createHash('sha256').update(body).digest('hex') === digest;
}

/**
 * Version manifests: the list of `{path, size, sha256}` of a version's files, sorted by the
 * UTF-8 bytes of the path. The version digest is the SHA-256 of the canonical JSON below,
 * which is RFC 8785 (JCS) compatible: fixed key order (already sorted), no whitespace,
 * integers only, strings escaped as ECMAScript's JSON.stringify does.
 *
 *   {"files":[{"path":"config.json","sha256":"…","size":123},…],"format":"modelvault.manifest.v1"}
 */
import { createHash } from 'node:crypto';
import { isSha256Hex, type Sha256Hex } from '../core/digest.js';
import { CorruptionError, InvalidArgumentError } from '../core/errors.js';
import { validateManifestPath } from '../core/names.js';
import type { Manifest, ManifestEntry } from './content-store.js';

export const MANIFEST_FORMAT = 'modelvault.manifest.v1';

function comparePaths(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

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
  out.sort((a, b) => comparePaths(a.path, b.path));
  for (let i = 1; i < out.length; i++) {
    if (out[i]!.path === out[i - 1]!.path)
      throw new InvalidArgumentError(`duplicate file path '${out[i]!.path}'`);
  }
  return out;
}

export function canonicalManifestJson(sorted: readonly ManifestEntry[]): string {
  const files = sorted.map((e) => ({ path: e.path, sha256: e.sha256, size: e.size }));
  return JSON.stringify({ files, format: MANIFEST_FORMAT });
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

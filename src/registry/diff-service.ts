/**
 * Compares two versions: metrics (with deltas), params, tags, and — through a port that
 * reads manifest entries, so this does not depend on the storage engine — files.
 */
import type {
  FileEntry,
  FilesDiff,
  KeyValueDiff,
  MetricDelta,
  ModelVersion,
  VersionDiff,
} from '../core/registry-api.js';
import type { ManifestEntry } from '../storage/content-store.js';

/**
 * Reads the entries of a committed manifest (e.g. `(d) => store.getManifest(d).then((m) => m.entries)`).
 * May throw NotFoundError / CorruptionError, which diffVersions passes on.
 */
export type ManifestEntriesReader = (
  digest: ManifestEntry['sha256'],
) => Promise<readonly ManifestEntry[]>;

const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function diffKeyValues(
  a: Readonly<Record<string, string>>,
  b: Readonly<Record<string, string>>,
): KeyValueDiff {
  const added: { key: string; value: string }[] = [];
  const removed: { key: string; value: string }[] = [];
  const changed: { key: string; a: string; b: string }[] = [];
  for (const key of Object.keys(a).sort(byKey)) {
    const va = a[key]!;
    const vb = Object.hasOwn(b, key) ? b[key] : undefined;
    if (vb === undefined) removed.push({ key, value: va });
    else if (vb !== va) changed.push({ key, a: va, b: vb });
  }
  for (const key of Object.keys(b).sort(byKey)) {
    if (!Object.hasOwn(a, key)) added.push({ key, value: b[key]! });
  }
  return { added, removed, changed };
}

export function diffMetrics(
  a: Readonly<Record<string, number>>,
  b: Readonly<Record<string, number>>,
): MetricDelta[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort(byKey);
  return keys.map((key) => {
    const va = Object.hasOwn(a, key) ? a[key]! : null;
    const vb = Object.hasOwn(b, key) ? b[key]! : null;
    return { key, a: va, b: vb, delta: va !== null && vb !== null ? vb - va : null };
  });
}

export function diffFiles(a: readonly FileEntry[], b: readonly FileEntry[]): FilesDiff {
  const inA = new Map(a.map((e) => [e.path, e]));
  const inB = new Map(b.map((e) => [e.path, e]));
  const plain = (e: FileEntry): FileEntry => ({ path: e.path, size: e.size, sha256: e.sha256 });
  const added: FileEntry[] = [];
  const removed: FileEntry[] = [];
  const changed: { path: string; a: FileEntry; b: FileEntry }[] = [];
  let unchanged = 0;
  for (const ea of [...inA.values()].sort((x, y) => byKey(x.path, y.path))) {
    const eb = inB.get(ea.path);
    if (!eb) removed.push(plain(ea));
    else if (eb.sha256 !== ea.sha256) changed.push({ path: ea.path, a: plain(ea), b: plain(eb) });
    else unchanged++;
  }
  for (const eb of [...inB.values()].sort((x, y) => byKey(x.path, y.path))) {
    if (!inA.has(eb.path)) added.push(plain(eb));
  }
  return { added, removed, changed, unchanged };
}

/**
 * Diffs two hydrated versions. `files` is null when the digests differ and no reader is
 * given; identical digests need no reader (every file is unchanged).
 */
export async function diffVersions(
  a: ModelVersion,
  b: ModelVersion,
  readEntries?: ManifestEntriesReader,
): Promise<VersionDiff> {
  const sameContent = a.digest === b.digest;
  let files: FilesDiff | null = null;
  if (sameContent) {
    files = { added: [], removed: [], changed: [], unchanged: a.fileCount };
  } else if (readEntries) {
    const [ea, eb] = await Promise.all([
      readEntries(a.digest as ManifestEntry['sha256']),
      readEntries(b.digest as ManifestEntry['sha256']),
    ]);
    files = diffFiles(ea, eb);
  }
  return {
    a: { model: a.model, version: a.version, digest: a.digest, size: a.size },
    b: { model: b.model, version: b.version, digest: b.digest, size: b.size },
    sameContent,
    metrics: diffMetrics(a.metrics, b.metrics),
    params: diffKeyValues(a.params, b.params),
    tags: diffKeyValues(a.tags, b.tags),
    files,
  };
}

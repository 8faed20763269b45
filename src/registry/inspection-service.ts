/**
 * Model-format intelligence over stored versions: the summary computed when a version is
 * created, `inspect` (per-file header facts), and the tensor-level diff. Everything reads
 * stored files through ranges (`storedFileReader`): headers only, except the changed
 * tensors' bytes when statistics are asked for (or when a tensor's range does not fall on
 * chunk boundaries, so chunk ids cannot decide).
 */
import { createHash } from 'node:crypto';
import type { Sha256Hex } from '../core/digest.js';
import { NotFoundError } from '../core/errors.js';
import type {
  FileInspection,
  TensorDiff,
  TensorDiffEntry,
  TensorGroupSummary,
  TensorInfo,
  VersionInspection,
  VersionSummary,
} from '../core/model-inspection.js';
import type { ModelVersion } from '../core/registry-api.js';
import { inspectFile, isInspectable, summarize } from '../formats/inspect/inspect-file.js';
import { layerPrefix, TensorStatsAccumulator } from '../formats/tensor-stats.js';
import type { ContentStore, ManifestEntry } from '../storage/content-store.js';
import { storedFileReader } from './stored-file-reader.js';

/** Files inspected per version (a tree of millions of files is summarized by its first). */
const MAX_INSPECTED_FILES = 2000;
/** Bytes per lockstep read of two tensors when computing statistics. */

export interface TensorDiffOptions {
  /** Compute numeric statistics for changed tensors of equal dtype and shape. */
  readonly stats?: boolean;
}

interface Located {
  readonly t: TensorInfo;
  readonly file: ManifestEntry;
}

type ChunkMap = { readonly ids: readonly string[]; readonly ends: Float64Array };

/** Summaries kept by manifest digest (see `summarize`). */
const SUMMARY_CACHE_ENTRIES = 256;

export class InspectionService {
  /** Least recently used first (Map order is insertion order; a hit re-inserts). */
  private readonly summaries = new Map<string, VersionSummary>();

  constructor(private readonly store: ContentStore) {}

  private inspectEntry(e: ManifestEntry, tensors: boolean): Promise<FileInspection> {
    return inspectFile(storedFileReader(this.store, e.sha256, e.size), e.size, e.path, {
      tensors,
    });
  }

  private async inspectAll(
    entries: readonly ManifestEntry[],
    tensors: boolean,
  ): Promise<FileInspection[]> {
    const out: FileInspection[] = [];
    const chosen = entries.filter((x) => isInspectable(x.path)).slice(0, MAX_INSPECTED_FILES);
    for (const e of chosen) out.push(await this.inspectEntry(e, tensors));
    return out;
  }

  private async entries(digest: string): Promise<readonly ManifestEntry[]> {
    return (await this.store.getManifest(digest as Sha256Hex)).entries;
  }

  /**
   * The summary of the manifest `digest`. Propagates store errors (NotFound, Corruption).
   * A manifest and its files are content-addressed, so a digest's summary never changes:
   * the last SUMMARY_CACHE_ENTRIES are kept, and registering a manifest again (a version
   * of the same files in another model, MLflow freezing an unchanged logged model) reads
   * no file headers. Failures are not kept. The result is shared: callers must not mutate it.
   */
  async summarize(digest: string): Promise<VersionSummary> {
    const cached = this.summaries.get(digest);
    if (cached) {
      this.summaries.delete(digest);
      this.summaries.set(digest, cached);
      return cached;
    }
    const summary = summarize(await this.inspectAll(await this.entries(digest), false));
    if (this.summaries.size >= SUMMARY_CACHE_ENTRIES) {
      this.summaries.delete(this.summaries.keys().next().value as string);
    }
    this.summaries.set(digest, summary);
    return summary;
  }

  /**
   * Every recognised file of the version, or with `path` that one file (any format) with
   * its tensors. @throws NotFoundError when the version has no file `path`.
   */
  async inspect(version: ModelVersion, path?: string): Promise<VersionInspection> {
    const head = { model: version.model, version: version.version, digest: version.digest };
    const entries = await this.entries(version.digest);
    if (path === undefined) {
      const files = await this.inspectAll(entries, false);
      return { ...head, summary: summarize(files), files };
    }
    const entry = entries.find((e) => e.path === path);
    if (!entry) {
      throw new NotFoundError(`file '${path}' not found in ${version.model}@${version.version}`, {
        path,
      });
    }
    const file = await this.inspectEntry(entry, true);
    return { ...head, summary: version.summary ?? summarize([file]), files: [file] };
  }

  /** Tensors of one side: the weights files of its dominant format, by tensor name. */
  private async side(
    digest: string,
    skipped: { path: string; reason: string }[],
  ): Promise<{ tensors: Map<string, Located>; params: number }> {
    const entries = await this.entries(digest);
    const byPath = new Map(entries.map((e) => [e.path, e]));
    const files = await this.inspectAll(entries, true);
    for (const f of files) {
      if (!f.readable) skipped.push({ path: f.path, reason: f.reason ?? 'unreadable' });
    }
    const { format } = summarize(files);
    const tensors = new Map<string, Located>();
    let params = 0;
    for (const f of files.filter((x) => x.readable && x.format === format)) {
      params += f.parameterCount ?? 0;
      for (const t of f.tensors ?? []) {
        if (tensors.has(t.name)) {
          skipped.push({ path: f.path, reason: `tensor '${t.name}' is also in another file` });
          continue;
        }
        tensors.set(t.name, { t, file: byPath.get(f.path)! });
      }
    }
    return { tensors, params };
  }

  /**
   * Compares the tensors of two versions. Unchanged is decided from chunk ids where the
   * tensor's range falls on chunk boundaries in both files (no data read); otherwise both
   * ranges are hashed. Statistics stream both tensors in lockstep windows (bounded memory).
   */
  async diffTensors(
    a: ModelVersion,
    b: ModelVersion,
    options: TensorDiffOptions = {},
  ): Promise<TensorDiff> {
    const skipped: { path: string; reason: string }[] = [];
    const sa = await this.side(a.digest, skipped);
    const sb = a.digest === b.digest ? sa : await this.side(b.digest, skipped);
    const names = [...new Set([...sa.tensors.keys(), ...sb.tensors.keys()])].sort((x, y) =>
      x < y ? -1 : x > y ? 1 : 0,
    );
    const chunkMaps = new Map<string, Promise<ChunkMap>>();
    const chunksOf = (sha: Sha256Hex): Promise<ChunkMap> => {
      let p = chunkMaps.get(sha);
      if (!p) {
        p = this.store.fileChunks(sha);
        chunkMaps.set(sha, p);
      }
      return p;
    };
    let bytesRead = 0;
    const side = (s: Located) => ({ dtype: s.t.dtype, shape: s.t.shape, path: s.file.path });
    const out: TensorDiffEntry[] = [];
    for (const name of names) {
      const x = sa.tensors.get(name);
      const y = sb.tensors.get(name);
      if (!x || !y) {
        out.push({
          name,
          status: x ? 'removed' : 'added',
          a: x ? side(x) : null,
          b: y ? side(y) : null,
        });
        continue;
      }
      const dtypeChanged = x.t.dtype !== y.t.dtype;
      const shapeChanged = x.t.shape.join(',') !== y.t.shape.join(',');
      if (dtypeChanged || shapeChanged) {
        out.push({ name, status: 'changed', a: side(x), b: side(y), dtypeChanged, shapeChanged });
        continue;
      }
      const same = await this.sameBytes(x, y, chunksOf, (n) => {
        bytesRead += n;
      });
      if (same) {
        out.push({ name, status: 'unchanged', a: side(x), b: side(y) });
        continue;
      }
      const entry: TensorDiffEntry = {
        name,
        status: 'changed',
        a: side(x),
        b: side(y),
        dtypeChanged,
        shapeChanged,
      };
      if (options.stats && x.t.length !== null && x.t.offset !== null && y.t.offset !== null) {
        const acc = new TensorStatsAccumulator(x.t.dtype);
        bytesRead += await this.streamPair(x, y, x.t.length, acc);
        out.push({ ...entry, stats: acc.result() });
      } else out.push(entry);
    }
    return {
      tensors: out,
      ...tally(out),
      parameterCount: { a: sa.params, b: sb.params, delta: sb.params - sa.params },
      bytesRead,
      skipped,
    };
  }

  /** Whether two tensors of equal dtype and shape hold the same bytes. */
  private async sameBytes(
    x: Located,
    y: Located,
    chunksOf: (sha: Sha256Hex) => Promise<ChunkMap>,
    onRead: (n: number) => void,
  ): Promise<boolean> {
    const len = x.t.length;
    if (len === null || y.t.length !== len || x.t.offset === null || y.t.offset === null) {
      return false;
    }
    if (len === 0) return true;
    if (x.file.sha256 === y.file.sha256 && x.t.offset === y.t.offset) return true;
    const [ca, cb] = await Promise.all([chunksOf(x.file.sha256), chunksOf(y.file.sha256)]);
    const ra = alignedRun(ca, x.t.offset, len);
    const rb = alignedRun(cb, y.t.offset, len);
    if (ra && rb) {
      if (ra.to - ra.from !== rb.to - rb.from) return false;
      for (let i = 0; i < ra.to - ra.from; i++) {
        if (ca.ids[ra.from + i] !== cb.ids[rb.from + i]) return false;
      }
      return true;
    }
    // Not on chunk boundaries (a file chunked whole): compare digests of the two ranges.
    const [ha, hb] = await Promise.all([
      this.hashRange(x.file, x.t.offset, len),
      this.hashRange(y.file, y.t.offset, len),
    ]);
    onRead(2 * len);
    return ha === hb;
  }

  private async hashRange(file: ManifestEntry, offset: number, length: number): Promise<string> {
    const h = createHash('sha256');
    for await (const part of this.store.readFile(file.sha256, { offset, length })) h.update(part);
    return h.digest('hex');
  }

  /**
   * Streams both tensors through `acc` in lockstep: one range read per side (each chunk
   * read and verified once), fed to `acc` in equal, element-aligned slices. Memory: at most
   * a chunk per side plus a partial element. Returns the bytes read.
   */
  private async streamPair(
    x: Located,
    y: Located,
    length: number,
    acc: TensorStatsAccumulator,
  ): Promise<number> {
    const a = readAhead(
      this.store.readFile(x.file.sha256, { offset: x.t.offset!, length })[Symbol.asyncIterator](),
    );
    const b = readAhead(
      this.store.readFile(y.file.sha256, { offset: y.t.offset!, length })[Symbol.asyncIterator](),
    );
    let pa: Uint8Array = new Uint8Array(0);
    let pb: Uint8Array = new Uint8Array(0);
    let read = 0;
    const more = async (it: AsyncIterator<Uint8Array>, rest: Uint8Array) => {
      const next = await it.next();
      if (next.done) return null;
      read += next.value.length;
      return rest.length === 0 ? next.value : Buffer.concat([rest, next.value]);
    };
    for (;;) {
      const common = Math.min(pa.length, pb.length);
      const even = common - (common % acc.unit);
      if (even > 0) {
        acc.update(pa.subarray(0, even), pb.subarray(0, even));
        pa = pa.subarray(even);
        pb = pb.subarray(even);
        continue;
      }
      // Refill the side that ran short (both when both did).
      const [na, nb] = await Promise.all([
        pa.length <= pb.length ? more(a, pa) : pa,
        pb.length <= pa.length ? more(b, pb) : pb,
      ]);
      if (na === null || nb === null) break; // equal lengths: both end together
      pa = na;
      pb = nb;
    }
    await Promise.all([a.return?.(), b.return?.()]);
    return read;
  }
}

/**
 * Asks `source` for its next part as soon as the current one is handed out, so reading the
 * next chunk overlaps with the caller's work on this one (one part ahead: bounded memory).
 */
function readAhead(source: AsyncIterator<Uint8Array>): AsyncIterator<Uint8Array> {
  let pending = source.next();
  return {
    async next() {
      const r = await pending;
      if (!r.done) pending = source.next();
      return r;
    },
    async return() {
      pending.catch(() => undefined);
      return (await source.return?.()) ?? { done: true, value: undefined };
    },
  };
}

/** Counts by status, overall and per layer prefix. */
function tally(entries: readonly TensorDiffEntry[]): Pick<TensorDiff, 'counts' | 'groups'> {
  const counts = { added: 0, removed: 0, changed: 0, unchanged: 0 };
  type Group = { -readonly [K in keyof TensorGroupSummary]: TensorGroupSummary[K] };
  const groups = new Map<string, Group>();
  for (const e of entries) {
    counts[e.status]++;
    const prefix = layerPrefix(e.name);
    let g = groups.get(prefix);
    if (!g) {
      g = { prefix, added: 0, removed: 0, changed: 0, unchanged: 0 };
      groups.set(prefix, g);
    }
    g[e.status]++;
    const rel = e.stats?.relativeL2;
    if (typeof rel === 'number') g.maxRelativeL2 = Math.max(g.maxRelativeL2 ?? 0, rel);
  }
  return { counts, groups: [...groups.values()] };
}

/** The chunk index range [from, to) exactly covering [offset, offset + length), if aligned. */
function alignedRun(
  chunks: ChunkMap,
  offset: number,
  length: number,
): { from: number; to: number } | undefined {
  const { ends } = chunks;
  let lo = 0;
  let hi = ends.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ends[mid]! <= offset) lo = mid + 1;
    else hi = mid;
  }
  const startOf = (k: number) => (k === 0 ? 0 : ends[k - 1]!);
  if (lo >= ends.length || startOf(lo) !== offset) return undefined;
  let to = lo;
  while (to < ends.length && ends[to]! < offset + length) to++;
  if (to >= ends.length || ends[to] !== offset + length) return undefined;
  return { from: lo, to: to + 1 };
}

/**
 * The contract every store in the storage benchmark implements — the peers (git-lfs, borg,
 * restic) and Modelvault itself — so the harness times them all the same way.
 *
 * Lifecycle, driven by bench/storage.ts, one fresh instance per series:
 *   init(dir) once → ingestVersion(v1) … ingestVersion(vN) in order → storedBytes() →
 *   materialize(label, dest) any number of times → close() once.
 * The harness runs `sync` after each ingest and materialize and times that separately, so
 * an implementation should neither call `sync` itself nor exclude its own fsyncs.
 */

/** One version to store: a directory of files (here, one `model.safetensors`). */
export interface VersionInput {
  /** `v01`, `v02`, …: unique within the series; later passed back to `materialize`. */
  readonly label: string;
  /** Absolute path of the version's directory. Never modified by the store. */
  readonly dir: string;
}

export interface TimedResult {
  /** Wall seconds of the operation proper (tool start-up included for external tools). */
  readonly seconds: number;
  /** user + system CPU seconds, when the implementation can tell. */
  readonly cpuSeconds?: number;
  /** Peak resident set size of the process doing the work, when it can tell. */
  readonly maxRssBytes?: number;
  /** Implementation-specific figures (new bytes, chunk counts…), copied into results JSON. */
  readonly detail?: Readonly<Record<string, unknown>>;
}

export interface StoreUnderTest {
  /** Short id used in tables and on the command line: `modelvault`, `borg`, `git-lfs`… */
  readonly name: string;
  /** One line: tool, version and settings, e.g. `borg 1.2.4, buzhash 14,18,16,4095, lz4`. */
  readonly description: string;
  /** Creates an empty repository in `dir` (which does not exist yet, or is empty). */
  init(dir: string): Promise<void>;
  /** Stores one version; resolves when the tool says it is stored. */
  ingestVersion(version: VersionInput): Promise<TimedResult>;
  /**
   * Writes the files of version `label` under `destDir` (absent; created by the store).
   * Stores may nest paths (restic restores absolute paths); the harness finds files by name.
   */
  materialize(label: string, destDir: string): Promise<TimedResult>;
  /** Bytes the repository occupies (apparent size, like `du -sb`), caches excluded. */
  storedBytes(): Promise<number>;
  close(): Promise<void>;
}

/** Creates a store; `null` (with a reason) when it cannot run on this machine. */
export type StoreFactory = () => Promise<StoreUnderTest | { readonly skipped: string }>;

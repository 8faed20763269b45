/**
 * The MLflow artifact proxy's store (DESIGN §5): a mutable tree of artifact paths as MLflow's
 * `mlflow-artifacts` proxy sees them (`<experiment>/<run>/artifacts/<path>`), whose file
 * bytes live in the deduplicating engine. Two runs logging the same checkpoint store it
 * once; a version registered from a run's artifacts freezes the subtree into an immutable
 * manifest without copying a byte (`freeze`).
 *
 * Layout (tables of migration 0301-artifacts, metadata/artifact-schema.ts):
 *
 *   mlflow_artifact_entries  (dir, name) → kind, and for files sha256/size/manifest
 *   mlflow_artifact_uploads  multipart uploads in progress (an upload idle longer than its
 *                            time to live, default 24 hours, expires: `expireUploads`)
 *   mlflow_artifact_parts    their received parts, each a stored file
 *
 * Liveness: every stored file is referenced by a one-entry manifest (`{path: 'blob'}`) whose
 * digest sits on its row; `liveManifests()` lists them for garbage collection. Identical
 * bytes have one such manifest, so deleting one run's copy never frees another's.
 *
 * Paths: relative, `/`-separated, no empty, `.` or `..` segments, no backslash, control
 * characters or drive prefix, ≤ 4096 bytes and 255 bytes a segment (core/names.ts). The
 * first segment `_modelvault` is reserved for the read-only views of frozen versions
 * (`_modelvault/models/<name>@<version>/…`, served by the routes from version manifests),
 * so user paths can never collide with them.
 *
 * Writes stream: an upload goes to a temp file inside the store's own temp directory
 * (never the whole file in memory), is ingested, then recorded; a failed or aborted upload
 * records nothing and leaves no temp file behind.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CompiledQuery, type ExpressionBuilder, type Kysely, SqliteAdapter } from 'kysely';
import type { Sha256Hex } from '../core/digest.js';
import { InvalidArgumentError, NotFoundError } from '../core/errors.js';
import { validateManifestPath } from '../core/names.js';
import type { ArtifactTables } from '../metadata/artifact-schema.js';
import { constantStatement } from '../metadata/constant-statements.js';
import type { NamedMigration } from '../metadata/database.js';
import { artifactsMigration } from '../metadata/migrations/0301-artifacts.js';
import { artifactUploadActivityMigration } from '../metadata/migrations/0308-artifact-upload-activity.js';
import {
  executeCompiled,
  PreparedQueryFamily,
  prepareQuery,
  rowsOf,
} from '../metadata/prepared-query.js';
import type { CommitOptions, Manifest, ManifestEntry } from '../storage/content-store.js';
import type { StorageTables } from '../storage/index/storage-schema.js';
import type { Store } from '../storage/store.js';
import { describePeriod } from './retention.js';
import { spoolToFile } from './spool-to-file.js';

/** Migrations the artifact service needs, run by whoever opens the metadata database. */
export const ARTIFACT_MIGRATIONS: readonly NamedMigration[] = [
  artifactsMigration,
  artifactUploadActivityMigration,
];

/** First path segment reserved for Modelvault's read-only views (frozen versions). */
export const RESERVED_ARTIFACT_ROOT = '_modelvault';

/** The entry name inside the one-entry manifests that keep artifact bytes alive. */
const BLOB_ENTRY = 'blob';
const UPLOAD_ID = /^[0-9a-f]{32}$/;
export const MAX_UPLOAD_PARTS = 10_000;
/**
 * A multipart upload that receives no part for this long expires (as the native upload
 * sessions do): it is refused, and garbage collection drops it with its parts.
 */
export const DEFAULT_UPLOAD_TTL_MS = 24 * 60 * 60 * 1000;
const SQL_BATCH = 300;

type Tables = ArtifactTables & StorageTables;

/**
 * The reads every freeze (model-versions/create) runs, compiled once (prepared-query.ts):
 * built with Kysely they cost more to compile than SQLite spends running them.
 */
const Q = {
  entry: prepareQuery((db: Kysely<Tables>, p: { dir: string; name: string }) =>
    db
      .selectFrom('mlflow_artifact_entries')
      .select(['kind', 'sha256', 'size'])
      .where('dir', '=', p.dir)
      .where('name', '=', p.name),
  ),
  /** The entries of `n` directories, one statement per count. */
  entriesOf: new PreparedQueryFamily((n: number) =>
    prepareQuery((db: Kysely<Tables>, p: { dirs: readonly { dir: string }[] }) =>
      db
        .selectFrom('mlflow_artifact_entries')
        .select(['dir', 'name', 'kind', 'sha256', 'size'])
        .where(
          'dir',
          'in',
          rowsOf(p.dirs, n).map((d) => d.dir),
        ),
    ),
  ),
};

/** A row of `entriesOf` (and of ENTRY_AND_CHILDREN). */
interface EntryRow {
  readonly dir: string;
  readonly name: string;
  readonly kind: string;
  readonly sha256: string | null;
  readonly size: number | null;
}

/** PostgreSQL: the entry ($1, $2) and the entries of directory $3, its path (filesAt). */
const ENTRY_AND_CHILDREN =
  constantStatement(`select dir, name, kind, sha256, size from mlflow_artifact_entries
where (dir = $1 and name = $2) or dir = $3`);

/** The slice of the metadata database the service uses (structurally `Database`). */
export interface ArtifactDb {
  readonly db: Kysely<Tables>;
  writeTransaction<T>(fn: (trx: Kysely<Tables>) => Promise<T>): Promise<T>;
}

export interface ArtifactServiceOptions {
  readonly store: Store;
  /** Default: the store's own database, which must have run ARTIFACT_MIGRATIONS. */
  readonly db?: ArtifactDb;
  /** Largest single artifact or multipart part. Default 64 GiB. */
  readonly maxFileBytes?: number;
  /** How long a multipart upload may go without receiving a part. Default 24 hours. */
  readonly uploadTtlMs?: number;
  readonly now?: () => number;
}

export interface ArtifactFile {
  readonly path: string;
  readonly sha256: Sha256Hex;
  readonly size: number;
}

/** One entry of a directory listing: its name (not its full path), as MLflow's proxy answers. */
export interface ArtifactListEntry {
  readonly name: string;
  readonly isDir: boolean;
  /** Files only. */
  readonly size?: number;
}

/** What a path names: a file, a directory, or nothing. */
export type ArtifactNode =
  | { readonly kind: 'file'; readonly file: ArtifactFile }
  | { readonly kind: 'dir' }
  | { readonly kind: 'none' };

export interface MultipartUpload {
  readonly uploadId: string;
  readonly path: string;
  readonly numParts: number;
}

export interface CompletedPart {
  readonly partNumber: number;
  /** As returned in the part upload's ETag header (quotes optional). */
  readonly etag: string;
}

/**
 * A validated artifact path. `what` names it in errors (`artifact path`).
 * @throws InvalidArgumentError naming the value and the rule.
 */
export function checkArtifactPath(value: unknown, what = 'artifact path'): string {
  try {
    return validateManifestPath(value);
  } catch (e) {
    if (e instanceof InvalidArgumentError) {
      throw new InvalidArgumentError(e.message.replace('manifest path', what), e.details);
    }
    throw e;
  }
}

/** True when `path` lies in the reserved read-only namespace. */
export function isReservedArtifactPath(path: string): boolean {
  return path === RESERVED_ARTIFACT_ROOT || path.startsWith(`${RESERVED_ARTIFACT_ROOT}/`);
}

function splitPath(path: string): { dir: string; name: string } {
  const slash = path.lastIndexOf('/');
  return slash < 0
    ? { dir: '', name: path }
    : { dir: path.slice(0, slash), name: path.slice(slash + 1) };
}

function joinPath(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

/** Every proper ancestor directory of `path`, outermost first (`a`, `a/b` for `a/b/c`). */
function ancestors(path: string): string[] {
  const segments = path.split('/');
  const out: string[] = [];
  for (let i = 1; i < segments.length; i++) out.push(segments.slice(0, i).join('/'));
  return out;
}

function* batches<T>(items: readonly T[], size = SQL_BATCH): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

function stripQuotes(etag: string): string {
  return etag
    .trim()
    .replace(/^W\//, '')
    .replace(/^"(.*)"$/, '$1');
}

export class ArtifactService {
  private readonly store: Store;
  private readonly sdb: ArtifactDb;
  private readonly maxFileBytes: number;
  private readonly uploadTtlMs: number;
  private readonly now: () => number;

  constructor(options: ArtifactServiceOptions) {
    this.store = options.store;
    this.sdb = options.db ?? (options.store.index.storageDb as unknown as ArtifactDb);
    this.maxFileBytes = options.maxFileBytes ?? 64 * 1024 ** 3;
    this.uploadTtlMs = options.uploadTtlMs ?? DEFAULT_UPLOAD_TTL_MS;
    this.now = options.now ?? Date.now;
  }

  private get db(): Kysely<Tables> {
    return this.sdb.db;
  }

  // ------------------------------------------------------------------ reads

  /** What `path` names. `''` is the root directory. */
  async stat(path: string): Promise<ArtifactNode> {
    if (path === '') return { kind: 'dir' };
    const { dir, name } = splitPath(path);
    const row = await Q.entry.executeTakeFirst(this.db, { dir, name });
    if (!row) return { kind: 'none' };
    if (row.kind === 'dir') return { kind: 'dir' };
    return {
      kind: 'file',
      file: { path, sha256: row.sha256 as Sha256Hex, size: Number(row.size) },
    };
  }

  /** The file at `path`. @throws NotFoundError when it is absent or a directory. */
  async getFile(path: string): Promise<ArtifactFile> {
    const node = await this.stat(checkArtifactPath(path));
    if (node.kind !== 'file') {
      throw new NotFoundError(`artifact '${path}' not found`, { path });
    }
    return node.file;
  }

  /**
   * The entries directly under directory `dir` (`''` for the root), by name. Empty when
   * `dir` is a file or does not exist: MLflow's proxy answers both with an empty listing.
   */
  async list(dir: string): Promise<ArtifactListEntry[]> {
    const rows = await this.db
      .selectFrom('mlflow_artifact_entries')
      .select(['name', 'kind', 'size'])
      .where('dir', '=', dir)
      .orderBy('name')
      .execute();
    return rows.map((r) =>
      r.kind === 'dir'
        ? { name: r.name, isDir: true }
        : { name: r.name, isDir: false, size: Number(r.size) },
    );
  }

  /**
   * Every file under directory `dir` (recursively) with its path relative to `dir`, sorted.
   * A directory per query: model directories are shallow.
   */
  async listTree(dir: string): Promise<ManifestEntry[]> {
    return this.walkTree(dir, [dir], []);
  }

  /**
   * listTree of `dir` from `rows` (entries under it already read) and the directories
   * under it still to read, `pending`.
   */
  private async walkTree(
    dir: string,
    pending: string[],
    rows: readonly EntryRow[],
  ): Promise<ManifestEntry[]> {
    const out: ManifestEntry[] = [];
    const take = (list: readonly EntryRow[]) => {
      for (const r of list) {
        const full = joinPath(r.dir, r.name);
        if (r.kind === 'dir') pending.push(full);
        else
          out.push({
            path: full.slice(dir.length + 1),
            sha256: r.sha256 as Sha256Hex,
            size: Number(r.size),
          });
      }
    };
    take(rows);
    while (pending.length > 0) {
      const batch = pending.splice(0, SQL_BATCH);
      take(
        await Q.entriesOf
          .for(batch.length)
          .execute(this.db, { dirs: batch.map((d) => ({ dir: d })) }),
      );
    }
    return out.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  }

  /**
   * What freeze freezes: the file at `path` (named by its last segment), or every file
   * under the directory `path` (listTree; none when there is nothing at `path`).
   */
  private async filesAt(path: string): Promise<ManifestEntry[]> {
    const { dir, name } = splitPath(path);
    if (path === '' || this.db.getExecutor().adapter instanceof SqliteAdapter) {
      const node = await this.stat(path);
      return node.kind === 'file'
        ? [{ path: name, sha256: node.file.sha256, size: node.file.size }]
        : this.listTree(path);
    }
    // On a server database each statement is a round trip: the entry at `path` and the
    // entries directly under it (listTree's first read) in one.
    const rows = (
      await executeCompiled(this.db, CompiledQuery.raw(ENTRY_AND_CHILDREN, [dir, name, path]))
    ).rows as EntryRow[];
    const self = rows.find((r) => r.dir === dir && r.name === name);
    if (self?.kind === 'file') {
      return [{ path: name, sha256: self.sha256 as Sha256Hex, size: Number(self.size) }];
    }
    return this.walkTree(
      path,
      [],
      rows.filter((r) => r.dir === path),
    );
  }

  /**
   * Freezes the files under directory `dir` into an immutable manifest over the bytes
   * already stored (nothing is copied). Later writes under `dir` do not change it.
   * `options.durable`: see CommitOptions (false when a version naming it is committed next).
   * @throws NotFoundError when `dir` holds no file.
   */
  async freeze(dir: string, options: CommitOptions = {}): Promise<Manifest> {
    const path = checkArtifactPath(dir);
    const entries = await this.filesAt(path);
    if (entries.length === 0) {
      throw new NotFoundError(`no artifacts under '${path}'`, { path });
    }
    return this.store.commitManifest(entries, options);
  }

  /**
   * Manifests that keep artifact bytes alive (for garbage collection); with `among`, only
   * those of these digests, read through `db` (GC's re-check inside its transaction).
   */
  async liveManifests(among?: readonly string[], handle?: unknown): Promise<Set<string>> {
    // `handle`: a handle on the same database (a transaction of another service's types).
    const db = (handle ?? this.db) as Kysely<Tables>;
    const live = new Set<string>();
    if (among !== undefined && among.length === 0) return live;
    let entries = db
      .selectFrom('mlflow_artifact_entries')
      .select('manifest')
      .distinct()
      .where('manifest', 'is not', null);
    if (among !== undefined) entries = entries.where('manifest', 'in', [...among]);
    for (const r of await entries.execute()) live.add(r.manifest as string);
    let partsQuery = db.selectFrom('mlflow_artifact_parts').select('manifest').distinct();
    if (among !== undefined) partsQuery = partsQuery.where('manifest', 'in', [...among]);
    const parts = await partsQuery.execute();
    for (const r of parts) live.add(r.manifest);
    return live;
  }

  // ----------------------------------------------------------------- writes

  /**
   * Stores the bytes of `body` as the file at `path`, replacing a file already there.
   * Streams; nothing is recorded unless every byte arrived.
   * @throws InvalidArgumentError (bad or reserved path; a directory is in the way, or a
   *   file where a directory is needed), ModelvaultError TOO_LARGE.
   */
  async put(path: string, body: AsyncIterable<Uint8Array>): Promise<ArtifactFile> {
    const p = this.checkWritable(path);
    await this.checkPlacement(this.db, p);
    const stored = await this.ingest(body);
    await this.sdb.writeTransaction(async (trx) => {
      await this.checkPlacement(trx, p);
      await this.record(trx, p, stored);
    });
    return { path: p, sha256: stored.sha256, size: stored.size };
  }

  /**
   * Deletes the file or the whole directory at `path`, then any directory left empty.
   * Idempotent (MLflow's proxy answers a missing path with success). Resolves the number
   * of files removed.
   */
  async delete(path: string): Promise<number> {
    const p = this.checkWritable(path);
    return this.sdb.writeTransaction(async (trx) => {
      const { dir, name } = splitPath(p);
      const row = await trx
        .selectFrom('mlflow_artifact_entries')
        .select('kind')
        .where('dir', '=', dir)
        .where('name', '=', name)
        .executeTakeFirst();
      if (!row) return 0;
      let files = 1;
      if (row.kind === 'dir') {
        files = 0;
        const dirs = [p];
        for (let i = 0; i < dirs.length; i++) {
          const children = await trx
            .selectFrom('mlflow_artifact_entries')
            .select(['name', 'kind'])
            .where('dir', '=', dirs[i]!)
            .execute();
          for (const c of children) {
            if (c.kind === 'dir') dirs.push(joinPath(dirs[i]!, c.name));
            else files++;
          }
        }
        for (const b of batches(dirs)) {
          await trx.deleteFrom('mlflow_artifact_entries').where('dir', 'in', b).execute();
        }
      }
      await trx
        .deleteFrom('mlflow_artifact_entries')
        .where('dir', '=', dir)
        .where('name', '=', name)
        .execute();
      await this.pruneEmpty(trx, dir);
      return files;
    });
  }

  /**
   * Removes everything at and under `root` (a directory or a file) — its entries, and the
   * multipart uploads into it with their parts — then the directories left empty above
   * it, through `handle`: a write transaction on the same database, whose caller decided
   * in it that the tree goes (purging a run, tracking-purge.ts). Each statement is a range
   * of the (dir, name) key in byte order (SQLite's BINARY, PostgreSQL's "C" collation):
   * nothing under `root` is read into memory. Resolves the number of files removed.
   * @throws InvalidArgumentError (a bad or reserved path), as delete().
   */
  async deleteTree(handle: unknown, root: string): Promise<number> {
    const p = this.checkWritable(root);
    const trx = handle as Kysely<Tables>;
    // Every path strictly under p starts with `p/`; '0' is the character after '/'.
    const lo = `${p}/`;
    const hi = `${p}0`;
    let files = 0;
    for (const kind of ['file', 'dir'] as const) {
      const direct = await trx
        .deleteFrom('mlflow_artifact_entries')
        .where('dir', '=', p)
        .where('kind', '=', kind)
        .executeTakeFirst();
      const nested = await trx
        .deleteFrom('mlflow_artifact_entries')
        .where('dir', '>=', lo)
        .where('dir', '<', hi)
        .where('kind', '=', kind)
        .executeTakeFirst();
      if (kind === 'file') files += Number(direct.numDeletedRows) + Number(nested.numDeletedRows);
    }
    const { dir, name } = splitPath(p);
    const self = await trx
      .deleteFrom('mlflow_artifact_entries')
      .where('dir', '=', dir)
      .where('name', '=', name)
      .returning('kind')
      .executeTakeFirst();
    if (self?.kind === 'file') files++;
    const uploads = (eb: ExpressionBuilder<Tables, 'mlflow_artifact_uploads'>) =>
      eb.or([eb('path', '=', p), eb.and([eb('path', '>=', lo), eb('path', '<', hi)])]);
    await trx
      .deleteFrom('mlflow_artifact_parts')
      .where('upload_id', 'in', (eb) =>
        eb.selectFrom('mlflow_artifact_uploads').select('id').where(uploads),
      )
      .execute();
    await trx.deleteFrom('mlflow_artifact_uploads').where(uploads).execute();
    await this.pruneEmpty(trx, dir);
    return files;
  }

  // -------------------------------------------------------------- multipart

  /**
   * Opens a multipart upload of the file `path` in `numParts` parts (1..10000).
   * @throws InvalidArgumentError (path, numParts, placement).
   */
  async createUpload(path: string, numParts: number): Promise<MultipartUpload> {
    const p = this.checkWritable(path);
    if (!Number.isSafeInteger(numParts) || numParts < 1 || numParts > MAX_UPLOAD_PARTS) {
      throw new InvalidArgumentError(
        `num_parts must be an integer from 1 to ${MAX_UPLOAD_PARTS}, got ${String(numParts).slice(0, 40)}`,
      );
    }
    await this.checkPlacement(this.db, p);
    const uploadId = randomBytes(16).toString('hex');
    const now = this.now();
    await this.sdb.writeTransaction(async (trx) => {
      await trx
        .insertInto('mlflow_artifact_uploads')
        .values({ id: uploadId, path: p, num_parts: numParts, created_at: now, updated_at: now })
        .execute();
    });
    return { uploadId, path: p, numParts };
  }

  /**
   * Stores one part (streamed; re-sending a part replaces it) and restarts the upload's
   * time to live. Resolves its ETag value (the part's SHA-256).
   * @throws NotFoundError (no such upload, or it expired), InvalidArgumentError (part number).
   */
  async putPart(
    uploadId: string,
    partNumber: number,
    body: AsyncIterable<Uint8Array>,
  ): Promise<string> {
    const upload = await this.findUpload(uploadId);
    if (!Number.isSafeInteger(partNumber) || partNumber < 1 || partNumber > upload.numParts) {
      throw new InvalidArgumentError(
        `part number must be from 1 to ${upload.numParts}, got ${String(partNumber).slice(0, 40)}`,
      );
    }
    const stored = await this.ingest(body);
    await this.sdb.writeTransaction(async (trx) => {
      // The upload may have been completed, aborted or expired meanwhile: then the part is
      // dropped. A part that was being received when the time to live ran out still counts
      // as activity, as long as garbage collection has not dropped the upload.
      const still = await trx
        .updateTable('mlflow_artifact_uploads')
        .set({ updated_at: this.now() })
        .where('id', '=', uploadId)
        .returning('id')
        .executeTakeFirst();
      if (!still) throw this.uploadNotFound(uploadId);
      await trx
        .deleteFrom('mlflow_artifact_parts')
        .where('upload_id', '=', uploadId)
        .where('part_number', '=', partNumber)
        .execute();
      await trx
        .insertInto('mlflow_artifact_parts')
        .values({
          upload_id: uploadId,
          part_number: partNumber,
          sha256: stored.sha256,
          size: stored.size,
          manifest: stored.manifest,
        })
        .execute();
    });
    return stored.sha256;
  }

  /**
   * Assembles the listed parts, in part-number order, into the upload's file: their bytes
   * are streamed from the store into one temp file and ingested (chunks shared with the
   * parts are not stored again). Ends the upload.
   * @throws NotFoundError (upload; a part never received), InvalidArgumentError (the path
   *   differs from the upload's, parts out of order or repeated, an ETag mismatch).
   */
  async completeUpload(
    uploadId: string,
    path: string,
    parts: readonly CompletedPart[],
  ): Promise<ArtifactFile> {
    const upload = await this.findUpload(uploadId);
    const p = checkArtifactPath(path);
    if (p !== upload.path) {
      throw new InvalidArgumentError(`upload '${uploadId}' is for '${upload.path}', not '${p}'`, {
        upload: uploadId,
      });
    }
    if (parts.length === 0) throw new InvalidArgumentError('parts must not be empty');
    const received = new Map(
      (
        await this.db
          .selectFrom('mlflow_artifact_parts')
          .select(['part_number', 'sha256', 'size'])
          .where('upload_id', '=', uploadId)
          .execute()
      ).map((r) => [r.part_number, r]),
    );
    let previous = 0;
    const ordered: Sha256Hex[] = [];
    for (const part of parts) {
      if (!Number.isSafeInteger(part.partNumber) || part.partNumber <= previous) {
        throw new InvalidArgumentError('parts must be listed once each, by ascending part_number');
      }
      previous = part.partNumber;
      const r = received.get(part.partNumber);
      if (!r) {
        throw new NotFoundError(
          `part ${part.partNumber} of upload '${uploadId}' was not received`,
          {
            upload: uploadId,
          },
        );
      }
      if (stripQuotes(String(part.etag)) !== r.sha256) {
        throw new InvalidArgumentError(
          `part ${part.partNumber} of upload '${uploadId}': etag does not match the stored part`,
        );
      }
      ordered.push(r.sha256 as Sha256Hex);
    }
    const store = this.store;
    async function* assembled(): AsyncGenerator<Uint8Array> {
      for (const sha of ordered) yield* store.readFile(sha);
    }
    const stored = await this.ingest(assembled());
    await this.sdb.writeTransaction(async (trx) => {
      await this.checkPlacement(trx, p);
      await this.record(trx, p, stored);
      await this.dropUpload(trx, uploadId);
    });
    return { path: p, sha256: stored.sha256, size: stored.size };
  }

  /** Ends an upload without a file. @throws NotFoundError (no such upload, or it expired). */
  async abortUpload(uploadId: string): Promise<void> {
    await this.findUpload(uploadId);
    await this.sdb.writeTransaction((trx) => this.dropUpload(trx, uploadId));
  }

  /**
   * Drops the multipart uploads idle longer than the time to live, with their received
   * parts, whose bytes garbage collection may then free (a client that crashed mid-upload
   * never aborts; without this its parts were kept forever). With `dryRun` only counts
   * them. Resolves how many uploads expired.
   */
  async expireUploads(options: { readonly dryRun?: boolean } = {}): Promise<number> {
    const cutoff = this.now() - this.uploadTtlMs;
    if (options.dryRun) {
      const rows = await this.db
        .selectFrom('mlflow_artifact_uploads')
        .select('id')
        .where('updated_at', '<', cutoff)
        .execute();
      return rows.length;
    }
    return this.sdb.writeTransaction(async (trx) => {
      await trx
        .deleteFrom('mlflow_artifact_parts')
        .where('upload_id', 'in', (eb) =>
          eb.selectFrom('mlflow_artifact_uploads').select('id').where('updated_at', '<', cutoff),
        )
        .execute();
      const { numDeletedRows } = await trx
        .deleteFrom('mlflow_artifact_uploads')
        .where('updated_at', '<', cutoff)
        .executeTakeFirst();
      return Number(numDeletedRows);
    });
  }

  // --------------------------------------------------------------- internals

  private checkWritable(path: string): string {
    const p = checkArtifactPath(path);
    if (isReservedArtifactPath(p)) {
      throw new InvalidArgumentError(
        `artifact path '${p.slice(0, 200)}' is in the reserved read-only namespace '${RESERVED_ARTIFACT_ROOT}/'`,
        { path: p.slice(0, 200) },
      );
    }
    return p;
  }

  private uploadNotFound(uploadId: string): NotFoundError {
    return new NotFoundError(
      `multipart upload '${String(uploadId).slice(0, 64)}' not found (it may have expired: an upload expires ${describePeriod(this.uploadTtlMs)} after its last part)`,
      { upload: String(uploadId).slice(0, 64) },
    );
  }

  private async findUpload(uploadId: string): Promise<MultipartUpload> {
    if (typeof uploadId !== 'string' || !UPLOAD_ID.test(uploadId)) {
      throw this.uploadNotFound(uploadId);
    }
    const row = await this.db
      .selectFrom('mlflow_artifact_uploads')
      .selectAll()
      .where('id', '=', uploadId)
      .executeTakeFirst();
    // Expired by the same rule as expireUploads, whether or not gc has dropped it yet.
    if (!row || Number(row.updated_at) < this.now() - this.uploadTtlMs) {
      throw this.uploadNotFound(uploadId);
    }
    return { uploadId: row.id, path: row.path, numParts: row.num_parts };
  }

  private async dropUpload(trx: Kysely<Tables>, uploadId: string): Promise<void> {
    await trx.deleteFrom('mlflow_artifact_parts').where('upload_id', '=', uploadId).execute();
    await trx.deleteFrom('mlflow_artifact_uploads').where('id', '=', uploadId).execute();
  }

  /**
   * A file may go at `path` when no ancestor is a file and `path` is not a directory.
   * @throws InvalidArgumentError naming the obstacle.
   */
  private async checkPlacement(db: Kysely<Tables>, path: string): Promise<void> {
    const keys = [...ancestors(path), path].map(splitPath);
    const rows = await db
      .selectFrom('mlflow_artifact_entries')
      .select(['dir', 'name', 'kind'])
      .where((eb) =>
        eb.or(keys.map((k) => eb.and([eb('dir', '=', k.dir), eb('name', '=', k.name)]))),
      )
      .execute();
    for (const r of rows) {
      const full = joinPath(r.dir, r.name);
      if (full === path && r.kind === 'dir') {
        throw new InvalidArgumentError(`artifact path '${path}' is a directory`, { path });
      }
      if (full !== path && r.kind === 'file') {
        throw new InvalidArgumentError(
          `cannot store '${path}': '${full}' is a file, not a directory`,
          { path },
        );
      }
    }
  }

  /** Inserts or replaces the file row of `path`, creating its ancestor directories. */
  private async record(
    trx: Kysely<Tables>,
    path: string,
    stored: { sha256: Sha256Hex; size: number; manifest: string },
  ): Promise<void> {
    const now = this.now();
    for (const a of ancestors(path)) {
      const { dir, name } = splitPath(a);
      await trx
        .insertInto('mlflow_artifact_entries')
        .values({
          dir,
          name,
          kind: 'dir',
          sha256: null,
          size: null,
          manifest: null,
          updated_at: now,
        })
        .onConflict((oc) => oc.columns(['dir', 'name']).doNothing())
        .execute();
    }
    const { dir, name } = splitPath(path);
    await trx
      .insertInto('mlflow_artifact_entries')
      .values({
        dir,
        name,
        kind: 'file',
        sha256: stored.sha256,
        size: stored.size,
        manifest: stored.manifest,
        updated_at: now,
      })
      .onConflict((oc) =>
        oc.columns(['dir', 'name']).doUpdateSet({
          sha256: stored.sha256,
          size: stored.size,
          manifest: stored.manifest,
          updated_at: now,
        }),
      )
      .execute();
  }

  /** Removes `dir` and its ancestors while they have no entries left. */
  private async pruneEmpty(trx: Kysely<Tables>, dir: string): Promise<void> {
    let current = dir;
    while (current !== '') {
      const child = await trx
        .selectFrom('mlflow_artifact_entries')
        .select('name')
        .where('dir', '=', current)
        .limit(1)
        .executeTakeFirst();
      if (child) return;
      const { dir: parent, name } = splitPath(current);
      await trx
        .deleteFrom('mlflow_artifact_entries')
        .where('dir', '=', parent)
        .where('name', '=', name)
        .where('kind', '=', 'dir')
        .execute();
      current = parent;
    }
  }

  /**
   * Streams `body` into a temp file in the store's temp directory, ingests it and commits
   * the one-entry manifest that keeps it alive. The temp file is always removed.
   */
  private async ingest(
    body: AsyncIterable<Uint8Array>,
  ): Promise<{ sha256: Sha256Hex; size: number; manifest: string }> {
    const tmp = join(this.store.tmpDir, `artifact-${randomBytes(8).toString('hex')}.tmp`);
    try {
      await spoolToFile(body, tmp, { limit: this.maxFileBytes, what: 'artifact' });
      const file = await this.store.ingestFile(tmp);
      const manifest = await this.store.commitManifest([
        { path: BLOB_ENTRY, sha256: file.sha256, size: file.size },
      ]);
      return { sha256: file.sha256, size: file.size, manifest: manifest.digest };
    } finally {
      await rm(tmp, { force: true });
    }
  }
}

/**
 * Server side of remote pushes (DESIGN §3 "Remote upload"): upload sessions that negotiate
 * which chunks the server lacks, receive them in verified batches, and commit a version
 * once every new file has been rebuilt from its stored chunks and hashed.
 *
 * Lifecycle of a session (state in `upload_sessions`, migration 0200-uploads):
 *
 *   create(files) ──► open ──receiveChunks()*──► open ──commit()──► committing ──► committed
 *        ▲                                                               │ failure
 *        └── the same file list again: the same session, still-missing   ▼
 *            chunks only (resumption)                                   open (error kept
 *                                                                       for the next commit)
 *
 * Trust: nothing the client says is believed. Every chunk's bytes are hashed before they
 * are written; at commit every new file is read back from the packs, the whole file hashed
 * and its size checked (and, only if they do not match, each chunk, to name a damaged one),
 * before its file record, the manifest and the version are written — in that order, so a
 * version never becomes visible half-written.
 *
 * Durability: chunks of a batch are written to packs and indexed when the request ends,
 * whether it completed or the connection dropped mid-batch, so a resumed push never resends
 * them. Sessions expire `ttlMs` after their last activity; until then `liveChunkIds()`
 * lists their chunks so garbage collection keeps them.
 */

import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Kysely } from 'kysely';
import { AdmissionGate } from '../core/admission-gate.js';
import { isSha256Hex, type Sha256Hex } from '../core/digest.js';
import {
  ConflictError,
  InvalidArgumentError,
  ModelvaultError,
  NotFoundError,
  VerificationError,
} from '../core/errors.js';
import { validateManifestPath, validateModelName } from '../core/names.js';
import type { ModelVersion, RegistryApi, TransferStats } from '../core/registry-api.js';
import {
  type ChunkBatchResult,
  type CommitUploadRequest,
  type CommitUploadResult,
  type CreateUploadRequest,
  FILE_FORMATS,
  UPLOAD_ID_PATTERN,
  type UploadChunkSpec,
  type UploadSession,
} from '../core/upload-protocol.js';
import type { NamedMigration } from '../metadata/database.js';
import { uploadsMigration } from '../metadata/migrations/0200-uploads.js';
import type { UploadSessionsTable, UploadTables } from '../metadata/upload-schema.js';
import { blobToId, idToBlob } from '../storage/index/chunk-id.js';
import {
  type ChunkLocation,
  chunkIdsToHex,
  MissingChunksError,
} from '../storage/index/chunk-index.js';
import type { StorageTables } from '../storage/index/storage-schema.js';
import { PackWriter } from '../storage/pack-writer.js';
import type { Store } from '../storage/store.js';
import { packKey } from '../storage/store-layout.js';
import { type ChunkFrame, readChunkBatch } from './chunk-batch-reader.js';

/** Migrations the upload service needs, to pass to openDatabase with the others. */
export const UPLOAD_MIGRATIONS: readonly NamedMigration[] = [uploadsMigration];

type Tables = UploadTables & StorageTables;

/** The slice of the metadata database the service uses (structurally `Database`). */
export interface UploadDb {
  readonly db: Kysely<Tables>;
  writeTransaction<T>(fn: (trx: Kysely<Tables>) => Promise<T>): Promise<T>;
}

export interface UploadServiceOptions {
  readonly registry: RegistryApi;
  readonly store: Store;
  /** Default: the store's own database, which must have run UPLOAD_MIGRATIONS. */
  readonly db?: UploadDb;
  /** A session expires this long after its last activity. Default 24 hours. */
  readonly ttlMs?: number;
  /** Largest chunk batch body. Default 64 MiB. */
  readonly maxBatchBytes?: number;
  /**
   * Chunk batches received at once, server-wide. Default 8. Each holds at most
   * GROUP_BYTES of frames plus a pack writer's buffers (~7 MiB), so this bounds the
   * memory uploads take however many clients push; further batches wait (their bodies
   * unread) for a place.
   */
  readonly maxConcurrentBatches?: number;
  /** How long a batch waits for a place before a 503 with Retry-After. Default 30 s. */
  readonly batchWaitMs?: number;
  /** Default 100 000 files per session. */
  readonly maxFiles?: number;
  /** Default 2 000 000 chunks per session (~120 GiB at 64 KiB chunks). */
  readonly maxChunks?: number;
  /** A committer that has not refreshed its lease for this long is presumed dead. Default 2 min. */
  readonly commitLeaseMs?: number;
  readonly now?: () => number;
}

export interface UploadLimits {
  readonly maxBatchBytes: number;
  readonly maxChunkBytes: number;
  readonly maxFiles: number;
  readonly maxChunks: number;
}

const SQL_BATCH = 300;
/** Chunk frames checked together in receiveChunks. */
const GROUP_FRAMES = 256;
const GROUP_BYTES = 4 * 1024 * 1024;
const READ_COALESCE = 8 * 1024 * 1024;

function* batches<T>(items: readonly T[], size = SQL_BATCH): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

interface StoredResult {
  readonly model: string;
  readonly version: number;
  readonly stats: TransferStats;
}

interface CommitJob {
  readonly promise: Promise<CommitUploadResult>;
  readonly commitId: string | null;
}

function sessionNotFound(id: string): NotFoundError {
  return new NotFoundError(`upload session '${id}' not found (it may have expired)`, {
    upload: id,
  });
}

function errorRecord(e: unknown): string {
  const err =
    e instanceof ModelvaultError
      ? e
      : new ModelvaultError('INTERNAL', 'commit failed with an internal error');
  return JSON.stringify(err.toJSON());
}

function errorFromRecord(text: string): ModelvaultError {
  const r = JSON.parse(text) as {
    code: ModelvaultError['code'];
    message: string;
    details?: Record<string, unknown>;
  };
  return new ModelvaultError(r.code, r.message, r.details);
}

export class UploadService {
  readonly limits: UploadLimits;
  /** Admits chunk batches (see `maxConcurrentBatches`); its counts feed /metrics. */
  readonly batchGate: AdmissionGate;
  private readonly registry: RegistryApi;
  private readonly store: Store;
  private readonly sdb: UploadDb;
  private readonly ttlMs: number;
  private readonly leaseMs: number;
  private readonly now: () => number;
  private readonly jobs = new Map<string, CommitJob>();
  /** Identifies this process as a committer. */
  private readonly token = `${hostname()}:${process.pid}:${randomBytes(6).toString('hex')}`;
  private lastExpiry = 0;

  constructor(options: UploadServiceOptions) {
    this.registry = options.registry;
    this.store = options.store;
    // Same database as the chunk index: the upload tables sit beside the storage tables.
    this.sdb = options.db ?? (options.store.index.storageDb as unknown as UploadDb);
    this.ttlMs = options.ttlMs ?? 24 * 60 * 60 * 1000;
    this.leaseMs = options.commitLeaseMs ?? 2 * 60 * 1000;
    this.now = options.now ?? Date.now;
    this.limits = {
      maxBatchBytes: options.maxBatchBytes ?? 64 * 1024 * 1024,
      maxChunkBytes: options.store.chunking.maxSize,
      maxFiles: options.maxFiles ?? 100_000,
      maxChunks: options.maxChunks ?? 2_000_000,
    };
    this.batchGate = new AdmissionGate({
      limit: options.maxConcurrentBatches ?? 8,
      maxWaitMs: options.batchWaitMs ?? 30_000,
      what: 'chunk batches',
    });
  }

  private get db(): Kysely<Tables> {
    return this.sdb.db;
  }

  /**
   * Checks the upload tables exist.
   * @throws ModelvaultError INTERNAL naming the missing migration.
   */
  async init(): Promise<void> {
    try {
      await this.db.selectFrom('upload_sessions').select('id').limit(1).execute();
    } catch (e) {
      throw new ModelvaultError(
        'INTERNAL',
        "the upload tables are missing: open the database with UPLOAD_MIGRATIONS ('0200-uploads')",
        undefined,
        { cause: e },
      );
    }
  }

  // -------------------------------------------------------------------- create

  /**
   * Opens a session for `request.files`, or resumes the caller's unexpired session with
   * exactly the same file list, and lists the chunks the server still lacks.
   * @throws InvalidArgumentError for an invalid file list (paths, digests, chunk lengths
   *   that do not add up, a size that contradicts a stored file with the same sha256);
   *   ModelvaultError TOO_LARGE over maxFiles / maxChunks.
   */
  async create(request: CreateUploadRequest, actor = ''): Promise<UploadSession> {
    const files = this.checkFiles(request);
    const spec = specDigest(files);
    await this.expireMaybe();
    const now = this.now();
    await this.checkStoredSizes(files);

    const existing = await this.db
      .selectFrom('upload_sessions')
      .selectAll()
      .where('spec_digest', '=', spec)
      .where('actor', '=', actor)
      .where('state', '!=', 'committed')
      .where('expires_at', '>', now)
      .orderBy('created_at', 'desc')
      .executeTakeFirst();
    if (existing) {
      await this.touch(existing.id);
      return this.describe({ ...existing, expires_at: now + this.ttlMs }, true);
    }

    const id = randomBytes(16).toString('hex');
    const lengths = new Map<string, number>();
    let chunkCount = 0;
    for (const f of files) {
      for (const c of f.chunks) {
        const known = lengths.get(c.id);
        if (known !== undefined && known !== c.length) {
          throw new InvalidArgumentError(
            `chunk ${c.id} is declared with two lengths (${known} and ${c.length})`,
            { chunk: c.id },
          );
        }
        lengths.set(c.id, c.length);
        chunkCount++;
      }
    }
    const row: UploadSessionsTable = {
      id,
      spec_digest: spec,
      actor,
      state: 'open',
      file_count: files.length,
      chunk_count: chunkCount,
      total_size: files.reduce((s, f) => s + f.size, 0),
      received_chunks: 0,
      received_bytes: 0,
      created_at: now,
      updated_at: now,
      expires_at: now + this.ttlMs,
      committer: null,
      commit_id: null,
      result: null,
      last_error: null,
    };
    await this.sdb.writeTransaction(async (trx) => {
      await trx.insertInto('upload_sessions').values(row).execute();
      for (const b of batches(files, 100)) {
        await trx
          .insertInto('upload_files')
          .values(
            b.map((f) => ({
              session_id: id,
              path: f.path,
              size: f.size,
              sha256: f.sha256,
              format: f.format,
              chunk_ids: Buffer.concat(f.chunks.map((c) => Buffer.from(c.id, 'hex'))),
            })),
          )
          .execute();
      }
      for (const b of batches([...lengths])) {
        await trx
          .insertInto('upload_chunks')
          .values(b.map(([chunk_id, length]) => ({ session_id: id, chunk_id, length })))
          .execute();
      }
    });
    return this.describe(row, false);
  }

  private checkFiles(request: CreateUploadRequest): NormalizedFile[] {
    const list = request?.files;
    if (!Array.isArray(list)) throw new InvalidArgumentError('files must be an array');
    if (list.length > this.limits.maxFiles) {
      throw new ModelvaultError(
        'TOO_LARGE',
        `an upload may hold at most ${this.limits.maxFiles} files, not ${list.length}`,
        { maxFiles: this.limits.maxFiles },
      );
    }
    const seen = new Set<string>();
    let chunks = 0;
    const out: NormalizedFile[] = [];
    for (const f of list) {
      const path = validateManifestPath(f?.path);
      if (seen.has(path)) throw new InvalidArgumentError(`duplicate file path '${path}'`, { path });
      seen.add(path);
      if (!isSha256Hex(f.sha256)) {
        throw new InvalidArgumentError(`invalid sha256 for '${path}'`, { path });
      }
      if (!Number.isSafeInteger(f.size) || f.size < 0) {
        throw new InvalidArgumentError(`invalid size for '${path}'`, { path });
      }
      const format = f.format ?? 'raw';
      if (!(FILE_FORMATS as readonly string[]).includes(format)) {
        throw new InvalidArgumentError(`invalid format '${String(format)}' for '${path}'`, {
          path,
        });
      }
      if (!Array.isArray(f.chunks)) {
        throw new InvalidArgumentError(`chunks of '${path}' must be an array`, { path });
      }
      chunks += f.chunks.length;
      if (chunks > this.limits.maxChunks) {
        throw new ModelvaultError(
          'TOO_LARGE',
          `an upload may hold at most ${this.limits.maxChunks} chunks`,
          { maxChunks: this.limits.maxChunks },
        );
      }
      let sum = 0;
      for (const c of f.chunks) {
        if (!isSha256Hex(c?.id)) {
          throw new InvalidArgumentError(`invalid chunk id in '${path}'`, { path });
        }
        if (!Number.isSafeInteger(c.length) || c.length < 1) {
          throw new InvalidArgumentError(`invalid length of chunk ${c.id} in '${path}'`, {
            path,
            chunk: c.id,
          });
        }
        if (c.length > this.limits.maxChunkBytes) {
          throw new InvalidArgumentError(
            `chunk ${c.id} of '${path}' is ${c.length} bytes; the server accepts chunks up to ${this.limits.maxChunkBytes} bytes (chunk with the parameters of GET /api/v1/info)`,
            { path, chunk: c.id, maxChunkBytes: this.limits.maxChunkBytes },
          );
        }
        sum += c.length;
      }
      if (sum !== f.size) {
        throw new InvalidArgumentError(
          `chunks of '${path}' add up to ${sum} bytes, but its size is ${f.size}`,
          { path },
        );
      }
      out.push({
        path,
        size: f.size,
        sha256: f.sha256,
        format,
        chunks: f.chunks.map((c: UploadChunkSpec) => ({ id: c.id, length: c.length })),
      });
    }
    out.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
    return out;
  }

  /** A declared size that contradicts a stored file with the same digest is a lie. */
  private async checkStoredSizes(files: readonly NormalizedFile[]): Promise<void> {
    const sizes = await this.storedFileSizes(files.map((f) => f.sha256));
    for (const f of files) {
      const stored = sizes.get(f.sha256);
      if (stored !== undefined && stored !== f.size) {
        throw new InvalidArgumentError(
          `'${f.path}' declares ${f.size} bytes, but the stored file ${f.sha256} has ${stored}`,
          { path: f.path, sha256: f.sha256 },
        );
      }
    }
  }

  private async storedFileSizes(shas: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const b of batches([...new Set(shas)])) {
      const rows = await this.db
        .selectFrom('files')
        .select(['sha256', 'size'])
        .where('sha256', 'in', b)
        .execute();
      for (const r of rows) out.set(r.sha256, Number(r.size));
    }
    return out;
  }

  // -------------------------------------------------------------------- status

  /** The session and the chunks it still lacks. @throws NotFoundError */
  async status(id: string, actor = ''): Promise<UploadSession> {
    return this.describe(await this.load(id, actor), false);
  }

  private async load(id: string, actor: string): Promise<UploadSessionsTable> {
    if (!UPLOAD_ID_PATTERN.test(id)) {
      throw new InvalidArgumentError(`invalid upload id '${String(id).slice(0, 80)}'`, {
        upload: String(id).slice(0, 80),
      });
    }
    const row = await this.db
      .selectFrom('upload_sessions')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row || row.actor !== actor || Number(row.expires_at) <= this.now()) {
      throw sessionNotFound(id);
    }
    return row;
  }

  private async touch(id: string): Promise<void> {
    const now = this.now();
    await this.db
      .updateTable('upload_sessions')
      .set({ updated_at: now, expires_at: now + this.ttlMs })
      .where('id', '=', id)
      .where('state', '!=', 'committing')
      .execute();
  }

  private async describe(row: UploadSessionsTable, resumed: boolean): Promise<UploadSession> {
    const base = {
      id: row.id,
      state: row.state,
      resumed,
      createdAt: Number(row.created_at),
      expiresAt: Number(row.expires_at),
      fileCount: row.file_count,
      totalBytes: Number(row.total_size),
      chunkCount: row.chunk_count,
    };
    if (row.state === 'committed') return { ...base, newFiles: 0, missing: [], missingBytes: 0 };
    const { newFiles, missing, missingBytes } = await this.missingOf(row.id);
    return { ...base, newFiles, missing, missingBytes };
  }

  /** Chunks of the session's not-yet-stored files that the index does not hold live. */
  private async missingOf(
    id: string,
  ): Promise<{ newFiles: number; missing: string[]; missingBytes: number }> {
    const files = await this.db
      .selectFrom('upload_files')
      .select(['sha256', 'chunk_ids'])
      .where('session_id', '=', id)
      .orderBy('path')
      .execute();
    const stored = await this.storedFileSizes(files.map((f) => f.sha256));
    const needed: string[] = [];
    const seen = new Set<string>();
    const newShas = new Set<string>();
    for (const f of files) {
      if (stored.has(f.sha256)) continue;
      newShas.add(f.sha256);
      for (const c of chunkIdsToHex(f.chunk_ids)) {
        if (!seen.has(c)) {
          seen.add(c);
          needed.push(c);
        }
      }
    }
    const live = await this.store.index.liveChunks(needed);
    const missing = needed.filter((c) => !live.has(c));
    let missingBytes = 0;
    for (const b of batches(missing)) {
      const rows = await this.db
        .selectFrom('upload_chunks')
        .select('length')
        .where('session_id', '=', id)
        .where('chunk_id', 'in', b)
        .execute();
      for (const r of rows) missingBytes += r.length;
    }
    return { newFiles: newShas.size, missing, missingBytes };
  }

  // -------------------------------------------------------------------- chunks

  /**
   * Reads a chunk batch body and stores its chunks. Each chunk must be declared by the
   * session with the same length, and its bytes must hash to its id; chunks already stored
   * are skipped. Chunks verified before an error (or before the connection dropped) are
   * kept: they are durable and indexed when this settles.
   * The body is not read before the batch is admitted by `batchGate`.
   * @throws InvalidArgumentError (framing, an undeclared chunk, bytes that do not match the
   *   id — that chunk is never stored), TOO_LARGE (body over maxBatchBytes), NotFoundError,
   *   UNAVAILABLE (no place for the batch within `batchWaitMs`).
   */
  async receiveChunks(
    id: string,
    body: AsyncIterable<Uint8Array>,
    actor = '',
  ): Promise<ChunkBatchResult> {
    // Any state takes chunks: a client that shares the session with another (same files)
    // may still be sending while the other commits; its chunks are verified all the same.
    await this.load(id, actor);
    const release = await this.batchGate.enter();
    try {
      return await this.storeBatch(id, body);
    } finally {
      release();
    }
  }

  private async storeBatch(id: string, body: AsyncIterable<Uint8Array>): Promise<ChunkBatchResult> {
    let received = 0;
    let stored = 0;
    let bytes = 0;
    const written = new Set<string>();
    let writer: PackWriter | undefined;
    let failure: unknown;
    // Frames are checked in groups (one query per group, not per chunk); a group holds at
    // most GROUP_BYTES, so memory stays bounded.
    let group: ChunkFrame[] = [];
    let groupBytes = 0;
    const processGroup = async () => {
      const frames = group;
      group = [];
      groupBytes = 0;
      if (frames.length === 0) return;
      const known = new Map<string, { length: number; stored: boolean; dead: boolean }>();
      for (const b of batches([...new Set(frames.map((f) => f.id))])) {
        // Two lookups, not a join: the session names chunks by hex id, the index by their
        // 32 bytes, and a text never equals a blob (SQLite) or compares with one (PostgreSQL).
        const rows = await this.db
          .selectFrom('upload_chunks')
          .select(['chunk_id', 'length'])
          .where('session_id', '=', id)
          .where('chunk_id', 'in', b)
          .execute();
        const indexed = new Map(
          (
            await this.db
              .selectFrom('chunks')
              .select(['id', 'dead_since'])
              .where('id', 'in', b.map(idToBlob))
              .execute()
          ).map((c) => [blobToId(c.id), c.dead_since]),
        );
        for (const r of rows) {
          const deadSince = indexed.get(r.chunk_id);
          known.set(r.chunk_id, {
            length: r.length,
            stored: deadSince !== undefined,
            dead: deadSince !== undefined && deadSince !== null,
          });
        }
      }
      for (const frame of frames) {
        const row = known.get(frame.id);
        if (!row) {
          throw new InvalidArgumentError(
            `chunk ${frame.id} is not part of upload session '${id}'`,
            { upload: id, chunk: frame.id },
          );
        }
        if (row.length !== frame.bytes.length) {
          throw new InvalidArgumentError(
            `chunk ${frame.id} has ${frame.bytes.length} bytes; the session declared ${row.length}`,
            { upload: id, chunk: frame.id },
          );
        }
        const actual = createHash('sha256').update(frame.bytes).digest('hex');
        if (actual !== frame.id) {
          throw new InvalidArgumentError(
            `chunk ${frame.id} fails verification: its bytes hash to ${actual}`,
            { upload: id, chunk: frame.id, actual },
          );
        }
        received++;
        if (written.has(frame.id)) continue;
        // Stored already: skip it, reviving it if GC tombstoned it (if GC swept it since the
        // lookup, the revive finds nothing and it is written again).
        if (row.stored && (!row.dead || (await this.revive(frame.id)))) continue;
        writer ??= await PackWriter.create(this.store.tmpDir);
        await writer.add(frame.id as Sha256Hex, frame.bytes);
        written.add(frame.id);
        stored++;
        bytes += frame.bytes.length;
        if (writer.size >= this.store.packTargetSize) {
          const full = writer;
          writer = undefined;
          await this.store.storePack(full);
        }
      }
    };
    try {
      try {
        for await (const frame of readChunkBatch(body, this.limits)) {
          group.push(frame);
          groupBytes += frame.bytes.length;
          if (group.length >= GROUP_FRAMES || groupBytes >= GROUP_BYTES) await processGroup();
        }
      } finally {
        // Complete frames received before the body ended or broke are still kept.
        await processGroup();
      }
    } catch (e) {
      failure = e;
    }
    // Whatever happened, what was verified is made durable, so a resumed push skips it.
    try {
      if (writer && writer.entryCount > 0) await this.store.storePack(writer);
      else await writer?.abort();
    } catch (e) {
      await writer?.abort();
      failure ??= e;
    }
    // A batch refused before anything verified leaves the session as it was (a rejected
    // request changes nothing stored); otherwise the progress also extends the session.
    if (failure === undefined || stored > 0) {
      const now = this.now();
      await this.db
        .updateTable('upload_sessions')
        .set((eb) => ({
          received_chunks: eb('received_chunks', '+', stored),
          received_bytes: eb('received_bytes', '+', bytes),
          updated_at: now,
          expires_at: now + this.ttlMs,
        }))
        .where('id', '=', id)
        .execute();
    }
    if (failure !== undefined) throw failure;
    return { received, stored, bytes };
  }

  private async revive(chunkId: string): Promise<boolean> {
    const r = await this.db
      .updateTable('chunks')
      .set({ dead_since: null })
      .where('id', '=', idToBlob(chunkId))
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  // -------------------------------------------------------------------- commit

  /**
   * Verifies the session's new files, then commits their file records, the manifest and
   * the version (with `input`'s metadata; the model is created if missing unless
   * `createModelIfMissing` is false).
   *
   * Idempotent per `input.commitId`: calling again with the id of a finished commit returns
   * its version; with another id (another client that pushed the same files and so shared
   * the session) it makes another version from the already verified files.
   *
   * The work runs in the background; this waits up to `waitMs` and otherwise resolves
   * `{state: 'committing'}`: call again with the same input to keep waiting.
   * @throws NotFoundError (session), ConflictError (chunks not all uploaded, with
   *   `details.missing`), VerificationError (a file's chunks do not hash to its sha256 or
   *   add up to its size), and the registry's errors from createVersion. A failed commit
   *   leaves the session open; its error is reported once, to the same commit id.
   */
  async commit(
    id: string,
    input: CommitUploadRequest,
    actor = '',
    options: { readonly waitMs?: number } = {},
  ): Promise<CommitUploadResult> {
    const deadline = this.now() + (options.waitMs ?? 25_000);
    const commitId = input?.commitId ?? null;
    if (commitId !== null && !/^[A-Za-z0-9_-]{1,128}$/.test(commitId)) {
      throw new InvalidArgumentError('commitId must be 1-128 characters of [A-Za-z0-9_-]');
    }
    validateModelName(input?.model);
    for (;;) {
      const running = this.jobs.get(id);
      if (running) {
        const outcome = await this.waitFor(running.promise, deadline - this.now());
        if (running.commitId === commitId) {
          if (outcome.error !== undefined) {
            await this.clearError(id);
            throw outcome.error;
          }
          return outcome.result ?? { state: 'committing' };
        }
        if (!outcome.settled) return { state: 'committing' };
        continue; // another client's commit finished: now make ours
      }
      const row = await this.load(id, actor);
      if (row.state === 'committed' && row.commit_id === commitId) return this.committedResult(row);
      if (row.state === 'open' && row.last_error !== null) {
        await this.clearError(id);
        if (row.commit_id === commitId) throw errorFromRecord(row.last_error);
      }
      if (!(await this.claim(row, commitId))) {
        if (this.now() >= deadline) return { state: 'committing' };
        if (!this.jobs.has(id)) {
          // Committing in another process: poll its lease until the deadline.
          await new Promise((r) => setTimeout(r, Math.min(500, deadline - this.now())));
        }
        continue;
      }
      const promise = this.runCommit(row, input, actor).finally(() => this.jobs.delete(id));
      promise.catch(() => undefined); // observed by waiters; never an unhandled rejection
      this.jobs.set(id, { promise, commitId });
    }
  }

  private async waitFor(
    promise: Promise<CommitUploadResult>,
    ms: number,
  ): Promise<{ settled: boolean; result?: CommitUploadResult; error?: unknown }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<{ settled: boolean }>((resolve) => {
      timer = setTimeout(() => resolve({ settled: false }), Math.max(0, ms));
    });
    try {
      return await Promise.race([
        promise.then(
          (result) => ({ settled: true, result }),
          (error: unknown) => ({ settled: true, error }),
        ),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async clearError(id: string): Promise<void> {
    await this.db
      .updateTable('upload_sessions')
      .set({ last_error: null })
      .where('id', '=', id)
      .execute();
  }

  /**
   * Takes the session for this process and `commitId`: from open, from committed (a new
   * commit of the same files), or from committing under an expired lease.
   */
  private async claim(row: UploadSessionsTable, commitId: string | null): Promise<boolean> {
    const now = this.now();
    if (row.state === 'committing' && Number(row.updated_at) >= now - this.leaseMs) return false;
    const r = await this.db
      .updateTable('upload_sessions')
      .set({
        state: 'committing',
        committer: this.token,
        commit_id: commitId,
        updated_at: now,
        expires_at: now + this.ttlMs,
      })
      .where('id', '=', row.id)
      .where('state', '=', row.state)
      .where('updated_at', '=', row.updated_at)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  private async committedResult(row: UploadSessionsTable): Promise<CommitUploadResult> {
    const result = JSON.parse(row.result ?? 'null') as StoredResult | null;
    if (!result) throw new ModelvaultError('INTERNAL', `upload '${row.id}' has no result`);
    const version = await this.registry.getVersion(`${result.model}@${result.version}`, {
      includeDeleted: true,
    });
    return { state: 'committed', version, stats: result.stats };
  }

  private async runCommit(
    session: UploadSessionsTable,
    input: CommitUploadRequest,
    actor: string,
  ): Promise<CommitUploadResult> {
    const id = session.id;
    const heartbeat = setInterval(
      () => {
        void this.db
          .updateTable('upload_sessions')
          .set({ updated_at: this.now() })
          .where('id', '=', id)
          .where('committer', '=', this.token)
          .execute()
          .catch(() => undefined);
      },
      Math.max(1000, Math.floor(this.leaseMs / 4)),
    );
    heartbeat.unref();
    try {
      const files = await this.db
        .selectFrom('upload_files')
        .selectAll()
        .where('session_id', '=', id)
        .execute();
      const stored = await this.storedFileSizes(files.map((f) => f.sha256));
      const done = new Set<string>();
      let chunks = 0;
      for (const f of files) {
        chunks += f.chunk_ids.length / 32;
        if (stored.has(f.sha256) || done.has(f.sha256)) continue;
        await this.verifyAndCommitFile(f);
        done.add(f.sha256);
      }
      // The version's durable commit next makes the manifest durable too (CommitOptions).
      // A GC may have taken one of these files since it was stored or found: nothing
      // referred to it until this manifest.
      const manifest = await collectedIfMissing(
        { files: new Set(files.map((f) => f.sha256)) },
        () =>
          this.store.commitManifest(
            files.map((f) => ({
              path: f.path,
              size: Number(f.size),
              sha256: f.sha256 as Sha256Hex,
            })),
            { durable: false },
          ),
      );
      const version: ModelVersion = await collectedIfMissing({ manifest: manifest.digest }, () =>
        this.registry.createVersion({
          model: input.model,
          manifest: {
            digest: manifest.digest,
            size: manifest.totalSize,
            fileCount: manifest.entries.length,
          },
          ...(input.description !== undefined ? { description: input.description } : {}),
          ...(input.metrics !== undefined ? { metrics: input.metrics } : {}),
          ...(input.params !== undefined ? { params: input.params } : {}),
          ...(input.tags !== undefined ? { tags: input.tags } : {}),
          ...(input.runId !== undefined ? { runId: input.runId } : {}),
          ...(input.source !== undefined ? { source: input.source } : {}),
          ...(input.lineage !== undefined ? { lineage: input.lineage } : {}),
          ...(actor !== '' ? { actor } : {}),
          createModelIfMissing: input.createModelIfMissing ?? true,
        }),
      );
      const latest = await this.db
        .selectFrom('upload_sessions')
        .select(['received_chunks', 'received_bytes'])
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      const stats: TransferStats = {
        files: files.length,
        bytes: manifest.totalSize,
        newBytes: Number(latest.received_bytes),
        chunks,
        newChunks: Number(latest.received_chunks),
      };
      const result: StoredResult = { model: version.model, version: version.version, stats };
      const now = this.now();
      await this.sdb.writeTransaction(async (trx) => {
        await trx
          .updateTable('upload_sessions')
          .set({
            state: 'committed',
            committer: null,
            // upload_files stay until the session expires: a commit with another id uses them.
            result: JSON.stringify(result),
            last_error: null,
            updated_at: now,
            expires_at: now + this.ttlMs,
          })
          .where('id', '=', id)
          .execute();
      });
      return { state: 'committed', version, stats };
    } catch (e) {
      await this.db
        .updateTable('upload_sessions')
        .set({ state: 'open', committer: null, last_error: errorRecord(e), updated_at: this.now() })
        .where('id', '=', id)
        .where('committer', '=', this.token)
        .execute()
        .catch(() => undefined);
      throw e;
    } finally {
      clearInterval(heartbeat);
    }
  }

  /**
   * Reads the file back from the packs (Store.readChunksLent: two reused buffers, the next
   * read under way while one is hashed), hashes the whole file, checks its size, and
   * commits its record.
   *
   * Each chunk was verified against its id when it was received (or, deduplicated, when it
   * was first stored), so the one hash that matters here is the file's: a chunk damaged
   * since would change it. Only when the file does not match is every chunk hashed again,
   * to name a damaged one if there is one.
   */
  private async verifyAndCommitFile(f: {
    path: string;
    size: number;
    sha256: string;
    format: string;
    chunk_ids: Uint8Array;
  }): Promise<void> {
    const ids = chunkIdsToHex(f.chunk_ids);
    const locations = await this.store.index.locate(ids);
    const absent = [...new Set(ids.filter((c) => !locations.has(c)))];
    if (absent.length > 0) throw missingChunks(f.path, absent);
    const whole = createHash('sha256');
    let size = 0;
    // Read into the store's reused buffers (a new 8 MiB buffer per read cost the server
    // more in garbage collection than the hash itself).
    await this.store.readChunksLent(
      f.path,
      ids.map((id) => locations.get(id)!),
      async (block) => {
        whole.update(block);
        size += block.length;
      },
    );
    const actual = whole.digest('hex');
    if (size !== Number(f.size) || actual !== f.sha256) {
      for await (const run of this.readRuns(ids, locations)) {
        for (const loc of run.chunks) {
          const bytes = run.data.subarray(
            loc.offset - run.offset,
            loc.offset - run.offset + loc.length,
          );
          if (createHash('sha256').update(bytes).digest('hex') !== loc.id) {
            throw new VerificationError(
              `stored chunk ${loc.id} of '${f.path}' fails verification; upload it again`,
              { path: f.path, chunk: loc.id },
            );
          }
        }
      }
      throw new VerificationError(
        `'${f.path}' does not match its declared digest: its chunks make ${size} bytes hashing to ${actual}, not ${f.size} bytes hashing to ${f.sha256}`,
        { path: f.path, expected: f.sha256, actual, size },
      );
    }
    try {
      await this.store.index.commitFile({
        sha256: f.sha256 as Sha256Hex,
        size,
        chunkIds: f.chunk_ids,
        format: f.format,
      });
    } catch (e) {
      if (e instanceof MissingChunksError) throw missingChunks(f.path, [...e.missing]);
      throw e;
    }
  }

  /**
   * The file's bytes as runs of neighbouring chunks of one pack (each at most
   * READ_COALESCE bytes, one ranged read), reading the next run while the caller uses one.
   */
  private async *readRuns(
    ids: readonly string[],
    locations: ReadonlyMap<string, ChunkLocation>,
  ): AsyncGenerator<{ data: Uint8Array; offset: number; chunks: ChunkLocation[] }> {
    const runs: ChunkLocation[][] = [];
    for (let i = 0; i < ids.length; ) {
      const first = locations.get(ids[i]!)!;
      const run = [first];
      let end = first.offset + first.length;
      for (i++; i < ids.length; i++) {
        const next = locations.get(ids[i]!)!;
        if (next.packId !== first.packId || next.offset !== end) break;
        if (end + next.length - first.offset > READ_COALESCE) break;
        end += next.length;
        run.push(next);
      }
      runs.push(run);
    }
    const read = (run: ChunkLocation[]) => {
      const first = run[0]!;
      const last = run[run.length - 1]!;
      return this.store.backend.getRange(
        packKey(first.packId as Sha256Hex),
        first.offset,
        last.offset + last.length - first.offset,
      );
    };
    let next = runs.length > 0 ? read(runs[0]!) : undefined;
    for (let r = 0; r < runs.length; r++) {
      const data = await next!;
      next = r + 1 < runs.length ? read(runs[r + 1]!) : undefined;
      next?.catch(() => undefined); // awaited next round, or abandoned with the generator
      yield { data, offset: runs[r]![0]!.offset, chunks: runs[r]! };
    }
  }

  // ------------------------------------------------------------ housekeeping

  /** Abandons an open session (its chunks become garbage). Idempotent for unknown ids. */
  async abandon(id: string, actor = ''): Promise<void> {
    const row = await this.load(id, actor).catch((e) => {
      if (e instanceof NotFoundError) return undefined;
      throw e;
    });
    if (!row) return;
    if (row.state === 'committing') {
      throw new ConflictError(`upload session '${id}' is being committed`, { upload: id });
    }
    await this.deleteSessions([id]);
  }

  /** Deletes expired sessions (not those being committed under a live lease). */
  async expire(): Promise<number> {
    const now = this.now();
    this.lastExpiry = now;
    const rows = await this.db
      .selectFrom('upload_sessions')
      .select(['id', 'state', 'updated_at'])
      .where('expires_at', '<=', now)
      .execute();
    const ids = rows
      .filter((r) => r.state !== 'committing' || Number(r.updated_at) < now - this.leaseMs)
      .filter((r) => !this.jobs.has(r.id))
      .map((r) => r.id);
    await this.deleteSessions(ids);
    return ids.length;
  }

  private async expireMaybe(): Promise<void> {
    if (this.now() - this.lastExpiry > 60_000) await this.expire();
  }

  private async deleteSessions(ids: readonly string[]): Promise<void> {
    for (const b of batches(ids)) {
      await this.sdb.writeTransaction(async (trx) => {
        await trx.deleteFrom('upload_chunks').where('session_id', 'in', b).execute();
        await trx.deleteFrom('upload_files').where('session_id', 'in', b).execute();
        await trx.deleteFrom('upload_sessions').where('id', 'in', b).execute();
      });
    }
  }

  /**
   * Ids of every chunk declared by an unexpired, uncommitted session: garbage collection
   * must treat them as live (pass them as `collectGarbage({ liveChunks })`), so a push
   * resumed hours later still finds the chunks it was told the server has.
   */
  liveChunkIds(): Promise<Set<string>> {
    return liveUploadChunkIds(this.store, this.now());
  }

  /** Waits for commits running in this process. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.jobs.values()].map((j) => j.promise));
  }
}

interface NormalizedFile {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
  readonly format: string;
  readonly chunks: readonly { readonly id: string; readonly length: number }[];
}

/**
 * Runs a commit step, turning the NotFoundError of something a GC with no grace period can
 * take from under a commit — one of the session's `files` (stored, but referred to by
 * nothing until the version's manifest), or that new `manifest` before the version asked
 * for it — into what the commit answers when it goes while the version commits: CONFLICT
 * with `details.collected`, on which the SDK pushes again (the next session stores what
 * is missing).
 */
async function collectedIfMissing<T>(
  what: { readonly manifest?: string; readonly files?: ReadonlySet<string> },
  step: () => Promise<T>,
): Promise<T> {
  try {
    return await step();
  } catch (e) {
    if (e instanceof NotFoundError) {
      const details = (e.details ?? {}) as { manifest?: unknown; sha256?: unknown };
      const manifest = what.manifest !== undefined && details.manifest === what.manifest;
      const file = typeof details.sha256 === 'string' && what.files?.has(details.sha256);
      if (manifest || file) {
        const digest = manifest ? what.manifest : details.sha256;
        throw new ConflictError(
          `${manifest ? 'manifest' : 'file'} ${digest} was garbage-collected while the version was being created; push again`,
          { digest, collected: true },
        );
      }
    }
    throw e;
  }
}

function missingChunks(path: string, missing: readonly string[]): ConflictError {
  return new ConflictError(
    `${missing.length} chunk(s) of '${path}' are not stored; re-create the upload to list them and send them`,
    { path, missing: missing.slice(0, 1000), missingCount: missing.length },
  );
}

/**
 * The chunk ids of open upload sessions, for a garbage collection that runs without an
 * UploadService (e.g. `mvault gc`):
 *
 *   await collectGarbage(store, { liveManifests, liveChunks: await liveUploadChunkIds(store) });
 *
 * The store's database must have run UPLOAD_MIGRATIONS.
 */
export async function liveUploadChunkIds(store: Store, now = Date.now()): Promise<Set<string>> {
  const db = (store.index.storageDb as unknown as UploadDb).db;
  const rows = await db
    .selectFrom('upload_chunks as u')
    .innerJoin('upload_sessions as s', 's.id', 'u.session_id')
    .select('u.chunk_id')
    .where('s.state', '!=', 'committed')
    .where('s.expires_at', '>', now)
    .execute();
  return new Set(rows.map((r) => r.chunk_id));
}

/** SHA-256 over the sorted file list: the identity a resumed push is matched by. */
function specDigest(files: readonly NormalizedFile[]): string {
  const h = createHash('sha256');
  for (const f of files) {
    h.update(`${f.path}\0${f.size}\0${f.sha256}\0${f.format}\0${f.chunks.length}\0`);
    for (const c of f.chunks) h.update(`${c.id}:${c.length}\0`);
  }
  return h.digest('hex');
}

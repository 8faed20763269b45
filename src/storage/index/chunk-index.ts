/**
 * The engine's SQL index: chunk id → (pack, offset, length), plus the records of committed
 * files and manifests. One owner for every query on the storage tables; the rest of the
 * engine never writes SQL. Works on any Kysely dialect (portable SQL only).
 */
import type { CompiledQuery, Kysely } from 'kysely';
import type { Sha256Hex } from '../../core/digest.js';
import { LockedError, NotFoundError } from '../../core/errors.js';
import { blobToId, idToBlob } from './chunk-id.js';
import { clearPackMark, PACK_MARK_MS, packMark, setPackMark } from './pack-markers.js';
import type { StorageTables } from './storage-schema.js';

/** The slice of metadata's Database the engine needs (structurally compatible). */
export interface StorageDb {
  readonly db: Kysely<StorageTables>;
  writeTransaction<T>(
    fn: (trx: Kysely<StorageTables>) => Promise<T>,
    options?: { readonly durable?: boolean },
  ): Promise<T>;
}

export interface ChunkLocation {
  readonly id: string;
  readonly packId: string;
  readonly offset: number;
  readonly length: number;
}

export interface PackRecord {
  readonly id: string;
  readonly size: number;
  readonly entries: readonly {
    readonly id: string;
    readonly offset: number;
    readonly length: number;
  }[];
}

export interface FileRecord {
  readonly sha256: Sha256Hex;
  readonly size: number;
  readonly chunkIds: Uint8Array;
  readonly format: string;
}

/** Thrown by commitFile when a chunk vanished (GC swept it): the caller re-ingests. */
export class MissingChunksError extends NotFoundError {
  constructor(readonly missing: readonly string[]) {
    super(`${missing.length} chunk(s) no longer stored, e.g. ${missing[0]}`, {
      missing: missing.slice(0, 10),
    });
  }
}

const BATCH = 400;

function* batches<T>(items: readonly T[], size = BATCH): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

export function chunkIdsToHex(ids: Uint8Array): string[] {
  const out: string[] = [];
  const b = Buffer.from(ids.buffer, ids.byteOffset, ids.byteLength);
  for (let i = 0; i + 32 <= b.length; i += 32) out.push(b.toString('hex', i, i + 32));
  return out;
}

export class ChunkIndex {
  /** getManifestBody's statement, compiled on first use (its one parameter is the digest). */
  private manifestBody: CompiledQuery<{ body: string }> | undefined;

  constructor(readonly storageDb: StorageDb) {}

  private get db(): Kysely<StorageTables> {
    return this.storageDb.db;
  }

  /** Which of `ids` are stored and not tombstoned (usable for deduplication). */
  async liveChunks(ids: readonly string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (const batch of batches([...new Set(ids)])) {
      const rows = await this.db
        .selectFrom('chunks')
        .select('id')
        .where('id', 'in', batch.map(idToBlob))
        .where('dead_since', 'is', null)
        .execute();
      for (const r of rows) found.add(blobToId(r.id));
    }
    return found;
  }

  /** Locations of `ids` (tombstoned chunks included: they are still readable). */
  async locate(ids: readonly string[]): Promise<Map<string, ChunkLocation>> {
    const out = new Map<string, ChunkLocation>();
    for (const batch of batches([...new Set(ids)])) {
      const rows = await this.db
        .selectFrom('chunks')
        .select(['id', 'pack_id', 'offset', 'length'])
        .where('id', 'in', batch.map(idToBlob))
        .execute();
      for (const r of rows) {
        const id = blobToId(r.id);
        out.set(id, {
          id,
          packId: blobToId(r.pack_id),
          offset: Number(r.offset),
          length: r.length,
        });
      }
    }
    return out;
  }

  /**
   * Marks `packId` as being written, before its object is put (pack-markers.ts). Waits
   * while a GC is deleting a pack with the same id, so the object put afterwards is the one
   * that stays. @throws LockedError when the deletion mark does not clear in time.
   */
  async beginPackWrite(packId: string): Promise<void> {
    const deadline = Date.now() + PACK_MARK_MS;
    for (let attempt = 0; ; attempt++) {
      const marked = await this.storageDb.writeTransaction(
        async (trx) => {
          if ((await packMark(trx, packId)) === 'deleting') return false;
          await setPackMark(trx, packId, 'writing');
          return true;
        },
        { durable: false },
      );
      if (marked) return;
      if (Date.now() > deadline) {
        throw new LockedError(`pack ${packId} is being deleted by garbage collection`, {
          pack: packId,
        });
      }
      await new Promise((r) => setTimeout(r, Math.min(500, 10 * 2 ** attempt)));
    }
  }

  /**
   * Records a sealed, durable pack and its chunks. A chunk already indexed elsewhere keeps
   * its first location (the duplicate bytes are reclaimed by GC's repack). Idempotent.
   */
  async addPack(pack: PackRecord, now = Date.now()): Promise<void> {
    await this.storageDb.writeTransaction(
      async (trx) => {
        await trx
          .insertInto('packs')
          .values({
            id: pack.id,
            size: pack.size,
            chunk_count: pack.entries.length,
            created_at: now,
          })
          .onConflict((oc) => oc.column('id').doNothing())
          .execute();
        for (const batch of batches(pack.entries, 200)) {
          await trx
            .insertInto('chunks')
            .values(
              batch.map((e) => ({
                id: idToBlob(e.id),
                pack_id: idToBlob(pack.id),
                offset: e.offset,
                length: e.length,
                dead_since: null,
              })),
            )
            .onConflict((oc) => oc.column('id').doNothing())
            .execute();
        }
        await clearPackMark(trx, pack.id, 'writing');
        // The pack is durable already; losing this row to a power cut only orphans it until
        // `repair`, and the file commit that follows syncs it anyway.
      },
      { durable: false },
    );
  }

  /**
   * Commits a file record after checking, in the same transaction, that every chunk is
   * still indexed; tombstoned chunks are revived (GC has not deleted their pack yet).
   * @throws MissingChunksError when GC removed a chunk since the caller looked it up.
   */
  async commitFile(
    file: FileRecord,
    now = Date.now(),
    options: { readonly durable?: boolean } = {},
  ): Promise<void> {
    const ids = chunkIdsToHex(file.chunkIds);
    await this.storageDb.writeTransaction(async (trx) => {
      const existing = await trx
        .selectFrom('files')
        .select('sha256')
        .where('sha256', '=', file.sha256)
        .executeTakeFirst();
      const unique = [...new Set(ids)];
      const present = new Set<string>();
      for (const batch of batches(unique)) {
        const blobs = batch.map(idToBlob);
        const rows = await trx.selectFrom('chunks').select('id').where('id', 'in', blobs).execute();
        for (const r of rows) present.add(blobToId(r.id));
        await trx
          .updateTable('chunks')
          .set({ dead_since: null })
          .where('id', 'in', blobs)
          .where('dead_since', 'is not', null)
          .execute();
      }
      const missing = unique.filter((id) => !present.has(id));
      if (missing.length > 0) throw new MissingChunksError(missing);
      if (existing) {
        // Committed again (re-ingested bytes): as young as a new file, so GC's grace period
        // keeps it until the manifest that needs it commits, however old the row was.
        await trx
          .updateTable('files')
          .set({ created_at: now })
          .where('sha256', '=', file.sha256)
          .execute();
        return;
      }
      await trx
        .insertInto('files')
        .values({
          sha256: file.sha256,
          size: file.size,
          chunk_count: ids.length,
          chunk_ids: file.chunkIds,
          format: file.format,
          created_at: now,
        })
        .execute();
    }, options);
  }

  async getFile(sha256: Sha256Hex): Promise<FileRecord | undefined> {
    const row = await this.db
      .selectFrom('files')
      .select(['sha256', 'size', 'chunk_ids', 'format'])
      .where('sha256', '=', sha256)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      sha256: row.sha256 as Sha256Hex,
      size: Number(row.size),
      chunkIds: row.chunk_ids,
      format: row.format,
    };
  }

  async hasFiles(shas: readonly string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (const batch of batches([...new Set(shas)])) {
      const rows = await this.db
        .selectFrom('files')
        .select('sha256')
        .where('sha256', 'in', batch)
        .execute();
      for (const r of rows) found.add(r.sha256);
    }
    return found;
  }

  /**
   * Commits a manifest (idempotent). Every file must be committed already.
   * @throws NotFoundError naming the first missing file.
   */
  async commitManifest(
    m: {
      digest: string;
      body: string;
      totalSize: number;
      entries: readonly { path: string; sha256: string }[];
    },
    now = Date.now(),
    options: { readonly durable?: boolean } = {},
  ): Promise<void> {
    await this.storageDb.writeTransaction(async (trx) => {
      // Committed again: young again, so GC's grace keeps it until a version refers to it.
      // The existence check and the renewal are one statement (on a server database each
      // statement is a round trip); both dialects support RETURNING.
      const renewed = await trx
        .updateTable('manifests')
        .set({ created_at: now })
        .where('digest', '=', m.digest)
        .returning('digest')
        .executeTakeFirst();
      if (renewed) return;
      const shas = [...new Set(m.entries.map((e) => e.sha256))];
      const present = new Set<string>();
      for (const batch of batches(shas)) {
        const rows = await trx
          .selectFrom('files')
          .select('sha256')
          .where('sha256', 'in', batch)
          .execute();
        for (const r of rows) present.add(r.sha256);
      }
      const missing = m.entries.find((e) => !present.has(e.sha256));
      if (missing) {
        throw new NotFoundError(`file ${missing.sha256} for '${missing.path}' is not stored`, {
          path: missing.path,
          sha256: missing.sha256,
        });
      }
      await trx
        .insertInto('manifests')
        .values({
          digest: m.digest,
          body: m.body,
          total_size: m.totalSize,
          file_count: m.entries.length,
          created_at: now,
        })
        .execute();
      for (const batch of batches(m.entries, 300)) {
        await trx
          .insertInto('manifest_files')
          .values(
            batch.map((e) => ({ manifest_digest: m.digest, path: e.path, file_sha256: e.sha256 })),
          )
          .execute();
      }
    }, options);
  }

  /** The chunk list recorded for a piece key (see PieceCacheTable), if any. */
  async getPiece(key: string): Promise<Uint8Array | undefined> {
    const row = await this.db
      .selectFrom('piece_cache')
      .select('chunks')
      .where('key', '=', key)
      .executeTakeFirst();
    return row?.chunks;
  }

  /** Records a piece's chunk list; idempotent (the first record wins). */
  async putPiece(key: string, chunks: Uint8Array, now = Date.now()): Promise<void> {
    // A cache entry lost to a power cut costs one miss: no fsync of its own.
    await this.storageDb.writeTransaction(
      (trx) =>
        trx
          .insertInto('piece_cache')
          .values({ key, chunks, created_at: now })
          .onConflict((oc) => oc.column('key').doNothing())
          .execute(),
      { durable: false },
    );
  }

  /**
   * The stored text of manifest `digest`, or undefined. Its statement is compiled once and
   * run with the digest as its only parameter: Kysely built and compiled it on every call
   * (~10 µs), and the server reads a manifest for every version it registers.
   */
  async getManifestBody(digest: string): Promise<string | undefined> {
    this.manifestBody ??= this.db
      .selectFrom('manifests')
      .select('body')
      .where('digest', '=', '')
      .compile();
    const { rows } = await this.db.executeQuery<{ body: string }>({
      ...this.manifestBody,
      parameters: [digest],
    });
    return rows[0]?.body;
  }
}

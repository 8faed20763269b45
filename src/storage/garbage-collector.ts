/**
 * Mark-and-sweep garbage collection of packs, safe while ingests run.
 *
 * Live = chunks of files in the caller's live manifests, plus files and manifests younger
 * than the grace period (an ingest in progress has committed its files but not yet its
 * version). Unreferenced chunks are not deleted at once: GC first tombstones them
 * (`dead_since`), which stops deduplication against them; a file commit that still uses
 * one revives it (same transaction as its check), and a commit that landed between the mark
 * and the tombstones is caught by a second mark right after them. Only chunks tombstoned for longer than
 * the grace period are swept, and the sweep removes index rows in a transaction *before*
 * deleting pack objects, so a concurrent commit either revived a chunk first (its pack is
 * kept) or finds it gone and re-writes it (MissingChunksError → retry in Store).
 *
 * Packs whose chunks are all dead are deleted; packs whose live bytes fall below
 * `repackThreshold` have their live chunks copied into new packs first. Readers that
 * located a chunk in a pack that was just repacked retry the lookup (Store.readFile).
 * One GC at a time across processes: a lease row in `storage_leases`.
 */
import { createHash, randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { Kysely } from 'kysely';
import type { Sha256Hex } from '../core/digest.js';
import { LockedError } from '../core/errors.js';
import { blobToId, idToBlob } from './index/chunk-id.js';
import { chunkIdsToHex } from './index/chunk-index.js';
import { clearPackMark, packMark, setPackMark } from './index/pack-markers.js';
import type { StorageTables } from './index/storage-schema.js';
import type { Store } from './store.js';
import { packKey } from './store-layout.js';

export interface GcOptions {
  /**
   * Digests of every manifest referenced by a live (or soft-deleted, restorable) version;
   * or a function giving them, called once after the GC lease is taken (so whatever it
   * does before reading them runs one collection at a time, and not at all when another
   * collection holds the lease).
   */
  readonly liveManifests: Iterable<string> | (() => Promise<Iterable<string>>);
  /**
   * Chunk ids to keep whatever references them: those of open upload sessions
   * (`UploadService.liveChunkIds()`), whose files are not committed yet.
   */
  readonly liveChunks?: Iterable<string>;
  /**
   * Of `digests` (unreferenced manifests about to be deleted), those something refers to
   * now. Called inside the deleting transaction, under the write lock, with its handle (use
   * it, not another): a version, artifact or LFS object committed after `liveManifests`
   * was computed keeps its manifest, whatever the grace period and the clocks.
   */
  readonly stillReferenced?: (
    trx: Kysely<StorageTables>,
    digests: readonly string[],
  ) => Promise<Set<string>>;
  /** Nothing younger than this is collected (default 1 hour). */
  readonly graceMs?: number;
  /** Repack a pack whose live fraction of bytes is below this (default 0.5). */
  readonly repackThreshold?: number;
  readonly dryRun?: boolean;
  readonly now?: number;
}

export interface GcReport {
  readonly manifestsDeleted: number;
  readonly filesDeleted: number;
  readonly chunksTombstoned: number;
  readonly chunksRevived: number;
  readonly packsDeleted: number;
  readonly packsRepacked: number;
  readonly bytesFreed: number;
  readonly dryRun: boolean;
}

const LEASE = 'gc';
const LEASE_MS = 10 * 60 * 1000;

export async function collectGarbage(store: Store, options: GcOptions): Promise<GcReport> {
  const now = options.now ?? Date.now();
  const grace = options.graceMs ?? 60 * 60 * 1000;
  const cutoff = now - grace;
  const threshold = options.repackThreshold ?? 0.5;
  const dry = options.dryRun ?? false;
  const sdb = store.index.storageDb;
  const holder = `${hostname()}:${process.pid}:${randomUUID()}`;

  await sdb.writeTransaction(async (trx) => {
    const row = await trx
      .selectFrom('storage_leases')
      .selectAll()
      .where('name', '=', LEASE)
      .executeTakeFirst();
    if (row && Number(row.expires_at) > Date.now() && !holderIsDeadLocalProcess(row.holder)) {
      throw new LockedError(`garbage collection is already running (lease held by ${row.holder})`);
    }
    await trx.deleteFrom('storage_leases').where('name', '=', LEASE).execute();
    await trx
      .insertInto('storage_leases')
      .values({ name: LEASE, holder, expires_at: Date.now() + LEASE_MS })
      .execute();
  });

  const report = {
    manifestsDeleted: 0,
    filesDeleted: 0,
    chunksTombstoned: 0,
    chunksRevived: 0,
    packsDeleted: 0,
    packsRepacked: 0,
    bytesFreed: 0,
    dryRun: dry,
  };
  try {
    const db = sdb.db;
    const roots = options.liveManifests;
    const liveManifests = new Set(typeof roots === 'function' ? await roots() : roots);

    // 1. Unreferenced manifests and files past the grace period.
    const manifests = await db.selectFrom('manifests').select(['digest', 'created_at']).execute();
    let deadManifests = manifests
      .filter((m) => !liveManifests.has(m.digest) && Number(m.created_at) < cutoff)
      .map((m) => m.digest);
    if (!dry && deadManifests.length > 0) {
      const candidates = deadManifests;
      deadManifests = await sdb.writeTransaction(async (trx) => {
        const deleted: string[] = [];
        for (let i = 0; i < candidates.length; i += 300) {
          const batch = candidates.slice(i, i + 300);
          // Re-checked under the write lock: a root committed since the live set was read
          // (a version racing this collection) keeps its manifest.
          const keep = options.stillReferenced
            ? await options.stillReferenced(trx, batch)
            : new Set<string>();
          const b = batch.filter((d) => !keep.has(d));
          if (b.length === 0) continue;
          await trx.deleteFrom('manifest_files').where('manifest_digest', 'in', b).execute();
          await trx.deleteFrom('manifests').where('digest', 'in', b).execute();
          deleted.push(...b);
        }
        return deleted;
      });
    }
    report.manifestsDeleted = deadManifests.length;
    const deadSet = new Set(deadManifests);

    // 2. Mark: chunks of live files, and those the caller names (open uploads).
    const { live, deadFiles } = await mark(db, deadSet, cutoff, options.liveChunks ?? []);
    report.filesDeleted = deadFiles.length;

    // 3. Tombstone dead chunks in old packs, revive live ones; drop dead file records.
    const packs = new Map(
      (await db.selectFrom('packs').select(['id', 'size', 'created_at']).execute()).map((p) => [
        p.id,
        { size: Number(p.size), createdAt: Number(p.created_at) },
      ]),
    );
    const chunks = (
      await db.selectFrom('chunks').select(['id', 'pack_id', 'dead_since']).execute()
    ).map((c) => ({ id: blobToId(c.id), pack_id: blobToId(c.pack_id), dead_since: c.dead_since }));
    const toTombstone: string[] = [];
    const toRevive: string[] = [];
    for (const c of chunks) {
      const isLive = live.has(c.id);
      const packOld = (packs.get(c.pack_id)?.createdAt ?? 0) < cutoff;
      if (!isLive && c.dead_since === null && packOld) toTombstone.push(c.id);
      if (isLive && c.dead_since !== null) toRevive.push(c.id);
    }
    report.chunksTombstoned = toTombstone.length;
    report.chunksRevived = toRevive.length;
    if (dry) return report;
    await sdb.writeTransaction(async (trx) => {
      for (let i = 0; i < deadFiles.length; i += 300) {
        // Re-checked here, under the write lock: a file committed again since the mark is
        // young, and one a manifest committed since refers to is live, whatever the clocks.
        await trx
          .deleteFrom('files')
          .where('sha256', 'in', deadFiles.slice(i, i + 300))
          .where('created_at', '<', cutoff)
          .where((eb) =>
            eb.not(
              eb.exists(
                eb
                  .selectFrom('manifest_files')
                  .select('file_sha256')
                  .whereRef('manifest_files.file_sha256', '=', 'files.sha256'),
              ),
            ),
          )
          .execute();
      }
      for (let i = 0; i < toTombstone.length; i += 300) {
        await trx
          .updateTable('chunks')
          .set({ dead_since: now })
          .where('id', 'in', toTombstone.slice(i, i + 300).map(idToBlob))
          .where('dead_since', 'is', null)
          .execute();
      }
      for (let i = 0; i < toRevive.length; i += 300) {
        await trx
          .updateTable('chunks')
          .set({ dead_since: null })
          .where('id', 'in', toRevive.slice(i, i + 300).map(idToBlob))
          .execute();
      }
    });

    // 3b. A file committed between the mark and the tombstones found its chunks alive and
    // revived nothing, yet the tombstones (from the earlier mark) may have hit them. Mark
    // again now and revive what live files use; commits from here on revive their own
    // chunks (ChunkIndex.commitFile), and the sweep deletes only rows still tombstoned.
    const again = await mark(db, deadSet, cutoff, options.liveChunks ?? []);
    const hit = (
      await db.selectFrom('chunks').select('id').where('dead_since', 'is not', null).execute()
    )
      .map((c) => blobToId(c.id))
      .filter((id) => again.live.has(id));
    if (hit.length > 0) {
      await sdb.writeTransaction(async (trx) => {
        for (let i = 0; i < hit.length; i += 300) {
          await trx
            .updateTable('chunks')
            .set({ dead_since: null })
            .where('id', 'in', hit.slice(i, i + 300).map(idToBlob))
            .execute();
        }
      });
      report.chunksTombstoned -= hit.length;
    }

    // 4. Sweep, pack by pack.
    const byPack = new Map<
      string,
      { id: string; offset: number; length: number; expired: boolean }[]
    >();
    const rows = await db
      .selectFrom('chunks')
      .select(['id', 'pack_id', 'offset', 'length', 'dead_since'])
      .execute();
    for (const c of rows) {
      const packOf = blobToId(c.pack_id);
      const list = byPack.get(packOf) ?? [];
      list.push({
        id: blobToId(c.id),
        offset: Number(c.offset),
        length: c.length,
        expired: c.dead_since !== null && Number(c.dead_since) <= cutoff,
      });
      byPack.set(packOf, list);
    }
    for (const [packId, meta] of packs) {
      if (meta.createdAt >= cutoff) continue;
      const list = byPack.get(packId) ?? [];
      const liveChunks = list.filter((c) => !c.expired);
      const liveBytes = liveChunks.reduce((s, c) => s + c.length, 0);
      const deadBytes = list.filter((c) => c.expired).reduce((s, c) => s + c.length, 0);
      if (liveChunks.length === 0) {
        const deleted = await sdb.writeTransaction((trx) => dropPackRows(trx, packId, cutoff));
        if (deleted !== undefined) {
          await store.backend.delete(packKey(packId as Sha256Hex));
          await sdb.writeTransaction((trx) => clearPackMark(trx, packId, 'deleting'));
          report.packsDeleted++;
          report.bytesFreed += meta.size;
        }
      } else if (deadBytes > 0 && liveBytes < threshold * (liveBytes + deadBytes)) {
        report.bytesFreed += await repack(store, packId, liveChunks, cutoff);
        report.packsRepacked++;
      }
    }
    return report;
  } finally {
    await sdb.writeTransaction(async (trx) => {
      await trx
        .deleteFrom('storage_leases')
        .where('name', '=', LEASE)
        .where('holder', '=', holder)
        .execute();
    });
  }
}

/**
 * The mark: chunks of files that a manifest (other than `deadManifests`) refers to or that
 * are younger than `cutoff`, plus `extra`; and the other files, which are dead.
 */
async function mark(
  db: Kysely<StorageTables>,
  deadManifests: ReadonlySet<string>,
  cutoff: number,
  extra: Iterable<string>,
): Promise<{ live: Set<string>; deadFiles: string[] }> {
  const referenced = new Set(
    (await db.selectFrom('manifest_files').select(['manifest_digest', 'file_sha256']).execute())
      .filter((r) => !deadManifests.has(r.manifest_digest))
      .map((r) => r.file_sha256),
  );
  const live = new Set<string>(extra);
  const deadFiles: string[] = [];
  const files = await db
    .selectFrom('files')
    .select(['sha256', 'chunk_ids', 'created_at'])
    .execute();
  for (const f of files) {
    if (referenced.has(f.sha256) || Number(f.created_at) >= cutoff) {
      for (const id of chunkIdsToHex(f.chunk_ids)) live.add(id);
    } else {
      deadFiles.push(f.sha256);
    }
  }
  return { live, deadFiles };
}

/** Copies a pack's live chunks into a new pack, repoints the index, deletes the old pack. */
async function repack(
  store: Store,
  oldPack: string,
  liveChunks: { id: string; offset: number; length: number }[],
  cutoff: number,
): Promise<number> {
  const writer = await store.newPackWriter();
  try {
    for (const c of liveChunks) {
      const bytes = await store.backend.getRange(packKey(oldPack as Sha256Hex), c.offset, c.length);
      // Never copy damage into a fresh pack: a chunk that fails verification stays behind
      // (and keeps the old pack alive) for fsck/repair to report.
      if (createHash('sha256').update(bytes).digest('hex') !== c.id) return 0;
      await writer.add(c.id as Sha256Hex, bytes);
    }
  } catch (e) {
    await writer.abort();
    throw e;
  }
  const sealed = await writer.seal();
  try {
    await store.backend.putFile(packKey(sealed.packId), sealed.path);
  } finally {
    await rm(sealed.path, { force: true });
  }
  const sdb = store.index.storageDb;
  const oldSize = await sdb.writeTransaction(async (trx) => {
    await trx
      .insertInto('packs')
      .values({
        id: sealed.packId,
        size: sealed.size,
        chunk_count: sealed.entries.length,
        created_at: Date.now(),
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
    for (const e of sealed.entries) {
      await trx
        .updateTable('chunks')
        .set({ pack_id: idToBlob(sealed.packId), offset: e.offset, length: e.length })
        .where('id', '=', idToBlob(e.id))
        .where('pack_id', '=', idToBlob(oldPack))
        .execute();
    }
    return (await dropPackRows(trx, oldPack, cutoff)) ?? 0;
  });
  if (oldSize > 0) {
    await store.backend.delete(packKey(oldPack as Sha256Hex));
    await sdb.writeTransaction((trx) => clearPackMark(trx, oldPack, 'deleting'));
  }
  return Math.max(0, oldSize - sealed.size);
}

/**
 * A lease held by a process on this machine that no longer exists (killed mid-GC) can be
 * taken over at once instead of waiting for it to expire.
 */
function holderIsDeadLocalProcess(holder: string): boolean {
  const [host, pidText] = holder.split(':');
  const pid = Number(pidText);
  if (host !== hostname() || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as { code?: string }).code === 'ESRCH';
  }
}

/**
 * Inside a transaction: removes a pack's chunk rows tombstoned before `cutoff` and, if no
 * row is left (none was revived meanwhile), the pack's row. Returns the pack's size when
 * its row was removed (the caller then deletes the object), else undefined.
 */
async function dropPackRows(
  trx: Kysely<StorageTables>,
  packId: string,
  cutoff: number,
): Promise<number | undefined> {
  // An ingest is re-storing this very pack (same content, same id): it stays.
  if ((await packMark(trx, packId)) === 'writing') return undefined;
  const pack = idToBlob(packId);
  await trx
    .deleteFrom('chunks')
    .where('pack_id', '=', pack)
    .where('dead_since', '<=', cutoff)
    .execute();
  const left = await trx
    .selectFrom('chunks')
    .select('id')
    .where('pack_id', '=', pack)
    .limit(1)
    .execute();
  if (left.length > 0) return undefined;
  const row = await trx
    .selectFrom('packs')
    .select('size')
    .where('id', '=', packId)
    .executeTakeFirst();
  await trx.deleteFrom('packs').where('id', '=', packId).execute();
  // Until the caller has deleted the object, an ingest of the same pack id waits.
  await setPackMark(trx, packId, 'deleting');
  return Number(row?.size ?? 0);
}

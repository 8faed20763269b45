/**
 * `fsck` and `repair`. fsck re-reads every pack and re-verifies every chunk, file record
 * and manifest, and names exactly what is damaged and which files and manifests that
 * affects. repair rebuilds the chunk index from pack trailers: rows are added for chunks
 * that only the packs know about, repointed to an intact copy when their own copy is
 * damaged, and removed when no intact copy exists (so the next ingest of those bytes
 * stores them again). Neither ever deletes a pack.
 */
import { blobToId, idToBlob } from './index/chunk-id.js';
import { chunkIdsToHex } from './index/chunk-index.js';
import { manifestDigestOk } from './manifest.js';
import { readPackTrailer, verifyPack } from './pack-reader.js';
import type { Store } from './store.js';
import { isPackKey, PACKS_PREFIX, packKey, parsePackKey } from './store-layout.js';

export type ProblemKind =
  | 'pack-unreadable'
  | 'pack-missing'
  | 'pack-unindexed'
  | 'chunk-damaged'
  | 'chunk-missing'
  | 'index-mismatch'
  | 'file-damaged'
  | 'manifest-damaged';

export interface Problem {
  readonly kind: ProblemKind;
  /** The damaged object's id: pack id, chunk id, file sha256 or manifest digest. */
  readonly id: string;
  readonly message: string;
}

export interface CheckReport {
  readonly packs: number;
  readonly chunks: number;
  readonly files: number;
  readonly manifests: number;
  readonly problems: readonly Problem[];
  /** Files whose bytes cannot be fully read back. */
  readonly damagedFiles: readonly string[];
  readonly damagedManifests: readonly string[];
}

interface PackScan {
  /** Trailer entries of every readable pack, by pack id. */
  readonly trailers: Map<string, Map<string, { id: string; offset: number; length: number }>>;
  /** `packId/chunkId` of chunks whose bytes fail verification. */
  readonly damaged: Set<string>;
  readonly problems: Problem[];
}

async function scanPacks(store: Store, verifyData: boolean): Promise<PackScan> {
  const trailers = new Map<string, Map<string, { id: string; offset: number; length: number }>>();
  const damaged = new Set<string>();
  const problems: Problem[] = [];
  for await (const obj of store.backend.list(PACKS_PREFIX)) {
    if (!isPackKey(obj.key)) continue;
    const packId = parsePackKey(obj.key);
    try {
      const entries = await readPackTrailer(store.backend, obj.key, { size: obj.size });
      trailers.set(
        packId,
        new Map(entries.map((e) => [e.id, { id: e.id, offset: e.offset, length: e.length }])),
      );
      if (verifyData) {
        for (const id of await verifyPack(store.backend, obj.key)) {
          damaged.add(`${packId}/${id}`);
          problems.push({
            kind: 'chunk-damaged',
            id,
            message: `chunk ${id} in pack ${packId} fails verification`,
          });
        }
      }
    } catch (e) {
      problems.push({
        kind: 'pack-unreadable',
        id: packId,
        message: `pack ${packId}: ${(e as Error).message}`,
      });
    }
  }
  return { trailers, damaged, problems };
}

/** Verifies everything; never modifies the store. */
export async function checkStore(
  store: Store,
  options: { verifyData?: boolean } = {},
): Promise<CheckReport> {
  const db = store.index.storageDb.db;
  const scan = await scanPacks(store, options.verifyData ?? true);
  const problems = scan.problems;
  const packRows = await db.selectFrom('packs').select('id').execute();
  const indexedPacks = new Set(packRows.map((p) => p.id));
  const unreadable = new Set(problems.filter((p) => p.kind === 'pack-unreadable').map((p) => p.id));
  for (const id of indexedPacks) {
    if (!scan.trailers.has(id) && !unreadable.has(id)) {
      problems.push({
        kind: 'pack-missing',
        id,
        message: `pack ${id} is indexed but missing from storage`,
      });
    }
  }
  for (const id of scan.trailers.keys()) {
    if (!indexedPacks.has(id)) {
      problems.push({
        kind: 'pack-unindexed',
        id,
        message: `pack ${id} is not in the index (run repair)`,
      });
    }
  }

  // Every index row must match its pack's trailer and point at intact bytes.
  const bad = new Set<string>();
  const chunkRows = (
    await db.selectFrom('chunks').select(['id', 'pack_id', 'offset', 'length']).execute()
  ).map((c) => ({ ...c, id: blobToId(c.id), pack_id: blobToId(c.pack_id) }));
  for (const c of chunkRows) {
    const entries = scan.trailers.get(c.pack_id);
    if (!entries) {
      bad.add(c.id);
      continue; // reported at pack level
    }
    const e = entries.get(c.id);
    if (!e || e.offset !== Number(c.offset) || e.length !== c.length) {
      bad.add(c.id);
      problems.push({
        kind: 'index-mismatch',
        id: c.id,
        message: `index entry for chunk ${c.id} does not match pack ${c.pack_id}`,
      });
    } else if (scan.damaged.has(`${c.pack_id}/${c.id}`)) {
      bad.add(c.id);
    }
  }
  const indexed = new Set(chunkRows.map((c) => c.id));

  const damagedFiles: string[] = [];
  const files = await db.selectFrom('files').select(['sha256', 'chunk_ids']).execute();
  for (const f of files) {
    const ids = chunkIdsToHex(f.chunk_ids);
    const missing = ids.find((id) => !indexed.has(id));
    const broken = ids.find((id) => bad.has(id));
    if (missing) {
      problems.push({
        kind: 'chunk-missing',
        id: missing,
        message: `chunk ${missing} of file ${f.sha256} is not stored`,
      });
    }
    if (missing || broken) {
      damagedFiles.push(f.sha256);
      problems.push({
        kind: 'file-damaged',
        id: f.sha256,
        message: `file ${f.sha256} is damaged (chunk ${missing ?? broken})`,
      });
    }
  }
  const damagedFileSet = new Set(damagedFiles);
  const fileSet = new Set(files.map((f) => f.sha256));

  const damagedManifests: string[] = [];
  const manifests = await db.selectFrom('manifests').select(['digest', 'body']).execute();
  const mfRows = await db
    .selectFrom('manifest_files')
    .select(['manifest_digest', 'path', 'file_sha256'])
    .execute();
  const byManifest = new Map<string, { path: string; file_sha256: string }[]>();
  for (const r of mfRows) {
    const l = byManifest.get(r.manifest_digest) ?? [];
    l.push(r);
    byManifest.set(r.manifest_digest, l);
  }
  for (const m of manifests) {
    let why: string | undefined;
    if (!manifestDigestOk(m.digest, m.body)) why = 'its body does not match its digest';
    for (const r of byManifest.get(m.digest) ?? []) {
      if (why) break;
      if (!fileSet.has(r.file_sha256)) why = `file '${r.path}' (${r.file_sha256}) is not stored`;
      else if (damagedFileSet.has(r.file_sha256))
        why = `file '${r.path}' (${r.file_sha256}) is damaged`;
    }
    if (why) {
      damagedManifests.push(m.digest);
      problems.push({
        kind: 'manifest-damaged',
        id: m.digest,
        message: `manifest ${m.digest}: ${why}`,
      });
    }
  }
  return {
    packs: scan.trailers.size + unreadable.size,
    chunks: chunkRows.length,
    files: files.length,
    manifests: manifests.length,
    problems,
    damagedFiles,
    damagedManifests,
  };
}

export interface RepairReport {
  readonly packsIndexed: number;
  readonly chunksAdded: number;
  readonly chunksRepointed: number;
  readonly chunksRemoved: number;
  /** The check after repair: what is still damaged (bytes no pack holds any more). */
  readonly after: CheckReport;
}

/** Rebuilds the chunk index from pack trailers (see the module comment). */
export async function repairStore(store: Store): Promise<RepairReport> {
  const sdb = store.index.storageDb;
  const scan = await scanPacks(store, true);
  // Intact copies of each chunk, from every readable pack.
  const intact = new Map<string, { packId: string; offset: number; length: number }>();
  for (const [packId, entries] of scan.trailers) {
    for (const e of entries.values()) {
      if (!scan.damaged.has(`${packId}/${e.id}`) && !intact.has(e.id))
        intact.set(e.id, { packId, ...e });
    }
  }
  let packsIndexed = 0;
  let chunksAdded = 0;
  let chunksRepointed = 0;
  let chunksRemoved = 0;
  await sdb.writeTransaction(async (trx) => {
    const packRows = new Set(
      (await trx.selectFrom('packs').select('id').execute()).map((p) => p.id),
    );
    for (const [packId, entries] of scan.trailers) {
      if (packRows.has(packId)) continue;
      const size = (await store.backend.stat(packKey(packId as never)))?.size ?? 0;
      await trx
        .insertInto('packs')
        .values({ id: packId, size, chunk_count: entries.size, created_at: Date.now() })
        .execute();
      packsIndexed++;
    }
    const rows = (
      await trx.selectFrom('chunks').select(['id', 'pack_id', 'offset', 'length']).execute()
    ).map((c) => ({ ...c, id: blobToId(c.id), pack_id: blobToId(c.pack_id) }));
    const seen = new Set<string>();
    for (const r of rows) {
      seen.add(r.id);
      const entries = scan.trailers.get(r.pack_id);
      const own = entries?.get(r.id);
      const ok =
        own !== undefined &&
        own.offset === Number(r.offset) &&
        own.length === r.length &&
        !scan.damaged.has(`${r.pack_id}/${r.id}`);
      if (ok) continue;
      const alt = intact.get(r.id);
      if (alt) {
        await trx
          .updateTable('chunks')
          .set({ pack_id: idToBlob(alt.packId), offset: alt.offset, length: alt.length })
          .where('id', '=', idToBlob(r.id))
          .execute();
        chunksRepointed++;
      } else {
        await trx.deleteFrom('chunks').where('id', '=', idToBlob(r.id)).execute();
        chunksRemoved++;
      }
    }
    for (const [id, loc] of intact) {
      if (seen.has(id)) continue;
      await trx
        .insertInto('chunks')
        .values({
          id: idToBlob(id),
          pack_id: idToBlob(loc.packId),
          offset: loc.offset,
          length: loc.length,
          dead_since: null,
        })
        .execute();
      chunksAdded++;
    }
    // Packs that are gone: drop their rows so nothing claims them.
    for (const id of packRows) {
      if (
        !scan.trailers.has(id) &&
        !scan.problems.some((p) => p.kind === 'pack-unreadable' && p.id === id)
      ) {
        await trx.deleteFrom('packs').where('id', '=', id).execute();
      }
    }
  });
  const after = await checkStore(store);
  return { packsIndexed, chunksAdded, chunksRepointed, chunksRemoved, after };
}

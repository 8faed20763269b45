/**
 * Pack write/delete markers: the hand-off between an ingest writing a pack and a GC
 * deleting one with the same id.
 *
 * Pack ids are content-addressed (pack-format.ts), so an ingest that re-stores chunks GC is
 * collecting can produce exactly the pack GC is deleting. Without coordination, the ingest
 * could put the object, GC delete it, and the ingest index it afterwards: indexed chunks
 * whose pack is gone. The markers (rows `pack:<id>` in `storage_leases`, taken inside
 * writer transactions) order the two:
 *
 * - an ingest marks the pack `writing` BEFORE putting the object, and clears the mark when
 *   it indexes the pack; while a `deleting` mark stands it waits;
 * - GC, in the transaction that drops a pack's rows, skips a pack marked `writing`
 *   (its object is about to be, or has been, rewritten and indexed), otherwise marks it
 *   `deleting`, deletes the object, then clears the mark.
 *
 * Marks expire (a crashed writer or GC must not block forever): an expired mark counts as
 * absent.
 */
import type { Kysely } from 'kysely';
import type { StorageTables } from './storage-schema.js';

/** How long a mark stands without its owner clearing it. */
export const PACK_MARK_MS = 10 * 60 * 1000;

export type PackMark = 'writing' | 'deleting';

function markName(packId: string): string {
  return `pack:${packId}`;
}

/** The pack's standing (unexpired) mark, if any. */
export async function packMark(
  trx: Kysely<StorageTables>,
  packId: string,
  now = Date.now(),
): Promise<PackMark | undefined> {
  const row = await trx
    .selectFrom('storage_leases')
    .select(['holder', 'expires_at'])
    .where('name', '=', markName(packId))
    .executeTakeFirst();
  if (!row || Number(row.expires_at) <= now) return undefined;
  return row.holder === 'deleting' ? 'deleting' : 'writing';
}

/** Sets (or replaces) the pack's mark. Call inside a writer transaction. */
export async function setPackMark(
  trx: Kysely<StorageTables>,
  packId: string,
  mark: PackMark,
  now = Date.now(),
): Promise<void> {
  await trx.deleteFrom('storage_leases').where('name', '=', markName(packId)).execute();
  await trx
    .insertInto('storage_leases')
    .values({ name: markName(packId), holder: mark, expires_at: now + PACK_MARK_MS })
    .execute();
}

/** Clears the pack's mark if it is `mark`. */
export async function clearPackMark(
  trx: Kysely<StorageTables>,
  packId: string,
  mark: PackMark,
): Promise<void> {
  await trx
    .deleteFrom('storage_leases')
    .where('name', '=', markName(packId))
    .where('holder', '=', mark)
    .execute();
}

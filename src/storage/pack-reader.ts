/**
 * Reading packs (pack-format.ts) back from a backend: the trailer, for the index and for
 * rebuilding it, and a full verification, for fsck. Both work through `ObjectReader` alone,
 * so they run the same against the filesystem and S3.
 */
import { createHash, type Hash } from 'node:crypto';
import type { Sha256Hex } from '../core/digest.js';
import { CorruptionError, NotFoundError } from '../core/errors.js';
import type { ObjectReader } from './backends/object-backend.js';
import {
  checkFooterAgainstSize,
  checkPackHeader,
  decodeFooter,
  decodeTrailer,
  MIN_PACK_SIZE,
  PACK_ENTRY_SIZE,
  PACK_FOOTER_SIZE,
  PACK_HEADER,
  PACK_HEADER_SIZE,
  type PackEntry,
  packIdOfTrailer,
  validatePackEntries,
} from './pack-format.js';
import { parsePackKey } from './store-layout.js';

/**
 * How much of a pack's end `readPackTrailer` reads in its first request: the footer and,
 * for a 32 MiB pack of 64 KiB chunks (512 entries, 24 KiB of trailer), the whole trailer.
 */
const TAIL_READ_SIZE = 64 * 1024;

export interface ReadPackTrailerOptions {
  /** The pack's size when already known (from the index or a listing): saves a stat. */
  readonly size?: number;
}

/**
 * Reads and validates the trailer of the pack stored under `key` (a pack key, as made by
 * `packKey`) and returns its entries: inside the data region, ascending, non-overlapping,
 * with known flags. Checks the header and footer magic, that the footer's geometry
 * matches the object's size, that the trailer hashes to the footer's checksum and to the
 * id in the key, and every entry. Makes two or three ranged reads (plus a stat without
 * `size`); never reads the data region.
 * @throws InvalidArgumentError when `key` is not a pack key; NotFoundError when there is no
 *   such object; CorruptionError with a precise message for any inconsistency;
 *   ModelvaultError('UNSUPPORTED') for a newer format version or unknown entry flags.
 */
export async function readPackTrailer(
  backend: ObjectReader,
  key: string,
  options: ReadPackTrailerOptions = {},
): Promise<PackEntry[]> {
  return (await readPack(backend, key, options)).entries;
}

interface PackStructure {
  readonly packId: Sha256Hex;
  readonly size: number;
  readonly trailerOffset: number;
  readonly entries: PackEntry[];
}

async function readPack(
  backend: ObjectReader,
  key: string,
  options: ReadPackTrailerOptions,
): Promise<PackStructure> {
  const expectedId = parsePackKey(key);
  const size = options.size ?? (await backend.stat(key))?.size;
  if (size === undefined) throw new NotFoundError(`pack ${key} not found`, { key });
  if (size < MIN_PACK_SIZE) {
    throw new CorruptionError(
      `pack ${key}: ${size} bytes is smaller than the smallest pack (${MIN_PACK_SIZE})`,
      { pack: key, size },
    );
  }

  const tailStart = Math.max(0, size - TAIL_READ_SIZE);
  const [tail, header] = await Promise.all([
    backend.getRange(key, tailStart, size - tailStart),
    tailStart === 0 ? undefined : backend.getRange(key, 0, PACK_HEADER_SIZE),
  ]);
  checkPackHeader(header ?? tail.subarray(0, PACK_HEADER_SIZE), key);

  const footer = decodeFooter(tail.subarray(tail.length - PACK_FOOTER_SIZE), key);
  checkFooterAgainstSize(footer, size, key);
  const trailerLength = footer.entryCount * PACK_ENTRY_SIZE;
  const trailer =
    footer.trailerOffset >= tailStart
      ? tail.subarray(
          footer.trailerOffset - tailStart,
          footer.trailerOffset - tailStart + trailerLength,
        )
      : await backend.getRange(key, footer.trailerOffset, trailerLength);

  const actual = packIdOfTrailer(trailer);
  if (actual !== footer.trailerSha256) {
    throw new CorruptionError(
      `pack ${key}: trailer checksum mismatch (footer says ${footer.trailerSha256}, trailer hashes to ${actual})`,
      { pack: key, expected: footer.trailerSha256, actual },
    );
  }
  if (actual !== expectedId) {
    throw new CorruptionError(
      `pack ${key}: trailer hashes to ${actual}, not to the pack id in its key`,
      { pack: key, expected: expectedId, actual },
    );
  }
  const entries = decodeTrailer(trailer, key);
  validatePackEntries(entries, footer.trailerOffset, key);
  return { packId: actual, size, trailerOffset: footer.trailerOffset, entries };
}

/**
 * Verifies a whole pack: its structure (as `readPackTrailer`), then every chunk's bytes
 * against its id, reading the pack once as a stream (memory stays at one stream buffer).
 * Returns the ids of the chunks whose bytes do not hash to their id, in pack order: empty
 * when the pack is sound. A damaged chunk does not stop the check.
 * @throws like `readPackTrailer` for structural damage (nothing can be attributed to a
 *   chunk then), and CorruptionError when the streamed object disagrees with its ranged
 *   reads (a different size, header or trailer: it changed while being verified).
 */
export async function verifyPack(backend: ObjectReader, key: string): Promise<Sha256Hex[]> {
  const t = await readPack(backend, key, {});
  const damaged: Sha256Hex[] = [];
  const entries = t.entries;
  let next = 0; // first entry not yet complete
  let hash: Hash | undefined;
  const headerSeen = Buffer.alloc(PACK_HEADER_SIZE);
  const trailerHash = createHash('sha256');
  const trailerEnd = t.size - PACK_FOOTER_SIZE;

  /** The part of the pack's byte range [start, end) inside `piece`, which starts at `pos`. */
  const overlap = (piece: Uint8Array, pos: number, start: number, end: number) => {
    const from = Math.max(start, pos);
    const to = Math.min(end, pos + piece.length);
    return from < to ? piece.subarray(from - pos, to - pos) : undefined;
  };

  let pos = 0;
  for await (const piece of await backend.getStream(key)) {
    const pieceEnd = pos + piece.length;
    const head = overlap(piece, pos, 0, PACK_HEADER_SIZE);
    if (head) headerSeen.set(head, pos);
    while (next < entries.length) {
      const e = entries[next]!;
      const end = e.offset + e.length;
      if (e.offset >= pieceEnd && end > pieceEnd) break; // starts in a later piece
      const part = overlap(piece, pos, e.offset, end);
      if (part) {
        hash ??= createHash('sha256');
        hash.update(part);
      }
      if (end > pieceEnd) break; // continues in the next piece
      const digest = (hash ?? createHash('sha256')).digest('hex');
      if (digest !== e.id) damaged.push(e.id);
      hash = undefined;
      next++;
    }
    const tr = overlap(piece, pos, t.trailerOffset, trailerEnd);
    if (tr) trailerHash.update(tr);
    pos = pieceEnd;
  }

  if (pos !== t.size) {
    throw new CorruptionError(
      `pack ${key}: streamed ${pos} bytes but the pack has ${t.size}; it changed while being verified`,
      { pack: key, size: t.size, streamed: pos },
    );
  }
  if (!headerSeen.equals(PACK_HEADER) || trailerHash.digest('hex') !== t.packId) {
    throw new CorruptionError(
      `pack ${key}: streamed header or trailer differs from the one read by range; it changed while being verified`,
      { pack: key },
    );
  }
  return damaged;
}

/**
 * The pack format: many chunks in one immutable object, self-describing so the chunk index
 * can be rebuilt from the packs alone. Pure encoding, decoding and validation; I/O lives
 * in pack-writer.ts and pack-reader.ts.
 *
 * Pack format version 1, all integers little-endian:
 *
 * ```
 * offset         size   field
 * 0              8      header: "MVPACK" 0x00 0x01 (magic, NUL, format version 1)
 * 8              D      data region: the stored bytes of each chunk, back to back
 * 8+D            48*N   trailer: N entries, in ascending offset order, each
 *                         +0   32  chunk id: SHA-256 of the chunk's raw bytes
 *                         +32   8  offset: u64, absolute position of the stored bytes
 *                         +40   4  length: u32, number of stored bytes
 *                         +44   4  flags: u32; 0 = raw (stored bytes are the chunk);
 *                                  other values are reserved (compression)
 * 8+D+48*N       56     footer:
 *                         +0    4  entry count N: u32
 *                         +4    4  reserved: u32, zero (keeps the u64 below 8-aligned)
 *                         +8    8  trailer offset: u64, = 8+D
 *                         +16  32  SHA-256 of the trailer bytes
 *                         +48   8  "MVPKEND1"
 * ```
 *
 * The pack id is the hex SHA-256 of the trailer bytes. Since the trailer names every chunk
 * by the hash of its content, with its position and length, the same chunks written in the
 * same order give the same id, and finding the id never hashes the whole pack. (A future
 * compressed entry must make its stored bytes determined by its trailer entry — e.g. by
 * adding their hash — to keep "same id, same bytes".)
 *
 * Readers must not assume the data region is gap-free: entries are ascending and
 * non-overlapping, and the bytes between them, if any, mean nothing. Writers emit none.
 */
import { createHash } from 'node:crypto';
import { type Sha256Hex, sha256HexFromBytes } from '../core/digest.js';
import { CorruptionError, ModelvaultError } from '../core/errors.js';

export const PACK_FORMAT_VERSION = 1;
/** "MVPACK\0" followed by the format version byte. */
export const PACK_HEADER: Readonly<Uint8Array> = Uint8Array.from([
  0x4d,
  0x56,
  0x50,
  0x41,
  0x43,
  0x4b,
  0x00,
  PACK_FORMAT_VERSION,
]);
export const PACK_HEADER_SIZE = 8;
export const PACK_ENTRY_SIZE = 48;
export const PACK_FOOTER_SIZE = 56;
export const PACK_FOOTER_MAGIC = 'MVPKEND1';
/** Size of a pack with no chunks: header, empty trailer, footer. */
export const MIN_PACK_SIZE = PACK_HEADER_SIZE + PACK_FOOTER_SIZE;
export const CHUNK_FLAG_RAW = 0;
/** Largest stored chunk a u32 length can describe. */
export const MAX_PACK_CHUNK_LENGTH = 0xffff_ffff;
/** Size at which writers seal a pack and start the next (DESIGN §3: tens of MiB). */
export const DEFAULT_PACK_TARGET_SIZE = 32 * 1024 * 1024;

/** One chunk's place in a pack. */
export interface PackEntry {
  readonly id: Sha256Hex;
  /** Absolute offset of the stored bytes in the pack. */
  readonly offset: number;
  /** Stored length in bytes. */
  readonly length: number;
  readonly flags: number;
}

export interface PackFooter {
  readonly entryCount: number;
  readonly trailerOffset: number;
  readonly trailerSha256: Sha256Hex;
}

const FOOTER_MAGIC_BYTES = Buffer.from(PACK_FOOTER_MAGIC, 'latin1');

function corrupt(pack: string, why: string, details?: Record<string, unknown>): CorruptionError {
  return new CorruptionError(`pack ${pack}: ${why}`, { pack, ...details });
}

function readU64(buf: Buffer, at: number, pack: string, field: string): number {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(pack, `${field} ${v} is out of range`);
  return Number(v);
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The pack id for the given trailer bytes. */
export function packIdOfTrailer(trailer: Uint8Array): Sha256Hex {
  return createHash('sha256').update(trailer).digest('hex') as Sha256Hex;
}

/** Encodes entries as trailer bytes. Does not validate them (writers build them right). */
export function encodeTrailer(entries: readonly PackEntry[]): Buffer {
  const out = Buffer.alloc(entries.length * PACK_ENTRY_SIZE);
  entries.forEach((e, i) => {
    const at = i * PACK_ENTRY_SIZE;
    out.write(e.id, at, 32, 'hex');
    out.writeBigUInt64LE(BigInt(e.offset), at + 32);
    out.writeUInt32LE(e.length, at + 40);
    out.writeUInt32LE(e.flags, at + 44);
  });
  return out;
}

/**
 * Decodes trailer bytes into entries, without validating them (see `validatePackEntries`).
 * @throws CorruptionError when the length is not a whole number of entries or an offset
 *   does not fit a JavaScript number.
 */
export function decodeTrailer(trailer: Uint8Array, pack: string): PackEntry[] {
  if (trailer.length % PACK_ENTRY_SIZE !== 0) {
    throw corrupt(pack, `trailer length ${trailer.length} is not a multiple of ${PACK_ENTRY_SIZE}`);
  }
  const buf = asBuffer(trailer);
  const entries: PackEntry[] = [];
  for (let at = 0; at < buf.length; at += PACK_ENTRY_SIZE) {
    entries.push({
      id: sha256HexFromBytes(buf.subarray(at, at + 32)),
      offset: readU64(buf, at + 32, pack, `entry ${at / PACK_ENTRY_SIZE} offset`),
      length: buf.readUInt32LE(at + 40),
      flags: buf.readUInt32LE(at + 44),
    });
  }
  return entries;
}

export function encodeFooter(footer: PackFooter): Buffer {
  const out = Buffer.alloc(PACK_FOOTER_SIZE);
  out.writeUInt32LE(footer.entryCount, 0);
  out.writeUInt32LE(0, 4);
  out.writeBigUInt64LE(BigInt(footer.trailerOffset), 8);
  out.write(footer.trailerSha256, 16, 32, 'hex');
  FOOTER_MAGIC_BYTES.copy(out, 48);
  return out;
}

/**
 * Decodes the last PACK_FOOTER_SIZE bytes of a pack.
 * @throws CorruptionError for a wrong magic, a non-zero reserved field or a bad size.
 */
export function decodeFooter(bytes: Uint8Array, pack: string): PackFooter {
  if (bytes.length !== PACK_FOOTER_SIZE) {
    throw corrupt(pack, `footer is ${bytes.length} bytes, expected ${PACK_FOOTER_SIZE}`);
  }
  const buf = asBuffer(bytes);
  if (!buf.subarray(48).equals(FOOTER_MAGIC_BYTES)) {
    throw corrupt(pack, `bad footer magic ${JSON.stringify(buf.subarray(48).toString('latin1'))}`);
  }
  const reserved = buf.readUInt32LE(4);
  if (reserved !== 0) throw corrupt(pack, `footer reserved field is ${reserved}, expected 0`);
  return {
    entryCount: buf.readUInt32LE(0),
    trailerOffset: readU64(buf, 8, pack, 'trailer offset'),
    trailerSha256: sha256HexFromBytes(buf.subarray(16, 48)),
  };
}

/**
 * Checks a pack's first PACK_HEADER_SIZE bytes.
 * @throws CorruptionError for a wrong magic; ModelvaultError('UNSUPPORTED') for a pack
 *   written in a newer format version.
 */
export function checkPackHeader(bytes: Uint8Array, pack: string): void {
  const buf = asBuffer(bytes);
  if (
    buf.length !== PACK_HEADER_SIZE ||
    !buf.subarray(0, 7).equals(asBuffer(PACK_HEADER.subarray(0, 7)))
  ) {
    throw corrupt(
      pack,
      `bad header magic ${JSON.stringify(buf.subarray(0, 7).toString('latin1'))}`,
    );
  }
  const version = buf[7]!;
  if (version !== PACK_FORMAT_VERSION) {
    throw new ModelvaultError(
      'UNSUPPORTED',
      `pack ${pack}: format version ${version} is not supported (this modelvault reads ${PACK_FORMAT_VERSION})`,
      { pack, version },
    );
  }
}

/**
 * Checks that a footer describes a pack of exactly `size` bytes: the trailer starts after
 * the header and ends where the footer begins.
 * @throws CorruptionError naming the inconsistency.
 */
export function checkFooterAgainstSize(footer: PackFooter, size: number, pack: string): void {
  if (footer.trailerOffset < PACK_HEADER_SIZE) {
    throw corrupt(pack, `trailer offset ${footer.trailerOffset} is inside the header`);
  }
  const expected = footer.trailerOffset + footer.entryCount * PACK_ENTRY_SIZE + PACK_FOOTER_SIZE;
  if (expected !== size) {
    throw corrupt(
      pack,
      `footer describes ${expected} bytes (trailer at ${footer.trailerOffset}, ${footer.entryCount} entries) but the pack has ${size}`,
      { size, expected },
    );
  }
}

/**
 * Checks that every entry lies inside the data region [PACK_HEADER_SIZE, trailerOffset),
 * that entries are in ascending order without overlap, and that their flags are known.
 * @throws CorruptionError naming the first bad entry by index and chunk id;
 *   ModelvaultError('UNSUPPORTED') for flags this version does not know.
 */
export function validatePackEntries(
  entries: readonly PackEntry[],
  trailerOffset: number,
  pack: string,
): void {
  let prevEnd = PACK_HEADER_SIZE;
  entries.forEach((e, i) => {
    const what = `entry ${i} (chunk ${e.id})`;
    const end = e.offset + e.length;
    if (e.offset < PACK_HEADER_SIZE) {
      throw corrupt(pack, `${what} starts at ${e.offset}, inside the header`, { chunk: e.id });
    }
    if (end > trailerOffset) {
      throw corrupt(pack, `${what} ends at ${end}, past the data region end ${trailerOffset}`, {
        chunk: e.id,
      });
    }
    if (e.offset < prevEnd) {
      throw corrupt(
        pack,
        `${what} starts at ${e.offset}, before the previous entry ends at ${prevEnd}`,
        { chunk: e.id },
      );
    }
    if (e.flags !== CHUNK_FLAG_RAW) {
      throw new ModelvaultError(
        'UNSUPPORTED',
        `pack ${pack}: ${what} has flags ${e.flags}, not supported by this modelvault`,
        { pack, chunk: e.id, flags: e.flags },
      );
    }
    prevEnd = end;
  });
}

/**
 * The central directory of a zip archive (PKWARE APPNOTE 4.3.12–4.3.16, with zip64), read
 * from the end of the file through a `RangeReader`: entry names, sizes, compression method
 * and where each entry's data starts. Only the directory and local headers asked for are
 * read. The archive is untrusted: counts, sizes and offsets are checked against the file
 * and against caps before use.
 */
import type { RangeReader } from '../file-layout.js';
import { FormatReject } from '../range-cursor.js';

export const ZIP_LIMITS = Object.freeze({
  maxEntries: 1_000_000,
  maxDirectoryBytes: 256 * 1024 * 1024,
});

export interface ZipEntry {
  readonly name: string;
  /** 0 stored, 8 deflated… */
  readonly method: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly localHeaderOffset: number;
}

const EOCD = 0x06054b50;
const EOCD64 = 0x06064b50;
const LOCATOR64 = 0x07064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

async function readExact(
  read: RangeReader,
  offset: number,
  length: number,
  what: string,
): Promise<DataView> {
  const b = await read(offset, length);
  if (b.length < length) throw new FormatReject(`truncated ${what} at offset ${offset}`);
  return new DataView(b.buffer, b.byteOffset, length);
}

const u64 = (v: DataView, at: number) =>
  v.getUint32(at, true) + v.getUint32(at + 4, true) * 2 ** 32;

/** True when the file starts with a zip local header (or is an empty archive). */
export function looksLikeZip(prefix: Uint8Array): boolean {
  return (
    prefix.length >= 4 &&
    prefix[0] === 0x50 &&
    prefix[1] === 0x4b &&
    (prefix[2] === 3 || prefix[2] === 5)
  );
}

/** The archive's entries in directory order. @throws FormatReject for a damaged archive. */
export async function readZipDirectory(read: RangeReader, size: number): Promise<ZipEntry[]> {
  if (size < 22) throw new FormatReject('file too short for a zip archive');
  const tailLength = Math.min(size, 22 + 65535);
  const tailStart = size - tailLength;
  const tail = await read(tailStart, tailLength);
  if (tail.length < tailLength) throw new FormatReject('truncated zip archive');
  const tv = new DataView(tail.buffer, tail.byteOffset, tail.length);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tv.getUint32(i, true) === EOCD && i + 22 + tv.getUint16(i + 20, true) <= tail.length) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new FormatReject('no zip end of central directory record');
  let count = tv.getUint16(eocd + 10, true);
  let dirSize = tv.getUint32(eocd + 12, true);
  let dirOffset = tv.getUint32(eocd + 16, true);
  if (count === 0xffff || dirSize === 0xffffffff || dirOffset === 0xffffffff) {
    const loc = tailStart + eocd - 20;
    if (loc < 0) throw new FormatReject('zip64 locator missing');
    const lv = await readExact(read, loc, 20, 'zip64 locator');
    if (lv.getUint32(0, true) !== LOCATOR64) throw new FormatReject('zip64 locator missing');
    const at = u64(lv, 8);
    if (at + 56 > size)
      throw new FormatReject(`zip64 end record offset ${at} is past the file end`);
    const ev = await readExact(read, at, 56, 'zip64 end record');
    if (ev.getUint32(0, true) !== EOCD64) throw new FormatReject('bad zip64 end record signature');
    count = u64(ev, 32);
    dirSize = u64(ev, 40);
    dirOffset = u64(ev, 48);
  }
  if (count > ZIP_LIMITS.maxEntries)
    throw new FormatReject(`zip archive of ${count} entries exceeds the limit`);
  if (dirSize > ZIP_LIMITS.maxDirectoryBytes)
    throw new FormatReject(`zip directory of ${dirSize} bytes exceeds the limit`);
  if (dirOffset + dirSize > size)
    throw new FormatReject('zip central directory runs past the file end');
  if (count * 46 > dirSize)
    throw new FormatReject(`zip directory of ${dirSize} bytes cannot hold ${count} entries`);
  const dir = await read(dirOffset, dirSize);
  if (dir.length < dirSize) throw new FormatReject('truncated zip central directory');
  const dv = new DataView(dir.buffer, dir.byteOffset, dir.length);
  const decoder = new TextDecoder('utf-8');
  const entries: ZipEntry[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > dir.length || dv.getUint32(p, true) !== CENTRAL) {
      throw new FormatReject(`bad zip central directory entry ${i}`);
    }
    const method = dv.getUint16(p + 10, true);
    let compressedSize = dv.getUint32(p + 20, true);
    let usize = dv.getUint32(p + 24, true);
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    let offset = dv.getUint32(p + 42, true);
    const end = p + 46 + nameLen + extraLen + commentLen;
    if (end > dir.length) throw new FormatReject(`zip entry ${i} runs past the directory`);
    const name = decoder.decode(dir.subarray(p + 46, p + 46 + nameLen));
    // zip64 extended information: the 0xFFFFFFFF fields, in this order.
    let e = p + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = dv.getUint16(e, true);
      const len = dv.getUint16(e + 2, true);
      if (e + 4 + len > extraEnd)
        throw new FormatReject(`zip entry ${i} has a damaged extra field`);
      if (id === 0x0001) {
        let f = e + 4;
        const take = (): number => {
          if (f + 8 > e + 4 + len) throw new FormatReject(`zip entry ${i} has a short zip64 field`);
          const v = u64(dv, f);
          f += 8;
          return v;
        };
        if (usize === 0xffffffff) usize = take();
        if (compressedSize === 0xffffffff) compressedSize = take();
        if (offset === 0xffffffff) offset = take();
      }
      e += 4 + len;
    }
    if (offset + 30 > size || offset + compressedSize > size) {
      throw new FormatReject(
        `zip entry ${JSON.stringify(name.slice(0, 80))} lies past the file end`,
      );
    }
    entries.push({ name, method, compressedSize, size: usize, localHeaderOffset: offset });
    p = end;
  }
  return entries;
}

/** Offset of an entry's data (after its local header). */
export async function zipDataOffset(
  read: RangeReader,
  size: number,
  entry: ZipEntry,
): Promise<number> {
  const v = await readExact(read, entry.localHeaderOffset, 30, 'zip local header');
  if (v.getUint32(0, true) !== LOCAL)
    throw new FormatReject(`bad zip local header for ${JSON.stringify(entry.name.slice(0, 80))}`);
  const start = entry.localHeaderOffset + 30 + v.getUint16(26, true) + v.getUint16(28, true);
  if (start + entry.compressedSize > size)
    throw new FormatReject('zip entry data runs past the file end');
  return start;
}

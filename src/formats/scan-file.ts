/**
 * Scans one model file for unsafe pickles (see `pickle-scan.ts`), choosing how by its name
 * and first bytes:
 *
 *   .pkl .pickle .joblib .dill       a pickle stream (gzip-compressed ones are inflated)
 *   .pt .pth .bin .ckpt .zip .mar    a zip archive: every member named *.pkl / *.pickle
 *                                    (PyTorch's `archive/data.pkl`) is scanned, stored or
 *                                    deflated; or, when the file starts with a pickle
 *                                    PROTO opcode, PyTorch's legacy format (several pickles)
 *
 * Anything else, and a .bin/.pt that is neither, is not pickle-based: `scanFile` returns
 * null. Reads go through the `FileSource` it is given, streamed; deflated members are
 * inflated with a cap on their output, so a zip bomb is `unreadable`, not an outage.
 */
import { Readable } from 'node:stream';
import { createGunzip, createInflateRaw } from 'node:zlib';
import type { FileScanReport, PickleMemberScan } from '../core/registry-api.js';
import { readZipDirectory, zipDataOffset } from './inspect/zip-directory.js';
import {
  type PickleScan,
  type PickleScanLimits,
  scanPickle,
  unreadableScan,
  worstVerdict,
} from './pickle-scan.js';
import { FormatReject } from './range-cursor.js';

/** A stored file's bytes: its size, and a stream of any byte range of it. */
export interface FileSource {
  readonly size: number;
  stream(range?: { readonly offset: number; readonly length: number }): AsyncIterable<Uint8Array>;
}

export interface ScanFileLimits {
  readonly maxMembers: number;
  readonly maxInflated: number;
}

export const SCAN_FILE_LIMITS: ScanFileLimits = Object.freeze({
  /** Pickle members scanned per archive. */
  maxMembers: 1000,
  /** Bytes a deflated member may inflate to. */
  maxInflated: 1024 * 1024 * 1024,
});

const PICKLE_EXT = /\.(pkl|pickle|joblib|dill)$/i;
const ARCHIVE_EXT = /\.(pt|pth|bin|ckpt|zip|mar)$/i;
const PICKLE_MEMBER = /\.(pkl|pickle)$/i;

/** True when `path`'s name says it may hold pickles (worth reading its first bytes). */
export function mayHoldPickles(path: string): boolean {
  return PICKLE_EXT.test(path) || ARCHIVE_EXT.test(path);
}

async function head(src: FileSource, n: number): Promise<Uint8Array> {
  const want = Math.min(n, src.size);
  const parts: Uint8Array[] = [];
  let got = 0;
  if (want === 0) return new Uint8Array(0);
  for await (const b of src.stream({ offset: 0, length: want })) {
    parts.push(b);
    got += b.length;
  }
  return Buffer.concat(parts, got);
}

/** A range reader over `src` (for the zip directory and local headers). */
function rangeReader(src: FileSource) {
  return async (offset: number, length: number): Promise<Uint8Array> => {
    const end = Math.min(src.size, offset + length);
    if (offset >= end) return new Uint8Array(0);
    const parts: Uint8Array[] = [];
    for await (const b of src.stream({ offset, length: end - offset })) parts.push(b);
    return Buffer.concat(parts);
  };
}

/** Inflates `source` through `transform`, failing once more than `cap` bytes come out. */
async function* inflated(
  source: AsyncIterable<Uint8Array>,
  transform: NodeJS.ReadWriteStream,
  cap: number,
): AsyncGenerator<Uint8Array> {
  const input = Readable.from(source);
  const out = input.pipe(transform) as unknown as Readable;
  let total = 0;
  try {
    for await (const b of out) {
      total += (b as Uint8Array).length;
      if (total > cap) throw new FormatReject(`inflates to more than ${cap} bytes`);
      yield b as Uint8Array;
    }
  } finally {
    input.destroy();
    out.destroy();
  }
}

/** Scans a pickle stream; a decompression failure becomes the member's reason. */
async function scanStream(
  source: AsyncIterable<Uint8Array>,
  limits: Partial<PickleScanLimits>,
): Promise<PickleScan> {
  try {
    return await scanPickle(source, limits);
  } catch (e) {
    const reason =
      e instanceof FormatReject
        ? e.message
        : (e as { code?: unknown }).code !== undefined &&
            String((e as { code: unknown }).code).startsWith('Z_')
          ? `cannot inflate: ${(e as Error).message}`
          : null;
    if (reason === null) throw e;
    return unreadableScan(reason);
  }
}

function combine(format: 'pickle' | 'zip', members: PickleMemberScan[], scans: PickleScan[]) {
  const union = (pick: (s: PickleScan) => readonly string[]) => [
    ...new Set(scans.flatMap((s) => [...pick(s)])),
  ];
  const reasons = members.filter((m) => m.reason !== null);
  return {
    format,
    verdict: worstVerdict(members.map((m) => m.verdict)),
    globals: union((s) => s.globals).slice(0, 1000),
    dangerous: union((s) => s.dangerous),
    suspicious: union((s) => s.suspicious).slice(0, 1000),
    reason:
      reasons.length === 0
        ? null
        : reasons.map((m) => (m.name ? `${m.name}: ${m.reason}` : m.reason)).join('; '),
    members,
  } satisfies FileScanReport;
}

function member(name: string, s: PickleScan): PickleMemberScan {
  return { name, verdict: s.verdict, globals: s.globals, reason: s.reason };
}

/**
 * Scans `path`'s bytes. Resolves null when the file is not pickle-based. Never throws
 * for bad content; rethrows the source's own errors (I/O, corruption).
 */
export async function scanFile(
  path: string,
  src: FileSource,
  limits: Partial<PickleScanLimits & ScanFileLimits> = {},
): Promise<FileScanReport | null> {
  if (!mayHoldPickles(path)) return null;
  const L = { ...SCAN_FILE_LIMITS, ...limits };
  const magic = await head(src, 4);
  const isZip = magic.length >= 4 && magic[0] === 0x50 && magic[1] === 0x4b;
  const isGzip = magic.length >= 2 && magic[0] === 0x1f && magic[1] === 0x8b;
  if (isZip) return scanZip(src, L);
  if (PICKLE_EXT.test(path) || magic[0] === 0x80) {
    const s = await scanStream(
      isGzip ? inflated(src.stream(), createGunzip(), L.maxInflated) : src.stream(),
      L,
    );
    return combine('pickle', [member('', s)], [s]);
  }
  return null;
}

async function scanZip(
  src: FileSource,
  L: Partial<PickleScanLimits> & ScanFileLimits,
): Promise<FileScanReport | null> {
  const read = rangeReader(src);
  let entries: Awaited<ReturnType<typeof readZipDirectory>>;
  try {
    entries = await readZipDirectory(read, src.size);
  } catch (e) {
    if (!(e instanceof FormatReject)) throw e;
    const m = { name: '', verdict: 'unreadable' as const, globals: [], reason: e.message };
    return combine('zip', [m], []);
  }
  const pickled = entries.filter((e) => PICKLE_MEMBER.test(e.name));
  if (pickled.length === 0) return null;
  const members: PickleMemberScan[] = [];
  const scans: PickleScan[] = [];
  for (const entry of pickled.slice(0, L.maxMembers)) {
    let s: PickleScan;
    try {
      const start = await zipDataOffset(read, src.size, entry);
      const raw = src.stream({ offset: start, length: entry.compressedSize });
      if (entry.method === 0) s = await scanStream(raw, L);
      else if (entry.method === 8) {
        s = await scanStream(inflated(raw, createInflateRaw(), L.maxInflated), L);
      } else throw new FormatReject(`compression method ${entry.method} is not supported`);
    } catch (e) {
      if (!(e instanceof FormatReject)) throw e;
      s = unreadableScan(e.message);
    }
    members.push(member(entry.name, s));
    scans.push(s);
  }
  if (pickled.length > L.maxMembers) {
    members.push({
      name: '',
      verdict: 'unreadable',
      globals: [],
      reason: `${pickled.length - L.maxMembers} more pickle members were not scanned`,
    });
  }
  return combine('zip', members, scans);
}

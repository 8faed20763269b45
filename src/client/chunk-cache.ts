/**
 * The SDK's persistent chunk cache: what a push learnt about local files, so the next push
 * does not cut and hash the same bytes again (docs/sdk.md "Chunk cache"). Node only.
 *
 * Two levels, both keyed by the server's chunking parameters (a server with other
 * parameters never sees another's entries):
 *
 * - File entries, like git's index: (absolute path, device, inode, size, mtime, ctime, in
 *   nanoseconds) → the file's SHA-256, format and chunk list. A hit skips reading the file.
 *   Any change of the file — a write (mtime, ctime), a rewrite of the same size with its
 *   mtime put back (ctime), a new file renamed over it (inode) — misses. A file modified
 *   within RACY_MS of when it was read is not recorded (its timestamps may not yet show a
 *   write in the same clock tick), as git treats "racily clean" entries.
 * - Piece entries, like the store's piece cache (storage/file-chunker.ts), with the same
 *   key: SHA-256 of a large tensor's bytes → its chunks. A hit skips FastCDC and the
 *   per-chunk hashes of that tensor; the tensor is still read and hashed, and so is the
 *   whole file. This is what makes the next checkpoint of a fine-tune cheap: most of its
 *   tensors are unchanged, but it is a new file.
 *
 * Trust: an entry is a hint, never evidence. Each carries a SHA-256 of its key and
 * content, and one that fails it, or whose chunk lengths do not add up, is ignored. An
 * entry that is wrong yet well-formed is caught by the server, which verifies every chunk
 * it receives against its id and every new file's SHA-256 before a version is visible; the
 * push then drops every entry it used and chunks the files afresh (node-transfer.ts).
 *
 * Writes go to a temporary file renamed into place, so concurrent pushes and a crash leave
 * whole entries or none. Write failures are ignored: the cache is an optimisation. Entries
 * are ~36 bytes per chunk (~0.06% of the data); delete the directory to clear it.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { FileFormat } from '../core/upload-protocol.js';
import type { ChunkingParams } from '../storage/chunking/chunking-params.js';
import { pieceCacheKeyPrefix } from '../storage/chunking/piece-cache-key.js';

/** A file modified less than this before it was read is not recorded. */
export const RACY_MS = 2000;
/** One chunk in an entry: 32-byte id, u32 little-endian length. */
const RECORD = 36;
const CHECK = 32;
const LAYOUT = 'modelvault-chunk-cache-v1';

export interface CachedChunk {
  readonly id: string;
  readonly length: number;
}

export interface CachedFile {
  readonly sha256: string;
  readonly size: number;
  readonly format: FileFormat;
  readonly chunks: readonly CachedChunk[];
}

/** Hits and misses since the cache was opened (for tests and diagnostics). */
export interface ChunkCacheStats {
  fileHits: number;
  fileMisses: number;
  pieceHits: number;
  pieceMisses: number;
  /** Entries ignored because they failed their own checks. */
  invalid: number;
}

/**
 * The cache directory a client uses unless told otherwise: `MODELVAULT_CACHE_DIR` (the
 * value `off` disables the cache), else `$XDG_CACHE_HOME/modelvault`, else
 * `~/.cache/modelvault`.
 */
export function defaultChunkCacheDir(env = process.env): string | undefined {
  const set = env.MODELVAULT_CACHE_DIR;
  if (set !== undefined && set !== '') return set === 'off' ? undefined : set;
  const xdg = env.XDG_CACHE_HOME;
  return join(xdg !== undefined && xdg !== '' ? xdg : join(homedir(), '.cache'), 'modelvault');
}

function sha256(...parts: (string | Uint8Array)[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

function encodeRecords(chunks: readonly CachedChunk[]): Buffer {
  const out = Buffer.alloc(chunks.length * RECORD);
  chunks.forEach((c, i) => {
    out.write(c.id, i * RECORD, 32, 'hex');
    out.writeUInt32LE(c.length, i * RECORD + 32);
  });
  return out;
}

function decodeRecords(bytes: Buffer): CachedChunk[] | undefined {
  if (bytes.length % RECORD !== 0) return undefined;
  const out: CachedChunk[] = [];
  for (let o = 0; o < bytes.length; o += RECORD) {
    const length = bytes.readUInt32LE(o + 32);
    if (length === 0) return undefined;
    out.push({ id: bytes.toString('hex', o, o + 32), length });
  }
  return out;
}

const total = (chunks: readonly CachedChunk[]) => chunks.reduce((s, c) => s + c.length, 0);

export class ChunkCache {
  readonly stats: ChunkCacheStats = {
    fileHits: 0,
    fileMisses: 0,
    pieceHits: 0,
    pieceMisses: 0,
    invalid: 0,
  };
  private readonly root: string;

  private readonly reads: boolean;
  private readonly racyMs: number;

  /**
   * @param dir the cache directory (created on first write)
   * @param options.reads false for a cache that records but never answers (see writeOnly);
   *   `racyMs` (default RACY_MS): how long after its last change a file entry is recorded
   */
  constructor(
    readonly dir: string,
    options: { readonly reads?: boolean; readonly racyMs?: number } = {},
  ) {
    this.root = join(dir, LAYOUT);
    this.reads = options.reads ?? true;
    this.racyMs = options.racyMs ?? RACY_MS;
  }

  /** The same directory, recording what is chunked but never answering from it. */
  writeOnly(): ChunkCache {
    return new ChunkCache(this.dir, { reads: false, racyMs: this.racyMs });
  }

  // ------------------------------------------------------------------ files

  /** The entry of `path` if its recorded identity matches `stat` exactly. */
  async getFile(
    params: ChunkingParams,
    path: string,
    stat: BigIntStats,
  ): Promise<CachedFile | undefined> {
    const key = this.fileKey(params, path);
    const bytes = await this.read(this.filePath(key));
    const entry = bytes && this.decodeFile(key, bytes);
    if (bytes && !entry) this.stats.invalid++;
    if (
      !entry ||
      entry.identity !== identity(stat) ||
      entry.file.size !== Number(stat.size) ||
      total(entry.file.chunks) !== entry.file.size
    ) {
      this.stats.fileMisses++;
      return undefined;
    }
    this.stats.fileHits++;
    return entry.file;
  }

  /**
   * Records `file` for `path` as it was when read (`stat`, taken before reading and checked
   * unchanged after), unless it was modified less than `racyMs` before `readAtMs`.
   */
  async putFile(
    params: ChunkingParams,
    path: string,
    stat: BigIntStats,
    readAtMs: number,
    file: CachedFile,
  ): Promise<void> {
    const settled = BigInt(Math.floor(readAtMs - this.racyMs)) * 1_000_000n;
    if (stat.mtimeNs >= settled || stat.ctimeNs >= settled) return;
    const key = this.fileKey(params, path);
    const header = Buffer.from(
      JSON.stringify({
        identity: identity(stat),
        sha256: file.sha256,
        size: file.size,
        format: file.format,
      }),
    );
    const length = Buffer.alloc(4);
    length.writeUInt32LE(header.length);
    const body = Buffer.concat([length, header, encodeRecords(file.chunks)]);
    await this.write(this.filePath(key), Buffer.concat([body, sha256(key, body)]));
  }

  async dropFile(params: ChunkingParams, path: string): Promise<void> {
    await rm(this.filePath(this.fileKey(params, path)), { force: true }).catch(() => undefined);
  }

  // ----------------------------------------------------------------- pieces

  /**
   * The chunks of the piece whose key (SHA-256 of pieceCacheKeyPrefix(params) and its bytes, hex)
   * is `key`, if an intact entry adds up to `length`.
   */
  async getPiece(key: string, length: number): Promise<CachedChunk[] | undefined> {
    const bytes = await this.read(this.piecePath(key));
    let chunks: CachedChunk[] | undefined;
    if (bytes && bytes.length >= CHECK) {
      const body = bytes.subarray(0, bytes.length - CHECK);
      if (sha256(key, body).equals(bytes.subarray(bytes.length - CHECK))) {
        chunks = decodeRecords(body);
      }
      if (!chunks) this.stats.invalid++;
    }
    if (!chunks || total(chunks) !== length) {
      this.stats.pieceMisses++;
      return undefined;
    }
    this.stats.pieceHits++;
    return chunks;
  }

  async putPiece(key: string, chunks: readonly CachedChunk[]): Promise<void> {
    const body = encodeRecords(chunks);
    await this.write(this.piecePath(key), Buffer.concat([body, sha256(key, body)]));
  }

  async dropPiece(key: string): Promise<void> {
    await rm(this.piecePath(key), { force: true }).catch(() => undefined);
  }

  // --------------------------------------------------------------- plumbing

  private fileKey(params: ChunkingParams, path: string): string {
    return sha256(pieceCacheKeyPrefix(params), 'file\0', resolve(path)).toString('hex');
  }

  private filePath(key: string): string {
    return join(this.root, 'files', key.slice(0, 2), key);
  }

  private piecePath(key: string): string {
    return join(this.root, 'pieces', key.slice(0, 2), key);
  }

  private decodeFile(
    key: string,
    bytes: Buffer,
  ): { identity: string; file: CachedFile } | undefined {
    if (bytes.length < 4 + CHECK) return undefined;
    const body = bytes.subarray(0, bytes.length - CHECK);
    if (!sha256(key, body).equals(bytes.subarray(bytes.length - CHECK))) return undefined;
    const headerLength = body.readUInt32LE(0);
    if (4 + headerLength > body.length) return undefined;
    try {
      const h = JSON.parse(body.toString('utf8', 4, 4 + headerLength)) as {
        identity: string;
        sha256: string;
        size: number;
        format: FileFormat;
      };
      const chunks = decodeRecords(body.subarray(4 + headerLength));
      if (!chunks || typeof h.identity !== 'string' || !/^[0-9a-f]{64}$/.test(h.sha256)) {
        return undefined;
      }
      return {
        identity: h.identity,
        file: { sha256: h.sha256, size: h.size, format: h.format, chunks },
      };
    } catch {
      return undefined;
    }
  }

  private async read(path: string): Promise<Buffer | undefined> {
    if (!this.reads) return undefined;
    try {
      return await readFile(path);
    } catch {
      return undefined;
    }
  }

  private async write(path: string, bytes: Uint8Array): Promise<void> {
    const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await mkdir(join(path, '..'), { recursive: true });
      await writeFile(tmp, bytes);
      await rename(tmp, path);
    } catch {
      await rm(tmp, { force: true }).catch(() => undefined);
    }
  }
}

/** What must not change for a file entry to apply. */
function identity(s: BigIntStats): string {
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
}

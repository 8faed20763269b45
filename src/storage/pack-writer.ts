/**
 * Writes one pack (pack-format.ts) to a temp file, on the hot path of ingest.
 *
 * Chunks (~64 KiB) are copied into a large buffer and written in buffer-sized writes at
 * explicit positions; two buffers alternate so that filling one overlaps with writing the
 * other. Memory is two buffers whatever the pack size; nothing holds the whole pack.
 *
 * Usage: `create`, `add` each chunk (sequentially: await each call), then `seal`, which
 * returns the path of a complete, fsynced temp file to hand to `ObjectWriter.putFile(
 * packKey(packId), path)`; or `abort` to throw the pack away. (With `sync: false` the file
 * is not fsynced: for a backend whose putFile uploads a copy and makes that durable.)
 */
import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isSha256Hex, type Sha256Hex } from '../core/digest.js';
import { hasErrno, InvalidArgumentError, IoError, ModelvaultError } from '../core/errors.js';
import { copyFromShared } from '../core/shared-copy.js';
import {
  CHUNK_FLAG_RAW,
  encodeFooter,
  encodeTrailer,
  MAX_PACK_CHUNK_LENGTH,
  PACK_ENTRY_SIZE,
  PACK_FOOTER_SIZE,
  PACK_HEADER,
  type PackEntry,
  packIdOfTrailer,
} from './pack-format.js';
import { tempFileName } from './store-layout.js';

export interface PackWriterOptions {
  /** Bytes gathered before each write. Default 1 MiB (see DEFAULT_PACK_WRITE_BUFFER). */
  readonly bufferSize?: number;
  /**
   * fdatasync the file, while it fills and when it is sealed (default true). False only
   * when the sealed file is uploaded elsewhere, which makes the copy durable, and then
   * deleted (BackendCapabilities.putFileCopies): syncing it would only make the disk
   * write bytes about to be deleted, and cost the CPU and I/O of the writeback.
   */
  readonly sync?: boolean;
}

export interface SealedPack {
  readonly packId: Sha256Hex;
  /** The complete temp file, fsynced unless created with `sync: false`; it belongs to the caller now. */
  readonly path: string;
  readonly size: number;
  readonly entries: readonly PackEntry[];
}

/**
 * bench/pack-write.ts on tmpfs (CPU cost alone, 512 MiB of 64 KiB chunks): one write per
 * chunk costs ~0.76 s of CPU, buffers of 256 KiB to 8 MiB ~0.43 s, flat across that range.
 * 1 MiB sits on the plateau with 2 MiB of memory per writer.
 */
export const DEFAULT_PACK_WRITE_BUFFER = 1024 * 1024;

/**
 * Every this many bytes written, an fdatasync starts in the background (at most one at a
 * time), so the disk writes the pack while it fills instead of all at once when it is
 * sealed: the seal's own fdatasync then has only the tail left to wait for.
 */
export const EARLY_SYNC_BYTES = 8 * 1024 * 1024;

type State = 'open' | 'sealed' | 'aborted' | 'failed';

export class PackWriter {
  readonly path: string;
  private readonly fh: FileHandle;
  private readonly bufferSize: number;
  private readonly syncs: boolean;
  private readonly entries: PackEntry[] = [];
  private readonly byId = new Map<Sha256Hex, PackEntry>();
  /** The buffer being filled, how much of it is filled, and where it goes in the file. */
  private buf: Buffer;
  private fill = 0;
  private filePos = 0;
  /** The other buffer, possibly still being written by `inflight`. */
  private spare: Buffer | undefined;
  private inflight: Promise<void> | undefined;
  /** The background fdatasync started by `flush`, if any (see EARLY_SYNC_BYTES). */
  private syncing: Promise<void> | undefined;
  private syncedUpTo = 0;
  /** Header plus data bytes added so far. */
  private dataEnd = 0;
  private state: State = 'open';
  private busy = false;
  private failure: unknown;

  private constructor(path: string, fh: FileHandle, bufferSize: number, syncs: boolean) {
    this.path = path;
    this.fh = fh;
    this.bufferSize = bufferSize;
    this.syncs = syncs;
    this.buf = Buffer.allocUnsafeSlow(bufferSize);
    this.buf.set(PACK_HEADER, 0);
    this.fill = PACK_HEADER.length;
    this.dataEnd = PACK_HEADER.length;
  }

  /**
   * Starts a pack in a new temp file under `tmpDir` (created if missing): the store's own
   * tmp dir, on the same filesystem as the objects so the sealed file can be moved there.
   * @throws InvalidArgumentError for a bad buffer size; IoError when the file cannot be made.
   */
  static async create(tmpDir: string, options: PackWriterOptions = {}): Promise<PackWriter> {
    const bufferSize = options.bufferSize ?? DEFAULT_PACK_WRITE_BUFFER;
    if (!Number.isInteger(bufferSize) || bufferSize < 4096 || bufferSize > 256 * 1024 * 1024) {
      throw new InvalidArgumentError(`pack write buffer ${bufferSize} must be in [4 KiB, 256 MiB]`);
    }
    const path = join(tmpDir, tempFileName('pack', randomBytes(8).toString('hex')));
    try {
      await mkdir(tmpDir, { recursive: true });
      return new PackWriter(path, await open(path, 'wx'), bufferSize, options.sync ?? true);
    } catch (e) {
      throw ioError(e, `cannot create pack temp file '${path}'`);
    }
  }

  /** Header plus chunk bytes so far: the offset the next chunk will get. */
  get size(): number {
    return this.dataEnd;
  }

  /** Size of the pack if it were sealed now. */
  get sealedSize(): number {
    return this.dataEnd + this.entries.length * PACK_ENTRY_SIZE + PACK_FOOTER_SIZE;
  }

  get entryCount(): number {
    return this.entries.length;
  }

  has(id: Sha256Hex): boolean {
    return this.byId.has(id);
  }

  /**
   * Appends a chunk and returns its offset in the pack. Adding an id already in this pack
   * writes nothing and returns the existing offset. The writer trusts that `id` is the
   * SHA-256 of `bytes` (the chunker has just computed it; `verifyPack` checks later).
   * `bytes` may be reused by the caller once the returned promise settles.
   * Do not call again before the previous call has settled.
   * @throws InvalidArgumentError for a malformed id or an oversized chunk; IoError when
   *   writing fails (the writer is then unusable: `abort` it).
   */
  async add(id: Sha256Hex, bytes: Uint8Array): Promise<number> {
    this.enter('add');
    try {
      const existing = this.byId.get(id);
      if (existing) return existing.offset;
      if (!isSha256Hex(id)) {
        throw new InvalidArgumentError(`invalid chunk id '${String(id).slice(0, 80)}'`);
      }
      if (bytes.length > MAX_PACK_CHUNK_LENGTH) {
        throw new InvalidArgumentError(
          `chunk ${id} is ${bytes.length} bytes, too large for a pack`,
        );
      }
      const offset = this.dataEnd;
      const entry: PackEntry = { id, offset, length: bytes.length, flags: CHUNK_FLAG_RAW };
      this.entries.push(entry);
      this.byId.set(id, entry);
      this.dataEnd += bytes.length;
      await this.fail(this.append(bytes));
      return offset;
    } finally {
      this.busy = false;
    }
  }

  /**
   * Writes the trailer and footer, fsyncs (unless `sync: false`) and closes the file. The
   * writer is done after this.
   * @throws IoError when writing or syncing fails (then `abort` to remove the file).
   */
  async seal(): Promise<SealedPack> {
    this.enter('seal');
    try {
      const trailer = encodeTrailer(this.entries);
      const packId = packIdOfTrailer(trailer);
      const footer = encodeFooter({
        entryCount: this.entries.length,
        trailerOffset: this.dataEnd,
        trailerSha256: packId,
      });
      await this.fail(
        (async () => {
          await this.append(trailer);
          await this.append(footer);
          await this.flush();
          await this.inflight;
          await this.syncing;
          // fdatasync also flushes the file size, all a reader needs; only times are skipped.
          if (this.syncs) await this.fh.datasync();
          await this.fh.close();
        })(),
      );
      this.state = 'sealed';
      return {
        packId,
        path: this.path,
        size: this.dataEnd + trailer.length + footer.length,
        entries: this.entries,
      };
    } finally {
      this.busy = false;
    }
  }

  /**
   * Discards the pack: closes and removes the temp file. Idempotent; does nothing once the
   * pack is sealed (the file is the caller's then). Never throws.
   */
  async abort(): Promise<void> {
    if (this.state === 'sealed' || this.state === 'aborted') return;
    this.state = 'aborted';
    await this.inflight?.catch(() => undefined);
    await this.syncing?.catch(() => undefined);
    await this.fh.close().catch(() => undefined);
    await rm(this.path, { force: true }).catch(() => undefined);
  }

  private enter(op: string): void {
    if (this.state === 'failed') {
      throw new IoError(`pack writer '${this.path}' failed earlier; abort it`, undefined, {
        cause: this.failure,
      });
    }
    if (this.state !== 'open') {
      throw new ModelvaultError('INTERNAL', `pack writer: ${op} after the pack was ${this.state}`);
    }
    if (this.busy) {
      throw new ModelvaultError('INTERNAL', `pack writer: ${op} before the previous call settled`);
    }
    this.busy = true;
  }

  /** Marks the writer failed when `work` rejects, and rethrows as IoError. */
  private async fail(work: Promise<void>): Promise<void> {
    try {
      await work;
    } catch (e) {
      if (this.state === 'open') this.state = 'failed'; // an abort meanwhile stays an abort
      this.failure = e;
      throw ioError(e, `writing pack '${this.path}' failed`);
    }
  }

  private async append(bytes: Uint8Array): Promise<void> {
    if (bytes.length >= this.bufferSize) {
      // Too big to gain from copying: write it where it belongs, after what is buffered.
      const at = this.filePos + this.fill;
      await this.flush();
      await this.inflight;
      this.inflight = undefined;
      await writeFully(this.fh, bytes, at);
      this.filePos = at + bytes.length;
      return;
    }
    let src = 0;
    while (src < bytes.length) {
      const n = Math.min(this.bufferSize - this.fill, bytes.length - src);
      copyFromShared(this.buf, this.fill, bytes.subarray(src, src + n));
      this.fill += n;
      src += n;
      if (this.fill === this.bufferSize) await this.flush();
    }
  }

  /**
   * Starts writing the filled buffer and switches to the spare one, waiting only for the
   * spare's own earlier write: at most one write is in flight.
   */
  private async flush(): Promise<void> {
    if (this.fill === 0) return;
    const full = this.buf;
    const length = this.fill;
    const position = this.filePos;
    this.filePos += length;
    this.fill = 0;
    await this.inflight;
    const write = writeFully(this.fh, full.subarray(0, length), position);
    // A rejection is seen by whoever awaits `inflight` next; do not let it go unhandled meanwhile.
    write.catch(() => undefined);
    this.inflight = write;
    if (this.syncs && !this.syncing && this.filePos - this.syncedUpTo >= EARLY_SYNC_BYTES) {
      this.syncedUpTo = this.filePos;
      // Starts once this write is done, so it covers it. Cleared when it succeeds; a
      // failure stays in `syncing` for seal to report.
      const sync: Promise<void> = write
        .then(() => this.fh.datasync())
        .then(() => {
          if (this.syncing === sync) this.syncing = undefined;
        });
      sync.catch(() => undefined);
      this.syncing = sync;
    }
    this.buf = this.spare ?? Buffer.allocUnsafeSlow(this.bufferSize);
    this.spare = full;
  }
}

async function writeFully(fh: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}

function ioError(e: unknown, message: string): IoError {
  if (e instanceof IoError) return e;
  const code = (e as { code?: string }).code;
  const why =
    hasErrno(e, 'ENOSPC') || hasErrno(e, 'EDQUOT') ? 'no space left' : (code ?? String(e));
  return new IoError(`${message}: ${why}`, { errno: code }, { cause: e });
}

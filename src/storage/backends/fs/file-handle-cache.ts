/**
 * A small LRU of open read-only file handles, so that the many ranged reads that hit the
 * same few packs do not pay an open/close each. Handles are reference-counted: one evicted
 * or invalidated while a read is still using it is closed when that read releases it,
 * never under it.
 */
import type { FileHandle } from 'node:fs/promises';

export interface FileHandleLease {
  readonly handle: FileHandle;
  /** Gives the handle back. Call exactly once, after the last use of `handle`. */
  release(): void;
}

interface Entry {
  readonly handle: Promise<FileHandle>;
  refs: number;
  /** No longer in the map: close when the last lease is released. */
  retired: boolean;
}

export class FileHandleCache {
  private readonly entries = new Map<string, Entry>();
  private closed = false;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`file handle cache capacity must be a positive integer`);
    }
  }

  /** Number of handles held open or being opened. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * Leases the cached handle for `path`, calling `open` when there is none. Concurrent
   * callers for the same path share one `open` call. When `open` rejects, every waiter gets
   * the rejection and nothing is cached.
   */
  async acquire(path: string, open: () => Promise<FileHandle>): Promise<FileHandleLease> {
    if (this.closed) throw new Error('file handle cache is closed');
    let entry = this.entries.get(path);
    if (entry) {
      // Re-insert to mark as most recently used (Map keeps insertion order).
      this.entries.delete(path);
      this.entries.set(path, entry);
    } else {
      entry = { handle: open(), refs: 0, retired: false };
      this.entries.set(path, entry);
      this.evictOverflow();
    }
    entry.refs++;
    const e = entry;
    let handle: FileHandle;
    try {
      handle = await e.handle;
    } catch (err) {
      e.refs--;
      if (this.entries.get(path) === e) this.entries.delete(path);
      e.retired = true;
      throw err;
    }
    let released = false;
    return {
      handle,
      release: () => {
        if (released) return;
        released = true;
        e.refs--;
        if (e.retired && e.refs === 0) closeQuietly(e.handle);
      },
    };
  }

  /** Drops the handle for `path` (the file was deleted or replaced). */
  invalidate(path: string): void {
    const entry = this.entries.get(path);
    if (!entry) return;
    this.entries.delete(path);
    this.retire(entry);
  }

  /**
   * Closes every idle handle now and every leased one when it is released; later
   * `acquire` calls throw. Idempotent.
   */
  async closeAll(): Promise<void> {
    this.closed = true;
    const idle: Promise<void>[] = [];
    for (const entry of this.entries.values()) {
      entry.retired = true;
      if (entry.refs === 0) idle.push(closeQuietly(entry.handle));
    }
    this.entries.clear();
    await Promise.all(idle);
  }

  private retire(entry: Entry): void {
    entry.retired = true;
    if (entry.refs === 0) void closeQuietly(entry.handle);
  }

  private evictOverflow(): void {
    for (const [path, entry] of this.entries) {
      if (this.entries.size <= this.capacity) break;
      this.entries.delete(path);
      this.retire(entry);
    }
  }
}

async function closeQuietly(handle: Promise<FileHandle>): Promise<void> {
  try {
    await (await handle).close();
  } catch {
    // Open failed (the opener saw that error) or close failed on a read-only handle, where
    // there is nothing left to lose.
  }
}

/**
 * Writes a stream of byte blocks to a file at consecutive positions, in the background:
 * the caller hands a block over and goes back to the network while earlier blocks are
 * written, several at a time with one writev. Memory is bounded by `maxQueued`: `write`
 * waits while that much is queued. Node only.
 */
import type { FileHandle } from 'node:fs/promises';
import { IoError } from '../core/errors.js';

const DEFAULT_MAX_QUEUED = 8 * 1024 * 1024;
/** writev takes at most IOV_MAX (1024 on Linux) buffers. */
const MAX_BUFFERS = 512;

export class BlockWriter {
  private queue: Uint8Array[] = [];
  private queued = 0;
  private running: Promise<void> | undefined;
  private failure: { error: unknown } | undefined;

  /** @param position where the first block goes */
  constructor(
    private readonly fh: FileHandle,
    private position: number,
    private readonly maxQueued = DEFAULT_MAX_QUEUED,
  ) {}

  /**
   * Queues `block` (kept, not copied: the caller must not reuse it), waiting while the
   * queue is full. @throws the error of an earlier write
   */
  async write(block: Uint8Array): Promise<void> {
    await this.offer(block);
  }

  /**
   * Like `write`, but without a promise when nothing needs waiting for: undefined when the
   * block is queued and the queue has room, else a promise that resolves once it has.
   * @throws the error of an earlier write
   */
  offer(block: Uint8Array): Promise<void> | undefined {
    this.check();
    this.queue.push(block);
    this.queued += block.length;
    this.running ??= this.drain();
    if (this.queued < this.maxQueued) return undefined;
    return this.running.then(() => this.check());
  }

  /**
   * Queues a lent block (one whose buffer its owner reuses) and resolves once it is
   * written, so the owner may take it back. @throws the error of this or an earlier write
   */
  async writeLent(block: Uint8Array): Promise<void> {
    this.offer(block);
    await this.flush();
  }

  /** Waits for every queued block; resolves the position after the last byte written. */
  async flush(): Promise<number> {
    while (this.running) await this.running;
    this.check();
    return this.position;
  }

  private check(): void {
    if (this.failure) throw this.failure.error;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0 && !this.failure) {
        const blocks = this.queue.splice(0, MAX_BUFFERS);
        let bytes = 0;
        for (const b of blocks) bytes += b.length;
        await writeAllv(this.fh, blocks, bytes, this.position);
        this.position += bytes;
        this.queued -= bytes;
      }
    } catch (e) {
      this.failure = { error: e };
    } finally {
      this.running = undefined;
    }
  }
}

/** writev until every byte is written (a short write resumes where it stopped). */
async function writeAllv(
  fh: FileHandle,
  blocks: Uint8Array[],
  bytes: number,
  position: number,
): Promise<void> {
  let done = (await fh.writev(blocks, position)).bytesWritten;
  while (done < bytes) {
    // Rare (a full disk reports ENOSPC instead): rebuild the rest and write it again.
    let skip = done;
    const rest: Uint8Array[] = [];
    for (const b of blocks) {
      if (skip >= b.length) skip -= b.length;
      else {
        rest.push(skip > 0 ? b.subarray(skip) : b);
        skip = 0;
      }
    }
    const n = (await fh.writev(rest, position + done)).bytesWritten;
    if (n === 0) throw new IoError('the file accepts no more bytes');
    done += n;
  }
}

/**
 * FastCDC and chunk hashing on a hash worker (core/hash-worker.ts), so new data costs the
 * ingest's main thread neither the cut-point scan nor a SHA-256 per chunk (~0.5 s per
 * 200 MB on this project's machines, which was the main thread's largest share).
 *
 * The worker keeps one open stream per key (a piece of a file): the FastCDC scan state and
 * the SHA-256 of the chunk being cut, so a piece may be fed in any number of ranges of any
 * number of blocks, and chunks span blocks freely. Each piece is chunked on its own (the
 * state restarts at its start and its last chunk ends at its end), which is exactly
 * StreamChunker's cutting of that piece within a file (chunks never cross pieces).
 * The main thread, which owns the bytes, slices chunks out of them with the returned ends.
 */
import type { HashStream } from '../../core/hash-worker.js';
import type { CdcConfig } from './fastcdc.js';
import { scanCutSource } from './fastcdc.js';

/** One range of a piece, as `cdcRanges` takes it. */
export interface CdcRange {
  /** The piece's stream; a new key starts a piece at its byte 0. */
  readonly key: number;
  /** Bytes of the piece fed before `buf[from, to)` (a copy: the worker gets its own). */
  readonly head?: Uint8Array;
  readonly from: number;
  readonly to: number;
  /** The piece ends at `to`: its open chunk is closed and the key forgotten. */
  readonly last: boolean;
}

/** The chunks a range completed: their ends (piece offsets, ascending) and SHA-256 ids. */
export interface CdcResult {
  readonly key: number;
  readonly ends: number[];
  readonly ids: string[];
}

/** Worker source: the `chunks` operation (see HashWorker's extension protocol). */
export const CDC_WORKER_EXTENSION = `
${scanCutSource()}
const cdcStreams = new Map();
resets.push(() => cdcStreams.clear());
function cdcFeed(s, data, i, to, config, ends, ids) {
  while (i < to) {
    const cut = scanCut(data, i, to, s.state, config);
    if (cut < 0) {
      s.hash.update(data.subarray(i, to));
      s.pos += to - i;
      return;
    }
    s.hash.update(data.subarray(i, cut));
    s.pos += cut - i;
    ends.push(s.pos);
    ids.push(s.hash.digest('hex'));
    s.hash = createHash('sha256');
    i = cut;
  }
}
ops.chunks = (m) => {
  const data = new Uint8Array(m.buf);
  return m.ranges.map((r) => {
    let s = cdcStreams.get(r.key);
    if (!s) {
      s = { state: { length: 0, hash: 0 }, hash: createHash('sha256'), pos: 0 };
      cdcStreams.set(r.key, s);
    }
    const ends = [];
    const ids = [];
    if (r.head) cdcFeed(s, r.head, 0, r.head.length, m.config, ends, ids);
    cdcFeed(s, data, r.from, r.to, m.config, ends, ids);
    if (r.last) {
      if (s.state.length > 0) {
        ends.push(s.pos);
        ids.push(s.hash.digest('hex'));
      }
      cdcStreams.delete(r.key);
    }
    return { key: r.key, ends, ids };
  });
};
`;

/**
 * Cuts and hashes `buf`'s ranges on the worker behind `stream` (a HashWorker built with
 * CDC_WORKER_EXTENSION). `buf` is shared, not copied: leave it unchanged until this
 * resolves. Results are in `ranges` order.
 */
export function cdcRanges(
  stream: HashStream,
  buf: SharedArrayBuffer,
  ranges: readonly CdcRange[],
  config: CdcConfig,
): Promise<CdcResult[]> {
  return stream.request<CdcResult[]>('chunks', { buf, ranges, config });
}

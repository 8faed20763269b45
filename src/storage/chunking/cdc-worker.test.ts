import { createHash } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { pseudoRandomBytes } from '../../../test/fixtures/model-files.js';
import { HashWorker } from '../../core/hash-worker.js';
import { CDC_WORKER_EXTENSION, type CdcRange, cdcRanges } from './cdc-worker.js';
import type { ChunkingParams } from './chunking-params.js';
import { cdcConfig, chunkEnds } from './fastcdc.js';

const worker = new HashWorker(CDC_WORKER_EXTENSION);
afterAll(() => worker.close());

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** FastCDC over the whole piece, on this thread: what the worker must reproduce. */
function expected(piece: Uint8Array, p: ChunkingParams) {
  const ends = chunkEnds(piece, p);
  return { ends, ids: ends.map((e, i) => sha(piece.subarray(i === 0 ? 0 : ends[i - 1]!, e))) };
}

/**
 * Feeds two pieces interleaved through shared blocks of the given sizes (cycled), the
 * first piece's first `headLen` bytes as a head, at a block offset `skew`; scribbles over
 * each block after its call resolves, as ingest reuses its buffers.
 */
async function viaWorker(
  a: Uint8Array,
  b: Uint8Array,
  sizes: readonly number[],
  headLen: number,
  skew: number,
  p: ChunkingParams,
) {
  const lease = await worker.acquire();
  try {
    const config = cdcConfig(p);
    const out = [
      { ends: [] as number[], ids: [] as string[] },
      { ends: [] as number[], ids: [] as string[] },
    ];
    const fed = [headLen, 0];
    const pieces = [a, b];
    let k = 0;
    let first = true;
    while (fed[0]! < a.length || fed[1]! < b.length) {
      const size = sizes[k++ % sizes.length]!;
      const sab = new SharedArrayBuffer(skew + 2 * size);
      const view = new Uint8Array(sab);
      const ranges: CdcRange[] = [];
      for (const key of [0, 1]) {
        const piece = pieces[key]!;
        const n = Math.min(size, piece.length - fed[key]!);
        if (n === 0 && !(first && key === 0)) continue;
        const from = skew + key * size;
        view.set(piece.subarray(fed[key], fed[key]! + n), from);
        ranges.push({
          key,
          head: first && key === 0 ? a.slice(0, headLen) : undefined,
          from,
          to: from + n,
          last: fed[key]! + n === piece.length,
        });
        fed[key]! += n;
      }
      first = false;
      for (const r of await cdcRanges(lease, sab, ranges, config)) {
        out[r.key]!.ends.push(...r.ends);
        out[r.key]!.ids.push(...r.ids);
      }
      view.fill(0x5a);
    }
    return out;
  } finally {
    await lease.release();
  }
}

describe('cdc worker', () => {
  const P: ChunkingParams = { minSize: 256, avgSize: 1024, maxSize: 4096 };

  it('cuts and names every chunk as FastCDC over the whole piece, however it is fed', async () => {
    const a = pseudoRandomBytes(1, 100_003);
    const b = pseudoRandomBytes(2, 57_000);
    // Long zero runs force maxSize cuts; a repeated stretch repeats chunks.
    b.fill(0, 10_000, 30_000);
    const cases: [number[], number, number][] = [
      [[4096], 0, 0],
      [[1, 7, 333, 5000], 1000, 3],
      [[65_536], 2048, 1],
      [[17], 5, 2],
      [[100_003], 0, 0],
    ];
    for (const [sizes, headLen, skew] of cases) {
      const got = await viaWorker(a, b, sizes, headLen, skew, P);
      expect(got[0]).toEqual(expected(a, P));
      expect(got[1]).toEqual(expected(b, P));
    }
  });

  it('uses the default parameters as the store does, and a stream reset forgets open pieces', async () => {
    const p: ChunkingParams = { minSize: 16_384, avgSize: 65_536, maxSize: 262_144 };
    const a = pseudoRandomBytes(3, 1_500_000);
    const b = pseudoRandomBytes(4, 300_000);
    const got = await viaWorker(a, b, [1 << 20], 65_536, 0, p);
    expect(got[0]).toEqual(expected(a, p));
    expect(got[1]).toEqual(expected(b, p));
    // An abandoned piece (no `last`) does not leak into the next stream with its key.
    const lease = await worker.acquire();
    const sab = new SharedArrayBuffer(1000);
    new Uint8Array(sab).set(a.subarray(0, 1000));
    await cdcRanges(lease, sab, [{ key: 0, from: 0, to: 500, last: false }], cdcConfig(P));
    await lease.release();
    const again = await worker.acquire();
    const [r] = await cdcRanges(
      again,
      sab,
      [{ key: 0, from: 0, to: 1000, last: true }],
      cdcConfig(P),
    );
    await again.release();
    expect(r).toEqual({ key: 0, ...expected(a.subarray(0, 1000), P) });
  });
});

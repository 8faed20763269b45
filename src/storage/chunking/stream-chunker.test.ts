import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pseudoRandomBytes } from '../../../test/fixtures/model-files.js';
import { InvalidArgumentError } from '../../core/errors.js';
import type { Piece } from '../../formats/file-layout.js';
import type { ChunkingParams } from './chunking-params.js';
import { chunkEnds } from './fastcdc.js';
import { StreamChunker } from './stream-chunker.js';

const P: ChunkingParams = { minSize: 256, avgSize: 1024, maxSize: 4096 };

/** What the contract promises: FastCDC over each piece alone, offsets made absolute. */
function expectedCuts(data: Uint8Array, pieces: readonly Piece[], p = P): number[] {
  return pieces.flatMap((piece) =>
    chunkEnds(data.subarray(piece.offset, piece.offset + piece.length), p).map(
      (e) => piece.offset + e,
    ),
  );
}

/** Feeds `data` in blocks of the given sizes (cycled), scribbling over each block after use. */
function streamCuts(
  data: Uint8Array,
  pieces: readonly Piece[],
  blockSizes: readonly number[],
  p = P,
): number[] {
  const chunker = new StreamChunker(p, pieces, data.length);
  const cuts: number[] = [];
  let at = 0;
  let k = 0;
  while (at < data.length) {
    const size = Math.min(data.length - at, blockSizes[k++ % blockSizes.length]!);
    // A private copy, destroyed after push: proves the chunker keeps no bytes.
    const block = data.slice(at, at + size);
    cuts.push(...chunker.push(block));
    block.fill(0xa5);
    at += size;
  }
  cuts.push(...chunker.finish());
  return cuts;
}

function piecesFromSizes(sizes: readonly number[]): Piece[] {
  let at = 0;
  return sizes.map((length, i) => {
    const piece: Piece = { offset: at, length, kind: i === 0 ? 'header' : 'tensor' };
    at += length;
    return piece;
  });
}

describe('StreamChunker', () => {
  it('chunks a single data piece like chunkEnds', () => {
    const data = pseudoRandomBytes(1, 100_000);
    const pieces: Piece[] = [{ offset: 0, length: data.length, kind: 'data' }];
    expect(streamCuts(data, pieces, [data.length])).toEqual(chunkEnds(data, P));
    expect(streamCuts(data, pieces, [4096])).toEqual(chunkEnds(data, P));
  });

  it('cuts at every piece boundary and chunks each piece alone', () => {
    const sizes = [100, 5000, 1, 20_000, 4096, 3];
    const data = pseudoRandomBytes(
      2,
      sizes.reduce((a, b) => a + b),
    );
    const pieces = piecesFromSizes(sizes);
    const cuts = streamCuts(data, pieces, [777]);
    expect(cuts).toEqual(expectedCuts(data, pieces));
    for (const piece of pieces) expect(cuts).toContain(piece.offset + piece.length);
  });

  it('gives identical cuts for any split into blocks', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 12_000 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 20_000 })), {
          minLength: 1,
          maxLength: 20,
        }),
        fc.integer(),
        (pieceSizes, blockSizes, seed) => {
          const data = pseudoRandomBytes(
            seed,
            pieceSizes.reduce((a, b) => a + b),
          );
          const pieces = piecesFromSizes(pieceSizes);
          expect(streamCuts(data, pieces, blockSizes)).toEqual(expectedCuts(data, pieces));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('gives a piece the same chunks wherever it sits', () => {
    const tensor = pseudoRandomBytes(3, 30_000);
    const relative = (prefix: number) => {
      const data = new Uint8Array(prefix + tensor.length);
      data.set(pseudoRandomBytes(4, prefix));
      data.set(tensor, prefix);
      const pieces = piecesFromSizes([prefix, tensor.length]);
      return streamCuts(data, pieces, [1000 + prefix])
        .filter((c) => c > prefix)
        .map((c) => c - prefix);
    };
    expect(relative(8)).toEqual(relative(1234));
    expect(relative(8)).toEqual(chunkEnds(tensor, P));
  });

  it('handles forced maxSize cuts on piece and block boundaries', () => {
    const zeros = new Uint8Array(3 * 4096);
    const pieces = piecesFromSizes([4096, 4096, 4096]);
    expect(streamCuts(zeros, pieces, [4096])).toEqual(expectedCuts(zeros, pieces));
    expect(streamCuts(zeros, pieces, [1])).toEqual(expectedCuts(zeros, pieces));
  });

  it('accepts an empty file and empty blocks', () => {
    const empty = new StreamChunker(P, [], 0);
    expect(empty.push(new Uint8Array(0))).toEqual([]);
    expect(empty.finish()).toEqual([]);
    const data = pseudoRandomBytes(5, 10);
    const chunker = new StreamChunker(P, piecesFromSizes([10]), 10);
    expect(chunker.push(new Uint8Array(0))).toEqual([]);
    expect(chunker.push(data)).toEqual([10]);
    expect(chunker.push(new Uint8Array(0))).toEqual([]);
    expect(chunker.finish()).toEqual([]);
  });

  it('rejects layouts that break the contract', () => {
    const bad: Piece[][] = [
      [{ offset: 0, length: 5, kind: 'data' }],
      [{ offset: 1, length: 10, kind: 'data' }],
      [
        { offset: 0, length: 5, kind: 'header' },
        { offset: 6, length: 4, kind: 'tensor' },
      ],
      [
        { offset: 0, length: 0, kind: 'header' },
        { offset: 0, length: 10, kind: 'tensor' },
      ],
      [{ offset: 0, length: 12, kind: 'data' }],
      [],
    ];
    for (const pieces of bad) {
      expect(() => new StreamChunker(P, pieces, 10)).toThrow(InvalidArgumentError);
    }
  });

  it('rejects a stream that is longer or shorter than fileSize', () => {
    const long = new StreamChunker(P, piecesFromSizes([10]), 10);
    long.push(new Uint8Array(6));
    expect(() => long.push(new Uint8Array(5))).toThrow(InvalidArgumentError);
    const short = new StreamChunker(P, piecesFromSizes([10]), 10);
    short.push(new Uint8Array(9));
    expect(() => short.finish()).toThrow(/got 9 bytes, expected 10/);
    const done = new StreamChunker(P, piecesFromSizes([1]), 1);
    done.push(new Uint8Array(1));
    done.finish();
    expect(() => done.push(new Uint8Array(0))).toThrow(InvalidArgumentError);
  });
});

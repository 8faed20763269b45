/**
 * Which pieces of a file layout a piece cache remembers, and how its keys are made: shared
 * by the store's ingest (storage/file-chunker.ts) and the SDK's chunk cache
 * (client/chunk-cache.ts), so both cut and name a tensor the same way.
 *
 * A large tensor (or a whole raw file) is chunked on its own, so its chunks depend only on
 * its bytes and the chunking parameters: the key is the SHA-256 of `pieceCacheKeyPrefix`
 * then the piece's bytes. Small pieces are not worth an entry; huge ones stream through
 * FastCDC (one entry would hold too large a chunk list).
 */
import type { Piece } from '../../formats/file-layout.js';
import type { ChunkingParams } from './chunking-params.js';

export const PIECE_CACHE_MIN = 1024 * 1024;
export const PIECE_CACHE_MAX = 256 * 1024 * 1024;

/** Whether `piece` is hashed whole and looked up in a piece cache. */
export function pieceCacheEligible(piece: Piece): boolean {
  return (
    (piece.kind === 'tensor' || piece.kind === 'data') &&
    piece.length >= PIECE_CACHE_MIN &&
    piece.length <= PIECE_CACHE_MAX
  );
}

/** What a piece's key hashes before its bytes: the parameters its chunks depend on. */
export function pieceCacheKeyPrefix(params: ChunkingParams): string {
  return `modelvault-piece-v1 fastcdc ${params.minSize}/${params.avgSize}/${params.maxSize}\n`;
}

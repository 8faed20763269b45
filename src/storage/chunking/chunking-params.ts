import { InvalidArgumentError } from '../../core/errors.js';

/** FastCDC parameters. Chunks are in [minSize, maxSize] except the last one of a piece. */
export interface ChunkingParams {
  readonly minSize: number;
  readonly avgSize: number;
  readonly maxSize: number;
}

/**
 * Defaults chosen by bench/chunking (see docs/benchmarks.md): ~64 KiB average, as Xet
 * uses, gives ~1.001 stored/unique on the fine-tune series while keeping the index at
 * about 16k entries per GiB.
 */
export const DEFAULT_CHUNKING: ChunkingParams = Object.freeze({
  minSize: 16 * 1024,
  avgSize: 64 * 1024,
  maxSize: 256 * 1024,
});

export function validateChunkingParams(p: ChunkingParams): ChunkingParams {
  const pow2 = (n: number) => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
  if (!pow2(p.avgSize) || p.avgSize < 256 || p.avgSize > 16 * 1024 * 1024) {
    throw new InvalidArgumentError(
      `chunk avgSize ${p.avgSize} must be a power of two in [256, 16 MiB]`,
    );
  }
  if (!(Number.isInteger(p.minSize) && p.minSize >= 64 && p.minSize <= p.avgSize)) {
    throw new InvalidArgumentError(`chunk minSize ${p.minSize} must be in [64, avgSize]`);
  }
  if (!(Number.isInteger(p.maxSize) && p.maxSize >= p.avgSize && p.maxSize <= 64 * 1024 * 1024)) {
    throw new InvalidArgumentError(`chunk maxSize ${p.maxSize} must be in [avgSize, 64 MiB]`);
  }
  return p;
}

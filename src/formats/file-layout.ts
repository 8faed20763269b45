/**
 * The structure of a model file as the chunker needs it: an ordered list of byte ranges
 * ("pieces") that exactly cover the file. For formats we understand (safetensors, GGUF)
 * the header is one piece and each tensor's byte range another, so a tensor that did not
 * change is chunked identically wherever it moved in the file. Everything else is one
 * piece. Pure code: reads only through the `RangeReader` it is given.
 */

export type PieceKind = 'header' | 'tensor' | 'padding' | 'data';

export interface Piece {
  /** Absolute byte offset in the file. */
  readonly offset: number;
  readonly length: number;
  readonly kind: PieceKind;
  /** Tensor name, for `tensor` pieces. */
  readonly name?: string;
}

export type LayoutFormat = 'safetensors' | 'gguf' | 'raw';

export interface FileLayout {
  readonly format: LayoutFormat;
  /** Contiguous, non-empty, ordered pieces covering [0, size) exactly (none for size 0). */
  readonly pieces: readonly Piece[];
  /** Why a file that looked like a known format was chunked as raw (truncated, lying offsets…). */
  readonly fallbackReason?: string;
}

/** Reads `length` bytes at `offset`; may return fewer bytes only at end of file. */
export type RangeReader = (offset: number, length: number) => Promise<Uint8Array>;

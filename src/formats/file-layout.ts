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

/**
 * Outcome of parsing untrusted bytes: the value, or a human-readable reason why not.
 * Format parsers return this instead of throwing on bad content; only the RangeReader's
 * own failures (I/O errors) propagate as exceptions.
 */
export type ParseResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: string };

/**
 * Checks the `FileLayout.pieces` contract: pieces are ordered, contiguous, non-empty,
 * integral, and cover [0, size) exactly (an empty list for size 0).
 * @returns undefined when valid, else the first violation found.
 */
export function checkPieces(pieces: readonly Piece[], size: number): string | undefined {
  if (!Number.isSafeInteger(size) || size < 0) return `invalid file size ${size}`;
  let at = 0;
  for (let i = 0; i < pieces.length; i++) {
    const p = pieces[i]!;
    if (!Number.isSafeInteger(p.offset) || !Number.isSafeInteger(p.length)) {
      return `piece ${i} has a non-integer range`;
    }
    if (p.offset !== at) return `piece ${i} starts at ${p.offset}, expected ${at}`;
    if (p.length <= 0) return `piece ${i} at ${p.offset} is empty`;
    at += p.length;
    if (at > size) return `piece ${i} ends at ${at}, past the file end ${size}`;
  }
  return at === size ? undefined : `pieces end at ${at}, file size is ${size}`;
}

import type { ParseResult, Piece } from './file-layout.js';

/** A tensor's byte range, absolute in the file. */
export interface TensorExtent {
  readonly name: string;
  readonly offset: number;
  readonly length: number;
}

/**
 * Pieces for a file made of a header [0, headerEnd) followed by tensors: the header piece,
 * then each non-empty tensor in offset order, with `padding` pieces for the gaps between
 * them and after the last one. Empty tensors take no piece.
 * @returns a reason instead when extents overlap, or fall outside [headerEnd, size).
 */
export function tensorPieces(
  headerEnd: number,
  extents: readonly TensorExtent[],
  size: number,
): ParseResult<Piece[]> {
  if (!(headerEnd > 0 && headerEnd <= size)) {
    return { ok: false, reason: `header end ${headerEnd} is outside the file (size ${size})` };
  }
  const sorted = extents.filter((e) => e.length > 0).sort((a, b) => a.offset - b.offset);
  const pieces: Piece[] = [{ offset: 0, length: headerEnd, kind: 'header' }];
  let at = headerEnd;
  for (const t of sorted) {
    if (t.offset < at) {
      return {
        ok: false,
        reason:
          t.offset < headerEnd
            ? `tensor '${t.name}' starts at ${t.offset}, inside the header`
            : `tensor '${t.name}' at ${t.offset} overlaps the previous tensor (ending at ${at})`,
      };
    }
    if (t.offset + t.length > size) {
      return {
        ok: false,
        reason: `tensor '${t.name}' ends at ${t.offset + t.length}, past the file end ${size}`,
      };
    }
    if (t.offset > at) pieces.push({ offset: at, length: t.offset - at, kind: 'padding' });
    pieces.push({ offset: t.offset, length: t.length, kind: 'tensor', name: t.name });
    at = t.offset + t.length;
  }
  if (at < size) pieces.push({ offset: at, length: size - at, kind: 'padding' });
  return { ok: true, value: pieces };
}

/**
 * Chunk boundaries of a whole file fed as a stream of blocks. The file's layout (see
 * `formats/file-layout.ts`) splits it into pieces; every piece boundary is a cut, and
 * inside a piece the cuts are FastCDC's over the piece's bytes alone. So identical piece
 * bytes give identical chunks (relative to the piece start) wherever the piece sits in the
 * file and however the stream is split into blocks.
 *
 * The chunker never keeps bytes: the gear hash state is two integers, and the caller, who
 * owns the blocks, slices chunks out of them using the returned offsets. A chunk can span
 * any number of blocks.
 */
import { InvalidArgumentError } from '../../core/errors.js';
import { checkPieces, type Piece } from '../../formats/file-layout.js';
import type { ChunkingParams } from './chunking-params.js';
import { type CdcConfig, type CdcState, cdcConfig, scanCut } from './fastcdc.js';

export class StreamChunker {
  readonly fileSize: number;
  private readonly config: CdcConfig;
  private readonly pieces: readonly Piece[];
  /** Bytes pushed so far (the absolute offset of the next byte). */
  private pos = 0;
  private pieceIndex = 0;
  /** Absolute end of the current piece (the file size once all pieces are done). */
  private pieceEnd: number;
  private readonly state: CdcState = { length: 0, hash: 0 };
  private finished = false;

  /**
   * @param pieces the file's layout: contiguous, non-empty, covering [0, fileSize).
   * @throws InvalidArgumentError for invalid params or pieces that break that contract.
   */
  constructor(params: ChunkingParams, pieces: readonly Piece[], fileSize: number) {
    this.config = cdcConfig(params);
    const problem = checkPieces(pieces, fileSize);
    if (problem !== undefined) {
      throw new InvalidArgumentError(`invalid file layout: ${problem}`, { fileSize });
    }
    this.pieces = pieces;
    this.fileSize = fileSize;
    this.pieceEnd = pieces.length > 0 ? pieces[0]!.offset + pieces[0]!.length : fileSize;
  }

  /** Bytes pushed so far. */
  get position(): number {
    return this.pos;
  }

  /**
   * Feeds the next `block.length` bytes of the file (any size, including 0).
   * @returns the absolute end offsets of the chunks completed within these bytes,
   *   ascending; a chunk's start is the previous end (or 0).
   * @throws InvalidArgumentError after `finish()` or when the file would exceed fileSize.
   */
  push(block: Uint8Array): number[] {
    if (this.finished) throw new InvalidArgumentError('stream chunker already finished');
    const n = block.length;
    const base = this.pos;
    if (base + n > this.fileSize) {
      throw new InvalidArgumentError(
        `stream chunker got more than the expected ${this.fileSize} bytes`,
        { fileSize: this.fileSize, received: base + n },
      );
    }
    const cuts: number[] = [];
    const state = this.state;
    const pieceCount = this.pieces.length;
    let i = 0;
    for (;;) {
      // Where the current piece ends, as an index into this block (may be past its end).
      const pieceEndAt = this.pieceEnd - base;
      if (i === pieceEndAt && this.pieceIndex < pieceCount) {
        // Close the piece as soon as its last byte is in, so its last chunk is returned now.
        if (state.length > 0) {
          cuts.push(this.pieceEnd);
          state.length = 0;
          state.hash = 0;
        }
        this.pieceIndex++;
        const next = this.pieces[this.pieceIndex];
        this.pieceEnd = next === undefined ? this.fileSize : next.offset + next.length;
        continue;
      }
      if (i >= n) break;
      const end = Math.min(pieceEndAt, n);
      const cut = scanCut(block, i, end, state, this.config);
      if (cut >= 0) {
        cuts.push(base + cut);
        i = cut;
      } else {
        i = end;
      }
    }
    this.pos = base + n;
    return cuts;
  }

  /**
   * Ends the stream.
   * @returns the cuts not yet returned (the file's last offset, if not already returned).
   * @throws InvalidArgumentError when fewer than fileSize bytes were pushed.
   */
  finish(): number[] {
    if (this.finished) throw new InvalidArgumentError('stream chunker already finished');
    if (this.pos !== this.fileSize) {
      throw new InvalidArgumentError(
        `stream chunker got ${this.pos} bytes, expected ${this.fileSize}`,
        { fileSize: this.fileSize, received: this.pos },
      );
    }
    this.finished = true;
    // push closes each piece as soon as its last byte arrives, so nothing is pending here;
    // the return value keeps callers independent of that choice.
    return [];
  }
}

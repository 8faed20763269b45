/**
 * Chooses how to split a file before chunking, by content: GGUF by its magic, safetensors by
 * a plausible u64 header length followed by '{' (the name hint never overrides the
 * bytes). Anything else, and any file whose header
 * turns out damaged, is one `data` piece; in the damaged case (or when the name promises a
 * format the bytes do not deliver) `fallbackReason` says why. Chunking stays correct either
 * way: a fallback only costs deduplication.
 */
import { ModelvaultError } from '../core/errors.js';
import { checkPieces, type FileLayout, type ParseResult, type RangeReader } from './file-layout.js';
import { ggufLayout } from './gguf-layout.js';
import { safetensorsLayout } from './safetensors-layout.js';

export interface LayoutHint {
  /** The file's name or path; only used to explain a fallback, never to pick a format. */
  readonly name?: string;
}

function rawLayout(size: number, fallbackReason?: string): FileLayout {
  const pieces = size > 0 ? [{ offset: 0, length: size, kind: 'data' as const }] : [];
  return fallbackReason === undefined
    ? { format: 'raw', pieces }
    : { format: 'raw', pieces, fallbackReason };
}

/** A plausible u64 header length followed by '{' (a cheap test before a full parse). */
export function looksLikeSafetensors(prefix: Uint8Array, size: number): boolean {
  if (prefix.length < 9) return false;
  const view = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const n = view.getUint32(0, true);
  return view.getUint32(4, true) === 0 && n >= 2 && 8 + n <= size && prefix[8] === 0x7b;
}

/**
 * Verifies a layout against the `FileLayout` contract.
 * @throws ModelvaultError INTERNAL when a parser produced pieces that break it (a bug).
 */
export function assertValidLayout(layout: FileLayout, size: number): FileLayout {
  const problem = checkPieces(layout.pieces, size);
  if (problem !== undefined) {
    throw new ModelvaultError('INTERNAL', `invalid ${layout.format} layout: ${problem}`, { size });
  }
  return layout;
}

function settle(parsed: ParseResult<FileLayout>, size: number, format: string): FileLayout {
  return parsed.ok
    ? assertValidLayout(parsed.value, size)
    : rawLayout(size, `${format}: ${parsed.reason}`);
}

/**
 * The layout of a file of `size` bytes read through `read`. Never throws for bad content;
 * propagates what `read` throws.
 */
export async function detectLayout(
  read: RangeReader,
  size: number,
  hint: LayoutHint = {},
): Promise<FileLayout> {
  if (size === 0) return rawLayout(0);
  const prefix = await read(0, Math.min(size, 16));
  const isGguf =
    prefix.length >= 4 &&
    prefix[0] === 0x47 &&
    prefix[1] === 0x47 &&
    prefix[2] === 0x55 &&
    prefix[3] === 0x46;
  if (isGguf) return settle(await ggufLayout(read, size), size, 'gguf');
  if (looksLikeSafetensors(prefix, size)) {
    return settle(await safetensorsLayout(read, size), size, 'safetensors');
  }
  const name = hint.name?.toLowerCase() ?? '';
  // The name promised a format: say why the bytes were not taken as one.
  if (name.endsWith('.safetensors')) {
    return settle(await safetensorsLayout(read, size), size, 'safetensors');
  }
  if (name.endsWith('.gguf')) return rawLayout(size, 'gguf: missing GGUF magic');
  return rawLayout(size);
}

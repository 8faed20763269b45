import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  memoryReader,
  pseudoRandomBytes,
  writeGguf,
  writeSafetensors,
  writeSafetensorsRaw,
} from '../../test/fixtures/model-files.js';
import { ModelvaultError } from '../core/errors.js';
import { assertValidLayout, detectLayout } from './detect-layout.js';
import { checkPieces, type Piece } from './file-layout.js';

const safetensors = () =>
  writeSafetensors([
    { name: 'w', dtype: 'F32', shape: [4, 4], data: pseudoRandomBytes(1, 64) },
    { name: 'b', dtype: 'F32', shape: [4], data: pseudoRandomBytes(2, 16) },
  ]);

const gguf = () =>
  writeGguf({
    kvs: [{ key: 'general.architecture', type: 'string', value: 'llama' }],
    tensors: [{ name: 'w', dims: [8], type: 0, data: pseudoRandomBytes(3, 32) }],
  });

const detect = (bytes: Uint8Array, name?: string) =>
  detectLayout(memoryReader(bytes), bytes.length, name === undefined ? {} : { name });

describe('detectLayout', () => {
  it('recognises safetensors and GGUF by content, whatever the name', async () => {
    const st = await detect(safetensors(), 'model.bin');
    expect(st.format).toBe('safetensors');
    expect(st.pieces.map((p) => p.name ?? p.kind)).toEqual(['header', 'w', 'b']);
    const gg = await detect(gguf(), 'weights.safetensors');
    expect(gg.format).toBe('gguf');
    expect(gg.pieces.map((p) => p.name ?? p.kind)).toEqual(['header', 'w']);
    expect(st.fallbackReason ?? gg.fallbackReason).toBeUndefined();
  });

  it('chunks anything else as one data piece', async () => {
    const bytes = pseudoRandomBytes(4, 1000);
    expect(await detect(bytes, 'model.onnx')).toEqual({
      format: 'raw',
      pieces: [{ offset: 0, length: 1000, kind: 'data' }],
    });
    expect(await detect(new Uint8Array(0))).toEqual({ format: 'raw', pieces: [] });
    expect((await detect(Uint8Array.of(1, 2, 3))).pieces).toEqual([
      { offset: 0, length: 3, kind: 'data' },
    ]);
  });

  it('falls back with a reason when a recognised header is damaged', async () => {
    const truncated = gguf().slice(0, 40);
    const g = await detect(truncated);
    expect(g.format).toBe('raw');
    expect(g.fallbackReason).toMatch(/^gguf: /);
    expect(g.pieces).toEqual([{ offset: 0, length: 40, kind: 'data' }]);

    const lying = writeSafetensorsRaw(
      '{"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 99]}}',
      new Uint8Array(16),
    );
    const s = await detect(lying);
    expect(s.format).toBe('raw');
    expect(s.fallbackReason).toMatch(/^safetensors: tensor "w" ends at 99/);
  });

  it('explains a name that promises a format the bytes do not deliver', async () => {
    const junk = pseudoRandomBytes(5, 100);
    expect((await detect(junk, 'x/model.safetensors')).fallbackReason).toMatch(/^safetensors: /);
    expect((await detect(junk, 'x/MODEL.GGUF')).fallbackReason).toBe('gguf: missing GGUF magic');
    expect((await detect(junk, 'x/model.bin')).fallbackReason).toBeUndefined();
  });

  it('propagates reader failures', async () => {
    const failing = async () => {
      throw new Error('disk on fire');
    };
    await expect(detectLayout(failing, 100)).rejects.toThrow('disk on fire');
  });

  it('always returns pieces that cover the file, whatever the bytes', async () => {
    const seeds = [safetensors(), gguf()];
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        fc.nat(),
        async (which, edits, cut) => {
          const bytes = seeds[which]!.slice(0, 1 + (cut % seeds[which]!.length));
          for (const [at, v] of edits) bytes[at % bytes.length] = v;
          const layout = await detect(bytes);
          expect(checkPieces(layout.pieces, bytes.length)).toBeUndefined();
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('checkPieces and assertValidLayout', () => {
  const piece = (offset: number, length: number): Piece => ({ offset, length, kind: 'data' });

  it('accepts contiguous non-empty pieces covering the file', () => {
    expect(checkPieces([piece(0, 3), piece(3, 7)], 10)).toBeUndefined();
    expect(checkPieces([], 0)).toBeUndefined();
  });

  it.each([
    [[piece(0, 3), piece(4, 6)], 10, /piece 1 starts at 4, expected 3/],
    [[piece(0, 5), piece(3, 7)], 10, /piece 1 starts at 3, expected 5/],
    [[piece(0, 0), piece(0, 10)], 10, /piece 0 at 0 is empty/],
    [[piece(0, 11)], 10, /past the file end/],
    [[piece(0, 9)], 10, /pieces end at 9, file size is 10/],
    [[piece(0, 1.5)], 10, /non-integer/],
    [[], 10, /pieces end at 0/],
    [[], -1, /invalid file size/],
  ] as [Piece[], number, RegExp][])('rejects %j for size %d', (pieces, size, expected) => {
    expect(checkPieces(pieces, size)).toMatch(expected);
  });

  it('assertValidLayout throws an internal error for a broken layout', () => {
    const layout = { format: 'raw' as const, pieces: [piece(0, 5)] };
    expect(assertValidLayout(layout, 5)).toBe(layout);
    expect(() => assertValidLayout(layout, 6)).toThrow(ModelvaultError);
    try {
      assertValidLayout(layout, 6);
    } catch (e) {
      expect((e as ModelvaultError).code).toBe('INTERNAL');
    }
  });
});

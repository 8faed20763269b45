/**
 * The point of format-aware chunking (DESIGN §3): a tensor that did not change gives the
 * same chunks wherever it moved in the file. Checked end to end: detectLayout on real
 * files, then StreamChunker over arbitrary block splits, then chunk ids (SHA-256).
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { detectLayout } from '../src/formats/detect-layout.js';
import type { ChunkingParams } from '../src/storage/chunking/chunking-params.js';
import { StreamChunker } from '../src/storage/chunking/stream-chunker.js';
import {
  type GgufTensorSpec,
  memoryReader,
  pseudoRandomBytes,
  type SafetensorsTensorSpec,
  writeGguf,
  writeSafetensors,
} from './fixtures/model-files.js';

const P: ChunkingParams = { minSize: 256, avgSize: 1024, maxSize: 4096 };

/** Chunk ids of each tensor piece, by tensor name. */
async function tensorChunks(bytes: Uint8Array, blockSize: number): Promise<Map<string, string[]>> {
  const layout = await detectLayout(memoryReader(bytes), bytes.length);
  expect(layout.fallbackReason).toBeUndefined();
  const chunker = new StreamChunker(P, layout.pieces, bytes.length);
  const ends: number[] = [];
  for (let at = 0; at < bytes.length; at += blockSize) {
    ends.push(...chunker.push(bytes.subarray(at, Math.min(bytes.length, at + blockSize))));
  }
  ends.push(...chunker.finish());
  const byTensor = new Map<string, string[]>();
  let start = 0;
  let piece = 0;
  for (const end of ends) {
    while (layout.pieces[piece]!.offset + layout.pieces[piece]!.length < end) piece++;
    const p = layout.pieces[piece]!;
    expect(start).toBeGreaterThanOrEqual(p.offset); // no chunk straddles a piece boundary
    if (p.kind === 'tensor') {
      const id = createHash('sha256').update(bytes.subarray(start, end)).digest('hex');
      byTensor.set(p.name!, [...(byTensor.get(p.name!) ?? []), id]);
    }
    start = end;
  }
  return byTensor;
}

const tensorsArb = fc
  .array(fc.tuple(fc.integer({ min: 1, max: 5000 }), fc.integer()), { minLength: 2, maxLength: 6 })
  .map((specs) =>
    specs.map(
      ([elements, seed], i): SafetensorsTensorSpec => ({
        name: `layers.${i}.weight`,
        dtype: 'F32',
        shape: [elements],
        data: pseudoRandomBytes(seed, elements * 4),
      }),
    ),
  );

describe('tensor-aware chunking', () => {
  it('changing one safetensors tensor leaves the chunks of all others identical', async () => {
    await fc.assert(
      fc.asyncProperty(
        tensorsArb,
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 1, max: 9000 }),
        async (tensors, which, byteIndex, blockSize) => {
          const changed = which % tensors.length;
          const edited = tensors.map((t, i) => {
            if (i !== changed) return t;
            const data = t.data.slice();
            data[byteIndex % data.length]! ^= 0xff;
            return { ...t, data };
          });
          const before = await tensorChunks(writeSafetensors(tensors), blockSize);
          const after = await tensorChunks(writeSafetensors(edited), 4096);
          tensors.forEach((t, i) => {
            if (i !== changed) expect(after.get(t.name)).toEqual(before.get(t.name));
          });
          expect(after.get(tensors[changed]!.name)).not.toEqual(before.get(tensors[changed]!.name));
        },
      ),
      { numRuns: 40 },
    );
  });

  it('moving every tensor (a longer header) keeps all tensor chunks identical', async () => {
    await fc.assert(
      fc.asyncProperty(
        tensorsArb,
        fc.string({ minLength: 1, maxLength: 300 }),
        async (tensors, note) => {
          const before = await tensorChunks(writeSafetensors(tensors), 65536);
          const after = await tensorChunks(writeSafetensors(tensors, { note }), 1000);
          expect(after).toEqual(before);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('holds for GGUF too, when metadata growth shifts the data section', async () => {
    const tensors: GgufTensorSpec[] = [
      { name: 'a', dims: [4096], type: 0, data: pseudoRandomBytes(1, 16384) },
      { name: 'b', dims: [32, 100], type: 8, data: pseudoRandomBytes(2, 3400) },
      { name: 'c', dims: [1000], type: 1, data: pseudoRandomBytes(3, 2000) },
    ];
    const base = writeGguf({ tensors });
    const longer = writeGguf({
      kvs: [{ key: 'general.description', type: 'string', value: 'x'.repeat(777) }],
      tensors,
    });
    expect(await tensorChunks(longer, 333)).toEqual(await tensorChunks(base, 8192));
  });
});

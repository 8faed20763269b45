import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  HF_CONFIG_TEXT,
  MLMODEL_TEXT,
  MODEL_CARD_TEXT,
  writeOnnx,
  writeTorchZip,
} from '../../../test/fixtures/inspect-files.js';
import {
  pseudoRandomBytes,
  writeGguf,
  writeSafetensors,
} from '../../../test/fixtures/model-files.js';
import type { RangeReader } from '../file-layout.js';
import { inspectFile, summarize } from './inspect-file.js';

/** A reader over bytes that records the largest single request (bounded allocation). */
function reader(bytes: Uint8Array): RangeReader & { maxRequest: number } {
  const r = async (offset: number, length: number) => {
    if (
      !(Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length >= 0)
    ) {
      throw new Error(`bad read ${offset}+${length}`);
    }
    r.maxRequest = Math.max(r.maxRequest, length);
    return bytes.subarray(Math.min(offset, bytes.length), Math.min(offset + length, bytes.length));
  };
  r.maxRequest = 0;
  return r;
}

const inspect = (bytes: Uint8Array, path: string) =>
  inspectFile(reader(bytes), bytes.length, path, { tensors: true });

const text = (s: string) => new TextEncoder().encode(s);

const safetensors = () =>
  writeSafetensors(
    [
      { name: 'model.embed.weight', dtype: 'BF16', shape: [10, 4], data: pseudoRandomBytes(1, 80) },
      { name: 'model.layers.0.w', dtype: 'F32', shape: [4, 4], data: pseudoRandomBytes(2, 64) },
      { name: 'model.layers.0.b', dtype: 'F32', shape: [4], data: pseudoRandomBytes(3, 16) },
    ],
    { format: 'pt' },
  );

const gguf = () =>
  writeGguf({
    kvs: [
      { key: 'general.architecture', type: 'string', value: 'llama' },
      { key: 'general.name', type: 'string', value: 'tiny' },
      { key: 'llama.context_length', type: 'uint32', value: 4096 },
      { key: 'llama.block_count', type: 'uint32', value: 2 },
      { key: 'tokenizer.ggml.model', type: 'string', value: 'gpt2' },
      {
        key: 'tokenizer.ggml.tokens',
        type: 'array',
        value: { itemType: 'string', items: Array.from({ length: 2000 }, (_, i) => `t${i}`) },
      },
    ],
    tensors: [
      { name: 'token_embd.weight', type: 0, dims: [8, 4], data: pseudoRandomBytes(4, 128) },
      { name: 'blk.0.attn_q.weight', type: 8, dims: [32, 2], data: pseudoRandomBytes(5, 68) },
    ],
  });

const onnxModel = () =>
  writeOnnx({
    initializers: [
      { name: 'fc.weight', dims: [3, 4] },
      { name: 'fc.bias', dims: [3] },
      { name: 'big.weight', dims: [100, 10], external: 'weights.bin' },
    ],
    inputs: [{ name: 'input', elemType: 1, dims: ['batch', 4] }],
    outputs: [{ name: 'logits', elemType: 1, dims: ['batch', 3] }],
    ops: ['Gemm', 'Relu', 'Gemm'],
  });

const torch = () =>
  writeTorchZip([
    { name: 'encoder.weight', storage: 'FloatStorage', shape: [6, 3] },
    { name: 'encoder.bias', storage: 'FloatStorage', shape: [6] },
    { name: 'head.weight', storage: 'HalfStorage', shape: [2, 6] },
  ]);

describe('inspectFile', () => {
  it('safetensors: dtypes, shapes, parameter count and metadata', async () => {
    const f = await inspect(safetensors(), 'model.safetensors');
    expect(f).toMatchObject({
      format: 'safetensors',
      readable: true,
      parameterCount: 60,
      tensorCount: 3,
      dtypes: { BF16: 40, F32: 20 },
      details: { metadata: { format: 'pt' }, framework: 'pytorch' },
    });
    expect(f.tensors?.map((t) => [t.name, t.shape, t.length])).toEqual([
      ['model.embed.weight', [10, 4], 80],
      ['model.layers.0.w', [4, 4], 64],
      ['model.layers.0.b', [4], 16],
    ]);
  });

  it('GGUF: architecture, context length, tokenizer facts and quantization types', async () => {
    const f = await inspect(gguf(), 'tiny.gguf');
    expect(f).toMatchObject({
      format: 'gguf',
      readable: true,
      architecture: 'llama',
      parameterCount: 96,
      dtypes: { F32: 32, Q8_0: 64 },
      details: {
        name: 'tiny',
        contextLength: 4096,
        blockCount: 2,
        tokenizer: { model: 'gpt2', vocabSize: 2000 },
        quantization: ['F32', 'Q8_0'],
      },
    });
    // ggml dims are fastest-first; shapes are shown outermost-first.
    expect(f.tensors?.[1]).toMatchObject({
      name: 'blk.0.attn_q.weight',
      shape: [2, 32],
      length: 68,
    });
    expect((f.details!.metadata as Record<string, unknown>)['tokenizer.ggml.tokens']).toEqual({
      array: 'string',
      length: 2000,
    });
  });

  it('ONNX: opset, producer, inputs/outputs, initializers and external data files', async () => {
    const bytes = onnxModel();
    const r = reader(bytes);
    const f = await inspectFile(r, bytes.length, 'model.onnx', { tensors: true });
    expect(f).toMatchObject({
      format: 'onnx',
      readable: true,
      parameterCount: 1015,
      tensorCount: 3,
      dtypes: { FLOAT: 1015 },
      details: {
        irVersion: 8,
        producer: { name: 'pytorch', version: '2.3.0' },
        opsets: [{ domain: 'ai.onnx', version: 17 }],
        graph: 'main_graph',
        inputs: [{ name: 'input', type: 'FLOAT', shape: ['batch', 4] }],
        outputs: [{ name: 'logits', type: 'FLOAT', shape: ['batch', 3] }],
        opTypes: { Gemm: 2, Relu: 1 },
        nodeCount: 3,
        externalDataFiles: ['weights.bin'],
        metadata: { author: 'tests' },
      },
    });
    const w = f.tensors?.find((t) => t.name === 'fc.weight');
    expect(w?.length).toBe(48);
    expect(f.tensors?.find((t) => t.name === 'big.weight')).toMatchObject({
      offset: null,
      length: 4000,
    });
  });

  it('ONNX: counts the tensors of Constant nodes as weights, named by their output', async () => {
    const bytes = writeOnnx({
      ops: ['Conv'],
      initializers: [{ name: 'fc.bias', dims: [3] }],
      constants: [
        { output: 'conv.w', dims: [8, 3, 3, 3] },
        { output: 'conv.b_out', dims: [8], tensorName: 'conv.b' },
      ],
    });
    const f = await inspectFile(reader(bytes), bytes.length, 'model.onnx', { tensors: true });
    expect(f).toMatchObject({
      parameterCount: 3 + 216 + 8,
      tensorCount: 3,
      details: { initializerCount: 1, constantCount: 2, opTypes: { Conv: 1, Constant: 2 } },
    });
    expect(f.tensors?.map((t) => [t.name, t.shape, t.length])).toEqual([
      ['fc.bias', [3], 12],
      ['conv.w', [8, 3, 3, 3], 864],
      ['conv.b', [8], 32],
    ]);
    // Each tensor's offset points at its raw bytes in the file (all zeros here).
    for (const t of f.tensors ?? []) {
      expect(t.offset).not.toBeNull();
      expect([...bytes.subarray(t.offset!, t.offset! + t.length!)].every((b) => b === 0)).toBe(
        true,
      );
    }
  });

  it('ONNX: never reads initializer raw data', async () => {
    const raw = new Uint8Array(4 * 1024 * 1024).fill(7);
    const bytes = writeOnnx({ initializers: [{ name: 'w', dims: [1024, 1024], raw }] });
    let read = 0;
    const counting: RangeReader = async (o, l) => {
      const out = bytes.subarray(o, Math.min(o + l, bytes.length, o + 256 * 1024));
      read += out.length;
      return out;
    };
    // The cursor reads windows of 256 KiB; the 4 MiB of raw data are skipped.
    const f = await inspectFile(counting, bytes.length, 'm.onnx', { tensors: true });
    expect(f.parameterCount).toBe(1024 * 1024);
    expect(read).toBeLessThan(1024 * 1024);
    const w = f.tensors?.[0];
    expect(bytes[w!.offset!]).toBe(7);
    expect(w!.length).toBe(raw.length);
  });

  it('PyTorch zip: entries and the tensor list from data.pkl, without executing it', async () => {
    const f = await inspect(torch(), 'pytorch_model.bin');
    expect(f).toMatchObject({
      format: 'pytorch',
      readable: true,
      parameterCount: 36,
      tensorCount: 3,
      dtypes: { F32: 24, F16: 12 },
      details: { archive: 'model', entryCount: 6 },
    });
    expect(f.tensors?.map((t) => [t.name, t.dtype, t.shape])).toEqual([
      ['encoder.weight', 'F32', [6, 3]],
      ['encoder.bias', 'F32', [6]],
      ['head.weight', 'F16', [2, 6]],
    ]);
    expect(f.details?.globals).toEqual([
      'collections.OrderedDict',
      'torch._utils._rebuild_tensor_v2',
      'torch.FloatStorage',
      'torch.HalfStorage',
    ]);
  });

  it('MLmodel: flavors, signature and input example', async () => {
    const f = await inspect(text(MLMODEL_TEXT), 'model/MLmodel');
    expect(f).toMatchObject({
      format: 'mlmodel',
      readable: true,
      details: {
        framework: 'mlflow/sklearn',
        mlflow_version: '2.16.0',
        flavors: {
          sklearn: { sklearn_version: '1.5.1' },
          python_function: { loader_module: 'mlflow.sklearn' },
        },
        signature: {
          inputs: [
            { name: 'amount', type: 'double' },
            { name: 'age', type: 'long' },
          ],
        },
        inputExample: { artifact_path: 'input_example.json', type: 'dataframe' },
      },
    });
  });

  it('config.json and README front matter', async () => {
    const c = await inspect(text(HF_CONFIG_TEXT), 'config.json');
    expect(c).toMatchObject({
      format: 'hf-config',
      architecture: 'LlamaForCausalLM',
      details: {
        model_type: 'llama',
        torch_dtype: 'bfloat16',
        num_hidden_layers: 2,
        framework: 'transformers',
      },
    });
    const card = await inspect(text(MODEL_CARD_TEXT), 'README.md');
    expect(card.details).toMatchObject({
      frontMatter: true,
      license: 'apache-2.0',
      base_model: 'meta-llama/Llama-3.1-8B',
      datasets: ['squad', 'glue'],
      metrics: ['accuracy'],
      results: [{ dataset: 'squad', metric: 'accuracy', value: 0.91 }],
    });
    expect((await inspect(text('# no front matter'), 'README.md')).details).toEqual({
      frontMatter: false,
    });
  });

  it('gives a reason for hostile headers', async () => {
    const cases: [Uint8Array, string, RegExp][] = [
      [text(`${'['.repeat(10_000)}${']'.repeat(10_000)}`), 'config.json', /nested deeper/],
      [
        text(
          `a: &a [1]\nb: &b [*a, *a, *a, *a]\nc: &c [*b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c]\ne: [*c, *c, *c, *c, *c, *c]\n`,
        ),
        'MLmodel',
        /alias|flavors/,
      ],
      [text('flavors: [unclosed'), 'MLmodel', /YAML/],
      [safetensors().subarray(0, 40), 'x.safetensors', /past the file end|truncated/],
      [gguf().subarray(0, 100), 'x.gguf', /truncated|past the file end|implausible/],
      [onnxModel().subarray(0, 30), 'x.onnx', /overruns|truncated/],
      [torch().subarray(0, 200), 'x.pt', /end of central directory/],
      [new Uint8Array([0x80, 0x02]), 'x.onnx', /wire type|overruns|truncated/],
    ];
    for (const [bytes, path, re] of cases) {
      const f = await inspect(bytes, path);
      expect(f.readable, path).toBe(false);
      expect(f.reason, path).toMatch(re);
    }
  });

  it('rejects a pickle with an unknown opcode or a huge count, and a zip with a lying count', async () => {
    const z = torch();
    const eocd = z.length - 22;
    const lying = Uint8Array.from(z);
    new DataView(lying.buffer).setUint16(eocd + 10, 60000, true);
    expect((await inspect(lying, 'x.pt')).reason).toMatch(/cannot hold|entry/);
    const bad = writeTorchZip([]);
    // Replace data.pkl's STOP with INST ('i'), which we never support.
    const copy = Uint8Array.from(bad);
    const at = Buffer.from(copy).indexOf(Buffer.from([0x75, 0x2e]));
    copy[at + 1] = 0x69;
    const f = await inspect(copy, 'x.pt');
    expect(f.readable).toBe(false);
    expect(f.reason).toMatch(/opcode 0x69/);
  });

  it('summarizes a version: format by bytes, framework, architecture, dtype mix', async () => {
    const files = [
      await inspect(safetensors(), 'model.safetensors'),
      await inspect(text(HF_CONFIG_TEXT), 'config.json'),
      await inspect(text(MODEL_CARD_TEXT), 'README.md'),
      await inspect(text('x'), 'tokenizer.txt'),
      await inspect(gguf().subarray(0, 50), 'broken.gguf'),
    ];
    const s = summarize(files);
    expect(s).toMatchObject({
      format: 'safetensors',
      framework: 'transformers',
      parameterCount: 60,
      dtypes: { BF16: 40, F32: 20 },
      architecture: 'LlamaForCausalLM',
      tensorCount: 3,
    });
    expect(s.files.map((f) => [f.path, f.readable])).toEqual([
      ['model.safetensors', true],
      ['config.json', true],
      ['README.md', true],
      ['broken.gguf', false],
    ]);
  });
});

describe('inspectFile fuzz (mutated real headers)', () => {
  const samples: [string, () => Uint8Array][] = [
    ['model.safetensors', safetensors],
    ['model.gguf', gguf],
    ['model.onnx', onnxModel],
    ['pytorch_model.pt', torch],
    ['MLmodel', () => text(MLMODEL_TEXT)],
    ['config.json', () => text(HF_CONFIG_TEXT)],
    ['README.md', () => text(MODEL_CARD_TEXT)],
  ];
  for (const [path, make] of samples) {
    it(`${path}: never throws, reads within the file, explains what it rejects`, async () => {
      const base = make();
      // Mutations concentrate on the header (the first 512 bytes) where lengths live.
      const mutation = fc.record({
        cut: fc.option(fc.nat({ max: base.length }), { nil: undefined }),
        writes: fc.array(
          fc.record({
            at: fc.oneof(
              fc.nat({ max: Math.min(511, base.length - 1) }),
              fc.nat({ max: base.length - 1 }),
            ),
            value: fc.oneof(fc.constant(0xff), fc.constant(0), fc.nat({ max: 255 })),
            span: fc.integer({ min: 1, max: 8 }),
          }),
          { maxLength: 6 },
        ),
      });
      await fc.assert(
        fc.asyncProperty(mutation, async ({ cut, writes }) => {
          const bytes = Uint8Array.from(base.subarray(0, cut ?? base.length));
          for (const w of writes) bytes.fill(w.value, w.at, w.at + w.span);
          const r = reader(bytes);
          const f = await inspectFile(r, bytes.length, path, { tensors: true });
          expect(r.maxRequest).toBeLessThanOrEqual(Math.max(bytes.length, 16));
          expect(typeof f.readable).toBe('boolean');
          if (!f.readable) expect(f.reason).toMatch(/\S/);
          expect(() => JSON.stringify(f)).not.toThrow();
        }),
        { numRuns: 300 },
      );
    });
  }
});

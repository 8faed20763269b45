/**
 * ONNX inspection (onnx/onnx `onnx.proto`): IR version, opsets, producer, graph inputs and
 * outputs with their shapes, initializers and Constant-node tensors (name, type, dims, where
 * their data is) and the external data files they name — walked field by field with `ProtoCursor`, so initializer
 * data (raw_data, float_data…) is skipped, never read, and memory stays bounded whatever
 * the file's size. Counts are capped; nesting (type protos) is bounded.
 */
import type { TensorInfo } from '../../core/model-inspection.js';
import type { RangeReader } from '../file-layout.js';
import { FormatReject, RangeCursor } from '../range-cursor.js';
import { guarded, type InspectResult, MAX_LISTED_TENSORS, tensorTotals } from './inspected.js';
import { type ProtoCursor as PC, ProtoCursor, WIRE_LEN, WIRE_VARINT } from './proto-cursor.js';

/** TensorProto.DataType names by id. */
export const ONNX_DATA_TYPES: readonly string[] = [
  'UNDEFINED',
  'FLOAT',
  'UINT8',
  'INT8',
  'UINT16',
  'INT16',
  'INT32',
  'INT64',
  'STRING',
  'BOOL',
  'FLOAT16',
  'DOUBLE',
  'UINT32',
  'UINT64',
  'COMPLEX64',
  'COMPLEX128',
  'BFLOAT16',
  'FLOAT8E4M3FN',
  'FLOAT8E4M3FNUZ',
  'FLOAT8E5M2',
  'FLOAT8E5M2FNUZ',
  'UINT4',
  'INT4',
  'FLOAT4E2M1',
];

export const ONNX_LIMITS = Object.freeze({
  maxInitializers: 1_000_000,
  maxValueInfos: 10_000,
  maxDims: 64,
  maxTypeDepth: 8,
  maxOpTypes: 1_000,
  maxNodes: 10_000_000,
  maxExternalFiles: 10_000,
});

const typeName = (id: number): string => ONNX_DATA_TYPES[id] ?? `TYPE_${id}`;

interface ValueInfo {
  name: string;
  type: string;
  shape?: (number | string | null)[];
}

function expectWire(f: { field: number; wire: number }, wire: number, what: string): void {
  if (f.wire !== wire) throw new FormatReject(`${what} (field ${f.field}) has wire type ${f.wire}`);
}

async function readTypeProto(p: PC, end: number, depth: number): Promise<Omit<ValueInfo, 'name'>> {
  if (depth > ONNX_LIMITS.maxTypeDepth) throw new FormatReject('onnx type nested too deeply');
  let out: Omit<ValueInfo, 'name'> = { type: 'unknown' };
  await p.fields(end, async (f) => {
    if (f.field === 1 && f.wire === WIRE_LEN) {
      // TypeProto.Tensor: elem_type (1), shape (2)
      let elem = 0;
      let shape: (number | string | null)[] | undefined;
      await p.fields(f.end, async (g) => {
        if (g.field === 1 && g.wire === WIRE_VARINT) {
          elem = await p.varint(g.end + 10);
          return true;
        }
        if (g.field === 2 && g.wire === WIRE_LEN) {
          shape = [];
          const dims = shape;
          await p.fields(g.end, async (d) => {
            if (d.field !== 1 || d.wire !== WIRE_LEN) return false;
            if (dims.length >= ONNX_LIMITS.maxDims)
              throw new FormatReject('onnx shape has too many dimensions');
            let dim: number | string | null = null;
            await p.fields(d.end, async (x) => {
              if (x.field === 1 && x.wire === WIRE_VARINT) {
                dim = await p.varint(x.end + 10);
                return true;
              }
              if (x.field === 2 && x.wire === WIRE_LEN) {
                dim = await p.string(x, 256);
                return true;
              }
              return false;
            });
            dims.push(dim);
            return true;
          });
          return true;
        }
        return false;
      });
      out = shape === undefined ? { type: typeName(elem) } : { type: typeName(elem), shape };
      return true;
    }
    const kinds: Record<number, string> = {
      4: 'sequence',
      5: 'map',
      8: 'sparse_tensor',
      9: 'optional',
    };
    if (f.wire === WIRE_LEN && kinds[f.field] !== undefined) {
      // Walk the nested type only to bound and validate it; report its kind.
      await readTypeProto(p, f.end, depth + 1);
      out = { type: kinds[f.field]! };
      return true;
    }
    return false;
  });
  return out;
}

async function readValueInfo(p: PC, end: number): Promise<ValueInfo> {
  let name = '';
  let rest: Omit<ValueInfo, 'name'> = { type: 'unknown' };
  await p.fields(end, async (f) => {
    if (f.field === 1 && f.wire === WIRE_LEN) {
      name = await p.string(f);
      return true;
    }
    if (f.field === 2 && f.wire === WIRE_LEN) {
      rest = await readTypeProto(p, f.end, 0);
      return true;
    }
    return false;
  });
  return { name, ...rest };
}

async function readEntry(p: PC, end: number): Promise<[string, string]> {
  let key = '';
  let value = '';
  await p.fields(end, async (f) => {
    if (f.wire !== WIRE_LEN || (f.field !== 1 && f.field !== 2)) return false;
    if (f.field === 1) key = await p.string(f, 1024);
    else value = await p.string(f, 4096);
    return true;
  });
  return [key, value];
}

interface Initializer {
  info: TensorInfo;
  external?: string;
}

async function readTensor(p: PC, end: number): Promise<Initializer> {
  const dims: number[] = [];
  let dataType = 0;
  let name = '';
  let raw: { offset: number; length: number } | undefined;
  let location = 0;
  const external: Record<string, string> = {};
  await p.fields(end, async (f) => {
    switch (f.field) {
      case 1:
        await p.ints(f, dims, ONNX_LIMITS.maxDims);
        return true;
      case 2:
        expectWire(f, WIRE_VARINT, 'tensor data_type');
        dataType = await p.varint(f.end + 10);
        return true;
      case 8:
        expectWire(f, WIRE_LEN, 'tensor name');
        name = await p.string(f);
        return true;
      case 9:
        // raw_data: remember where it is, never read it.
        expectWire(f, WIRE_LEN, 'tensor raw_data');
        raw = { offset: f.start, length: f.end - f.start };
        return false;
      case 13: {
        expectWire(f, WIRE_LEN, 'tensor external_data');
        if (Object.keys(external).length >= 16)
          throw new FormatReject('too many external_data entries');
        const [k, v] = await readEntry(p, f.end);
        external[k] = v;
        return true;
      }
      case 14:
        expectWire(f, WIRE_VARINT, 'tensor data_location');
        location = await p.varint(f.end + 10);
        return true;
      default:
        return false;
    }
  });
  const isExternal = location === 1 || external.location !== undefined;
  const info: TensorInfo = {
    name,
    dtype: typeName(dataType),
    shape: dims,
    offset: !isExternal && raw ? raw.offset : null,
    length: isExternal
      ? external.length !== undefined
        ? Number(external.length) || null
        : null
      : (raw?.length ?? null),
  };
  return isExternal && external.location !== undefined
    ? { info, external: external.location }
    : { info };
}

interface NodeSummary {
  readonly op: string;
  /** The node's first output: a Constant's tensor usually has no name of its own. */
  readonly output?: string;
  /** The tensor of a `value` attribute (what a Constant node holds). */
  readonly value?: Initializer;
}

/** A NodeProto: op_type (4), the first output (2), and a tensor-valued `value` attribute (5). */
async function readNode(p: PC, end: number): Promise<NodeSummary> {
  let op = '';
  let output: string | undefined;
  let value: Initializer | undefined;
  await p.fields(end, async (n) => {
    if (n.wire !== WIRE_LEN) return false;
    if (n.field === 4) op = await p.string(n, 256);
    else if (n.field === 2 && output === undefined) output = await p.string(n, 1024);
    else if (n.field === 5 && value === undefined) value = await readTensorAttribute(p, n.end);
    else return false;
    return true;
  });
  return {
    op,
    ...(output !== undefined ? { output } : {}),
    ...(value !== undefined ? { value } : {}),
  };
}

/** An AttributeProto named `value` holding a tensor (t, field 5); undefined otherwise. */
async function readTensorAttribute(p: PC, end: number): Promise<Initializer | undefined> {
  let name = '';
  let tensor: Initializer | undefined;
  await p.fields(end, async (a) => {
    if (a.wire !== WIRE_LEN) return false;
    if (a.field === 1) name = await p.string(a, 256);
    else if (a.field === 5 && tensor === undefined) tensor = await readTensor(p, a.end);
    else return false;
    return true;
  });
  return name === 'value' ? tensor : undefined;
}

export async function inspectOnnx(read: RangeReader, size: number): Promise<InspectResult> {
  return guarded(async () => {
    if (size === 0) throw new FormatReject('empty onnx file');
    const c = new RangeCursor(read, size, 256 * 1024);
    const p = new ProtoCursor(c);
    let irVersion: number | undefined;
    const producer: Record<string, string> = {};
    const opsets: { domain: string; version: number }[] = [];
    const metadata: Record<string, string> = {};
    let graphName: string | undefined;
    const inputs: ValueInfo[] = [];
    const outputs: ValueInfo[] = [];
    const initializers: TensorInfo[] = [];
    let initializerCount = 0;
    // Exporters such as paddle2onnx store the weights as Constant nodes, not initializers.
    const constants: TensorInfo[] = [];
    let constantCount = 0;
    const externalFiles = new Set<string>();
    const opTypes = new Map<string, number>();
    let nodes = 0;
    let graphs = 0;
    await p.fields(size, async (f) => {
      switch (f.field) {
        case 1:
          expectWire(f, WIRE_VARINT, 'ir_version');
          irVersion = await p.varint(size);
          return true;
        case 2:
        case 3:
          expectWire(f, WIRE_LEN, 'producer');
          producer[f.field === 2 ? 'name' : 'version'] = await p.string(f, 1024);
          return true;
        case 8: {
          expectWire(f, WIRE_LEN, 'opset_import');
          let domain = '';
          let version = 0;
          await p.fields(f.end, async (g) => {
            if (g.field === 1 && g.wire === WIRE_LEN) domain = await p.string(g, 1024);
            else if (g.field === 2 && g.wire === WIRE_VARINT) version = await p.varint(g.end + 10);
            else return false;
            return true;
          });
          if (opsets.length >= 1000) throw new FormatReject('too many opset imports');
          opsets.push({ domain: domain || 'ai.onnx', version });
          return true;
        }
        case 14: {
          expectWire(f, WIRE_LEN, 'metadata_props');
          if (Object.keys(metadata).length >= 1000)
            throw new FormatReject('too many metadata_props');
          const [k, v] = await readEntry(p, f.end);
          metadata[k] = v;
          return true;
        }
        case 7:
          expectWire(f, WIRE_LEN, 'graph');
          if (++graphs > 1) throw new FormatReject('onnx model has more than one graph');
          await p.fields(f.end, async (g) => {
            switch (g.field) {
              case 1: {
                expectWire(g, WIRE_LEN, 'node');
                if (++nodes > ONNX_LIMITS.maxNodes) throw new FormatReject('too many onnx nodes');
                const node = await readNode(p, g.end);
                const op = node.op;
                if (opTypes.has(op) || opTypes.size < ONNX_LIMITS.maxOpTypes) {
                  opTypes.set(op, (opTypes.get(op) ?? 0) + 1);
                }
                if (op === 'Constant' && node.value) {
                  if (initializerCount + ++constantCount > ONNX_LIMITS.maxInitializers) {
                    throw new FormatReject('too many onnx initializers and constants');
                  }
                  const info = node.value.info.name
                    ? node.value.info
                    : { ...node.value.info, name: node.output ?? '' };
                  if (constants.length < MAX_LISTED_TENSORS) constants.push(info);
                }
                return true;
              }
              case 2:
                expectWire(g, WIRE_LEN, 'graph name');
                graphName = await p.string(g, 1024);
                return true;
              case 5: {
                expectWire(g, WIRE_LEN, 'initializer');
                if (++initializerCount + constantCount > ONNX_LIMITS.maxInitializers) {
                  throw new FormatReject('too many onnx initializers and constants');
                }
                const t = await readTensor(p, g.end);
                if (initializers.length < MAX_LISTED_TENSORS) initializers.push(t.info);
                if (t.external !== undefined && externalFiles.size < ONNX_LIMITS.maxExternalFiles) {
                  externalFiles.add(t.external);
                }
                return true;
              }
              case 11:
              case 12: {
                expectWire(g, WIRE_LEN, g.field === 11 ? 'graph input' : 'graph output');
                const list = g.field === 11 ? inputs : outputs;
                if (list.length >= ONNX_LIMITS.maxValueInfos)
                  throw new FormatReject('too many graph inputs or outputs');
                list.push(await readValueInfo(p, g.end));
                return true;
              }
              default:
                return false;
            }
          });
          return true;
        default:
          return false;
      }
    });
    if (irVersion === undefined && graphs === 0) {
      throw new FormatReject('not an onnx model: no ir_version and no graph');
    }
    // Graph inputs that are initializers (older exporters list both) are not model inputs.
    const initNames = new Set(initializers.map((t) => t.name));
    const tensors = [...initializers, ...constants].slice(0, MAX_LISTED_TENSORS);
    const totals = tensorTotals(tensors);
    return {
      ...totals,
      tensorCount: initializerCount + constantCount,
      details: {
        ...(irVersion !== undefined ? { irVersion } : {}),
        producer,
        opsets,
        ...(graphName !== undefined ? { graph: graphName } : {}),
        inputs: inputs.filter((i) => !initNames.has(i.name)),
        outputs,
        nodeCount: nodes,
        opTypes: Object.fromEntries([...opTypes].sort((a, b) => b[1] - a[1])),
        initializerCount,
        constantCount,
        externalDataFiles: [...externalFiles].sort(),
        ...(Object.keys(metadata).length > 0 ? { metadata } : {}),
      },
      tensors,
    };
  });
}

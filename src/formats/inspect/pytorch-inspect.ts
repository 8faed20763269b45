/**
 * PyTorch zip checkpoints (`torch.save` since 1.6): the archive's entries, and the tensor
 * list read from `<archive>/data.pkl` by `walkPickle` — a symbolic walk that never imports
 * or calls anything. Tensors are `torch._utils._rebuild_tensor_v2(persistent_id, offset,
 * size, stride, …)` calls whose persistent id is `('storage', <torch.XStorage>, key,
 * location, numel)`; their names are the dictionary keys leading to them. A data.pkl that
 * is compressed or larger than the cap leaves the tensor list out (with the reason).
 */
import type { TensorInfo } from '../../core/model-inspection.js';
import type { RangeReader } from '../file-layout.js';
import { FormatReject } from '../range-cursor.js';
import { guarded, type InspectResult, MAX_LISTED_TENSORS, tensorTotals } from './inspected.js';
import { type PickleValue, walkPickle } from './pickle-walk.js';
import { readZipDirectory, zipDataOffset } from './zip-directory.js';

/** Largest data.pkl we read (a 70B-parameter state dict's is a few MiB). */
export const MAX_DATA_PKL = 64 * 1024 * 1024;
/** Entries listed in details. */
const LISTED_ENTRIES = 1000;

const STORAGE_DTYPES: Readonly<Record<string, string>> = {
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  DoubleStorage: 'F64',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
  ComplexFloatStorage: 'C64',
  ComplexDoubleStorage: 'C128',
};
const DTYPE_BYTES: Readonly<Record<string, number>> = {
  F32: 4,
  F16: 2,
  BF16: 2,
  F64: 8,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
  C64: 8,
  C128: 16,
};

const isObj = (
  v: PickleValue,
): v is Exclude<PickleValue, null | boolean | number | bigint | string> =>
  v !== null && typeof v === 'object';

function fnName(v: PickleValue): string | undefined {
  return isObj(v) && v.k === 'global' ? `${v.module}.${v.name}` : undefined;
}

function tupleItems(v: PickleValue): PickleValue[] | undefined {
  return isObj(v) && (v.k === 'tuple' || v.k === 'list') ? v.items : undefined;
}

/** The tensor a value rebuilds, if it is one. */
function asTensor(name: string, v: PickleValue): TensorInfo | undefined {
  if (!isObj(v) || v.k !== 'call') return undefined;
  const fn = fnName(v.fn);
  const args = tupleItems(v.args);
  if (!args) return undefined;
  if (
    fn === 'torch._utils._rebuild_parameter' ||
    fn === 'torch._utils._rebuild_parameter_with_state'
  ) {
    const inner = args[0];
    return inner === undefined ? undefined : asTensor(name, inner);
  }
  if (fn !== 'torch._utils._rebuild_tensor_v2' && fn !== 'torch._utils._rebuild_tensor')
    return undefined;
  const pid = args[0] ?? null;
  const pidItems = isObj(pid) && pid.k === 'pid' ? tupleItems(pid.pid) : undefined;
  const storage = pidItems?.[1] ?? null;
  const storageName = isObj(storage) && storage.k === 'global' ? storage.name : undefined;
  const dtype = (storageName && STORAGE_DTYPES[storageName]) ?? storageName ?? 'unknown';
  const size = tupleItems(args[2] ?? null);
  if (!size?.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0))
    return undefined;
  const shape = size as number[];
  const bytes = DTYPE_BYTES[dtype];
  let n = 1;
  for (const d of shape) n *= d;
  return { name, dtype, shape, offset: null, length: bytes === undefined ? null : n * bytes };
}

/** Tensors reachable from `root`, named by their dictionary keys joined with dots. */
function collectTensors(root: PickleValue): { tensors: TensorInfo[]; count: number } {
  const tensors: TensorInfo[] = [];
  let count = 0;
  const seen = new Set<object>();
  const visit = (v: PickleValue, name: string, depth: number) => {
    if (!isObj(v) || depth > 64 || seen.has(v)) return;
    seen.add(v);
    const t = asTensor(name, v);
    if (t) {
      count++;
      if (tensors.length < MAX_LISTED_TENSORS) tensors.push(t);
      return;
    }
    const join = (k: PickleValue) => {
      const key = typeof k === 'string' || typeof k === 'number' ? String(k) : '?';
      return name === '' ? key : `${name}.${key}`;
    };
    if (v.k === 'dict' || v.k === 'call')
      for (const [k, x] of v.entries) visit(x, join(k), depth + 1);
    if (v.k === 'list' || v.k === 'tuple' || v.k === 'call') {
      for (let i = 0; i < v.items.length; i++) visit(v.items[i]!, join(i), depth + 1);
    }
    if (v.k === 'call' && v.state !== undefined) visit(v.state, name, depth + 1);
  };
  visit(root, '', 0);
  return { tensors, count };
}

export async function inspectPytorch(read: RangeReader, size: number): Promise<InspectResult> {
  return guarded(async () => {
    const entries = await readZipDirectory(read, size);
    const pkl = entries.find((e) => /^[^/]+\/data\.pkl$/.test(e.name) || e.name === 'data.pkl');
    if (!pkl) throw new FormatReject('zip archive has no data.pkl: not a PyTorch checkpoint');
    const archive = pkl.name.includes('/') ? pkl.name.slice(0, pkl.name.indexOf('/')) : '';
    const details: Record<string, unknown> = {
      archive,
      entryCount: entries.length,
      entries: entries.slice(0, LISTED_ENTRIES).map((e) => ({
        name: e.name,
        size: e.size,
        ...(e.method !== 0 ? { compressed: e.compressedSize, method: e.method } : {}),
      })),
    };
    const byteorder = entries.find((e) => e.name === `${archive}/byteorder`);
    if (byteorder) details.hasByteorder = true;
    if (pkl.method !== 0) {
      return { details: { ...details, tensorsUnread: 'data.pkl is compressed' } };
    }
    if (pkl.size > MAX_DATA_PKL || pkl.compressedSize !== pkl.size) {
      return {
        details: { ...details, tensorsUnread: `data.pkl of ${pkl.size} bytes exceeds the limit` },
      };
    }
    const start = await zipDataOffset(read, size, pkl);
    const bytes = await read(start, pkl.size);
    if (bytes.length < pkl.size) throw new FormatReject('truncated data.pkl');
    const walked = walkPickle(bytes);
    const { tensors, count } = collectTensors(walked.value);
    return {
      ...tensorTotals(tensors),
      tensorCount: count,
      details: { ...details, globals: walked.globals },
      tensors,
    };
  });
}

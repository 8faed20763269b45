/**
 * safetensors inspection: dtypes, shapes, parameter count and `__metadata__`, from the
 * header that `parseSafetensorsHeader` validates (one parser for chunking and inspection).
 */
import type { TensorInfo } from '../../core/model-inspection.js';
import type { RangeReader } from '../file-layout.js';
import { parseSafetensorsHeader } from '../safetensors-layout.js';
import { type InspectResult, tensorTotals } from './inspected.js';

/** Framework named by the `format` metadata key the writers set. */
const FRAMEWORKS: Readonly<Record<string, string>> = {
  pt: 'pytorch',
  tf: 'tensorflow',
  flax: 'flax',
  np: 'numpy',
  mlx: 'mlx',
  paddle: 'paddle',
};

export async function inspectSafetensors(read: RangeReader, size: number): Promise<InspectResult> {
  const parsed = await parseSafetensorsHeader(read, size);
  if (!parsed.ok) return parsed;
  const h = parsed.value;
  const tensors: TensorInfo[] = h.tensors.map((t) => ({
    name: t.name,
    dtype: t.dtype,
    shape: t.shape,
    offset: h.dataStart + t.begin,
    length: t.end - t.begin,
  }));
  const framework = h.metadata?.format !== undefined ? FRAMEWORKS[h.metadata.format] : undefined;
  return {
    ok: true,
    value: {
      ...tensorTotals(tensors),
      tensorCount: tensors.length,
      details: {
        headerLength: h.headerLength,
        ...(h.metadata ? { metadata: h.metadata } : {}),
        ...(framework ? { framework } : {}),
      },
      tensors,
    },
  };
}

/**
 * Pure logic of the version page's format section: the dtype mix of a version's weights,
 * which inspected files have tensors to list, and filtering a tensor list by name.
 * Unit-tested in inspection.test.ts.
 */

/** Weights formats whose inspection lists tensors. */
export const TENSOR_FORMATS: readonly string[] = ['safetensors', 'gguf', 'onnx', 'pytorch'];

export interface DtypeShare {
  readonly dtype: string;
  readonly params: number;
  /** Fraction of all parameters, 0–1. */
  readonly share: number;
}

/** Parameters per dtype as shares, largest first (ties by name); empty for no params. */
export function dtypeMix(dtypes: Readonly<Record<string, number>>): DtypeShare[] {
  const entries = Object.entries(dtypes).filter(([, n]) => Number.isFinite(n) && n > 0);
  const total = entries.reduce((s, [, n]) => s + n, 0);
  if (total === 0) return [];
  return entries
    .map(([dtype, params]) => ({ dtype, params, share: params / total }))
    .sort((a, b) => b.params - a.params || (a.dtype < b.dtype ? -1 : 1));
}

/** `0.5` → `50%`, `0.0004` → `<0.1%`. */
export function formatShare(share: number): string {
  if (share <= 0) return '0%';
  if (share < 0.001) return '<0.1%';
  const pct = share * 100;
  return `${pct >= 10 ? pct.toFixed(0) : Number(pct.toFixed(1))}%`;
}

/** Readable inspected files that hold tensors, by path. */
export function tensorFiles<T extends { path: string; format: string; readable: boolean }>(
  files: readonly T[],
): T[] {
  return files
    .filter((f) => f.readable && TENSOR_FORMATS.includes(f.format))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Elements of a tensor of `shape` (1 for a scalar). */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/** `[4096, 11008]` → `4096 × 11008`; a scalar → `scalar`. */
export function formatShape(shape: readonly number[]): string {
  return shape.length === 0 ? 'scalar' : shape.join(' × ');
}

/**
 * Tensors whose name contains every word of `query` (case-insensitive); all when the
 * query is blank.
 */
export function filterTensors<T extends { name: string; dtype: string }>(
  tensors: readonly T[],
  query: string,
): readonly T[] {
  const words = query
    .toLowerCase()
    .split(/\s+/)
    .filter((w) => w !== '');
  if (words.length === 0) return tensors;
  return tensors.filter((t) => {
    const hay = `${t.name} ${t.dtype}`.toLowerCase();
    return words.every((w) => hay.includes(w));
  });
}

/**
 * Inspects one file from its headers: picks the inspector by content (GGUF magic, the
 * safetensors length prefix, a zip archive) or, for formats without a magic number, by
 * name (`*.onnx`, `MLmodel`, `config.json`, `README.md`), and never throws for bad
 * content: an unreadable header is `readable: false` with the reason.
 */
import type {
  FileInspection,
  InspectedFormat,
  VersionSummary,
} from '../../core/model-inspection.js';
import { looksLikeSafetensors } from '../detect-layout.js';
import type { RangeReader } from '../file-layout.js';
import { inspectGguf } from './gguf-inspect.js';
import type { InspectResult } from './inspected.js';
import { inspectOnnx } from './onnx-inspect.js';
import { inspectPytorch } from './pytorch-inspect.js';
import { inspectSafetensors } from './safetensors-inspect.js';
import { inspectHfConfig, inspectMlmodel, inspectModelCard } from './text-inspect.js';
import { looksLikeZip } from './zip-directory.js';

const baseName = (path: string) => path.slice(path.lastIndexOf('/') + 1);
const ext = (path: string) => {
  const b = baseName(path).toLowerCase();
  const i = b.lastIndexOf('.');
  return i < 0 ? '' : b.slice(i);
};
const TORCH_EXTS = new Set(['.pt', '.pth', '.bin', '.ckpt']);
const WEIGHT_FORMATS: readonly InspectedFormat[] = ['safetensors', 'gguf', 'onnx', 'pytorch'];

/** Whether a file of this name may be inspected (a cheap test before reading anything). */
export function isInspectable(path: string): boolean {
  const b = baseName(path);
  return (
    b === 'MLmodel' ||
    b === 'config.json' ||
    b.toLowerCase() === 'readme.md' ||
    ['.safetensors', '.gguf', '.onnx'].includes(ext(path)) ||
    TORCH_EXTS.has(ext(path))
  );
}

export interface InspectFileOptions {
  /** Keep the tensor list (default false: counts and dtype mix only). */
  readonly tensors?: boolean;
}

/** The inspection of the file `path` of `size` bytes. Propagates only `read`'s errors. */
export async function inspectFile(
  read: RangeReader,
  size: number,
  path: string,
  options: InspectFileOptions = {},
): Promise<FileInspection> {
  const prefix = size > 0 ? await read(0, Math.min(size, 16)) : new Uint8Array(0);
  const b = baseName(path);
  const e = ext(path);
  let format: InspectedFormat = 'unknown';
  let run: ((r: RangeReader, s: number) => Promise<InspectResult>) | undefined;
  if (b === 'MLmodel') [format, run] = ['mlmodel', inspectMlmodel];
  else if (b === 'config.json') [format, run] = ['hf-config', inspectHfConfig];
  else if (b.toLowerCase() === 'readme.md') [format, run] = ['model-card', inspectModelCard];
  else if (prefix.length >= 4 && String.fromCharCode(...prefix.subarray(0, 4)) === 'GGUF') {
    [format, run] = ['gguf', inspectGguf];
  } else if (looksLikeSafetensors(prefix, size) || e === '.safetensors') {
    [format, run] = ['safetensors', inspectSafetensors];
  } else if (e === '.gguf') {
    return { path, size, format: 'gguf', readable: false, reason: 'missing GGUF magic' };
  } else if (e === '.onnx') [format, run] = ['onnx', inspectOnnx];
  else if (looksLikeZip(prefix) && TORCH_EXTS.has(e)) [format, run] = ['pytorch', inspectPytorch];
  if (!run) return { path, size, format, readable: true };
  const r = await run(read, size);
  if (!r.ok) return { path, size, format, readable: false, reason: r.reason };
  const { tensors, ...rest } = r.value;
  return {
    path,
    size,
    format,
    readable: true,
    ...rest,
    ...(options.tensors && tensors ? { tensors } : {}),
  };
}

/**
 * A version's summary from its files' inspections: the weights format holding the most
 * bytes, and the parameter count and dtype mix over that format's files (so a repository
 * shipping the same weights as safetensors and .bin is not counted twice); architecture
 * and framework from config.json, MLmodel, GGUF metadata or safetensors metadata.
 */
export function summarize(files: readonly FileInspection[]): VersionSummary {
  const bytes = new Map<InspectedFormat, number>();
  for (const f of files) {
    if (f.readable && WEIGHT_FORMATS.includes(f.format))
      bytes.set(f.format, (bytes.get(f.format) ?? 0) + f.size);
  }
  const format = [...bytes].sort((x, y) => y[1] - x[1])[0]?.[0] ?? null;
  const weights = files.filter((f) => f.readable && f.format === format);
  let parameterCount: number | null = null;
  let tensorCount: number | null = null;
  const dtypes: Record<string, number> = {};
  for (const f of weights) {
    if (f.parameterCount !== undefined) parameterCount = (parameterCount ?? 0) + f.parameterCount;
    if (f.tensorCount !== undefined) tensorCount = (tensorCount ?? 0) + f.tensorCount;
    for (const [d, n] of Object.entries(f.dtypes ?? {})) dtypes[d] = (dtypes[d] ?? 0) + n;
  }
  const fileOf = (fmt: InspectedFormat) =>
    files.find((f) => f.readable && f.format === fmt && baseName(f.path) === f.path) ??
    files.find((f) => f.readable && f.format === fmt);
  const detail = (f: FileInspection | undefined, key: string): string | undefined => {
    const v = f?.details?.[key];
    return typeof v === 'string' ? v : undefined;
  };
  const config = fileOf('hf-config');
  const mlmodel = fileOf('mlmodel');
  const architecture =
    config?.architecture ?? weights.find((f) => f.architecture !== undefined)?.architecture ?? null;
  const frameworkByFormat: Record<string, string> = {
    gguf: 'ggml',
    onnx: 'onnx',
    pytorch: 'pytorch',
  };
  const framework =
    detail(mlmodel, 'framework') ??
    detail(config, 'framework') ??
    (format === 'safetensors' ? detail(weights[0], 'framework') : undefined) ??
    (format ? frameworkByFormat[format] : undefined) ??
    null;
  return {
    format,
    framework,
    parameterCount,
    dtypes,
    architecture,
    tensorCount,
    files: files
      .filter((f) => f.format !== 'unknown')
      .map((f) => ({
        path: f.path,
        format: f.format,
        readable: f.readable,
        ...(f.reason ? { reason: f.reason } : {}),
      })),
  };
}

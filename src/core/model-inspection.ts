/**
 * What Modelvault understands about a version's files (plain JSON, shared by the registry,
 * the SDK and the CLI): per-file inspections read from headers only, a version summary
 * stored at push time, and tensor-level diffs between two versions.
 */

/** Formats the inspectors recognise. `unknown` files are listed without details. */
export type InspectedFormat =
  | 'safetensors'
  | 'gguf'
  | 'onnx'
  | 'pytorch'
  | 'mlmodel'
  | 'hf-config'
  | 'model-card'
  | 'unknown';

export interface TensorInfo {
  readonly name: string;
  /** safetensors dtype (`F32`, `BF16`…), ggml type (`Q4_K`…), ONNX / torch element type. */
  readonly dtype: string;
  /** Outermost dimension first (GGUF dims are reversed to match). */
  readonly shape: readonly number[];
  /** Absolute byte offset of the tensor's data in its file; null when not known. */
  readonly offset: number | null;
  /** Bytes of tensor data; null when not known. */
  readonly length: number | null;
}

/** One file, inspected from its headers. */
export interface FileInspection {
  readonly path: string;
  readonly size: number;
  readonly format: InspectedFormat;
  /** False when the file looked like `format` but its header could not be read. */
  readonly readable: boolean;
  /** Why it is unreadable (lying length, truncation, nesting too deep…). */
  readonly reason?: string;
  /** Elements over all tensors (weights formats only). */
  readonly parameterCount?: number;
  /** Parameters per dtype. */
  readonly dtypes?: Readonly<Record<string, number>>;
  readonly tensorCount?: number;
  readonly architecture?: string;
  /** Format-specific facts (metadata, opset, flavors, front matter…), plain JSON. */
  readonly details?: Readonly<Record<string, unknown>>;
  /** The tensors, in file order (only in detailed inspections). */
  readonly tensors?: readonly TensorInfo[];
}

/** A version at a glance; stored on the version when it is created. */
export interface VersionSummary {
  /** Weights format holding most bytes (safetensors, gguf, onnx, pytorch), or null. */
  readonly format: string | null;
  /** transformers, mlflow/<flavor>, ggml, onnx, pytorch…, or null. */
  readonly framework: string | null;
  readonly parameterCount: number | null;
  /** Parameters per dtype over the weights files of `format`. */
  readonly dtypes: Readonly<Record<string, number>>;
  readonly architecture: string | null;
  readonly tensorCount: number | null;
  /** The files inspected (recognised formats only), with why any was unreadable. */
  readonly files: readonly {
    readonly path: string;
    readonly format: InspectedFormat;
    readonly readable: boolean;
    readonly reason?: string;
  }[];
}

export interface VersionInspection {
  readonly model: string;
  readonly version: number;
  readonly digest: string;
  readonly summary: VersionSummary;
  /** Every recognised file; with `path`, just that file, with its tensors. */
  readonly files: readonly FileInspection[];
}

export interface TensorStats {
  /** max |b − a| over all elements (float dtypes; null for others). */
  readonly maxAbsDiff: number | null;
  /** ‖b − a‖₂ / ‖a‖₂ (null when ‖a‖ = 0). */
  readonly relativeL2: number | null;
  /** Cosine similarity of a and b (null when either is all zeros). */
  readonly cosine: number | null;
  /** Elements (float dtypes) or bytes (others) that differ. */
  readonly changedElements?: number;
  readonly changedBytes?: number;
}

export type TensorChange = 'added' | 'removed' | 'changed' | 'unchanged';

export interface TensorSide {
  readonly dtype: string;
  readonly shape: readonly number[];
  /** The file holding it. */
  readonly path: string;
}

export interface TensorDiffEntry {
  readonly name: string;
  readonly status: TensorChange;
  readonly a: TensorSide | null;
  readonly b: TensorSide | null;
  /** For `changed`: the dtype or shape differ (else only the values). */
  readonly dtypeChanged?: boolean;
  readonly shapeChanged?: boolean;
  /** Numeric statistics, when asked for and the tensors are comparable. */
  readonly stats?: TensorStats;
}

export interface TensorGroupSummary {
  /** Layer prefix, e.g. `model.layers.11` (names up to their first numeric part). */
  readonly prefix: string;
  readonly added: number;
  readonly removed: number;
  readonly changed: number;
  readonly unchanged: number;
  /** Largest relative L2 of its changed tensors (with stats). */
  readonly maxRelativeL2?: number;
}

/**
 * Tensor-level comparison of two versions: tensors matched by name over each side's
 * weights files (those of its summary's format), so a tensor that moved between shards
 * is still matched.
 */
export interface TensorDiff {
  /** Sorted by name. */
  readonly tensors: readonly TensorDiffEntry[];
  readonly counts: {
    readonly added: number;
    readonly removed: number;
    readonly changed: number;
    readonly unchanged: number;
  };
  readonly parameterCount: { readonly a: number; readonly b: number; readonly delta: number };
  readonly groups: readonly TensorGroupSummary[];
  /** Bytes of tensor data read (stats, or ranges whose chunks do not align); 0 otherwise. */
  readonly bytesRead: number;
  /** Files that could not be compared tensor by tensor, and why. */
  readonly skipped: readonly { readonly path: string; readonly reason: string }[];
}

/**
 * GGUF inspection: metadata key/values (architecture, context length, tokenizer facts),
 * tensor infos and quantization types, from the header that `parseGgufHeader` validates
 * through bounded reads (vocabularies keep only their length).
 */
import type { TensorInfo } from '../../core/model-inspection.js';
import type { RangeReader } from '../file-layout.js';
import { type GgufKv, type GgufValue, parseGgufHeader } from '../gguf-layout.js';
import { type InspectResult, jsonNumber, tensorTotals } from './inspected.js';

/** Metadata strings longer than this are shown truncated. */
const SHOWN_STRING = 256;
/** Metadata entries shown in `details.metadata`. */
const SHOWN_KVS = 512;

function shown(v: GgufValue | undefined): unknown {
  if (v === undefined) return null;
  if (typeof v === 'bigint' || typeof v === 'number') return jsonNumber(v);
  if (typeof v === 'string') return v.length > SHOWN_STRING ? `${v.slice(0, SHOWN_STRING)}…` : v;
  if (typeof v === 'boolean') return v;
  // Arrays are shown by type and length (vocabularies run to 100k+ items).
  return { array: v.itemType, length: v.length };
}

export async function inspectGguf(read: RangeReader, size: number): Promise<InspectResult> {
  const parsed = await parseGgufHeader(read, size);
  if (!parsed.ok) return parsed;
  const h = parsed.value;
  const kv = new Map<string, GgufKv>(h.kvs.map((k) => [k.key, k]));
  const num = (key: string): number | string | undefined => {
    const v = kv.get(key)?.value;
    return typeof v === 'number' || typeof v === 'bigint' ? jsonNumber(v) : undefined;
  };
  const str = (key: string): string | undefined => {
    const v = kv.get(key)?.value;
    return typeof v === 'string' ? v : undefined;
  };
  const arch = str('general.architecture');
  const tokens = kv.get('tokenizer.ggml.tokens')?.value;
  const tensors: TensorInfo[] = h.tensors.map((t) => ({
    name: t.name,
    dtype: t.typeName ?? `type_${t.type}`,
    shape: [...t.dims].reverse(),
    offset: h.dataStart + t.offset,
    length: t.byteSize ?? null,
  }));
  const metadata: Record<string, unknown> = {};
  for (const k of h.kvs.slice(0, SHOWN_KVS))
    metadata[k.key] = k.omitted ? '(omitted)' : shown(k.value);
  const facts: Record<string, unknown> = {
    version: h.version,
    alignment: h.alignment,
    name: str('general.name'),
    fileType: num('general.file_type'),
    quantizationVersion: num('general.quantization_version'),
    contextLength: arch ? num(`${arch}.context_length`) : undefined,
    embeddingLength: arch ? num(`${arch}.embedding_length`) : undefined,
    blockCount: arch ? num(`${arch}.block_count`) : undefined,
    headCount: arch ? num(`${arch}.attention.head_count`) : undefined,
    tokenizer: {
      model: str('tokenizer.ggml.model'),
      vocabSize: typeof tokens === 'object' ? tokens.length : undefined,
      bosTokenId: num('tokenizer.ggml.bos_token_id'),
      eosTokenId: num('tokenizer.ggml.eos_token_id'),
      hasChatTemplate: kv.has('tokenizer.chat_template'),
    },
    metadataCount: h.kvs.length,
    metadata,
  };
  const totals = tensorTotals(tensors);
  return {
    ok: true,
    value: {
      ...totals,
      tensorCount: tensors.length,
      ...(arch ? { architecture: arch } : {}),
      // JSON drops the undefined facts.
      details: JSON.parse(
        JSON.stringify({ ...facts, quantization: Object.keys(totals.dtypes).sort() }),
      ),
      tensors,
    },
  };
}

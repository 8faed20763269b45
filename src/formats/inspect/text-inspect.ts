/**
 * Small text metadata files: MLflow `MLmodel` (YAML: flavors, signature, input example),
 * Hugging Face `config.json` (architecture, dtype, sizes) and README model cards (YAML front
 * matter: license, base_model, datasets, metrics). They are read whole, but only up to a
 * cap; YAML aliases, nesting depth and node counts are bounded, and anything malformed is
 * a reason, never an exception.
 */
import { parseDocument } from 'yaml';
import type { RangeReader } from '../file-layout.js';
import { FormatReject } from '../range-cursor.js';
import { guarded, type InspectResult } from './inspected.js';

export const TEXT_LIMITS = Object.freeze({
  maxBytes: 4 * 1024 * 1024,
  maxDepth: 64,
  maxNodes: 200_000,
  maxAliases: 100,
});

async function readText(
  read: RangeReader,
  size: number,
  max: number,
  what: string,
): Promise<string> {
  if (size > max) throw new FormatReject(`${what} of ${size} bytes exceeds the ${max} byte limit`);
  const bytes = await read(0, size);
  if (bytes.length < size) throw new FormatReject(`truncated ${what}`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new FormatReject(`${what} is not UTF-8 text`);
  }
}

/** Throws unless `v` is nested at most maxDepth deep with at most maxNodes values. */
function checkShape(v: unknown, what: string): void {
  let nodes = 0;
  const stack: [unknown, number][] = [[v, 0]];
  while (stack.length > 0) {
    const [x, d] = stack.pop()!;
    if (++nodes > TEXT_LIMITS.maxNodes) throw new FormatReject(`${what} has too many values`);
    if (d > TEXT_LIMITS.maxDepth)
      throw new FormatReject(`${what} is nested deeper than ${TEXT_LIMITS.maxDepth}`);
    if (x !== null && typeof x === 'object')
      for (const y of Object.values(x)) stack.push([y, d + 1]);
  }
}

/** A quick depth check on raw JSON text, before the parser recurses into it. */
function checkJsonDepth(text: string, what: string): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c) i++;
      else if (ch === 0x22) inString = false;
    } else if (ch === 0x22) inString = true;
    else if (ch === 0x7b || ch === 0x5b) {
      if (++depth > TEXT_LIMITS.maxDepth)
        throw new FormatReject(`${what} is nested deeper than ${TEXT_LIMITS.maxDepth}`);
    } else if (ch === 0x7d || ch === 0x5d) depth--;
  }
}

function parseJson(text: string, what: string): unknown {
  checkJsonDepth(text, what);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FormatReject(`${what} is not valid JSON: ${(e as Error).message}`);
  }
}

function parseYaml(text: string, what: string): unknown {
  // Flow collections nest like JSON; bound them before the parser recurses.
  checkJsonDepth(text.replace(/"/g, ' '), what);
  const doc = parseDocument(text, { uniqueKeys: false, prettyErrors: false, strict: false });
  if (doc.errors.length > 0)
    throw new FormatReject(`${what} is not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: TEXT_LIMITS.maxAliases });
  } catch (e) {
    throw new FormatReject(`${what} cannot be read: ${(e as Error).message.split('\n')[0]}`);
  }
  checkShape(value, what);
  return value;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** Keeps only scalar values and short scalar lists, for display. */
function pick(src: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const v = src[k];
    if (v === undefined || v === null) continue;
    if (typeof v === 'string') out[k] = v.length > 1024 ? `${v.slice(0, 1024)}…` : v;
    else if (typeof v === 'number' || typeof v === 'boolean') out[k] = v;
    else if (Array.isArray(v))
      out[k] = v.slice(0, 100).filter((x) => ['string', 'number', 'boolean'].includes(typeof x));
    else if (v instanceof Date) out[k] = v.toISOString();
  }
  return out;
}

/** An MLflow signature part: a JSON string (MLflow writes it so) or a list already. */
function signaturePart(v: unknown): unknown {
  if (typeof v === 'string') {
    if (v.length > 1024 * 1024) return '(too large)';
    try {
      const parsed = parseJson(v, 'signature');
      checkShape(parsed, 'signature');
      return parsed;
    } catch {
      return v.slice(0, 1024);
    }
  }
  return Array.isArray(v) ? v.slice(0, 1000) : undefined;
}

export async function inspectMlmodel(read: RangeReader, size: number): Promise<InspectResult> {
  return guarded(async () => {
    const doc = parseYaml(await readText(read, size, TEXT_LIMITS.maxBytes, 'MLmodel'), 'MLmodel');
    if (!isRecord(doc) || !isRecord(doc.flavors))
      throw new FormatReject('MLmodel has no flavors mapping');
    const flavors: Record<string, Record<string, unknown>> = {};
    for (const [name, body] of Object.entries(doc.flavors).slice(0, 100)) {
      flavors[name] = isRecord(body)
        ? pick(
            body,
            Object.keys(body).filter((k) => typeof body[k] !== 'object' || Array.isArray(body[k])),
          )
        : {};
    }
    const details: Record<string, unknown> = {
      ...pick(doc, [
        'artifact_path',
        'model_uuid',
        'mlflow_version',
        'run_id',
        'utc_time_created',
        'model_size_bytes',
      ]),
      flavors,
    };
    if (isRecord(doc.signature)) {
      const sig: Record<string, unknown> = {};
      for (const part of ['inputs', 'outputs', 'params']) {
        const v = signaturePart(doc.signature[part]);
        if (v !== undefined) sig[part] = v;
      }
      details.signature = sig;
    }
    if (isRecord(doc.saved_input_example_info)) {
      details.inputExample = pick(doc.saved_input_example_info, [
        'artifact_path',
        'type',
        'format',
        'serving_input_path',
      ]);
    }
    const main =
      Object.keys(flavors).find((f) => f !== 'python_function') ?? Object.keys(flavors)[0];
    return { details: { ...details, framework: main ? `mlflow/${main}` : 'mlflow' } };
  });
}

export async function inspectHfConfig(read: RangeReader, size: number): Promise<InspectResult> {
  return guarded(async () => {
    const doc = parseJson(
      await readText(read, size, TEXT_LIMITS.maxBytes, 'config.json'),
      'config.json',
    );
    if (!isRecord(doc)) throw new FormatReject('config.json is not a JSON object');
    const details = pick(doc, [
      'architectures',
      'model_type',
      'torch_dtype',
      'dtype',
      'transformers_version',
      'hidden_size',
      'intermediate_size',
      'num_hidden_layers',
      'num_attention_heads',
      'num_key_value_heads',
      'vocab_size',
      'max_position_embeddings',
      'rope_theta',
      'tie_word_embeddings',
    ]);
    const archs = Array.isArray(doc.architectures)
      ? doc.architectures.filter((a) => typeof a === 'string')
      : [];
    const architecture =
      (archs[0] as string | undefined) ??
      (typeof doc.model_type === 'string' ? doc.model_type : undefined);
    return {
      ...(architecture ? { architecture } : {}),
      details: { ...details, framework: 'transformers' },
    };
  });
}

/** README.md: the YAML front matter between a leading `---` line and the next `---` line. */
export async function inspectModelCard(read: RangeReader, size: number): Promise<InspectResult> {
  return guarded(async () => {
    const head = await read(0, Math.min(size, TEXT_LIMITS.maxBytes));
    let text: string;
    try {
      // The cap may cut a character in half at the end; the front matter comes first.
      text = new TextDecoder('utf-8', { fatal: size <= TEXT_LIMITS.maxBytes }).decode(head);
    } catch {
      throw new FormatReject('README.md is not UTF-8 text');
    }
    const m = /^\uFEFF?---[ \t]*\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)/.exec(text);
    if (!m) return { details: { frontMatter: false } };
    const doc = parseYaml(m[1]!, 'model card front matter');
    if (doc !== null && !isRecord(doc))
      throw new FormatReject('model card front matter is not a mapping');
    const fm = doc ?? {};
    const details: Record<string, unknown> = {
      frontMatter: true,
      ...pick(fm, [
        'license',
        'license_name',
        'base_model',
        'datasets',
        'metrics',
        'tags',
        'language',
        'library_name',
        'pipeline_tag',
      ]),
    };
    // model-index results: task, dataset and metric values, flattened.
    const index = Array.isArray(fm['model-index']) ? fm['model-index'] : [];
    const results: Record<string, unknown>[] = [];
    for (const entry of index.slice(0, 10)) {
      if (!isRecord(entry) || !Array.isArray(entry.results)) continue;
      for (const r of entry.results.slice(0, 100)) {
        if (!isRecord(r) || !Array.isArray(r.metrics)) continue;
        const dataset = isRecord(r.dataset) ? (r.dataset.name ?? r.dataset.type) : undefined;
        for (const metric of r.metrics.slice(0, 100)) {
          if (
            isRecord(metric) &&
            (typeof metric.value === 'number' || typeof metric.value === 'string')
          ) {
            results.push({
              dataset: typeof dataset === 'string' ? dataset : null,
              metric: String(metric.type ?? metric.name ?? ''),
              value: metric.value,
            });
          }
        }
      }
    }
    if (results.length > 0) details.results = results;
    return { details };
  });
}

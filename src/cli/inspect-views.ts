/**
 * How model-format facts look in a terminal: a version summary in one line, an
 * inspection (per file, or one file's tensors), and a tensor-level diff with per-layer
 * counts. Pure functions of API values.
 */
import type {
  FileInspection,
  TensorDiff,
  VersionInspection,
  VersionSummary,
} from '../core/model-inspection.js';
import { fields, formatBytes, formatNumber, table } from './format.js';

/** Tensor rows printed before "… N more" (the JSON form has them all). */
const SHOWN_TENSORS = 200;

/** 1234567 → "1.23M" (parameter counts). */
export function formatCount(n: number): string {
  const units: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'K'],
  ];
  for (const [size, unit] of units) {
    if (Math.abs(n) >= size) return `${(n / size).toPrecision(3).replace(/\.?0+$/, '')}${unit}`;
  }
  return String(n);
}

function dtypeMix(dtypes: Readonly<Record<string, number>>): string {
  const total = Object.values(dtypes).reduce((a, b) => a + b, 0);
  const parts = Object.entries(dtypes)
    .sort((a, b) => b[1] - a[1])
    .map(([d, n]) => (total > 0 ? `${d} ${Math.round((100 * n) / total)}%` : d));
  return parts.join(', ') || '-';
}

/** "safetensors · transformers · LlamaForCausalLM · 1.24B params (BF16 100%)", or '-'. */
export function summaryLine(s: VersionSummary | null): string {
  if (!s || (s.format === null && s.framework === null && s.architecture === null)) return '-';
  const parts = [s.format, s.framework, s.architecture].filter((p): p is string => p !== null);
  if (s.parameterCount !== null) {
    parts.push(`${formatCount(s.parameterCount)} params (${dtypeMix(s.dtypes)})`);
  }
  const bad = s.files.filter((f) => !f.readable);
  if (bad.length > 0) parts.push(`${bad.length} unreadable file${bad.length === 1 ? '' : 's'}`);
  return parts.join(' · ');
}

function detailLines(details: Readonly<Record<string, unknown>> | undefined): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(details ?? {})) {
    if (k === 'metadata' || k === 'entries' || k === 'globals') continue;
    const text = typeof v === 'string' ? v : JSON.stringify(v);
    out.push([k, text.length > 200 ? `${text.slice(0, 200)}…` : text]);
  }
  return out;
}

function fileText(f: FileInspection): string {
  const head = `${f.path}  ${f.format}  ${formatBytes(f.size)}`;
  if (!f.readable) return `${head}\n  unreadable: ${f.reason ?? '?'}`;
  const pairs: [string, string][] = [];
  if (f.architecture) pairs.push(['architecture', f.architecture]);
  if (f.parameterCount !== undefined) {
    pairs.push([
      'parameters',
      `${formatCount(f.parameterCount)} (${formatNumber(f.parameterCount)})`,
    ]);
  }
  if (f.dtypes) pairs.push(['dtypes', dtypeMix(f.dtypes)]);
  if (f.tensorCount !== undefined) pairs.push(['tensors', String(f.tensorCount)]);
  pairs.push(...detailLines(f.details));
  let out = pairs.length > 0 ? `${head}\n${fields(pairs)}` : head;
  if (f.tensors) {
    const rows = f.tensors
      .slice(0, SHOWN_TENSORS)
      .map((t) => [
        t.name,
        t.dtype,
        `[${t.shape.join(', ')}]`,
        t.length === null ? '-' : formatBytes(t.length),
      ]);
    out += `\n\n${table(['TENSOR', 'DTYPE', 'SHAPE', 'SIZE'], rows, { right: [3] })}`;
    if (f.tensors.length > SHOWN_TENSORS) {
      out += `\n… ${f.tensors.length - SHOWN_TENSORS} more tensors (--json lists them all)`;
    }
  }
  return out;
}

export function inspectionText(i: VersionInspection): string {
  const out = [`${i.model} v${i.version}  ${summaryLine(i.summary)}`];
  if (i.files.length === 0) out.push('', 'no recognised model files');
  for (const f of i.files) out.push('', fileText(f));
  return out.join('\n');
}

export function tensorDiffText(t: TensorDiff, showUnchanged = false): string {
  const c = t.counts;
  const p = t.parameterCount;
  const out = [
    '',
    `tensors: ${c.changed} changed, ${c.added} added, ${c.removed} removed, ${c.unchanged} unchanged`,
    `  parameters: ${formatCount(p.a)} -> ${formatCount(p.b)} (${p.delta >= 0 ? '+' : ''}${formatCount(p.delta)})`,
  ];
  const rows = t.tensors
    .filter((e) => showUnchanged || e.status !== 'unchanged')
    .slice(0, SHOWN_TENSORS)
    .map((e) => {
      const mark = { added: '+', removed: '-', changed: '~', unchanged: '=' }[e.status];
      const sideText = (s: typeof e.a) => (s ? `${s.dtype}[${s.shape.join(',')}]` : '');
      const what =
        e.dtypeChanged || e.shapeChanged
          ? `${sideText(e.a)} -> ${sideText(e.b)}`
          : sideText(e.b ?? e.a);
      const s = e.stats;
      const stats = s
        ? s.maxAbsDiff !== null
          ? `max|Δ| ${s.maxAbsDiff.toPrecision(3)}  relL2 ${s.relativeL2 === null ? '-' : s.relativeL2.toPrecision(3)}  cos ${s.cosine === null ? '-' : s.cosine.toFixed(4)}`
          : `${s.changedBytes} bytes differ`
        : '';
      return [`${mark} ${e.name}`, what, stats];
    });
  if (rows.length > 0) {
    out.push(
      ...table(['TENSOR', 'TYPE', 'STATS'], rows)
        .split('\n')
        .map((l) => `  ${l}`),
    );
  }
  const changedGroups = t.groups.filter((g) => g.added + g.removed + g.changed > 0);
  if (changedGroups.length > 0) {
    out.push('', 'layers:');
    const groupRows = changedGroups.map((g) => [
      g.prefix,
      String(g.changed),
      String(g.added),
      String(g.removed),
      String(g.unchanged),
      g.maxRelativeL2 === undefined ? '' : g.maxRelativeL2.toPrecision(3),
    ]);
    out.push(
      ...table(['PREFIX', 'CHANGED', 'ADDED', 'REMOVED', 'SAME', 'MAX RELL2'], groupRows, {
        right: [1, 2, 3, 4, 5],
      })
        .split('\n')
        .map((l) => `  ${l}`),
    );
  }
  for (const s of t.skipped) out.push(`  skipped ${s.path}: ${s.reason}`);
  return out.join('\n');
}

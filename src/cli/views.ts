/**
 * How registry objects look in a terminal: tables of models, versions and audit events,
 * a version's details, a diff, an integrity report. Pure functions of API values; the
 * JSON form of every command is the API value itself.
 */
import type {
  AuditEvent,
  FsckResult,
  KeyValueDiff,
  ModelVersion,
  RegisteredModel,
  VersionDiff,
} from '../core/registry-api.js';
import {
  fields,
  formatBytes,
  formatDelta,
  formatNumber,
  formatPairs,
  formatTime,
  oneLine,
  shortDigest,
  table,
} from './format.js';
import { summaryLine } from './inspect-views.js';

/** At most this many metric columns in version tables. */
const METRIC_COLUMNS = 4;

export function modelTable(models: readonly RegisteredModel[]): string {
  if (models.length === 0) return 'no models (create one with: mvault push NAME PATH)';
  return table(
    ['NAME', 'LATEST', 'ALIASES', 'UPDATED', 'DESCRIPTION'],
    models.map((m) => [
      m.deletedAt === null ? m.name : `${m.name} (deleted)`,
      m.latestVersion === null ? '-' : `v${m.latestVersion}`,
      formatPairs(m.aliases),
      formatTime(m.updatedAt),
      oneLine(m.description, 50),
    ]),
  );
}

/** Versions with their aliases, stage, approval, size and (up to four) metrics. */
export function versionTable(
  versions: readonly ModelVersion[],
  options: { readonly withModel?: boolean } = {},
): string {
  if (versions.length === 0) return 'no versions';
  const metricKeys = [...new Set(versions.flatMap((v) => Object.keys(v.metrics)))]
    .sort()
    .slice(0, METRIC_COLUMNS);
  const head = [
    ...(options.withModel ? ['MODEL'] : []),
    'VERSION',
    'CREATED',
    'STAGE',
    'APPROVAL',
    'ALIASES',
    'SIZE',
    ...metricKeys.map((k) => k.toUpperCase()),
  ];
  const rows = versions.map((v) => [
    ...(options.withModel ? [v.model] : []),
    v.deletedAt === null ? `v${v.version}` : `v${v.version} (deleted)`,
    formatTime(v.createdAt),
    v.stage,
    v.approval.state,
    v.aliases.length === 0 ? '-' : v.aliases.join(','),
    formatBytes(v.size),
    ...metricKeys.map((k) => (Object.hasOwn(v.metrics, k) ? formatNumber(v.metrics[k]!) : '-')),
  ]);
  const first = options.withModel ? 1 : 0;
  return table(head, rows, {
    right: [first + 5, ...metricKeys.map((_, i) => first + 6 + i)],
  });
}

/** Every field of a version, then the start of its model card (all of it with `fullCard`). */
export function versionDetails(v: ModelVersion, fullCard = false): string {
  const code = v.lineage.code;
  const pairs: [string, string][] = [
    ['digest', `sha256:${v.digest}`],
    ['size', `${formatBytes(v.size)} in ${v.fileCount} file${v.fileCount === 1 ? '' : 's'}`],
    ['created', `${formatTime(v.createdAt)} by ${v.createdBy ?? 'unknown'}`],
    ['description', v.description ?? '-'],
    ['model', summaryLine(v.summary)],
    ['stage', v.stage],
    [
      'approval',
      v.approval.state === 'pending'
        ? 'pending'
        : `${v.approval.state} by ${v.approval.reviewer ?? '?'}${v.approval.time === null ? '' : ` at ${formatTime(v.approval.time)}`}${v.approval.comment ? `: ${v.approval.comment}` : ''}`,
    ],
    ['aliases', v.aliases.length === 0 ? '-' : v.aliases.join(', ')],
    ['metrics', formatPairs(v.metrics, '  ')],
    ['params', formatPairs(v.params, '  ')],
    ['tags', formatPairs(v.tags, '  ')],
    ['parents', v.lineage.parents.map((p) => `${p.model}@${p.version}`).join(', ') || '-'],
    [
      'datasets',
      v.lineage.datasets
        .map((d) => `${d.name}=${d.uri ?? ''}${d.digest ? `@${d.digest}` : ''}`)
        .join(', ') || '-',
    ],
    [
      'code',
      code
        ? `${code.gitRemote ?? '(no remote)'} ${code.gitCommit ?? '(no commit)'}${code.gitDirty ? ' (dirty)' : ''}`
        : '-',
    ],
  ];
  pairs.push(['scan', scanLine(v)]);
  pairs.push(['signatures', v.signatures.length === 0 ? '-' : v.signatures.join(', ')]);
  if (v.runId !== null) pairs.push(['run', v.runId]);
  if (v.source !== null) pairs.push(['source', v.source]);
  if (v.deletedAt !== null) pairs.push(['deleted', formatTime(v.deletedAt)]);
  let out = `${v.model} v${v.version}\n${fields(pairs)}`;
  if (v.modelCard !== null) {
    const lines = v.modelCard.replace(/\n$/, '').split('\n');
    const shown = fullCard ? lines : lines.slice(0, 20);
    out += `\n\nmodel card (README.md):\n${shown.map((l) => `  ${l}`.trimEnd()).join('\n')}`;
    if (shown.length < lines.length) {
      out += `\n  … ${lines.length - shown.length} more lines (mvault show ${v.model}@${v.version} --card)`;
    }
  }
  return out;
}

/** The scan verdict with the flagged files: `dangerous (model.pkl)`. */
function scanLine(v: ModelVersion): string {
  const s = v.scan;
  if (!s) return 'not scanned';
  if (s.verdict === 'none') return 'no pickle-based files';
  const flagged = s.dangerous.length ? ` (${s.dangerous.join(', ')})` : '';
  return `${s.verdict}${flagged}, ${s.files} pickle-based file${s.files === 1 ? '' : 's'} (mvault scan ${v.model}@${v.version})`;
}

/** What an audit event did, in a few words. */
export function eventSummary(e: AuditEvent): string {
  const d = (e.data ?? {}) as Record<string, unknown>;
  const v = (n: unknown) => (typeof n === 'number' ? `v${n}` : 'none');
  switch (e.action) {
    case 'model.created':
      return `owner ${d.owner ?? '-'}`;
    case 'version.created':
      return `${typeof d.digest === 'string' ? shortDigest(d.digest) : ''} ${typeof d.size === 'number' ? formatBytes(d.size) : ''}`.trim();
    case 'version.signed':
      return `key ${typeof d.keyId === 'string' ? d.keyId.slice(0, 16) : '?'}${d.replaced ? ' (replaced)' : ''}`;
    case 'alias.set':
    case 'alias.rolled_back':
      return `${d.alias} -> ${v(d.version)} (was ${v(d.previousVersion)})`;
    case 'alias.deleted':
      return `${d.alias} (was ${v(d.previousVersion)})`;
    case 'stage.transitioned': {
      const archived = Array.isArray(d.archived) && d.archived.length > 0;
      return `${d.from} -> ${d.to}${archived ? `; archived ${(d.archived as number[]).map(v).join(', ')}` : ''}`;
    }
    case 'version.approved':
    case 'version.rejected':
      return typeof d.comment === 'string' ? d.comment : '';
    case 'model.tag_set':
    case 'version.tag_set':
      return `${d.key}=${d.value}`;
    case 'model.tag_deleted':
    case 'version.tag_deleted':
      return String(d.key);
    default: {
      const text = JSON.stringify(e.data);
      return text === '{}' || text === undefined ? '' : oneLine(text, 60);
    }
  }
}

export function eventTable(events: readonly AuditEvent[]): string {
  if (events.length === 0) return 'no events';
  return table(
    ['SEQ', 'TIME', 'ACTOR', 'ACTION', 'SUBJECT', 'DETAILS'],
    events.map((e) => [
      String(e.seq),
      formatTime(e.time),
      e.actor,
      e.action,
      e.subject,
      eventSummary(e),
    ]),
    { right: [0] },
  );
}

function keyValueLines(title: string, d: KeyValueDiff): string[] {
  const lines = [
    ...d.changed.map((c) => `  ~ ${c.key}: ${c.a} -> ${c.b}`),
    ...d.added.map((a) => `  + ${a.key}=${a.value}`),
    ...d.removed.map((r) => `  - ${r.key}=${r.value}`),
  ];
  return lines.length === 0 ? [] : ['', title, ...lines];
}

export function diffText(d: VersionDiff): string {
  const out = [
    `${d.a.model}@${d.a.version} -> ${d.b.model}@${d.b.version}`,
    d.sameContent
      ? `  content: identical (${shortDigest(d.a.digest)})`
      : `  content: ${shortDigest(d.a.digest)} ${formatBytes(d.a.size)} -> ${shortDigest(d.b.digest)} ${formatBytes(d.b.size)}`,
  ];
  if (d.metrics.length > 0) {
    out.push('', 'metrics:');
    const rows = d.metrics.map((m) => [
      m.key,
      m.a === null ? '-' : formatNumber(m.a),
      m.b === null ? '-' : formatNumber(m.b),
      m.delta === null ? '' : formatDelta(m.delta),
    ]);
    out.push(
      ...table(['KEY', 'A', 'B', 'DELTA'], rows, { right: [1, 2, 3] })
        .split('\n')
        .map((l) => `  ${l}`),
    );
  }
  out.push(...keyValueLines('params:', d.params), ...keyValueLines('tags:', d.tags));
  if (d.files === null) {
    out.push('', 'files: unknown (this registry cannot read manifests)');
  } else if (!d.sameContent) {
    const f = d.files;
    out.push(
      '',
      `files: ${f.changed.length} changed, ${f.added.length} added, ${f.removed.length} removed, ${f.unchanged} unchanged`,
      ...f.changed.map(
        (c) => `  ~ ${c.path}  ${formatBytes(c.a.size)} -> ${formatBytes(c.b.size)}`,
      ),
      ...f.added.map((a) => `  + ${a.path}  ${formatBytes(a.size)}`),
      ...f.removed.map((r) => `  - ${r.path}  ${formatBytes(r.size)}`),
    );
  }
  return out.join('\n');
}

export function fsckText(r: FsckResult): string {
  const counts = `${r.packs} packs, ${r.chunks} chunks, ${r.files} files, ${r.manifests} manifests, ${r.versions} versions`;
  if (r.ok) return `checked ${counts}: no problems`;
  const lines = [`checked ${counts}: ${r.problems.length} problem(s)`];
  for (const p of r.problems) lines.push(`  ${p.kind}: ${p.message}`);
  if (r.damagedVersions.length > 0) {
    lines.push(`damaged versions: ${r.damagedVersions.join(', ')}`);
  }
  return lines.join('\n');
}

/**
 * Results of a storage benchmark run: the JSON shape written to disk, the derived metrics
 * (medians, ratios against peers and physical baselines) and the markdown report.
 */
import type { PhysicalSample } from './peers.js';
import type { SeriesInfo, SeriesKind } from './safetensors-series.js';
import { fmtBytes, fmtNum, MB, median, sum } from './util.js';

export interface VersionRun {
  readonly label: string;
  readonly bytes: number;
  readonly seconds: number;
  readonly syncSeconds: number;
  readonly cpuSeconds?: number;
  readonly maxRssBytes?: number;
  readonly detail?: Readonly<Record<string, unknown>>;
  /** One core's SHA-256 of the same file, measured right after this ingest (paired). */
  readonly sha256Seconds?: number;
  readonly loadAvg1?: number;
}

export interface MaterializeRun {
  readonly label: string;
  readonly bytes: number;
  readonly seconds: number;
  readonly syncSeconds: number;
  readonly cpuSeconds?: number;
  /** `cp` + `sync` of the same file, measured right after this materialize (paired). */
  readonly cpSyncSeconds?: number;
}

export interface StoreRun {
  readonly name: string;
  readonly description?: string;
  readonly skipped?: string;
  readonly error?: string;
  readonly versions: VersionRun[];
  storedBytes?: number;
  readonly materialize: MaterializeRun[];
  /** Whether the first materialized copy matched the source files (size + SHA-256). */
  verified?: boolean | string;
}

export interface SeriesRun {
  readonly kind: SeriesKind;
  readonly dir: string;
  readonly info: SeriesInfo;
  readonly stores: StoreRun[];
}

export interface BigRun {
  readonly name: string;
  readonly description?: string;
  readonly skipped?: string;
  readonly error?: string;
  readonly bytes?: number;
  readonly seconds?: number;
  readonly maxRssBytes?: number;
  /** Modelvault only: peak RSS of a child that opens the store and ingests nothing. */
  readonly floorRssBytes?: number;
  readonly storedBytes?: number;
}

export interface Results {
  readonly benchmark: 'storage';
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly command: string;
  readonly argv: readonly string[];
  readonly harnessCommit: string;
  readonly machine: Readonly<Record<string, unknown>>;
  readonly options: Readonly<Record<string, unknown>>;
  /** Reference file for sha256sum and cp + sync (the last version of the first series). */
  readonly reference: { readonly key: string; readonly bytes: number };
  /** Bytes of each hashed file, by key `kind/label`. */
  readonly fileBytes: Readonly<Record<string, number>>;
  readonly physical: readonly PhysicalSample[];
  readonly series: readonly SeriesRun[];
  readonly big?: {
    readonly bytes: number;
    readonly generateSeconds: number;
    readonly runs: BigRun[];
  };
  readonly summary: Summary;
}

export interface PhysicalSummary {
  readonly samples: number;
  /** Median over files and samples of one core's Node SHA-256 throughput, MB/s. */
  readonly sha256NodeMBps: number;
  readonly sha256sumMBps: number;
  readonly cpSyncMBps: number;
  readonly cpMBps: number;
}

export interface StoreSummary {
  readonly name: string;
  readonly ok: boolean;
  /** Median seconds per version over v2..vN, tool only, and with the following `sync`. */
  readonly secondsPerVersion?: number;
  readonly secondsPerVersionWithSync?: number;
  /** Median CPU seconds (user + system, all processes/threads) per version over v2..vN. */
  readonly cpuSecondsPerVersion?: number;
  readonly vsBorg?: number;
  readonly vsGitLfs?: number;
  /** All versions: bytes / seconds, MB/s (and including each ingest's `sync`). */
  readonly ingestMBps?: number;
  readonly ingestMBpsWithSync?: number;
  /** Median over v2..vN of (ingest throughput / one core's SHA-256 throughput on that file). */
  readonly vsSha256?: number;
  readonly ingestWithSyncVsCpSync?: number;
  /** The cp + sync throughput those ratios were taken against (paired samples' median). */
  readonly cpSyncMBps?: number;
  readonly storedBytes?: number;
  readonly storedOverUnique?: number;
  readonly materializeMBps?: number;
  readonly materializeMBpsWithSync?: number;
  readonly materializeWithSyncVsCpSync?: number;
}

export interface Summary {
  readonly physical: PhysicalSummary;
  readonly series: Readonly<Record<string, readonly StoreSummary[]>>;
}

export function summarizePhysical(
  samples: readonly PhysicalSample[],
  fileBytes: Readonly<Record<string, number>>,
  referenceBytes: number,
): PhysicalSummary {
  const shaRates: number[] = [];
  for (const s of samples) {
    for (const [k, sec] of Object.entries(s.sha256NodeSeconds))
      shaRates.push(fileBytes[k]! / MB / sec);
  }
  const rate = (f: (s: PhysicalSample) => number) =>
    median(samples.map((s) => referenceBytes / MB / f(s)));
  return {
    samples: samples.length,
    sha256NodeMBps: median(shaRates),
    sha256sumMBps: rate((s) => s.sha256sumSeconds),
    cpSyncMBps: rate((s) => s.cpSyncSeconds),
    cpMBps: rate((s) => s.cpSeconds),
  };
}

/** Median seconds of Node SHA-256 over one file, across samples. */
function shaSeconds(samples: readonly PhysicalSample[], key: string): number {
  return median(
    samples.flatMap((s) => (key in s.sha256NodeSeconds ? [s.sha256NodeSeconds[key]!] : [])),
  );
}

export function summarizeSeries(
  series: SeriesRun,
  physical: readonly PhysicalSample[],
  phys: PhysicalSummary,
): StoreSummary[] {
  const base = series.stores.map((st): StoreSummary & { _median?: number } => {
    const ok = !st.skipped && !st.error && st.versions.length === series.info.versions.length;
    if (!ok) return { name: st.name, ok };
    const later = st.versions.slice(1);
    const secondsPerVersion = median(later.map((v) => v.seconds));
    const secondsPerVersionWithSync = median(later.map((v) => v.seconds + v.syncSeconds));
    const cpu = later.flatMap((v) => (v.cpuSeconds !== undefined ? [v.cpuSeconds] : []));
    const cpuSecondsPerVersion = cpu.length === later.length ? median(cpu) : undefined;
    const bytes = sum(st.versions.map((v) => v.bytes));
    const ingestMBps = bytes / MB / sum(st.versions.map((v) => v.seconds));
    const ingestMBpsWithSync = bytes / MB / sum(st.versions.map((v) => v.seconds + v.syncSeconds));
    // Ratios use the baseline measured right next to each operation when there is one
    // (robust to the machine's load drifting), else the run's physical samples.
    const vsSha256 = median(
      later
        .map(
          (v) => (v.sha256Seconds ?? shaSeconds(physical, `${series.kind}/${v.label}`)) / v.seconds,
        )
        .filter(Number.isFinite),
    );
    const m = st.materialize;
    const mBytes = m[0]?.bytes ?? 0;
    const materializeMBps = m.length ? mBytes / MB / median(m.map((r) => r.seconds)) : undefined;
    const materializeMBpsWithSync = m.length
      ? mBytes / MB / median(m.map((r) => r.seconds + r.syncSeconds))
      : undefined;
    const paired = m.filter((r) => r.cpSyncSeconds !== undefined);
    const cpSyncMBps = paired.length
      ? mBytes / MB / median(paired.map((r) => r.cpSyncSeconds!))
      : phys.cpSyncMBps;
    const materializeWithSyncVsCpSync = paired.length
      ? median(paired.map((r) => r.cpSyncSeconds! / (r.seconds + r.syncSeconds)))
      : materializeMBpsWithSync !== undefined
        ? materializeMBpsWithSync / phys.cpSyncMBps
        : undefined;
    return {
      name: st.name,
      ok,
      secondsPerVersion,
      secondsPerVersionWithSync,
      cpuSecondsPerVersion,
      ingestMBps,
      ingestMBpsWithSync,
      vsSha256,
      ingestWithSyncVsCpSync: ingestMBpsWithSync / cpSyncMBps,
      cpSyncMBps,
      storedBytes: st.storedBytes,
      storedOverUnique:
        st.storedBytes !== undefined ? st.storedBytes / series.info.uniqueBytes : undefined,
      materializeMBps,
      materializeMBpsWithSync,
      materializeWithSyncVsCpSync,
    };
  });
  const ref = (name: string) => base.find((b) => b.name === name && b.ok)?.secondsPerVersion;
  const borg = ref('borg');
  const git = ref('git-lfs');
  return base.map((b) =>
    b.ok && b.secondsPerVersion !== undefined
      ? {
          ...b,
          vsBorg: borg !== undefined ? b.secondsPerVersion / borg : undefined,
          vsGitLfs: git !== undefined ? b.secondsPerVersion / git : undefined,
        }
      : b,
  );
}

function table(
  head: readonly string[],
  rows: readonly (readonly string[])[],
  alignRight = true,
): string {
  const sep = head.map((_, i) => (i === 0 || !alignRight ? '---' : '---:'));
  return [head, sep, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

const mbps = (n: number | undefined) =>
  n === undefined || !Number.isFinite(n) ? '—' : n.toFixed(0);
const ratio = (n: number | undefined, d = 2) => (n === undefined ? '—' : `${fmtNum(n, d)}×`);

function storeLabel(st: StoreRun): string {
  if (st.skipped) return `${st.name} (skipped: ${st.skipped})`;
  if (st.error) return `${st.name} (failed: ${st.error.split('\n')[0]!.slice(0, 120)})`;
  return st.name;
}

function changedPerVersion(s: SeriesRun): string {
  const later = s.info.versions.slice(1);
  if (later.length === 0) return '—';
  const pct = 100 * median(later.map((v) => v.changedTensorBytes / v.bytes));
  return `${pct.toFixed(1)}% of bytes, ${median(later.map((v) => v.changedTensors))} tensors`;
}

/** Recomputes the summary of a results file (e.g. one written by an older harness). */
export function resummarize(r: Results): Results {
  const phys = summarizePhysical(r.physical, r.fileBytes, r.reference.bytes);
  return {
    ...r,
    summary: {
      physical: phys,
      series: Object.fromEntries(
        r.series.map((s) => [s.kind, summarizeSeries(s, r.physical, phys)]),
      ),
    },
  };
}

/** The whole report as markdown (what stdout gets, and what docs/benchmarks.md quotes). */
export function renderMarkdown(r: Results): string {
  const out: string[] = [];
  const p = r.summary.physical;
  out.push(`# Modelvault storage benchmark — ${r.startedAt}`, '');
  out.push(`Reproduce: \`${r.command}\``, '');
  const m = r.machine;
  out.push(
    `Machine: ${m.cpu} × ${m.cores}, ${fmtBytes(Number(m.memBytes))} RAM, ${m.fs} at ${m.workDir}, ` +
      `Node ${m.node}, Linux ${m.kernel}. Harness ${r.harnessCommit}.`,
    '',
  );
  out.push(`## Physical baselines (median of ${p.samples} samples, MB/s)`, '');
  out.push(
    table(
      ['operation', 'MB/s'],
      [
        [
          'Node `crypto.createHash(sha256)`, one core, page-cached (all series files)',
          mbps(p.sha256NodeMBps),
        ],
        ['coreutils `sha256sum` (reference file)', mbps(p.sha256sumMBps)],
        ['`cp` + `sync` (reference file)', mbps(p.cpSyncMBps)],
        ['`cp` alone, page cache (reference file)', mbps(p.cpMBps)],
      ],
    ),
    '',
  );
  out.push(`Reference file: ${r.reference.key} (${fmtBytes(r.reference.bytes)}).`, '');

  out.push('## Series', '');
  out.push(
    table(
      [
        'series',
        'versions',
        'bytes per version',
        'changed per version (median v2–vN)',
        'raw total',
        'unique',
        'unique / raw',
        'generated in',
      ],
      r.series.map((s) => [
        s.kind,
        String(s.info.versions.length),
        fmtBytes(s.info.versions[0]!.bytes),
        changedPerVersion(s),
        fmtBytes(s.info.totalBytes),
        fmtBytes(s.info.uniqueBytes),
        fmtNum(s.info.uniqueBytes / s.info.totalBytes, 3),
        s.info.generateSeconds ? `${s.info.generateSeconds.toFixed(1)} s` : 'cached',
      ]),
    ),
    '',
  );

  for (const s of r.series) {
    const sums = r.summary.series[s.kind] ?? [];
    const n = s.info.versions.length;
    out.push(`## ${s.kind === 'partial' ? 'Partial fine-tune' : 'Full fine-tune'} series`, '');
    out.push(
      `Seconds per version are the median over v2–v${n} of the tool's wall time; "+ sync" adds ` +
        "the `sync` run after each version; CPU is user + system time of all the store's " +
        'processes (less sensitive to a busy machine than wall time). Ratios "vs" a peer are seconds ÷ that peer\'s ' +
        'seconds (lower is faster); "vs sha256" is ingest throughput ÷ one core\'s SHA-256 ' +
        'throughput over the same file, hashed right after the ingest (median over v2–vN); ' +
        'materialize restores the last version (median of runs) and is compared, with its ' +
        '`sync`, to `cp` + `sync` of the same file run right after it.',
      '',
    );
    const rows = s.stores.map((st) => {
      const x = sums.find((y) => y.name === st.name);
      if (!x?.ok) return [storeLabel(st), ...Array(12).fill('—')];
      return [
        st.name,
        fmtNum(x.secondsPerVersion),
        fmtNum(x.secondsPerVersionWithSync),
        fmtNum(x.cpuSecondsPerVersion),
        ratio(x.vsBorg),
        ratio(x.vsGitLfs),
        mbps(x.ingestMBps),
        ratio(x.vsSha256),
        ratio(x.ingestWithSyncVsCpSync),
        fmtBytes(x.storedBytes ?? Number.NaN),
        fmtNum(x.storedOverUnique, 3),
        `${mbps(x.materializeMBps)} (${mbps(x.materializeMBpsWithSync)})`,
        ratio(x.materializeWithSyncVsCpSync),
      ];
    });
    out.push(
      table(
        [
          'store',
          `s/version v2–v${n}`,
          '+ sync',
          'CPU s/version',
          'vs borg',
          'vs git-lfs',
          'ingest MB/s (all)',
          'vs sha256',
          'ingest+sync vs cp+sync',
          'stored',
          'stored / unique',
          'materialize MB/s (+sync)',
          'vs cp+sync',
        ],
        rows,
      ),
      '',
    );
    out.push('Per version, seconds (tool only):', '');
    const okStores = s.stores.filter((st) => st.versions.length > 0);
    out.push(
      table(
        ['version', 'event', ...okStores.map((st) => st.name)],
        s.info.versions.map((v, i) => [
          v.label,
          v.event,
          ...okStores.map((st) => fmtNum(st.versions[i]?.seconds)),
        ]),
      ),
      '',
    );
    for (const st of s.stores) {
      if (st.description)
        out.push(
          `- ${st.name}: ${st.description}${st.verified === true ? '' : ` — restore check: ${st.verified}`}`,
        );
    }
    out.push('');
  }

  if (r.big) {
    out.push(`## One big file (${fmtBytes(r.big.bytes)}): ingest time and peak RSS`, '');
    out.push(
      table(
        ['store', 'seconds', 'MB/s', 'peak RSS', 'floor RSS (no ingest)'],
        r.big.runs.map((b) =>
          b.skipped || b.error
            ? [
                `${b.name} (${b.skipped ? `skipped: ${b.skipped}` : `failed: ${b.error!.split('\n')[0]}`})`,
                '—',
                '—',
                '—',
                '—',
              ]
            : [
                b.name,
                fmtNum(b.seconds),
                mbps((b.bytes ?? 0) / MB / (b.seconds ?? Number.NaN)),
                fmtBytes(b.maxRssBytes ?? Number.NaN),
                b.floorRssBytes !== undefined ? fmtBytes(b.floorRssBytes) : '',
              ],
        ),
      ),
      '',
    );
  }

  const mv = (kind: string) => r.summary.series[kind]?.find((x) => x.name === 'modelvault');
  const part = mv('partial');
  const full = mv('full');
  const bigMv = r.big?.runs.find((b) => b.name === 'modelvault');
  out.push('## Modelvault against its targets', '');
  const pending = (v: string | undefined) => (v === undefined ? 'pending' : v);
  const has = (x: StoreSummary | undefined) => (x?.ok ? x : undefined);
  out.push(
    table(
      ['metric', 'Modelvault', 'target / reference'],
      [
        [
          'stored bytes / unique, partial series',
          pending(has(part) && fmtNum(part!.storedOverUnique, 3)),
          '≤ 1.01',
        ],
        [
          's/version (median v2–vN) ÷ borg create, partial',
          pending(has(part) && ratio(part!.vsBorg)),
          'lower is faster; borg = 1',
        ],
        [
          's/version ÷ git-lfs add+commit, partial',
          pending(has(part) && ratio(part!.vsGitLfs)),
          'lower is faster; git-lfs = 1',
        ],
        [
          'ingest throughput ÷ one core SHA-256, mostly-stored versions',
          pending(has(part) && ratio(part!.vsSha256)),
          '1 = one core hashing',
        ],
        [
          'full-series ingest (+sync) ÷ cp + sync',
          pending(has(full) && ratio(full!.ingestWithSyncVsCpSync)),
          '1 = cp + sync',
        ],
        [
          'materialize (+sync) ÷ cp + sync',
          pending(has(part) && ratio(part!.materializeWithSyncVsCpSync)),
          '1 = cp + sync',
        ],
        [
          `peak RSS ingesting ${r.big ? fmtBytes(r.big.bytes) : 'a 10 GiB file'}`,
          bigMv?.maxRssBytes !== undefined
            ? fmtBytes(bigMv.maxRssBytes)
            : r.big
              ? 'pending'
              : 'not run (--big)',
          'bounded, independent of file size',
        ],
      ],
      false,
    ),
    '',
  );
  return out.join('\n');
}

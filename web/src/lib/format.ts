/** Display formatting shared by every page. Pure functions, unit-tested in format.test.ts. */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** `1234567` → `1.18 MiB`; bytes below 1 KiB as integers. Binary units, as the CLI. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '—';
  if (n < 1024) return `${n} B`;
  let v = n;
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${UNITS[i]}`;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** Epoch ms → `2024-01-31 14:05` in the viewer's time zone; '—' for null. */
export function formatTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** `3 minutes ago`, `in 2 days`; falls back to formatTime beyond 30 days. */
export function relativeTime(ms: number, now: number = Date.now()): string {
  const s = Math.round((now - ms) / 1000);
  const abs = Math.abs(s);
  const say = (n: number, unit: string) => {
    const v = Math.floor(n);
    const text = `${v} ${unit}${v === 1 ? '' : 's'}`;
    return s >= 0 ? `${text} ago` : `in ${text}`;
  };
  if (abs < 45) return 'just now';
  if (abs < 3600) return say(Math.max(1, abs / 60), 'minute');
  if (abs < 86400) return say(abs / 3600, 'hour');
  if (abs < 30 * 86400) return say(abs / 86400, 'day');
  return formatTime(ms);
}

/** First 12 hex digits of a digest, for tables; the full one goes in a title. */
export function shortDigest(digest: string): string {
  const hex = digest.startsWith('sha256:') ? digest.slice(7) : digest;
  return hex.slice(0, 12);
}

/** A metric value with at most 6 significant digits, no exponent for ordinary sizes. */
export function formatMetric(v: number | null | undefined): string {
  if (v === null || v === undefined) return '—';
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const abs = Math.abs(v);
  if (abs >= 1e-4 && abs < 1e9) return String(Number(v.toPrecision(6)));
  return v.toExponential(3);
}

/** A signed difference: `+0.012`, `−3`; '' for no difference or unknown. */
export function formatDelta(d: number | null | undefined): string {
  if (d === null || d === undefined || d === 0 || !Number.isFinite(d)) return '';
  return d > 0 ? `+${formatMetric(d)}` : `−${formatMetric(-d)}`;
}

/** The CLI's reference to a version: `name@3`. */
export function versionRef(model: string, version: number | string): string {
  return `${model}@${version}`;
}

/** A count with a metric suffix: `7241732096` → `7.24B`, `1500` → `1.5K`, `999` → `999`. */
export function formatCount(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  const units = ['', 'K', 'M', 'B', 'T'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  if (i === 0) return String(n);
  let r = Number(v.toPrecision(3));
  if (Math.abs(r) >= 1000 && i < units.length - 1) {
    r = Number((r / 1000).toPrecision(3));
    i++;
  }
  return `${r}${units[i]}`;
}

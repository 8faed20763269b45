/**
 * Parsers for command-line values (KEY=VALUE pairs, metrics, datasets, durations, times,
 * counts). Each throws commander's InvalidArgumentError, which commander reports as a
 * usage error naming the option (exit code 2).
 */
import { InvalidArgumentError } from 'commander';

/** `key=value` (the value may be empty and may contain '='). */
export function parseKeyValue(text: string): [string, string] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`expected KEY=VALUE but got '${text}'`);
  return [text.slice(0, eq), text.slice(eq + 1)];
}

/** Collects repeated `KEY=VALUE` options into a record; a key given twice is an error. */
export function collectPairs(text: string, previous: Record<string, string> = {}) {
  const [key, value] = parseKeyValue(text);
  if (Object.hasOwn(previous, key)) throw new InvalidArgumentError(`'${key}' is given twice`);
  return { ...previous, [key]: value };
}

/** Collects repeated `KEY=NUMBER` options into a record of finite numbers. */
export function collectMetrics(text: string, previous: Record<string, number> = {}) {
  const [key, raw] = parseKeyValue(text);
  const value = raw.trim() === '' ? Number.NaN : Number(raw);
  if (!Number.isFinite(value)) {
    throw new InvalidArgumentError(`metric '${key}' must be a finite number, not '${raw}'`);
  }
  if (Object.hasOwn(previous, key)) throw new InvalidArgumentError(`'${key}' is given twice`);
  return { ...previous, [key]: value };
}

/** Collects a repeatable option's values in order. */
export function collectList(text: string, previous: string[] = []): string[] {
  return [...previous, text];
}

export interface DatasetArg {
  readonly name: string;
  readonly uri?: string;
  readonly digest?: string;
}

/** What may follow the last '@' of a dataset for it to be read as a digest, not part of the URI. */
const DATASET_DIGEST = /^(?:[a-z0-9]+:[0-9a-fA-F]{8,}|[0-9a-fA-F]{64})$/;

/**
 * `name=uri`, `name=uri@digest` or `name=@digest`. The text after the last '@' is the
 * digest only when it looks like one (`sha256:<hex>`, `md5:<hex>`, 64 hex), so URIs with
 * '@' in them (`s3://bucket/a@b.parquet`) stay whole.
 */
export function collectDatasets(text: string, previous: DatasetArg[] = []): DatasetArg[] {
  const [name, rest] = parseKeyValue(text);
  const at = rest.lastIndexOf('@');
  let uri = rest;
  let digest: string | undefined;
  if (at >= 0 && DATASET_DIGEST.test(rest.slice(at + 1))) {
    uri = rest.slice(0, at);
    digest = rest.slice(at + 1);
  }
  if (uri === '' && digest === undefined) {
    throw new InvalidArgumentError(`dataset '${name}' needs a URI or a digest (name=uri[@digest])`);
  }
  if (previous.some((d) => d.name === name)) {
    throw new InvalidArgumentError(`dataset '${name}' is given twice`);
  }
  return [
    ...previous,
    { name, ...(uri === '' ? {} : { uri }), ...(digest === undefined ? {} : { digest }) },
  ];
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/;
const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** `0`, `90s`, `30m`, `1h`, `7d`, `2w`, `500ms` → milliseconds. */
export function parseDuration(text: string): number {
  if (text === '0') return 0;
  const m = DURATION.exec(text.trim());
  if (!m) {
    throw new InvalidArgumentError(
      `expected a duration like 30m, 1h, 7d (units ms, s, m, h, d, w) but got '${text}'`,
    );
  }
  return Math.round(Number(m[1]) * UNIT_MS[m[2]!]!);
}

/**
 * A point in time: an ISO-8601 date or date-time (`2024-05-01`, `2024-05-01T12:00:00Z`),
 * milliseconds since the epoch, or a duration meaning that long ago (`2h`, `7d`).
 */
export function parseTime(text: string, now = Date.now()): number {
  if (/^\d{10,}$/.test(text)) return Number(text);
  if (DURATION.test(text)) return now - parseDuration(text);
  const ms = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(ms)) {
    throw new InvalidArgumentError(
      `expected a time (2024-05-01, 2024-05-01T12:00:00Z, epoch ms, or a duration ago like 2h) but got '${text}'`,
    );
  }
  return ms;
}

/** A whole number from 1 to `max`. */
export function parseCount(text: string, max = 10_000): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > max) {
    throw new InvalidArgumentError(`expected a whole number from 1 to ${max} but got '${text}'`);
  }
  return Number(text);
}

/** A version number argument: `4` or `v4`. */
export function parseVersionArg(text: string): number {
  const m = /^[vV]?(\d+)$/.exec(text);
  const n = m ? Number(m[1]) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError(`expected a version number like 4 or v4 but got '${text}'`);
  }
  return n;
}

/** True when `text` names a version (`NAME@…`, `models:/…`) rather than a model. */
export function isVersionRef(text: string): boolean {
  return text.includes('@') || text.startsWith('models:/');
}

/**
 * Which of a run's metrics the run page charts: the metric picker's pure logic. The chosen
 * keys live in the URL (`charts=a,b`, most recently chosen first) so a link reproduces the
 * view; without `charts` the first DEFAULT_CHARTS keys (sorted) are charted. Only the
 * chosen metrics' histories are fetched. Unit-tested in metric-choice.test.ts.
 */

/** Metrics charted when the URL does not say which. */
export const DEFAULT_CHARTS = 12;

/**
 * The chosen keys from the URL's `charts` (null: absent) against the run's `keys`:
 * `chosen` in URL order, only keys the run has; `missing` the URL's keys it lacks (shown,
 * not fetched). Absent → the first `defaults` of the sorted keys. Metric keys cannot hold
 * commas (MLflow's key rule), so a comma separates them; empty entries are dropped.
 */
export function chosenMetrics(
  param: string | null,
  keys: readonly string[],
  defaults = DEFAULT_CHARTS,
): { chosen: string[]; missing: string[] } {
  if (param === null) return { chosen: [...keys].sort().slice(0, defaults), missing: [] };
  const have = new Set(keys);
  const listed = [...new Set(param.split(',').filter((k) => k !== ''))];
  return {
    chosen: listed.filter((k) => have.has(k)),
    missing: listed.filter((k) => !have.has(k)),
  };
}

/** The URL form of a choice; an empty choice is `,` so it is not mistaken for "default". */
export function chartsParam(chosen: readonly string[]): string {
  return chosen.length === 0 ? ',' : chosen.join(',');
}

/**
 * Keys matching what was typed in the picker's filter box: every whitespace-separated
 * word must occur in the key, case-insensitively; empty text matches all. Keys keep their
 * order.
 */
export function matchMetricKeys(keys: readonly string[], text: string): string[] {
  const words = text
    .toLowerCase()
    .split(/\s+/)
    .filter((w) => w !== '');
  if (words.length === 0) return [...keys];
  return keys.filter((k) => {
    const lower = k.toLowerCase();
    return words.every((w) => lower.includes(w));
  });
}

/** Choosing puts a key first (its chart appears at the top); unchoosing removes it. */
export function toggleMetric(chosen: readonly string[], key: string, on: boolean): string[] {
  const rest = chosen.filter((k) => k !== key);
  return on ? [key, ...rest] : rest;
}

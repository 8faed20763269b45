/**
 * Hand-made SVG charts: a line of one metric across versions, and grouped bars of metrics
 * across compared versions. SVG keeps them crisp, themeable with CSS variables, readable by
 * tests and screen readers (each chart has a title and a table-like description).
 */
import { formatMetric } from '../lib/format';
import { linear, niceTicks } from '../lib/scale';

export interface LinePoint {
  readonly x: number;
  readonly y: number;
  readonly label: string;
}

const W = 720;
const H = 240;
const M = { top: 16, right: 16, bottom: 32, left: 64 };

/**
 * One metric (y) against version number (x) by default, or against any integer x (a run's
 * steps) with `xLabel` and `noun`; points sorted by x.
 */
export function LineChart({
  points,
  title,
  xLabel = (x) => `v${x}`,
  noun = 'versions',
}: {
  points: readonly LinePoint[];
  title: string;
  xLabel?: (x: number) => string;
  noun?: string;
}) {
  if (points.length === 0) return <p className="state empty">No {noun} with this metric.</p>;
  const sorted = [...points].sort((a, b) => a.x - b.x);
  const ys = sorted.map((p) => p.y);
  const yTicks = niceTicks(Math.min(...ys), Math.max(...ys), 4);
  const x0 = sorted[0]!.x;
  const x1 = sorted[sorted.length - 1]!.x;
  const sx = linear(x0, x1, M.left, W - M.right);
  const sy = linear(yTicks[0]!, yTicks[yTicks.length - 1]!, H - M.bottom, M.top);
  const xTicks = niceTicks(x0, x1, 6).filter((t) => t >= x0 && t <= x1 && Number.isInteger(t));
  const path = sorted.map((p, i) => `${i ? 'L' : 'M'}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`);
  return (
    <svg
      className="chart"
      viewBox={`0 0 ${W} ${H}`}
      role="img"
      aria-label={`${title}: ${sorted.length} ${noun}, from ${formatMetric(Math.min(...ys))} to ${formatMetric(Math.max(...ys))}`}
    >
      <title>{title}</title>
      {yTicks.map((t) => (
        <g key={`y${t}`}>
          <line className="grid" x1={M.left} x2={W - M.right} y1={sy(t)} y2={sy(t)} />
          <text className="tick" x={M.left - 6} y={sy(t) + 4} textAnchor="end">
            {formatMetric(t)}
          </text>
        </g>
      ))}
      {xTicks.map((t) => (
        <text key={`x${t}`} className="tick" x={sx(t)} y={H - M.bottom + 18} textAnchor="middle">
          {xLabel(t)}
        </text>
      ))}
      <path className="series" d={path.join('')} fill="none" />
      {sorted.length <= 200 &&
        sorted.map((p) => (
          <circle key={`${p.x}:${p.label}`} className="dot" cx={sx(p.x)} cy={sy(p.y)} r={3.5}>
            <title>{`${p.label}: ${formatMetric(p.y)}`}</title>
          </circle>
        ))}
    </svg>
  );
}

export interface BarGroup {
  readonly key: string;
  /** One per series (version); null where that version lacks the metric. */
  readonly values: readonly (number | null)[];
}

/**
 * Grouped bars: one group per metric, one bar per version. Each metric has its own scale
 * (bars are relative to the largest absolute value of that metric), since metrics differ
 * in units; the values are printed on the bars.
 */
export function BarChart({
  groups,
  series,
}: {
  groups: readonly BarGroup[];
  series: readonly string[];
}) {
  if (groups.length === 0) return <p className="state empty">These versions have no metrics.</p>;
  const rowH = 18;
  const gap = 14;
  const labelW = 160;
  const barW = 420;
  const height = groups.reduce((h) => h + series.length * rowH + gap, 8);
  let y = 4;
  return (
    <figure className="bar-chart">
      <figcaption className="legend">
        {series.map((s, i) => (
          <span key={s} className={`legend-item c${i}`}>
            <span className="swatch" aria-hidden="true" /> {s}
          </span>
        ))}
      </figcaption>
      <svg
        className="chart"
        viewBox={`0 0 ${labelW + barW + 100} ${height}`}
        role="img"
        aria-label={`metrics of ${series.join(', ')}`}
      >
        {groups.map((g) => {
          const top = y;
          y += series.length * rowH + gap;
          const max = Math.max(...g.values.map((v) => Math.abs(v ?? 0)), 0) || 1;
          return (
            <g key={g.key}>
              <text
                className="label"
                x={labelW - 8}
                y={top + (series.length * rowH) / 2 + 4}
                textAnchor="end"
              >
                {g.key.length > 24 ? `${g.key.slice(0, 23)}…` : g.key}
              </text>
              {g.values.map((v, i) => {
                const w = v === null ? 0 : Math.max(1, (Math.abs(v) / max) * barW);
                const by = top + i * rowH;
                return (
                  <g key={series[i]} className={`c${i}`}>
                    <rect className="bar" x={labelW} y={by + 2} width={w} height={rowH - 4} rx={2}>
                      <title>{`${g.key} · ${series[i]}: ${formatMetric(v)}`}</title>
                    </rect>
                    <text className="value" x={labelW + w + 6} y={by + rowH - 5}>
                      {formatMetric(v)}
                    </text>
                  </g>
                );
              })}
            </g>
          );
        })}
      </svg>
    </figure>
  );
}

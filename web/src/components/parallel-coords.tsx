/**
 * Parallel coordinates: one vertical axis per param and a last axis for the chosen
 * metric; each run is a line through its values, coloured by the metric (low → high), so
 * the params of the best runs stand out — how people read a hyperparameter search. SVG by
 * hand; each line has a title naming the run and its values.
 */
import type { Run } from '../api/mlflow';
import { formatMetric } from '../lib/format';
import { type Axis, axisFor, axisPosition, axisTicks, keyValueMap, runMetrics } from '../lib/runs';

const H = 300;
const M = { top: 28, bottom: 30, left: 60, right: 60 };
const GAP = 150;

/** A colour from low (blue) to high (orange) for t in 0–1. */
function colour(t: number): string {
  const hue = 220 - 190 * Math.min(1, Math.max(0, t));
  return `hsl(${hue.toFixed(0)} 75% 50%)`;
}

export function ParallelCoordinates({
  runs,
  params,
  metric,
}: {
  runs: readonly Run[];
  params: readonly string[];
  metric: string;
}) {
  const rows = runs.map((r) => ({
    run: r,
    params: keyValueMap(r.data.params),
    metric: runMetrics(r)[metric],
  }));
  const withMetric = rows.filter((r) => r.metric !== undefined && Number.isFinite(r.metric));
  if (withMetric.length === 0)
    return <p className="state empty">No run has the metric {metric}.</p>;
  if (params.length === 0) return <p className="state empty">These runs have no params.</p>;
  const axes: Axis[] = [
    ...params.map((p) =>
      axisFor(
        p,
        withMetric.map((r) => r.params[p]),
      ),
    ),
    axisFor(
      metric,
      withMetric.map((r) => r.metric),
    ),
  ];
  const metricAxis = axes[axes.length - 1]!;
  const W = M.left + M.right + GAP * (axes.length - 1);
  const x = (i: number) => M.left + i * GAP;
  const y = (t: number) => H - M.bottom - t * (H - M.top - M.bottom);
  return (
    <figure className="parallel">
      <svg
        className="chart"
        viewBox={`0 0 ${W} ${H}`}
        style={{ maxWidth: W }}
        role="img"
        aria-label={`parallel coordinates of ${withMetric.length} runs: ${params.join(', ')} against ${metric}`}
      >
        {withMetric.map((r) => {
          const points = axes.map((a, i) => {
            const pos = axisPosition(a, i === axes.length - 1 ? r.metric : r.params[a.key]);
            return pos === null ? null : `${x(i).toFixed(1)},${y(pos).toFixed(1)}`;
          });
          // A run lacking a param breaks its line there: draw the runs of known values.
          const d = points
            .map((p, i) =>
              p === null ? '' : `${i === 0 || points[i - 1] === null ? 'M' : 'L'}${p}`,
            )
            .join('');
          const t = axisPosition(metricAxis, r.metric) ?? 0.5;
          return (
            <path
              key={r.run.info.run_id}
              className="run-line"
              data-run={r.run.info.run_id}
              d={d}
              stroke={colour(t)}
            >
              <title>
                {`${r.run.info.run_name || r.run.info.run_id}: ${params
                  .map((p) => `${p}=${r.params[p] ?? '—'}`)
                  .join(', ')}, ${metric}=${formatMetric(r.metric)}`}
              </title>
            </path>
          );
        })}
        {axes.map((a, i) => (
          <g key={a.key} className="axis" data-axis={a.key}>
            <line x1={x(i)} x2={x(i)} y1={y(0)} y2={y(1)} />
            <text className="axis-title" x={x(i)} y={M.top - 12} textAnchor="middle">
              {a.key.length > 22 ? `${a.key.slice(0, 21)}…` : a.key}
            </text>
            {axisTicks(a).map((tk) => (
              <text key={`${tk.label}@${tk.at}`} x={x(i) + 6} y={y(tk.at) + 4}>
                {tk.label.length > 14 ? `${tk.label.slice(0, 13)}…` : tk.label}
              </text>
            ))}
          </g>
        ))}
      </svg>
      <figcaption className="pc-legend">
        One line per run ({withMetric.length}); colour by {metric}: blue low, orange high.
      </figcaption>
    </figure>
  );
}

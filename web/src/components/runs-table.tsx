/**
 * An experiment's runs as a table: name, status, start, user, then the chosen metrics and
 * params columns. Virtualised like the versions table (only the rows in view are in the
 * DOM); header buttons sort on the server (MLflow `order_by`).
 */
import { useVirtualizer } from '@tanstack/react-virtual';
import { useRef } from 'react';
import { Link } from 'wouter';
import type { Run } from '../api/mlflow';
import { formatMetric, formatTime } from '../lib/format';
import { links } from '../lib/links';
import { keyValueMap, type RunSort, type RunSortKey, runMetrics } from '../lib/runs';

const ROW_HEIGHT = 37;

function SortHeader({
  label,
  by,
  sort,
  onSort,
  numeric,
}: {
  label: string;
  by: RunSortKey;
  sort: RunSort;
  onSort: (by: RunSortKey) => void;
  numeric?: boolean;
}) {
  const active = sort.by.kind === by.kind && sort.by.key === by.key;
  return (
    <th
      scope="col"
      className={numeric ? 'num' : undefined}
      aria-sort={active ? (sort.dir === 'ASC' ? 'ascending' : 'descending') : 'none'}
    >
      <button type="button" className="sort" onClick={() => onSort(by)}>
        {label}
        <span aria-hidden="true">{active ? (sort.dir === 'ASC' ? ' ▲' : ' ▼') : ''}</span>
      </button>
    </th>
  );
}

export function RunsTable({
  experiment,
  runs,
  metricColumns,
  paramColumns,
  sort,
  onSort,
}: {
  experiment: string;
  runs: readonly Run[];
  metricColumns: readonly string[];
  paramColumns: readonly string[];
  sort: RunSort;
  onSort: (by: RunSortKey) => void;
}) {
  const scrollRef = useRef<HTMLElement>(null);
  const virtualizer = useVirtualizer({
    count: runs.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
  });
  const items = virtualizer.getVirtualItems();
  const top = items.length > 0 ? items[0]!.start : 0;
  const bottom = items.length > 0 ? virtualizer.getTotalSize() - items[items.length - 1]!.end : 0;
  const columnCount = 4 + metricColumns.length + paramColumns.length;
  return (
    <section
      className="table-scroll"
      ref={scrollRef}
      // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard
      tabIndex={0}
      aria-label={`runs of ${experiment}`}
    >
      <table className="data runs-table" aria-rowcount={runs.length + 1}>
        <thead>
          <tr>
            <SortHeader
              label="Run"
              by={{ kind: 'attributes', key: 'run_name' }}
              sort={sort}
              onSort={onSort}
            />
            <SortHeader
              label="Status"
              by={{ kind: 'attributes', key: 'status' }}
              sort={sort}
              onSort={onSort}
            />
            <SortHeader
              label="Started"
              by={{ kind: 'attributes', key: 'start_time' }}
              sort={sort}
              onSort={onSort}
            />
            <th scope="col">User</th>
            {metricColumns.map((k) => (
              <SortHeader
                key={`m-${k}`}
                label={k}
                by={{ kind: 'metrics', key: k }}
                sort={sort}
                onSort={onSort}
                numeric
              />
            ))}
            {paramColumns.map((k) => (
              <SortHeader
                key={`p-${k}`}
                label={k}
                by={{ kind: 'params', key: k }}
                sort={sort}
                onSort={onSort}
              />
            ))}
          </tr>
        </thead>
        <tbody>
          {top > 0 && (
            <tr className="spacer">
              <td colSpan={columnCount} style={{ height: top }} />
            </tr>
          )}
          {items.map((item) => {
            const r = runs[item.index]!;
            const metrics = runMetrics(r);
            const params = keyValueMap(r.data.params);
            return (
              <tr
                key={r.info.run_id}
                data-run={r.info.run_id}
                aria-rowindex={item.index + 2}
                style={{ height: ROW_HEIGHT }}
              >
                <td>
                  <Link href={links.run(r.info.run_id)}>{r.info.run_name || r.info.run_id}</Link>
                </td>
                <td>
                  <span className={`badge run-${r.info.status.toLowerCase()}`}>
                    {r.info.status.toLowerCase()}
                  </span>
                </td>
                <td>{formatTime(r.info.start_time)}</td>
                <td>{r.info.user_id || '—'}</td>
                {metricColumns.map((k) => (
                  <td key={`m-${k}`} className="num">
                    {formatMetric(metrics[k])}
                  </td>
                ))}
                {paramColumns.map((k) => (
                  <td key={`p-${k}`} className="clip">
                    {params[k] ?? '—'}
                  </td>
                ))}
              </tr>
            );
          })}
          {bottom > 0 && (
            <tr className="spacer">
              <td colSpan={columnCount} style={{ height: bottom }} />
            </tr>
          )}
        </tbody>
      </table>
    </section>
  );
}

/**
 * An experiment's runs as a table: name, status, start, user, then the chosen metrics and
 * params columns. Virtualised like the versions table (only the rows in view are in the
 * DOM); header buttons sort on the server (MLflow `order_by`). The runs come page by page
 * (runs/search with page tokens): while more pages remain a last row stands for them, and
 * scrolling it into view asks for the next page (`onLoadMore`); it also has a button, and
 * shows a failed page's error with a retry.
 */
import { useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useRef } from 'react';
import { Link } from 'wouter';
import type { Run } from '../api/mlflow';
import { errorText } from '../api/registry';
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
  hasMore,
  loadingMore,
  loadError,
  onLoadMore,
}: {
  experiment: string;
  runs: readonly Run[];
  metricColumns: readonly string[];
  paramColumns: readonly string[];
  sort: RunSort;
  onSort: (by: RunSortKey) => void;
  /** More runs match than are loaded (runs/search gave a next page token). */
  hasMore: boolean;
  loadingMore: boolean;
  /** The last next-page request failed (shown in the last row, with a retry). */
  loadError: unknown;
  onLoadMore: () => void;
}) {
  const scrollRef = useRef<HTMLElement>(null);
  const moreRow = hasMore || loadError != null;
  const virtualizer = useVirtualizer({
    count: runs.length + (moreRow ? 1 : 0),
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
  });
  const items = virtualizer.getVirtualItems();
  const top = items.length > 0 ? items[0]!.start : 0;
  const bottom = items.length > 0 ? virtualizer.getTotalSize() - items[items.length - 1]!.end : 0;
  const columnCount = 4 + metricColumns.length + paramColumns.length;
  // The "more" row in view → the next page, once at a time and not again after a failure.
  const lastIndex = items.length > 0 ? items[items.length - 1]!.index : -1;
  const wantMore = hasMore && lastIndex >= runs.length && !loadingMore && loadError == null;
  useEffect(() => {
    if (wantMore) onLoadMore();
  }, [wantMore, onLoadMore]);
  return (
    <section
      className="table-scroll"
      ref={scrollRef}
      // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard
      tabIndex={0}
      aria-label={`runs of ${experiment}`}
    >
      <table className="data runs-table" aria-rowcount={hasMore ? -1 : runs.length + 1}>
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
            if (item.index >= runs.length) {
              return (
                <tr key="more" className="more-row" data-more="" style={{ height: ROW_HEIGHT }}>
                  <td colSpan={columnCount}>
                    {loadingMore ? (
                      <span className="muted">Loading more runs…</span>
                    ) : loadError != null ? (
                      <span role="alert">
                        Could not load more runs: {errorText(loadError)}{' '}
                        <button type="button" className="small" onClick={onLoadMore}>
                          Retry
                        </button>
                      </span>
                    ) : (
                      <button type="button" className="small" onClick={onLoadMore}>
                        Load more runs
                      </button>
                    )}
                  </td>
                </tr>
              );
            }
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

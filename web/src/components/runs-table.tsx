/**
 * An experiment's runs as a table: name, status, start, user, then the chosen metrics and
 * params columns. Virtualised like the versions table (only the rows in view are in the
 * DOM); header buttons sort on the server (MLflow `order_by`). The runs come page by page
 * (runs/search with page tokens): while more pages remain a last row stands for them, and
 * scrolling it into view asks for the next page (`onLoadMore`); it also has a button, and
 * shows a failed page's error with a retry.
 */
import { useEffect, useRef } from 'react';
import { Link } from 'wouter';
import type { Run } from '../api/mlflow';
import { errorText } from '../api/registry';
import { formatTime } from '../lib/format';
import { links } from '../lib/links';
import { keyValueMap, type RunSort, type RunSortKey, runMetrics } from '../lib/runs';
import {
  KeyValueCells,
  KeyValueHeaders,
  ROW_HEIGHT,
  SortHeader,
  SpacerRow,
  useVirtualRows,
} from './table-parts';

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
  const { items, top, bottom } = useVirtualRows(runs.length + (moreRow ? 1 : 0), scrollRef);
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
            <KeyValueHeaders
              metricColumns={metricColumns}
              paramColumns={paramColumns}
              sort={sort}
              onSort={onSort}
            />
          </tr>
        </thead>
        <tbody>
          <SpacerRow height={top} columns={columnCount} />
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
                <KeyValueCells
                  metricColumns={metricColumns}
                  paramColumns={paramColumns}
                  metrics={metrics}
                  params={params}
                />
              </tr>
            );
          })}
          <SpacerRow height={bottom} columns={columnCount} />
        </tbody>
      </table>
    </section>
  );
}

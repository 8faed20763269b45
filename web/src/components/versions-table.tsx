/**
 * The versions of a model as a table that stays fast at 10,000+ rows: only the rows in
 * view (plus a few) are in the DOM, between two spacer rows that keep the scroll height
 * (TanStack Virtual). Header cells sort on the server through ORDER BY; checkboxes choose
 * versions to compare.
 */
import { useVirtualizer } from '@tanstack/react-virtual';
import { useRef } from 'react';
import { Link } from 'wouter';
import type { ModelVersion } from '../api/registry';
import type { SortKey, SortState } from '../lib/filter';
import { formatBytes, formatMetric, formatTime, shortDigest } from '../lib/format';
import { links } from '../lib/links';
import { AliasBadges, ApprovalBadge, StageBadge } from './badges';

const ROW_HEIGHT = 37;

export interface VersionsTableProps {
  readonly model: string;
  readonly versions: readonly ModelVersion[];
  readonly metricColumns: readonly string[];
  readonly paramColumns: readonly string[];
  readonly sort: SortState;
  readonly onSort: (by: SortKey) => void;
  readonly selected: ReadonlySet<number>;
  readonly onSelect: (version: number, on: boolean) => void;
}

function SortHeader({
  label,
  by,
  sort,
  onSort,
  numeric,
}: {
  label: string;
  by: SortKey;
  sort: SortState;
  onSort: (by: SortKey) => void;
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

export function VersionsTable(props: VersionsTableProps) {
  const { model, versions, metricColumns, paramColumns, sort, onSort, selected, onSelect } = props;
  const scrollRef = useRef<HTMLElement>(null);
  const virtualizer = useVirtualizer({
    count: versions.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
  });
  const items = virtualizer.getVirtualItems();
  const top = items.length > 0 ? items[0]!.start : 0;
  const bottom = items.length > 0 ? virtualizer.getTotalSize() - items[items.length - 1]!.end : 0;
  const columnCount = 8 + metricColumns.length + paramColumns.length;

  return (
    <section
      className="table-scroll"
      ref={scrollRef}
      // A scrolling region must be reachable by keyboard to scroll it with the arrow keys.
      // biome-ignore lint/a11y/noNoninteractiveTabindex: see above
      tabIndex={0}
      aria-label={`versions of ${model}`}
    >
      <table className="data versions-table" aria-rowcount={versions.length + 1}>
        <thead>
          <tr>
            <th scope="col" className="select">
              <span className="visually-hidden">Compare</span>
            </th>
            <SortHeader
              label="Version"
              by={{ kind: 'attribute', key: 'version_number' }}
              sort={sort}
              onSort={onSort}
              numeric
            />
            <th scope="col">Aliases / stage</th>
            <th scope="col">Approval</th>
            <SortHeader
              label="Created"
              by={{ kind: 'attribute', key: 'created_at' }}
              sort={sort}
              onSort={onSort}
            />
            <th scope="col">By</th>
            <SortHeader
              label="Size"
              by={{ kind: 'attribute', key: 'size' }}
              sort={sort}
              onSort={onSort}
              numeric
            />
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
            <th scope="col">Digest</th>
          </tr>
        </thead>
        <tbody>
          {top > 0 && (
            <tr className="spacer">
              <td colSpan={columnCount} style={{ height: top }} />
            </tr>
          )}
          {items.map((item) => {
            const v = versions[item.index]!;
            return (
              <tr
                key={v.version}
                aria-rowindex={item.index + 2}
                style={{ height: ROW_HEIGHT }}
                data-version={v.version}
              >
                <td className="select">
                  <input
                    type="checkbox"
                    aria-label={`select version ${v.version} to compare`}
                    checked={selected.has(v.version)}
                    onChange={(e) => onSelect(v.version, e.target.checked)}
                  />
                </td>
                <td className="num">
                  <Link href={links.version(model, v.version)}>v{v.version}</Link>
                </td>
                <td>
                  <AliasBadges aliases={v.aliases} />
                  <StageBadge stage={v.stage} />
                </td>
                <td>
                  <ApprovalBadge state={v.approval.state} />
                </td>
                <td>{formatTime(v.createdAt)}</td>
                <td>{v.createdBy ?? '—'}</td>
                <td className="num">{formatBytes(v.size)}</td>
                {metricColumns.map((k) => (
                  <td key={`m-${k}`} className="num">
                    {formatMetric(v.metrics[k])}
                  </td>
                ))}
                {paramColumns.map((k) => (
                  <td key={`p-${k}`} className="clip">
                    {v.params[k] ?? '—'}
                  </td>
                ))}
                <td>
                  <code title={v.digest}>{shortDigest(v.digest)}</code>
                </td>
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

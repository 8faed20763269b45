/**
 * The versions of a model as a table that stays fast at 10,000+ rows: only the rows in
 * view (plus a few) are in the DOM, between two spacer rows that keep the scroll height
 * (TanStack Virtual). Header cells sort on the server through ORDER BY; checkboxes choose
 * versions to compare.
 */
import { useRef } from 'react';
import { Link } from 'wouter';
import type { ModelVersion } from '../api/registry';
import type { SortKey, SortState } from '../lib/filter';
import { formatBytes, formatTime, shortDigest } from '../lib/format';
import { links } from '../lib/links';
import { AliasBadges, ApprovalBadge, StageBadge } from './badges';
import {
  KeyValueCells,
  KeyValueHeaders,
  ROW_HEIGHT,
  SortHeader,
  SpacerRow,
  useVirtualRows,
} from './table-parts';

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

export function VersionsTable(props: VersionsTableProps) {
  const { model, versions, metricColumns, paramColumns, sort, onSort, selected, onSelect } = props;
  const scrollRef = useRef<HTMLElement>(null);
  const { items, top, bottom } = useVirtualRows(versions.length, scrollRef);
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
            <KeyValueHeaders
              metricColumns={metricColumns}
              paramColumns={paramColumns}
              sort={sort}
              onSort={onSort}
            />
            <th scope="col">Digest</th>
          </tr>
        </thead>
        <tbody>
          <SpacerRow height={top} columns={columnCount} />
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
                <KeyValueCells
                  metricColumns={metricColumns}
                  paramColumns={paramColumns}
                  metrics={v.metrics}
                  params={v.params}
                />
                <td>
                  <code title={v.digest}>{shortDigest(v.digest)}</code>
                </td>
              </tr>
            );
          })}
          <SpacerRow height={bottom} columns={columnCount} />
        </tbody>
      </table>
    </section>
  );
}

/**
 * The pieces the model page's versions table and the experiment page's runs table share:
 * sortable header cells, metric and param columns, row virtualisation with spacer rows,
 * the filter form and the column picker. Each table keeps its own columns and rows; these
 * only give them one look and one behaviour.
 */
import { useVirtualizer } from '@tanstack/react-virtual';
import type { RefObject } from 'react';
import { formatMetric } from '../lib/format';

/** Height of one table row in px; the virtualiser's estimate and every row's height. */
export const ROW_HEIGHT = 37;

/** What a header sorts by: a kind (attribute, metrics, params…) and a key. */
export interface SortBy {
  readonly kind: string;
  readonly key: string;
}

/** A header cell that sorts by `by` when clicked; `aria-sort` shows the active order. */
export function SortHeader<K extends SortBy>({
  label,
  by,
  sort,
  onSort,
  numeric,
}: {
  label: string;
  by: K;
  sort: { readonly by: SortBy; readonly dir: 'ASC' | 'DESC' };
  onSort: (by: K) => void;
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

/** A metric or param column's sort key (both tables name these kinds alike). */
export interface KeyValueSortBy {
  readonly kind: 'metrics' | 'params';
  readonly key: string;
}

/** Sortable headers for the chosen metric columns, then the chosen param columns. */
export function KeyValueHeaders({
  metricColumns,
  paramColumns,
  sort,
  onSort,
}: {
  metricColumns: readonly string[];
  paramColumns: readonly string[];
  sort: { readonly by: SortBy; readonly dir: 'ASC' | 'DESC' };
  onSort: (by: KeyValueSortBy) => void;
}) {
  return (
    <>
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
    </>
  );
}

/** One row's cells for the chosen metric and param columns ('—' where a value is missing). */
export function KeyValueCells({
  metricColumns,
  paramColumns,
  metrics,
  params,
}: {
  metricColumns: readonly string[];
  paramColumns: readonly string[];
  metrics: Readonly<Record<string, number | undefined>>;
  params: Readonly<Record<string, string | undefined>>;
}) {
  return (
    <>
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
    </>
  );
}

/**
 * Virtualises `count` rows of ROW_HEIGHT inside the scrolling element `scrollRef`: the
 * rows in view (plus an overscan) and the heights of the spacer rows above and below them.
 */
export function useVirtualRows(count: number, scrollRef: RefObject<HTMLElement | null>) {
  const virtualizer = useVirtualizer({
    count,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
  });
  const items = virtualizer.getVirtualItems();
  const top = items.length > 0 ? items[0]!.start : 0;
  const bottom = items.length > 0 ? virtualizer.getTotalSize() - items[items.length - 1]!.end : 0;
  return { items, top, bottom };
}

/** A spacer row standing for `height` px of rows not in the DOM; nothing when 0. */
export function SpacerRow({ height, columns }: { height: number; columns: number }) {
  if (height <= 0) return null;
  return (
    <tr className="spacer">
      <td colSpan={columns} style={{ height }} />
    </tr>
  );
}

/** The filter box above a table: applies the trimmed text on submit. */
export function FilterForm({
  id,
  label,
  placeholder,
  value,
  onChange,
  onApply,
}: {
  id: string;
  label: string;
  placeholder: string;
  value: string;
  onChange: (text: string) => void;
  onApply: (filter: string) => void;
}) {
  return (
    <form
      className="search"
      onSubmit={(e) => {
        e.preventDefault();
        onApply(value.trim());
      }}
    >
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="search"
        value={value}
        placeholder={placeholder}
        onChange={(e) => onChange(e.target.value)}
      />
      <button type="submit">Apply</button>
    </form>
  );
}

/** "Columns": checkboxes choosing which metric and param keys a table shows. */
export function ColumnPicker({
  metricKeys,
  paramKeys,
  metricColumns,
  paramColumns,
  onToggle,
}: {
  metricKeys: readonly string[];
  paramKeys: readonly string[];
  metricColumns: readonly string[];
  paramColumns: readonly string[];
  onToggle: (field: 'metrics' | 'params', key: string, on: boolean) => void;
}) {
  const group = (
    legend: string,
    field: 'metrics' | 'params',
    keys: readonly string[],
    chosen: readonly string[],
  ) => (
    <fieldset>
      <legend>{legend}</legend>
      {keys.length === 0 && <span className="muted">none</span>}
      {keys.map((k) => (
        <label key={k} className="check">
          <input
            type="checkbox"
            checked={chosen.includes(k)}
            onChange={(e) => onToggle(field, k, e.target.checked)}
          />{' '}
          {k}
        </label>
      ))}
    </fieldset>
  );
  return (
    <details className="columns">
      <summary>Columns</summary>
      {group('Metrics', 'metrics', metricKeys, metricColumns)}
      {group('Params', 'params', paramKeys, paramColumns)}
    </details>
  );
}

/**
 * One MLflow experiment: its runs in a virtualised table with chosen metric and param
 * columns, sorted and filtered by the server (MLflow's run filter syntax and `order_by`,
 * passed to runs/search as typed), and a parallel-coordinates view of the params against
 * a chosen metric. The runs come a page at a time (runs/search page tokens, `size` per
 * page) as the table is scrolled; MLflow has no count, so the page says how many are
 * loaded and whether more match. The parallel coordinates draw the loaded runs (at most
 * PARALLEL_MAX) and say so when that is a subset. The view is in the URL: `filter`,
 * `sort`/`dir`, `metrics`, `params`, `pc` (the metric of the parallel-coordinates view),
 * `axes`, `size`.
 */
import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { useCallback, useMemo, useState } from 'react';
import { Link, useLocation, useSearch } from 'wouter';
import { mlflow, mlflowKeys } from '../api/mlflow';
import { ParallelCoordinates } from '../components/parallel-coords';
import { RunsTable } from '../components/runs-table';
import { Empty, ErrorBox, Loading } from '../components/status';
import { ColumnPicker, FilterForm } from '../components/table-parts';
import { listParam } from '../lib/filter';
import { formatTime } from '../lib/format';
import { links, withQuery } from '../lib/links';
import {
  parsePageSize,
  parseRunSort,
  runKeys,
  runOrderBy,
  runSortParam,
  runsCountText,
  toggleRunSort,
} from '../lib/runs';

/** The most params drawn as axes by default (more are one click away). */
const DEFAULT_AXES = 6;
/** The most runs drawn as lines in the parallel-coordinates view (an SVG path each). */
const PARALLEL_MAX = 2000;

export function ExperimentPage({ id }: { id: string }) {
  const search = useSearch();
  const [, navigate] = useLocation();
  const params = new URLSearchParams(search);
  const userFilter = params.get('filter') ?? '';
  const sort = parseRunSort(params.get('sort'), params.get('dir'));
  const [filterText, setFilterText] = useState(userFilter);
  const setQuery = (changes: Record<string, string | null>) =>
    navigate(`${links.experiment(id)}${withQuery(search, changes)}`, { replace: true });

  const experiment = useQuery({
    queryKey: mlflowKeys.experiment(id),
    queryFn: () => mlflow.getExperiment(id),
  });
  const orderBy = runOrderBy(sort);
  const pageSize = parsePageSize(params.get('size'));
  const runs = useInfiniteQuery({
    queryKey: [...mlflowKeys.runs(id), userFilter, orderBy, pageSize],
    queryFn: ({ pageParam }) =>
      mlflow.searchRunsPage(id, {
        filter: userFilter.trim(),
        orderBy,
        pageSize,
        pageToken: pageParam,
      }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextPageToken,
    enabled: experiment.isSuccess,
  });
  const rows = useMemo(() => runs.data?.pages.flatMap((p) => p.runs) ?? [], [runs.data]);
  const hasMore = runs.hasNextPage;
  const { fetchNextPage } = runs;
  const loadMore = useCallback(() => {
    void fetchNextPage({ cancelRefetch: false });
  }, [fetchNextPage]);
  const { metrics: metricKeys, params: paramKeys } = useMemo(() => runKeys(rows), [rows]);
  const metricColumns = params.has('metrics')
    ? listParam(params.get('metrics'))
    : metricKeys.slice(0, 4);
  const paramColumns = params.has('params')
    ? listParam(params.get('params'))
    : paramKeys.slice(0, 4);
  const pcMetric = params.get('pc') ?? metricColumns[0] ?? metricKeys[0];
  const axes = params.has('axes')
    ? listParam(params.get('axes'))
    : paramKeys.slice(0, DEFAULT_AXES);

  if (experiment.isPending)
    return (
      <main className="page">
        <Loading what={`experiment ${id}`} />
      </main>
    );
  if (experiment.isError)
    return (
      <main className="page">
        <h1 tabIndex={-1}>Experiment {id}</h1>
        <ErrorBox error={experiment.error} title="Could not load this experiment" />
        <p>
          <Link href={links.experiments}>Back to experiments</Link>
        </p>
      </main>
    );
  const e = experiment.data;
  const toggle = (
    field: 'metrics' | 'params' | 'axes',
    current: string[],
    key: string,
    on: boolean,
  ) => {
    const next = on ? [...current, key] : current.filter((k) => k !== key);
    setQuery({ [field]: next.join(',') || ',' });
  };

  return (
    <main className="page">
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link href={links.experiments}>Experiments</Link> /{' '}
        <span aria-current="page">{e.name}</span>
      </nav>
      <h1 tabIndex={-1}>{e.name}</h1>
      <dl className="facts">
        <dt>Id</dt>
        <dd>{e.experiment_id}</dd>
        <dt>Created</dt>
        <dd>{formatTime(e.creation_time)}</dd>
        <dt>Artifacts</dt>
        <dd>
          <code>{e.artifact_location ?? '—'}</code>
        </dd>
      </dl>
      <TagsLine tags={e.tags} />

      <section aria-labelledby="runs-heading">
        <h2 id="runs-heading">Runs</h2>
        <FilterForm
          id="run-filter"
          label="Filter runs"
          placeholder="metrics.accuracy > 0.9 AND params.lr = '0.01'"
          value={filterText}
          onChange={setFilterText}
          onApply={(filter) => setQuery({ filter })}
        />
        <div className="toolbar">
          <ColumnPicker
            metricKeys={metricKeys}
            paramKeys={paramKeys}
            metricColumns={metricColumns}
            paramColumns={paramColumns}
            onToggle={(field, k, on) =>
              toggle(field, field === 'metrics' ? metricColumns : paramColumns, k, on)
            }
          />
          <span className="muted" role="status">
            {runs.isPending || (runs.isFetching && !runs.isFetchingNextPage)
              ? 'loading runs…'
              : runsCountText(rows.length, hasMore)}
          </span>
        </div>
        {runs.isPending ? (
          <Loading what="runs" />
        ) : runs.isError && rows.length === 0 ? (
          <ErrorBox error={runs.error} title="The filter or sort was not accepted" />
        ) : rows.length === 0 ? (
          <Empty>{userFilter ? 'No run matches this filter.' : 'No runs yet.'}</Empty>
        ) : (
          <RunsTable
            experiment={e.name}
            runs={rows}
            metricColumns={metricColumns}
            paramColumns={paramColumns}
            sort={sort}
            onSort={(by) => setQuery(runSortParam(toggleRunSort(sort, by)))}
            hasMore={hasMore}
            loadingMore={runs.isFetchingNextPage}
            loadError={runs.isFetchNextPageError ? runs.error : null}
            onLoadMore={loadMore}
          />
        )}
      </section>

      {rows.length > 0 && metricKeys.length > 0 && pcMetric !== undefined && (
        <section aria-labelledby="pc-heading">
          <h2 id="pc-heading">Params against a metric</h2>
          <div className="toolbar">
            <label>
              Metric{' '}
              <select value={pcMetric} onChange={(ev) => setQuery({ pc: ev.target.value })}>
                {metricKeys.map((k) => (
                  <option key={k} value={k}>
                    {k}
                  </option>
                ))}
              </select>
            </label>
            <details className="columns">
              <summary>Axes</summary>
              <fieldset>
                <legend>Params</legend>
                {paramKeys.map((k) => (
                  <label key={k} className="check">
                    <input
                      type="checkbox"
                      checked={axes.includes(k)}
                      onChange={(ev) => toggle('axes', axes, k, ev.target.checked)}
                    />{' '}
                    {k}
                  </label>
                ))}
              </fieldset>
            </details>
          </div>
          {(hasMore || rows.length > PARALLEL_MAX) && (
            <p className="state subset-note" role="note">
              {rows.length > PARALLEL_MAX
                ? `Showing the first ${PARALLEL_MAX} of the ${rows.length} runs loaded${hasMore ? ' (more match)' : ''}, in the table's order: narrow the filter to see the others.`
                : `Showing the ${rows.length} runs loaded so far, in the table's order; more match the filter: scroll the table to load them, or narrow the filter.`}
            </p>
          )}
          <ParallelCoordinates
            runs={rows.length > PARALLEL_MAX ? rows.slice(0, PARALLEL_MAX) : rows}
            params={axes.filter((a) => paramKeys.includes(a))}
            metric={pcMetric}
          />
        </section>
      )}
    </main>
  );
}

/** User tags (not MLflow's own `mlflow.*`) as `key=value` badges. */
export function TagsLine({
  tags,
}: {
  tags: readonly { key: string; value: string }[] | undefined;
}) {
  const own = (tags ?? []).filter((t) => !t.key.startsWith('mlflow.'));
  if (own.length === 0) return null;
  return (
    <p className="tags-line">
      {own.map((t) => (
        <span key={t.key} className="badge">
          {t.key}={t.value}
        </span>
      ))}
    </p>
  );
}

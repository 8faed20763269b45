/**
 * One model: its description, tags and aliases (with actions), a chart of a chosen metric
 * across versions, and the virtualised versions table with chosen metric/param columns,
 * server-side sort and a filter in the search language. Everything that shapes the view is
 * in the URL, so a link shows the same view.
 */
import { useQuery } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { Link, useLocation, useSearch } from 'wouter';
import { keys, type ModelVersion, registry, searchAllVersions } from '../api/registry';
import {
  DescriptionDialog,
  RemoveAliasDialog,
  RollbackDialog,
  SetAliasDialog,
  TagList,
} from '../components/actions';
import { LineChart } from '../components/charts';
import { Empty, ErrorBox, Loading } from '../components/status';
import { ColumnPicker, FilterForm } from '../components/table-parts';
import { VersionsTable } from '../components/versions-table';
import { MAX_COMPARE } from '../lib/compare';
import {
  listParam,
  modelVersionsFilter,
  orderByFor,
  parseSort,
  sortParam,
  toggleSort,
} from '../lib/filter';
import { formatTime } from '../lib/format';
import { links, withQuery } from '../lib/links';

type AliasAction =
  | { kind: 'set'; alias?: string; version?: number }
  | { kind: 'rollback' | 'remove'; alias: string };

function keysOf(versions: readonly ModelVersion[], field: 'metrics' | 'params'): string[] {
  const set = new Set<string>();
  // Sampling the first rows is enough to offer the columns and stays cheap at 10,000 rows.
  for (const v of versions.slice(0, 500)) for (const k of Object.keys(v[field])) set.add(k);
  return [...set].sort();
}

export function ModelPage({ name }: { name: string }) {
  const search = useSearch();
  const [, navigate] = useLocation();
  const params = new URLSearchParams(search);
  const userFilter = params.get('filter') ?? '';
  const sort = parseSort(params.get('sort'), params.get('dir'));
  const [filterText, setFilterText] = useState(userFilter);
  const [selected, setSelected] = useState<ReadonlySet<number>>(new Set());
  const [aliasAction, setAliasAction] = useState<AliasAction | null>(null);
  const [editDescription, setEditDescription] = useState(false);
  const [loaded, setLoaded] = useState(0);
  const setQuery = (changes: Record<string, string | null>) =>
    navigate(`${links.model(name)}${withQuery(search, changes)}`, { replace: true });

  const model = useQuery({ queryKey: keys.model(name), queryFn: () => registry.getModel(name) });
  const filter = modelVersionsFilter(name, userFilter);
  const orderBy = orderByFor(sort);
  const versions = useQuery({
    queryKey: [...keys.versions(name), filter, orderBy],
    queryFn: ({ signal }) =>
      searchAllVersions(filter, orderBy, (rows) => setLoaded(rows.length), signal),
    enabled: model.isSuccess,
  });

  const rows = versions.data ?? [];
  const metricKeys = useMemo(() => keysOf(rows, 'metrics'), [rows]);
  const paramKeys = useMemo(() => keysOf(rows, 'params'), [rows]);
  const metricColumns = params.has('metrics')
    ? listParam(params.get('metrics'))
    : metricKeys.slice(0, 3);
  const paramColumns = listParam(params.get('params'));
  const chartMetric = params.get('chart') ?? metricColumns[0] ?? metricKeys[0];
  const points = useMemo(
    () =>
      chartMetric === undefined
        ? []
        : rows
            .filter((v) => v.metrics[chartMetric] !== undefined)
            .map((v) => ({ x: v.version, y: v.metrics[chartMetric]!, label: `v${v.version}` })),
    [rows, chartMetric],
  );

  if (model.isPending)
    return (
      <main className="page">
        <Loading what={`model ${name}`} />
      </main>
    );
  if (model.isError)
    return (
      <main className="page">
        <h1 tabIndex={-1}>{name}</h1>
        <ErrorBox error={model.error} title="Could not load this model" />
        <p>
          <Link href="/">Back to models</Link>
        </p>
      </main>
    );
  const m = model.data;
  const toggleColumn = (field: 'metrics' | 'params', key: string, on: boolean) => {
    const current = field === 'metrics' ? metricColumns : paramColumns;
    const next = on ? [...current, key] : current.filter((k) => k !== key);
    setQuery({ [field]: next.join(',') || (field === 'metrics' ? ',' : null) });
  };

  return (
    <main className="page">
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link href="/">Models</Link> / <span aria-current="page">{m.name}</span>
      </nav>
      <h1 tabIndex={-1}>{m.name}</h1>
      <section className="model-head">
        <div className="description">
          {m.description ? <p>{m.description}</p> : <p className="muted">No description.</p>}
          <button type="button" className="small" onClick={() => setEditDescription(true)}>
            Edit description
          </button>
        </div>
        <dl className="facts">
          <dt>Owner</dt>
          <dd>{m.owner ?? '—'}</dd>
          <dt>Created</dt>
          <dd>{formatTime(m.createdAt)}</dd>
          <dt>Updated</dt>
          <dd>{formatTime(m.updatedAt)}</dd>
          <dt>Latest</dt>
          <dd>
            {m.latestVersion === null ? (
              '—'
            ) : (
              <Link href={links.version(m.name, m.latestVersion)}>v{m.latestVersion}</Link>
            )}
          </dd>
        </dl>
        <div>
          <h2 className="small-heading">Tags</h2>
          <TagList model={m.name} tags={m.tags} />
        </div>
      </section>

      <section aria-labelledby="aliases-heading">
        <h2 id="aliases-heading">Aliases</h2>
        {Object.keys(m.aliases).length === 0 ? (
          <p className="muted">No aliases.</p>
        ) : (
          <table className="data aliases-table">
            <thead>
              <tr>
                <th scope="col">Alias</th>
                <th scope="col">Version</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {Object.entries(m.aliases)
                .sort(([a], [b]) => (a < b ? -1 : 1))
                .map(([alias, v]) => (
                  <tr key={alias} data-alias={alias}>
                    <td>
                      <span className="badge alias">@{alias}</span>
                    </td>
                    <td>
                      <Link href={links.version(m.name, v)}>v{v}</Link>
                    </td>
                    <td className="actions">
                      <span>
                        <button
                          type="button"
                          className="small"
                          onClick={() => setAliasAction({ kind: 'set', alias, version: v })}
                        >
                          Move
                        </button>
                        <button
                          type="button"
                          className="small"
                          onClick={() => setAliasAction({ kind: 'rollback', alias })}
                        >
                          Roll back
                        </button>
                        <button
                          type="button"
                          className="small"
                          onClick={() => setAliasAction({ kind: 'remove', alias })}
                        >
                          Remove
                        </button>
                      </span>
                    </td>
                  </tr>
                ))}
            </tbody>
          </table>
        )}
        <p>
          <button type="button" onClick={() => setAliasAction({ kind: 'set' })}>
            Set alias
          </button>{' '}
          <Link href={links.audit({ model: m.name })}>Audit trail of {m.name}</Link>
        </p>
      </section>

      <section aria-labelledby="versions-heading">
        <h2 id="versions-heading">Versions</h2>
        <FilterForm
          id="version-filter"
          label="Filter"
          placeholder="metrics.auc > 0.9 AND tags.team = 'risk'"
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
            onToggle={toggleColumn}
          />
          <button
            type="button"
            disabled={selected.size < 2 || selected.size > MAX_COMPARE}
            onClick={() =>
              navigate(
                links.compare(
                  m.name,
                  [...selected].sort((a, b) => a - b),
                ),
              )
            }
          >
            Compare selected ({selected.size})
          </button>
          {selected.size > MAX_COMPARE && (
            <span className="field-error">at most {MAX_COMPARE}</span>
          )}
          <span className="muted" role="status">
            {versions.isFetching ? `loading… ${loaded} versions` : `${rows.length} versions`}
          </span>
        </div>
        {versions.isPending ? (
          <Loading what="versions" />
        ) : versions.isError ? (
          <ErrorBox error={versions.error} title="The filter or sort was not accepted" />
        ) : rows.length === 0 ? (
          <Empty>
            {userFilter ? 'No version matches this filter.' : 'This model has no versions yet.'}
          </Empty>
        ) : (
          <VersionsTable
            model={m.name}
            versions={rows}
            metricColumns={metricColumns}
            paramColumns={paramColumns}
            sort={sort}
            onSort={(by) => setQuery(sortParam(toggleSort(sort, by)))}
            selected={selected}
            onSelect={(v, on) => {
              const next = new Set(selected);
              if (on) next.add(v);
              else next.delete(v);
              setSelected(next);
            }}
          />
        )}
      </section>

      {metricKeys.length > 0 && (
        <section aria-labelledby="chart-heading">
          <h2 id="chart-heading">Metric across versions</h2>
          <label>
            Metric{' '}
            <select value={chartMetric} onChange={(e) => setQuery({ chart: e.target.value })}>
              {metricKeys.map((k) => (
                <option key={k} value={k}>
                  {k}
                </option>
              ))}
            </select>
          </label>
          <LineChart points={points} title={`${chartMetric} by version`} />
        </section>
      )}

      {aliasAction?.kind === 'set' && (
        <SetAliasDialog
          model={m.name}
          {...(aliasAction.alias !== undefined ? { alias: aliasAction.alias } : {})}
          {...(aliasAction.version !== undefined ? { version: aliasAction.version } : {})}
          current={m.aliases}
          onClose={() => setAliasAction(null)}
        />
      )}
      {aliasAction?.kind === 'rollback' && (
        <RollbackDialog
          model={m.name}
          alias={aliasAction.alias}
          onClose={() => setAliasAction(null)}
        />
      )}
      {aliasAction?.kind === 'remove' && (
        <RemoveAliasDialog
          model={m.name}
          alias={aliasAction.alias}
          onClose={() => setAliasAction(null)}
        />
      )}
      {editDescription && (
        <DescriptionDialog
          model={m.name}
          description={m.description}
          onClose={() => setEditDescription(false)}
        />
      )}
    </main>
  );
}

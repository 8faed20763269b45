/**
 * Compare 2–5 versions of a model: metric bars, metrics and params side by side (with an
 * only-differences switch) and the files and tensors changed against the first version
 * (the base).
 * The URL (`?versions=3,5,8`) says what is compared.
 */
import { useQueries, useQuery } from '@tanstack/react-query';
import { Link, useLocation, useSearch } from 'wouter';
import { keys, registry, type TensorDiff } from '../api/registry';
import { BarChart } from '../components/charts';
import { Empty, ErrorBox, Loading } from '../components/status';
import { parseVersionList, sideBySide } from '../lib/compare';
import {
  formatBytes,
  formatCount,
  formatDelta,
  formatMetric,
  shortDigest,
  versionRef,
} from '../lib/format';
import { formatShape } from '../lib/inspection';
import { links, withQuery } from '../lib/links';

export function ComparePage({ name }: { name: string }) {
  const search = useSearch();
  const [, navigate] = useLocation();
  const params = new URLSearchParams(search);
  const parsed = parseVersionList(params.get('versions'));
  const onlyDiff = params.get('diff') === '1';
  const list = typeof parsed === 'string' ? [] : parsed;

  const versions = useQueries({
    queries: list.map((n) => ({
      queryKey: keys.version(name, n),
      queryFn: () => registry.getVersion(versionRef(name, n)),
    })),
  });
  const base = list[0];
  const diffs = useQuery({
    queryKey: [...keys.versions(name), 'diff', list],
    queryFn: () =>
      Promise.all(
        list
          .slice(1)
          .map((n) => registry.diffVersions(versionRef(name, base!), versionRef(name, n))),
      ),
    enabled: list.length >= 2,
  });
  // Separately: a tensor-level diff reads weights headers, slower than the manifests.
  const tensorDiffs = useQuery({
    queryKey: [...keys.versions(name), 'tensor-diff', list],
    queryFn: () =>
      Promise.all(
        list
          .slice(1)
          .map((n) =>
            registry.diffVersions(versionRef(name, base!), versionRef(name, n), { tensors: true }),
          ),
      ),
    enabled: list.length >= 2,
    staleTime: Number.POSITIVE_INFINITY, // versions' files never change
  });

  const heading = (
    <>
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link href="/">Models</Link> / <Link href={links.model(name)}>{name}</Link> /{' '}
        <span aria-current="page">compare</span>
      </nav>
      <h1 tabIndex={-1}>
        Compare {name} {list.map((n) => `v${n}`).join(', ')}
      </h1>
    </>
  );
  if (typeof parsed === 'string')
    return (
      <main className="page">
        {heading}
        <ErrorBox error={new Error(parsed)} title="Nothing to compare" />
        <p>
          Choose versions with the checkboxes on the{' '}
          <Link href={links.model(name)}>model page</Link>.
        </p>
      </main>
    );
  const failed = versions.find((q) => q.isError);
  if (failed)
    return (
      <main className="page">
        {heading}
        <ErrorBox error={failed.error} title="Could not load a version" />
      </main>
    );
  if (versions.some((q) => q.isPending))
    return (
      <main className="page">
        {heading}
        <Loading what="versions" />
      </main>
    );
  const vs = versions.map((q) => q.data!);
  const series = vs.map((v) => `v${v.version}`);
  const metricRows = sideBySide(
    vs.map((v) => v.metrics),
    onlyDiff,
  );
  const paramRows = sideBySide(
    vs.map((v) => v.params),
    onlyDiff,
  );
  const allMetricRows = sideBySide(vs.map((v) => v.metrics));

  return (
    <main className="page">
      {heading}
      <table className="data compare-head">
        <thead>
          <tr>
            <th scope="col" />
            {vs.map((v) => (
              <th key={v.version} scope="col">
                <Link href={links.version(name, v.version)}>v{v.version}</Link>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          <tr>
            <th scope="row">Digest</th>
            {vs.map((v) => (
              <td key={v.version}>
                <code title={v.digest}>{shortDigest(v.digest)}</code>
              </td>
            ))}
          </tr>
          <tr>
            <th scope="row">Size</th>
            {vs.map((v) => (
              <td key={v.version}>{formatBytes(v.size)}</td>
            ))}
          </tr>
          <tr>
            <th scope="row">Aliases</th>
            {vs.map((v) => (
              <td key={v.version}>{v.aliases.map((a) => `@${a}`).join(' ') || '—'}</td>
            ))}
          </tr>
          <tr>
            <th scope="row">Stage / approval</th>
            {vs.map((v) => (
              <td key={v.version}>
                {v.stage} / {v.approval.state}
              </td>
            ))}
          </tr>
        </tbody>
      </table>

      <section aria-labelledby="metric-chart-heading">
        <h2 id="metric-chart-heading">Metrics</h2>
        <BarChart
          series={series}
          groups={allMetricRows.map((r) => ({
            key: r.key,
            values: r.values.map((x) => x ?? null),
          }))}
        />
      </section>

      <label className="check switch">
        <input
          type="checkbox"
          checked={onlyDiff}
          onChange={(e) =>
            navigate(
              `${links.compare(name, list).split('?')[0]}${withQuery(search, { diff: e.target.checked ? '1' : null })}`,
              { replace: true },
            )
          }
        />{' '}
        Only differences
      </label>

      <div className="two-col">
        <section aria-labelledby="metrics-side-heading">
          <h2 id="metrics-side-heading">Metrics side by side</h2>
          <SideTable
            rows={metricRows}
            series={series}
            format={(x) => formatMetric(x as number | undefined)}
            baseDelta
          />
        </section>
        <section aria-labelledby="params-side-heading">
          <h2 id="params-side-heading">Params side by side</h2>
          <SideTable
            rows={paramRows}
            series={series}
            format={(x) => (x === undefined ? '—' : String(x))}
          />
        </section>
      </div>

      <section aria-labelledby="files-changed-heading">
        <h2 id="files-changed-heading">Files changed (against v{base})</h2>
        {diffs.isPending ? (
          <Loading what="file changes" />
        ) : diffs.isError ? (
          <ErrorBox error={diffs.error} />
        ) : (
          diffs.data.map((d) => (
            <div key={d.b.version} className="file-diff">
              <h3>
                v{d.a.version} → v{d.b.version}
              </h3>
              {d.sameContent ? (
                <p className="muted">Same files, byte for byte.</p>
              ) : d.files === null ? (
                <p className="muted">File lists are not available.</p>
              ) : (
                <table className="data">
                  <tbody>
                    {d.files.added.map((f) => (
                      <tr key={`a${f.path}`} className="added">
                        <td>added</td>
                        <td>{f.path}</td>
                        <td className="num">{formatBytes(f.size)}</td>
                      </tr>
                    ))}
                    {d.files.removed.map((f) => (
                      <tr key={`r${f.path}`} className="removed">
                        <td>removed</td>
                        <td>{f.path}</td>
                        <td className="num">{formatBytes(f.size)}</td>
                      </tr>
                    ))}
                    {d.files.changed.map((f) => (
                      <tr key={`c${f.path}`} className="changed">
                        <td>changed</td>
                        <td>{f.path}</td>
                        <td className="num">
                          {formatBytes(f.a.size)} → {formatBytes(f.b.size)}
                        </td>
                      </tr>
                    ))}
                    <tr>
                      <td colSpan={3} className="muted">
                        {d.files.unchanged} unchanged
                      </td>
                    </tr>
                  </tbody>
                </table>
              )}
            </div>
          ))
        )}
      </section>

      <section aria-labelledby="tensors-changed-heading">
        <h2 id="tensors-changed-heading">Tensors changed (against v{base})</h2>
        {tensorDiffs.isPending ? (
          <Loading what="tensor changes" />
        ) : tensorDiffs.isError ? (
          <ErrorBox error={tensorDiffs.error} />
        ) : (
          tensorDiffs.data.map((d) => (
            <TensorChanges
              key={d.b.version}
              a={d.a.version}
              b={d.b.version}
              diff={d.tensors ?? null}
            />
          ))
        )}
      </section>
    </main>
  );
}

/** The most tensor rows listed per pair; the counts above cover the rest. */
const MAX_TENSOR_ROWS = 500;

function TensorChanges({ a, b, diff }: { a: number; b: number; diff: TensorDiff | null }) {
  const heading = (
    <h3>
      v{a} → v{b}
    </h3>
  );
  if (diff === null || diff.tensors.length === 0)
    return (
      <div className="tensor-diff" data-pair={`${a}-${b}`}>
        {heading}
        <p className="muted">
          No tensors to compare (no safetensors, GGUF, ONNX or PyTorch weights).
        </p>
      </div>
    );
  const changes = diff.tensors.filter((t) => t.status !== 'unchanged');
  const { added, removed, changed, unchanged } = diff.counts;
  return (
    <div className="tensor-diff" data-pair={`${a}-${b}`}>
      {heading}
      <p className="tensor-counts">
        {changed} changed, {added} added, {removed} removed, {unchanged} unchanged · parameters{' '}
        {formatCount(diff.parameterCount.a)} → {formatCount(diff.parameterCount.b)}
      </p>
      {changes.length > 0 && (
        <table className="data">
          <thead>
            <tr>
              <th scope="col">Change</th>
              <th scope="col">Tensor</th>
              <th scope="col">v{a}</th>
              <th scope="col">v{b}</th>
            </tr>
          </thead>
          <tbody>
            {changes.slice(0, MAX_TENSOR_ROWS).map((t) => (
              <tr key={t.name} className={t.status} data-tensor={t.name}>
                <td>
                  {t.status}
                  {t.dtypeChanged && ' (dtype)'}
                  {t.shapeChanged && ' (shape)'}
                </td>
                <td>
                  <code>{t.name}</code>
                </td>
                <td>{t.a ? `${t.a.dtype} ${formatShape(t.a.shape)}` : '—'}</td>
                <td>{t.b ? `${t.b.dtype} ${formatShape(t.b.shape)}` : '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {changes.length > MAX_TENSOR_ROWS && (
        <p className="muted">and {changes.length - MAX_TENSOR_ROWS} more changes.</p>
      )}
      {diff.skipped.length > 0 && (
        <ul className="muted" aria-label="files not compared">
          {diff.skipped.map((x) => (
            <li key={`${x.path}:${x.reason}`}>
              {x.path}: {x.reason}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function SideTable<T>({
  rows,
  series,
  format,
  baseDelta,
}: {
  rows: readonly { key: string; values: readonly (T | undefined)[]; differs: boolean }[];
  series: readonly string[];
  format: (v: T | undefined) => string;
  baseDelta?: boolean;
}) {
  if (rows.length === 0) return <Empty>Nothing to show.</Empty>;
  return (
    <table className="data side">
      <thead>
        <tr>
          <th scope="col">Key</th>
          {series.map((s) => (
            <th key={s} scope="col">
              {s}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.key} className={r.differs ? 'differs' : undefined} data-key={r.key}>
            <th scope="row">{r.key}</th>
            {r.values.map((v, i) => {
              const base = r.values[0];
              const delta =
                baseDelta && i > 0 && typeof v === 'number' && typeof base === 'number'
                  ? formatDelta(v - base)
                  : '';
              return (
                <td key={series[i]} className={baseDelta ? 'num' : undefined}>
                  {format(v)}
                  {delta && <span className="delta"> ({delta})</span>}
                </td>
              );
            })}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/**
 * One MLflow run: overview, a metric picker (filter box over every metric key) and a
 * history chart per chosen metric (metrics/get-history, fetched for the chosen only), params,
 * tags, dataset inputs, an artifacts browser (folders to open, files to download through
 * the artifact proxy) and "Register as model version": registered-models/create when the
 * model does not exist yet, then model-versions/create with `source: runs:/<id>/<path>`,
 * which freezes those artifacts into a new, immutable version (audited like any other).
 * The URL holds the run, the charted metrics (`?charts=a,b`; absent: the first few) and
 * the artifacts folder shown (`?path=`).
 */
import { useQuery } from '@tanstack/react-query';
import { type KeyboardEvent, useRef, useState } from 'react';
import { Link, useLocation, useSearch } from 'wouter';
import { validateModelName } from '../../../src/core/names.js';
import { mlflow, mlflowKeys, type Run } from '../api/mlflow';
import { errorText, invalidateModel } from '../api/registry';
import { LineChart } from '../components/charts';
import { ConfirmDialog } from '../components/confirm-dialog';
import { DownloadLink } from '../components/download-link';
import { Empty, ErrorBox, Loading } from '../components/status';
import { formatBytes, formatMetric, formatTime } from '../lib/format';
import { links, withQuery } from '../lib/links';
import {
  chartsParam,
  chosenMetrics,
  DEFAULT_CHARTS,
  matchMetricKeys,
  toggleMetric,
} from '../lib/metric-choice';
import {
  artifactDownloadUrl,
  baseName,
  keyValueMap,
  metricNumber,
  parentPath,
  runMetrics,
  runSource,
} from '../lib/runs';
import { TagsLine } from './experiment-page';

function modelNameProblem(name: string): string | null {
  try {
    validateModelName(name);
    return null;
  } catch (e) {
    return errorText(e);
  }
}

function RegisterDialog({
  run,
  path,
  onClose,
  onRegistered,
}: {
  run: Run;
  path: string;
  onClose: () => void;
  onRegistered: (r: { model: string; version: number }) => void;
}) {
  const [model, setModel] = useState('');
  const [artifactPath, setArtifactPath] = useState(path);
  const [description, setDescription] = useState('');
  const problem = model === '' ? null : modelNameProblem(model);
  const source = runSource(run.info.run_id, artifactPath);
  return (
    <ConfirmDialog
      title="Register as model version"
      confirmLabel="Register"
      canConfirm={model !== '' && problem === null}
      onClose={onClose}
      onConfirm={async () => {
        if ((await mlflow.getRegisteredModel(model)) === null) {
          await mlflow.createRegisteredModel(model);
        }
        const mv = await mlflow.createModelVersion({
          name: model,
          source,
          runId: run.info.run_id,
          ...(description.trim() ? { description: description.trim() } : {}),
        });
        await invalidateModel(model);
        onRegistered({ model, version: Number(mv.version) });
      }}
    >
      <label>
        Model name
        <input value={model} onChange={(e) => setModel(e.target.value.trim())} required />
      </label>
      <label>
        Artifact path
        <input
          value={artifactPath}
          onChange={(e) => setArtifactPath(e.target.value.trim())}
          placeholder="(the run's whole artifact root)"
        />
      </label>
      <label>
        Description
        <input value={description} onChange={(e) => setDescription(e.target.value)} />
      </label>
      {problem && <p className="field-error">{problem}</p>}
      <p className="confirm-text">
        Freeze <code>{source}</code> into a new version
        {model && problem === null && (
          <>
            {' '}
            of <strong>{model}</strong> (created if missing)
          </>
        )}
        , with this run's params and metrics.
      </p>
    </ConfirmDialog>
  );
}

function Artifacts({
  run,
  path,
  onOpen,
  onRegister,
}: {
  run: Run;
  path: string;
  onOpen: (path: string) => void;
  onRegister: (path: string) => void;
}) {
  const list = useQuery({
    queryKey: [...mlflowKeys.run(run.info.run_id), 'artifacts', path],
    queryFn: () => mlflow.listArtifacts(run.info.run_id, path),
  });
  const segments = path === '' ? [] : path.split('/');
  return (
    <>
      <nav className="crumbs" aria-label="Artifact folder">
        <button type="button" className="link" onClick={() => onOpen('')}>
          artifacts
        </button>
        {segments.map((s, i) => (
          <span key={segments.slice(0, i + 1).join('/')}>
            {' / '}
            {i === segments.length - 1 ? (
              <span aria-current="location">{s}</span>
            ) : (
              <button
                type="button"
                className="link"
                onClick={() => onOpen(segments.slice(0, i + 1).join('/'))}
              >
                {s}
              </button>
            )}
          </span>
        ))}
      </nav>
      {list.isPending ? (
        <Loading what="artifacts" />
      ) : list.isError ? (
        <ErrorBox error={list.error} title="Could not list the artifacts" />
      ) : list.data.length === 0 ? (
        <Empty>{path ? 'This folder is empty.' : 'This run has no artifacts.'}</Empty>
      ) : (
        <table className="data artifact-list">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col" className="num">
                Size
              </th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {path !== '' && (
              <tr>
                <td colSpan={3}>
                  <button type="button" className="link" onClick={() => onOpen(parentPath(path))}>
                    ../
                  </button>
                </td>
              </tr>
            )}
            {[...list.data]
              .sort((a, b) =>
                a.is_dir !== b.is_dir ? (a.is_dir ? -1 : 1) : a.path < b.path ? -1 : 1,
              )
              .map((f) => {
                const name = baseName(f.path);
                const url = f.is_dir ? null : artifactDownloadUrl(run.info.artifact_uri, f.path);
                return (
                  <tr key={f.path} data-artifact={f.path}>
                    <td>
                      {f.is_dir ? (
                        <button type="button" className="link" onClick={() => onOpen(f.path)}>
                          {name}/
                        </button>
                      ) : (
                        name
                      )}
                    </td>
                    <td className="num">
                      {f.file_size === undefined ? '' : formatBytes(f.file_size)}
                    </td>
                    <td>
                      {f.is_dir ? (
                        <button
                          type="button"
                          className="small"
                          onClick={() => onRegister(f.path)}
                          aria-label={`register ${f.path} as a model version`}
                        >
                          Register…
                        </button>
                      ) : url ? (
                        <DownloadLink path={url} name={name} label={`download ${f.path}`}>
                          download
                        </DownloadLink>
                      ) : (
                        <span className="muted">not in the proxy</span>
                      )}
                    </td>
                  </tr>
                );
              })}
          </tbody>
        </table>
      )}
    </>
  );
}

/**
 * The metric picker: a filter box over every metric key of the run (with the count that
 * match and the count charted) and a checkbox per matching key with its latest value.
 * Keyboard: type to filter, Enter charts the first match, ↓ moves into the list, ↑/↓ move
 * between keys, Space toggles one.
 */
function MetricPicker({
  keys,
  latest,
  chosen,
  onChange,
}: {
  keys: readonly string[];
  latest: Readonly<Record<string, number>>;
  chosen: readonly string[];
  onChange: (next: readonly string[] | null) => void;
}) {
  const [text, setText] = useState('');
  const listRef = useRef<HTMLFieldSetElement>(null);
  const matches = matchMetricKeys(keys, text);
  const chosenSet = new Set(chosen);
  const boxes = () => [...(listRef.current?.querySelectorAll('input[type="checkbox"]') ?? [])];
  const moveFocus = (ev: KeyboardEvent, from: Element | null) => {
    if (ev.key !== 'ArrowDown' && ev.key !== 'ArrowUp') return;
    const all = boxes() as HTMLInputElement[];
    const at = from ? all.indexOf(from as HTMLInputElement) : -1;
    const next = ev.key === 'ArrowDown' ? at + 1 : at - 1;
    if (next >= 0 && next < all.length) {
      ev.preventDefault();
      all[next]!.focus();
    }
  };
  return (
    <div className="metric-picker">
      <label htmlFor="metric-find">Find metric</label>
      <input
        id="metric-find"
        type="search"
        value={text}
        placeholder="name contains…"
        autoComplete="off"
        aria-controls="metric-options"
        aria-describedby="metric-count"
        onChange={(ev) => setText(ev.target.value)}
        onKeyDown={(ev) => {
          if (ev.key === 'Enter') {
            ev.preventDefault();
            const first = matches[0];
            if (first !== undefined && !chosenSet.has(first))
              onChange(toggleMetric(chosen, first, true));
          } else moveFocus(ev, null);
        }}
      />
      <p id="metric-count" className="muted small" role="status">
        {text.trim() === '' ? keys.length : `${matches.length} of ${keys.length}`} metric
        {keys.length === 1 ? '' : 's'} · {chosen.length} charted
      </p>
      <div className="toolbar">
        <button type="button" className="small" onClick={() => onChange([])}>
          Clear charts
        </button>
        <button type="button" className="small" onClick={() => onChange(null)}>
          First {DEFAULT_CHARTS}
        </button>
      </div>
      {matches.length === 0 ? (
        <p className="muted">No metric matches “{text.trim()}”.</p>
      ) : (
        <fieldset
          id="metric-options"
          ref={listRef}
          className="metric-options"
          onKeyDown={(ev) => moveFocus(ev, ev.target as Element)}
        >
          <legend className="visually-hidden">Metrics to chart</legend>
          {matches.map((k) => (
            <label key={k} className="check" data-metric-option={k}>
              <input
                type="checkbox"
                checked={chosenSet.has(k)}
                onChange={(ev) => onChange(toggleMetric(chosen, k, ev.target.checked))}
              />
              <span className="key">{k}</span>
              <span className="muted num">{formatMetric(latest[k])}</span>
            </label>
          ))}
        </fieldset>
      )}
    </div>
  );
}

/** One chosen metric's whole history as a line chart by step. */
function MetricChart({ runId, metric }: { runId: string; metric: string }) {
  const h = useQuery({
    queryKey: [...mlflowKeys.run(runId), 'history', metric],
    queryFn: () => mlflow.metricHistory(runId, metric),
  });
  return (
    <figure className="metric-history" data-metric={metric}>
      <figcaption>
        <strong>{metric}</strong>
        {h.data && (
          <span className="muted">
            {' '}
            · {h.data.length} point{h.data.length === 1 ? '' : 's'}
          </span>
        )}
      </figcaption>
      {h.isPending ? (
        <Loading what={`history of ${metric}`} />
      ) : h.isError ? (
        <ErrorBox error={h.error} title={`Could not load the history of ${metric}`} />
      ) : h.data.length === 0 ? (
        <Empty>No points logged for {metric}.</Empty>
      ) : (
        <LineChart
          title={`${metric} by step`}
          noun="steps"
          xLabel={(x) => String(x)}
          points={h.data
            .map((m) => ({ x: m.step, y: metricNumber(m.value), label: `step ${m.step}` }))
            .filter((p) => Number.isFinite(p.y))}
        />
      )}
    </figure>
  );
}

/**
 * The metric picker beside a chart per chosen metric. Only the chosen metrics' histories
 * are fetched (one metrics/get-history query each, paged), so a run with hundreds of
 * metrics costs what is on screen.
 */
function MetricCharts({
  run,
  chartsParamValue,
  onChoose,
}: {
  run: Run;
  chartsParamValue: string | null;
  onChoose: (value: string | null) => void;
}) {
  const latest = runMetrics(run);
  const keys = Object.keys(latest).sort();
  if (keys.length === 0) return <p className="muted">No metrics logged.</p>;
  const { chosen, missing } = chosenMetrics(chartsParamValue, keys);
  return (
    <div className="metric-browser">
      <MetricPicker
        keys={keys}
        latest={latest}
        chosen={chosen}
        onChange={(next) => onChoose(next === null ? null : chartsParam(next))}
      />
      <div>
        {missing.length > 0 && (
          <p className="muted small">
            Not logged in this run: {missing.map((k) => `“${k}”`).join(', ')}.
          </p>
        )}
        {chosen.length === 0 ? (
          <Empty>No metric chosen: pick metrics in the list to chart their history.</Empty>
        ) : (
          <div className="metric-charts">
            {chosen.map((k) => (
              <MetricChart key={k} runId={run.info.run_id} metric={k} />
            ))}
          </div>
        )}
      </div>
    </div>
  );
}

function KeyValueTable({
  entries,
  empty,
  label,
}: {
  entries: readonly [string, string][];
  empty: string;
  label: string;
}) {
  if (entries.length === 0) return <p className="muted">{empty}</p>;
  return (
    <table className="data kv" aria-label={label}>
      <tbody>
        {entries.map(([k, v]) => (
          <tr key={k}>
            <th scope="row">{k}</th>
            <td className="clip" title={v}>
              {v}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function RunPage({ runId }: { runId: string }) {
  const search = useSearch();
  const [, navigate] = useLocation();
  const query = new URLSearchParams(search);
  const path = query.get('path') ?? '';
  const [registerPath, setRegisterPath] = useState<string | null>(null);
  const [registered, setRegistered] = useState<{ model: string; version: number } | null>(null);
  const run = useQuery({ queryKey: mlflowKeys.run(runId), queryFn: () => mlflow.getRun(runId) });
  const experiment = useQuery({
    queryKey: mlflowKeys.experiment(run.data?.info.experiment_id ?? ''),
    queryFn: () => mlflow.getExperiment(run.data!.info.experiment_id),
    enabled: run.isSuccess,
  });

  if (run.isPending)
    return (
      <main className="page">
        <Loading what={`run ${runId}`} />
      </main>
    );
  if (run.isError)
    return (
      <main className="page">
        <h1 tabIndex={-1}>Run {runId}</h1>
        <ErrorBox error={run.error} title="Could not load this run" />
        <p>
          <Link href={links.experiments}>Back to experiments</Link>
        </p>
      </main>
    );
  const r = run.data;
  const info = r.info;
  const metrics = [...(r.data.metrics ?? [])].sort((a, b) => (a.key < b.key ? -1 : 1));
  const params = Object.entries(keyValueMap(r.data.params)).sort(([a], [b]) => (a < b ? -1 : 1));
  const tags = Object.entries(keyValueMap(r.data.tags)).sort(([a], [b]) => (a < b ? -1 : 1));
  const datasets = r.inputs?.dataset_inputs ?? [];
  const expName = experiment.data?.name ?? `experiment ${info.experiment_id}`;
  return (
    <main className="page">
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link href={links.experiments}>Experiments</Link> /{' '}
        <Link href={links.experiment(info.experiment_id)}>{expName}</Link> /{' '}
        <span aria-current="page">{info.run_name || info.run_id}</span>
      </nav>
      <h1 tabIndex={-1}>
        {info.run_name || info.run_id}{' '}
        <span className={`badge run-${info.status.toLowerCase()}`}>
          {info.status.toLowerCase()}
        </span>
      </h1>
      <TagsLine tags={r.data.tags} />
      <dl className="facts">
        <dt>Run id</dt>
        <dd>
          <code>{info.run_id}</code>
        </dd>
        <dt>Started</dt>
        <dd>
          {formatTime(info.start_time)} by {info.user_id || 'unknown'}
        </dd>
        <dt>Ended</dt>
        <dd>{formatTime(info.end_time)}</dd>
        <dt>Artifacts</dt>
        <dd>
          <code>{info.artifact_uri}</code>
        </dd>
      </dl>
      <div className="actions-bar" role="toolbar" aria-label="Run actions">
        <button type="button" onClick={() => setRegisterPath(path)}>
          Register as model version…
        </button>
      </div>
      {registered && (
        <p className="state ok" role="status">
          Registered as{' '}
          <Link href={links.version(registered.model, registered.version)}>
            {registered.model} v{registered.version}
          </Link>
          .
        </p>
      )}

      <section aria-labelledby="charts-heading">
        <h2 id="charts-heading">Metric history</h2>
        <MetricCharts
          run={r}
          chartsParamValue={query.get('charts')}
          onChoose={(value) =>
            navigate(`${links.run(runId)}${withQuery(search, { charts: value })}`, {
              replace: true,
            })
          }
        />
      </section>

      <div className="two-col">
        <section aria-labelledby="run-metrics-heading">
          <h2 id="run-metrics-heading">Metrics</h2>
          {/* Hundreds of metrics scroll in their own box rather than lengthen the page. */}
          <section
            className="kv-scroll"
            // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard
            tabIndex={0}
            aria-label="latest metrics, scrolling"
          >
            <KeyValueTable
              label="latest metrics"
              entries={metrics.map((m) => [m.key, formatMetric(metricNumber(m.value))])}
              empty="No metrics."
            />
          </section>
        </section>
        <section aria-labelledby="run-params-heading">
          <h2 id="run-params-heading">Params</h2>
          <KeyValueTable label="params" entries={params} empty="No params." />
        </section>
      </div>

      <section aria-labelledby="artifacts-heading">
        <h2 id="artifacts-heading">Artifacts</h2>
        <Artifacts
          run={r}
          path={path}
          onOpen={(p) =>
            navigate(`${links.run(runId)}${withQuery(search, { path: p })}`, { replace: true })
          }
          onRegister={(p) => setRegisterPath(p)}
        />
      </section>

      <div className="two-col">
        <section aria-labelledby="run-tags-heading">
          <h2 id="run-tags-heading">Tags</h2>
          <KeyValueTable label="tags" entries={tags} empty="No tags." />
        </section>
        <section aria-labelledby="datasets-heading">
          <h2 id="datasets-heading">Datasets</h2>
          {datasets.length === 0 ? (
            <p className="muted">No dataset inputs.</p>
          ) : (
            <ul>
              {datasets.map((d) => (
                <li key={`${d.dataset.name}:${d.dataset.digest}`}>
                  <strong>{d.dataset.name}</strong> <code>{d.dataset.source}</code>{' '}
                  <code className="muted">{d.dataset.digest}</code>
                </li>
              ))}
            </ul>
          )}
        </section>
      </div>

      {registerPath !== null && (
        <RegisterDialog
          run={r}
          path={registerPath}
          onClose={() => setRegisterPath(null)}
          onRegistered={setRegistered}
        />
      )}
    </main>
  );
}

/**
 * One MLflow run: overview, a history chart per metric (metrics/get-history), params,
 * tags, dataset inputs, an artifacts browser (folders to open, files to download through
 * the artifact proxy) and "Register as model version": registered-models/create when the
 * model does not exist yet, then model-versions/create with `source: runs:/<id>/<path>`,
 * which freezes those artifacts into a new, immutable version (audited like any other).
 * The URL holds the run and the artifacts folder shown (`?path=`).
 */
import { useQueries, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
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
  artifactDownloadUrl,
  baseName,
  keyValueMap,
  metricNumber,
  parentPath,
  runSource,
} from '../lib/runs';
import { TagsLine } from './experiment-page';

/** Charts drawn at once; the rest of the metrics are in the table. */
const MAX_CHARTS = 12;

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

function MetricCharts({ run }: { run: Run }) {
  const keys = [...new Set((run.data.metrics ?? []).map((m) => m.key))].sort();
  const shown = keys.slice(0, MAX_CHARTS);
  const histories = useQueries({
    queries: shown.map((k) => ({
      queryKey: [...mlflowKeys.run(run.info.run_id), 'history', k],
      queryFn: () => mlflow.metricHistory(run.info.run_id, k),
    })),
  });
  if (keys.length === 0) return <p className="muted">No metrics logged.</p>;
  return (
    <div className="metric-charts">
      {shown.map((k, i) => {
        const h = histories[i]!;
        return (
          <figure key={k} className="metric-history" data-metric={k}>
            <figcaption>
              <strong>{k}</strong>
              {h.data && (
                <span className="muted">
                  {' '}
                  · {h.data.length} point{h.data.length === 1 ? '' : 's'}
                </span>
              )}
            </figcaption>
            {h.isPending ? (
              <Loading what={`history of ${k}`} />
            ) : h.isError ? (
              <ErrorBox error={h.error} />
            ) : (
              <LineChart
                title={`${k} by step`}
                noun="steps"
                xLabel={(x) => String(x)}
                points={h.data
                  .map((m) => ({ x: m.step, y: metricNumber(m.value), label: `step ${m.step}` }))
                  .filter((p) => Number.isFinite(p.y))}
              />
            )}
          </figure>
        );
      })}
      {keys.length > MAX_CHARTS && (
        <p className="muted">{keys.length - MAX_CHARTS} more metrics are in the table.</p>
      )}
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
  const path = new URLSearchParams(search).get('path') ?? '';
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
        <MetricCharts run={r} />
      </section>

      <div className="two-col">
        <section aria-labelledby="run-metrics-heading">
          <h2 id="run-metrics-heading">Metrics</h2>
          <KeyValueTable
            label="latest metrics"
            entries={metrics.map((m) => [m.key, formatMetric(metricNumber(m.value))])}
            empty="No metrics."
          />
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

/**
 * MLflow experiments: a searchable list (words match names; an expression such as
 * `tags.team = 'risk'` is MLflow's experiment filter, sent as it is).
 */
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useLocation, useSearch } from 'wouter';
import { mlflow, mlflowKeys } from '../api/mlflow';
import { Empty, ErrorBox, Loading } from '../components/status';
import { modelSearchFilter } from '../lib/filter';
import { formatTime } from '../lib/format';
import { links, withQuery } from '../lib/links';

export function ExperimentsPage() {
  const search = useSearch();
  const [, navigate] = useLocation();
  const q = new URLSearchParams(search).get('q') ?? '';
  const [text, setText] = useState(q);
  // The models page's rule: words match names (ILIKE), an expression is sent as it is.
  const filter = modelSearchFilter(q);
  const experiments = useQuery({
    queryKey: [...mlflowKeys.experiments, filter ?? ''],
    queryFn: () => mlflow.searchExperiments(filter),
  });
  return (
    <main className="page">
      <h1 tabIndex={-1}>Experiments</h1>
      <form
        className="search"
        onSubmit={(e) => {
          e.preventDefault();
          navigate(`${links.experiments}${withQuery(search, { q: text.trim() })}`, {
            replace: true,
          });
        }}
      >
        <label htmlFor="experiment-search">Search experiments</label>
        <input
          id="experiment-search"
          type="search"
          value={text}
          placeholder="name, or tags.team = 'risk'"
          onChange={(e) => setText(e.target.value)}
        />
        <button type="submit">Search</button>
      </form>
      {experiments.isPending ? (
        <Loading what="experiments" />
      ) : experiments.isError ? (
        <ErrorBox error={experiments.error} title="Could not list the experiments" />
      ) : experiments.data.length === 0 ? (
        <Empty>
          {q
            ? 'No experiment matches.'
            : 'No experiments yet: log runs with MLflow (MLFLOW_TRACKING_URI pointing here).'}
        </Empty>
      ) : (
        <table className="data experiments-table">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Id</th>
              <th scope="col">Created</th>
              <th scope="col">Updated</th>
              <th scope="col">Artifacts</th>
            </tr>
          </thead>
          <tbody>
            {experiments.data.map((e) => (
              <tr key={e.experiment_id} data-experiment={e.experiment_id}>
                <td>
                  <Link href={links.experiment(e.experiment_id)}>{e.name}</Link>
                </td>
                <td className="num">{e.experiment_id}</td>
                <td>{formatTime(e.creation_time)}</td>
                <td>{formatTime(e.last_update_time)}</td>
                <td className="clip">
                  <code>{e.artifact_location ?? '—'}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </main>
  );
}

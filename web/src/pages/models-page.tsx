/** Models: a searchable list (plain words match names; a filter expression is used as is). */
import { useInfiniteQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useLocation, useSearch } from 'wouter';
import { keys, registry } from '../api/registry';
import { AliasBadges } from '../components/badges';
import { Empty, ErrorBox, Loading } from '../components/status';
import { modelSearchFilter } from '../lib/filter';
import { relativeTime } from '../lib/format';
import { links, withQuery } from '../lib/links';

export function ModelsPage() {
  const search = useSearch();
  const [, navigate] = useLocation();
  const q = new URLSearchParams(search).get('q') ?? '';
  const [text, setText] = useState(q);
  const filter = modelSearchFilter(q);

  const models = useInfiniteQuery({
    queryKey: [...keys.models, q],
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) =>
      registry.searchModels({
        ...(filter ? { filter } : {}),
        orderBy: ['updated_at DESC', 'name ASC'],
        maxResults: 100,
        ...(pageParam ? { pageToken: pageParam } : {}),
      }),
    getNextPageParam: (last) => last.nextPageToken,
  });
  const items = models.data?.pages.flatMap((p) => p.items) ?? [];

  return (
    <main className="page">
      <h1 tabIndex={-1}>Models</h1>
      <form
        className="search"
        onSubmit={(e) => {
          e.preventDefault();
          navigate(`/${withQuery(search, { q: text.trim() })}`, { replace: true });
        }}
      >
        <label htmlFor="model-search">Search models</label>
        <input
          id="model-search"
          type="search"
          value={text}
          placeholder="fraud, or tags.team = 'risk'"
          onChange={(e) => setText(e.target.value)}
        />
        <button type="submit">Search</button>
      </form>
      <p className="hint">
        Words match model names; a filter such as{' '}
        <code>tags.team = 'risk' AND name LIKE 'fraud%'</code> is used as written.
      </p>
      {models.isPending ? (
        <Loading what="models" />
      ) : models.isError ? (
        <ErrorBox error={models.error} title="Could not load models" />
      ) : items.length === 0 ? (
        <Empty>
          {q ? (
            <>
              No model matches <code>{q}</code>.
            </>
          ) : (
            <>
              No models yet. Push one with <code>mvault push NAME ./dir</code>.
            </>
          )}
        </Empty>
      ) : (
        <>
          <table className="data models-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Latest</th>
                <th scope="col">Aliases</th>
                <th scope="col">Owner</th>
                <th scope="col">Updated</th>
                <th scope="col">Description</th>
              </tr>
            </thead>
            <tbody>
              {items.map((m) => (
                <tr key={m.name}>
                  <td>
                    <Link href={links.model(m.name)}>{m.name}</Link>
                  </td>
                  <td>
                    {m.latestVersion === null ? (
                      '—'
                    ) : (
                      <Link href={links.version(m.name, m.latestVersion)}>v{m.latestVersion}</Link>
                    )}
                  </td>
                  <td>
                    {Object.entries(m.aliases).map(([a, v]) => (
                      <Link key={a} href={links.version(m.name, v)} className="plain">
                        <AliasBadges aliases={[a]} />
                        <span className="muted">v{v}</span>{' '}
                      </Link>
                    ))}
                  </td>
                  <td>{m.owner ?? '—'}</td>
                  <td title={new Date(m.updatedAt).toISOString()}>{relativeTime(m.updatedAt)}</td>
                  <td className="clip">{m.description ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {models.hasNextPage && (
            <button
              type="button"
              onClick={() => void models.fetchNextPage()}
              disabled={models.isFetchingNextPage}
            >
              {models.isFetchingNextPage ? 'Loading…' : 'Load more'}
            </button>
          )}
        </>
      )}
    </main>
  );
}

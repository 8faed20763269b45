/**
 * The audit trail: events newest first, filtered by model, actor and actions (all in the
 * URL), and a verify button that recomputes the hash chain on the server and shows either
 * "intact" or the first broken link.
 */
import { useInfiniteQuery, useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { useLocation, useSearch } from 'wouter';
import { keys, registry } from '../api/registry';
import { AuditTable } from '../components/audit-list';
import { Empty, ErrorBox, Loading } from '../components/status';
import { listParam } from '../lib/filter';
import { shortDigest } from '../lib/format';
import { withQuery } from '../lib/links';

export function AuditPage() {
  const search = useSearch();
  const [, navigate] = useLocation();
  const params = new URLSearchParams(search);
  const model = params.get('model') ?? '';
  const actor = params.get('actor') ?? '';
  const actions = params.get('actions') ?? '';
  const [form, setForm] = useState({ model, actor, actions });

  const events = useInfiniteQuery({
    queryKey: [...keys.audit, 'log', model, actor, actions],
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) =>
      registry.auditLog({
        ...(model ? { model } : {}),
        ...(actor ? { actor } : {}),
        ...(actions ? { actions: listParam(actions) } : {}),
        maxResults: 200,
        ...(pageParam ? { pageToken: pageParam } : {}),
      }),
    getNextPageParam: (last) => last.nextPageToken,
  });
  const verify = useMutation({ mutationFn: () => registry.auditVerify() });
  const items = events.data?.pages.flatMap((p) => p.items) ?? [];

  return (
    <main className="page">
      <h1 tabIndex={-1}>Audit trail</h1>
      <section className="verify" aria-labelledby="verify-heading">
        <h2 id="verify-heading" className="small-heading">
          Integrity
        </h2>
        <button type="button" onClick={() => verify.mutate()} disabled={verify.isPending}>
          {verify.isPending ? 'Verifying…' : 'Verify the trail'}
        </button>
        <div aria-live="polite" className="verify-result">
          {verify.isError && <ErrorBox error={verify.error} title="Verification could not run" />}
          {verify.data &&
            (verify.data.ok ? (
              <p className="state ok" data-result="intact">
                <strong>Intact.</strong> {verify.data.checked} events checked; head{' '}
                <code title={verify.data.headHash ?? ''}>
                  {verify.data.headHash ? shortDigest(verify.data.headHash) : '—'}
                </code>
                {verify.data.lastSeq !== null && ` at #${verify.data.lastSeq}`}.
              </p>
            ) : (
              <div className="state error" role="alert" data-result="broken">
                <strong>Broken.</strong> {verify.data.checked} events checked. First broken link:
                event #{verify.data.problems[0]?.seq} ({verify.data.problems[0]?.kind}):{' '}
                {verify.data.problems[0]?.message}
                {verify.data.problems.length > 1 && (
                  <p>{verify.data.problems.length - 1} more problems.</p>
                )}
              </div>
            ))}
        </div>
      </section>

      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault();
          navigate(
            `/audit${withQuery(search, { model: form.model.trim(), actor: form.actor.trim(), actions: form.actions.trim() })}`,
            {
              replace: true,
            },
          );
        }}
      >
        <label>
          Model
          <input value={form.model} onChange={(e) => setForm({ ...form, model: e.target.value })} />
        </label>
        <label>
          Actor
          <input value={form.actor} onChange={(e) => setForm({ ...form, actor: e.target.value })} />
        </label>
        <label>
          Actions
          <input
            value={form.actions}
            placeholder="alias.set,stage.transitioned"
            onChange={(e) => setForm({ ...form, actions: e.target.value })}
          />
        </label>
        <button type="submit">Filter</button>
      </form>

      {events.isPending ? (
        <Loading what="events" />
      ) : events.isError ? (
        <ErrorBox error={events.error} title="Could not load the audit trail" />
      ) : items.length === 0 ? (
        <Empty>No events{model || actor || actions ? ' match these filters' : ' yet'}.</Empty>
      ) : (
        <>
          <AuditTable events={items} />
          {events.hasNextPage && (
            <button
              type="button"
              onClick={() => void events.fetchNextPage()}
              disabled={events.isFetchingNextPage}
            >
              {events.isFetchingNextPage ? 'Loading…' : 'Load older events'}
            </button>
          )}
        </>
      )}
    </main>
  );
}

/**
 * One version: overview (with scan and signature status), actions, model card (sanitised
 * Markdown), format summary, security (pickle scan with its globals, signatures), files,
 * tensors, metrics and params, the lineage graph, and this version's audit history.
 */
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'wouter';
import { type AuditEvent, keys, registry } from '../api/registry';
import {
  DescriptionDialog,
  ReviewDialog,
  SetAliasDialog,
  StageDialog,
  TagList,
} from '../components/actions';
import { AuditTable } from '../components/audit-list';
import { AliasBadges, ApprovalBadge, StageBadge, StatusBadge } from '../components/badges';
import { FileTree } from '../components/file-tree';
import { LineageGraph } from '../components/lineage-graph';
import { Empty, ErrorBox, Loading } from '../components/status';
import {
  FormatSummary,
  ScanBadge,
  SecurityStatus,
  TensorsSection,
} from '../components/version-inspection';
import { formatBytes, formatMetric, formatTime, versionRef } from '../lib/format';
import { links } from '../lib/links';
import { renderMarkdown } from '../lib/markdown';

type Dialog = null | 'alias' | 'stage' | 'approve' | 'reject' | 'description';

/** Events about this version: its own subject, or an alias event that moved to or from it. */
function aboutVersion(e: AuditEvent, model: string, version: number): boolean {
  if (e.subject === versionRef(model, version)) return true;
  if (!e.subject.startsWith(`${model}@`)) return false;
  const d = e.data as { version?: unknown; previousVersion?: unknown } | null;
  return (
    d !== null && typeof d === 'object' && (d.version === version || d.previousVersion === version)
  );
}

function KeyValues({
  map,
  numeric,
  empty,
}: {
  map: Readonly<Record<string, number | string>>;
  numeric?: boolean;
  empty: string;
}) {
  const entries = Object.entries(map).sort(([a], [b]) => (a < b ? -1 : 1));
  if (entries.length === 0) return <p className="muted">{empty}</p>;
  return (
    <table className="data kv">
      <tbody>
        {entries.map(([k, val]) => (
          <tr key={k}>
            <th scope="row">{k}</th>
            <td className={numeric ? 'num' : undefined}>
              {numeric ? formatMetric(val as number) : String(val)}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function VersionPage({ name, version: versionText }: { name: string; version: string }) {
  const version = Number(versionText);
  const valid = /^[1-9][0-9]*$/.test(versionText);
  const ref = versionRef(name, versionText);
  const [dialog, setDialog] = useState<Dialog>(null);
  const v = useQuery({
    queryKey: keys.version(name, version),
    queryFn: () => registry.getVersion(ref),
    enabled: valid,
  });
  const model = useQuery({ queryKey: keys.model(name), queryFn: () => registry.getModel(name) });
  const manifest = useQuery({
    queryKey: [...keys.version(name, version), 'manifest'],
    queryFn: () => registry.manifest(ref),
    enabled: v.isSuccess,
    staleTime: Number.POSITIVE_INFINITY, // a version's files never change
  });
  const history = useQuery({
    queryKey: [...keys.audit, name, version],
    queryFn: async () =>
      (await registry.auditLog({ model: name, maxResults: 1000 })).items.filter((e) =>
        aboutVersion(e, name, version),
      ),
    enabled: v.isSuccess,
  });

  if (!valid)
    return (
      <main className="page">
        <h1 tabIndex={-1}>Not a version</h1>
        <ErrorBox error={new Error(`'${versionText}' is not a version number`)} />
      </main>
    );
  if (v.isPending)
    return (
      <main className="page">
        <Loading what={ref} />
      </main>
    );
  if (v.isError)
    return (
      <main className="page">
        <h1 tabIndex={-1}>{ref}</h1>
        <ErrorBox error={v.error} title="Could not load this version" />
        <p>
          <Link href={links.model(name)}>Back to {name}</Link>
        </p>
      </main>
    );
  const mv = v.data;
  return (
    <main className="page">
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link href="/">Models</Link> / <Link href={links.model(name)}>{name}</Link> /{' '}
        <span aria-current="page">v{version}</span>
      </nav>
      <h1 tabIndex={-1}>
        {name} <span className="muted">v{version}</span> <AliasBadges aliases={mv.aliases} />{' '}
        <StageBadge stage={mv.stage} />
      </h1>
      {mv.description && <p className="lead">{mv.description}</p>}

      <section aria-labelledby="overview-heading" className="overview">
        <h2 id="overview-heading" className="visually-hidden">
          Overview
        </h2>
        <dl className="facts">
          <dt>Digest</dt>
          <dd>
            <code className="digest">sha256:{mv.digest}</code>
          </dd>
          <dt>Size</dt>
          <dd>
            {formatBytes(mv.size)} in {mv.fileCount} files
          </dd>
          <dt>Created</dt>
          <dd>
            {formatTime(mv.createdAt)} by {mv.createdBy ?? 'unknown'}
          </dd>
          <dt>Status</dt>
          <dd>
            <StatusBadge status={mv.status} /> {mv.statusMessage}
          </dd>
          <dt>Stage</dt>
          <dd>{mv.stage}</dd>
          <dt>Scan</dt>
          <dd>{mv.scan === null ? 'not scanned' : <ScanBadge verdict={mv.scan.verdict} />}</dd>
          <dt>Signatures</dt>
          <dd>
            {mv.signatures.length === 0
              ? 'none'
              : `${mv.signatures.length} (${mv.signatures.map((k) => k.slice(0, 12)).join(', ')})`}
          </dd>
          <dt>Approval</dt>
          <dd>
            <ApprovalBadge state={mv.approval.state} />
            {mv.approval.reviewer && ` by ${mv.approval.reviewer}`}
            {mv.approval.time !== null && ` on ${formatTime(mv.approval.time)}`}
            {mv.approval.comment && <q className="comment">{mv.approval.comment}</q>}
          </dd>
          {mv.source && (
            <>
              <dt>Source</dt>
              <dd>
                <code>{mv.source}</code>
              </dd>
            </>
          )}
          <dt>Pull</dt>
          <dd>
            <code>mvault pull {ref} ./model</code>
          </dd>
        </dl>
        <div className="actions-bar" role="toolbar" aria-label="Version actions">
          <button type="button" onClick={() => setDialog('alias')}>
            Set alias…
          </button>
          <button type="button" onClick={() => setDialog('stage')}>
            Transition stage…
          </button>
          <button type="button" onClick={() => setDialog('approve')}>
            Approve…
          </button>
          <button type="button" onClick={() => setDialog('reject')}>
            Reject…
          </button>
          <button type="button" onClick={() => setDialog('description')}>
            Edit description…
          </button>
        </div>
        <div>
          <h2 className="small-heading">Tags</h2>
          <TagList model={name} version={version} tags={mv.tags} />
        </div>
      </section>

      <section aria-labelledby="card-heading">
        <h2 id="card-heading">Model card</h2>
        {mv.modelCard === null ? (
          <p className="muted">
            No model card: add a README.md at the root of the version's files.
          </p>
        ) : (
          <article
            className="model-card"
            // biome-ignore lint/security/noDangerouslySetInnerHtml: renderMarkdown sanitises it (DOMPurify)
            dangerouslySetInnerHTML={{ __html: renderMarkdown(mv.modelCard) }}
          />
        )}
      </section>

      <section aria-labelledby="format-heading">
        <h2 id="format-heading">Format</h2>
        <FormatSummary v={mv} />
      </section>

      <section aria-labelledby="security-heading">
        <h2 id="security-heading">Security</h2>
        <SecurityStatus v={mv} />
      </section>

      <section aria-labelledby="files-heading">
        <h2 id="files-heading">Files</h2>
        {manifest.isPending ? (
          <Loading what="files" />
        ) : manifest.isError ? (
          <ErrorBox error={manifest.error} title="Could not list the files" />
        ) : manifest.data.files.length === 0 ? (
          <Empty>This version has no files.</Empty>
        ) : (
          <FileTree files={manifest.data.files} model={name} version={version} />
        )}
      </section>

      <section aria-labelledby="tensors-heading">
        <h2 id="tensors-heading">Tensors</h2>
        <TensorsSection v={mv} />
      </section>

      <div className="two-col">
        <section aria-labelledby="metrics-heading">
          <h2 id="metrics-heading">Metrics</h2>
          <KeyValues map={mv.metrics} numeric empty="No metrics." />
        </section>
        <section aria-labelledby="params-heading">
          <h2 id="params-heading">Params</h2>
          <KeyValues map={mv.params} empty="No params." />
        </section>
      </div>

      <section aria-labelledby="lineage-heading">
        <h2 id="lineage-heading">Lineage</h2>
        <LineageGraph v={mv} />
      </section>

      <section aria-labelledby="history-heading">
        <h2 id="history-heading">History</h2>
        {history.isPending ? (
          <Loading what="history" />
        ) : history.isError ? (
          <ErrorBox error={history.error} />
        ) : history.data.length === 0 ? (
          <Empty>No events.</Empty>
        ) : (
          <AuditTable events={history.data} />
        )}
      </section>

      {dialog === 'alias' && (
        <SetAliasDialog
          model={name}
          version={version}
          current={model.data?.aliases ?? {}}
          onClose={() => setDialog(null)}
        />
      )}
      {dialog === 'stage' && (
        <StageDialog
          model={name}
          version={version}
          stage={mv.stage}
          onClose={() => setDialog(null)}
        />
      )}
      {(dialog === 'approve' || dialog === 'reject') && (
        <ReviewDialog
          model={name}
          version={version}
          decision={dialog}
          onClose={() => setDialog(null)}
        />
      )}
      {dialog === 'description' && (
        <DescriptionDialog
          model={name}
          version={version}
          description={mv.description}
          onClose={() => setDialog(null)}
        />
      )}
    </main>
  );
}

/**
 * A version's lineage as a small graph: its inputs (parent versions, the run that made
 * it, datasets, code) on the left, each joined to the version by a curve. The edges are
 * SVG under HTML nodes, so the nodes hold real links (a parent's page, the run's page).
 */
import type { ReactNode } from 'react';
import { Link } from 'wouter';
import type { ModelVersion } from '../api/registry';
import { versionRef } from '../lib/format';
import { type LineageKind, layoutLineage } from '../lib/lineage';
import { links } from '../lib/links';

interface Input {
  readonly id: string;
  readonly kind: Exclude<LineageKind, 'this'>;
  readonly body: ReactNode;
  readonly label: string;
}

function inputsOf(v: ModelVersion): Input[] {
  const { parents, datasets, code } = v.lineage;
  const out: Input[] = [];
  for (const p of parents) {
    const ref = versionRef(p.model, p.version);
    out.push({
      id: `parent:${ref}`,
      kind: 'parent',
      label: `parent ${ref}`,
      body: <Link href={links.version(p.model, p.version)}>{ref}</Link>,
    });
  }
  if (v.runId) {
    out.push({
      id: `run:${v.runId}`,
      kind: 'run',
      label: `run ${v.runId}`,
      body: (
        <Link href={links.run(v.runId)}>
          <code>{v.runId}</code>
        </Link>
      ),
    });
  }
  for (const d of datasets) {
    out.push({
      id: `dataset:${d.name}`,
      kind: 'dataset',
      label: `dataset ${d.name}`,
      body: (
        <>
          <strong>{d.name}</strong>{' '}
          {d.uri && (
            <code className="clip" title={d.uri}>
              {d.uri}
            </code>
          )}
          {d.digest && <code title={d.digest}> {d.digest.slice(0, 19)}</code>}
        </>
      ),
    });
  }
  if (code) {
    out.push({
      id: 'code',
      kind: 'code',
      label: 'code',
      body: (
        <>
          {code.gitRemote && (
            <code className="clip" title={code.gitRemote}>
              {code.gitRemote}
            </code>
          )}{' '}
          {code.gitCommit && <code title={code.gitCommit}>{code.gitCommit.slice(0, 12)}</code>}
          {code.gitDirty && <span className="badge approval-rejected">dirty</span>}
        </>
      ),
    });
  }
  return out;
}

export function LineageGraph({ v }: { v: ModelVersion }) {
  const inputs = inputsOf(v);
  if (inputs.length === 0)
    return <p className="muted">No lineage recorded (parents, run, datasets or code).</p>;
  const layout = layoutLineage(inputs);
  const byId = new Map(inputs.map((i) => [i.id, i]));
  const self = versionRef(v.model, v.version);
  return (
    <figure
      className="lineage lineage-graph"
      style={{ width: layout.width, height: layout.height }}
      aria-label={`lineage of ${self}: ${inputs.map((i) => i.label).join(', ')}`}
    >
      <svg
        className="lineage-edges"
        width={layout.width}
        height={layout.height}
        viewBox={`0 0 ${layout.width} ${layout.height}`}
        aria-hidden="true"
      >
        <defs>
          <marker
            id="lineage-arrow"
            viewBox="0 0 10 10"
            refX="10"
            refY="5"
            markerWidth="7"
            markerHeight="7"
            orient="auto-start-reverse"
          >
            <path d="M0,0 L10,5 L0,10 z" className="arrow-head" />
          </marker>
        </defs>
        {layout.edges.map((e) => (
          <path
            key={e.from}
            d={e.d}
            className={`edge edge-${byId.get(e.from)?.kind}`}
            fill="none"
            markerEnd="url(#lineage-arrow)"
          />
        ))}
      </svg>
      <ul className="lineage-nodes">
        {layout.nodes.map((n) => {
          const input = byId.get(n.id);
          return (
            <li
              key={n.id}
              className={`node ${n.kind}`}
              data-node={n.kind}
              style={{ left: n.x, top: n.y, width: layout.nodeWidth, height: layout.nodeHeight }}
            >
              <span className="kind">{n.kind === 'this' ? 'this version' : n.kind}</span>
              <span className="node-body">{input ? input.body : <strong>{self}</strong>}</span>
            </li>
          );
        })}
      </ul>
    </figure>
  );
}

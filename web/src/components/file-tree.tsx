/** A version's files as a collapsible tree: sizes, SHA-256s and a download link per file. */
import { useState } from 'react';
import { fileUrl } from '../api/registry';
import { buildFileTree, type DirNode, type FileLeaf } from '../lib/file-tree';
import { formatBytes, shortDigest } from '../lib/format';
import { DownloadLink } from './download-link';

function Dir({
  node,
  model,
  version,
  depth,
}: {
  node: DirNode;
  model: string;
  version: number;
  depth: number;
}) {
  const [open, setOpen] = useState(depth < 2);
  return (
    <>
      <tr className="dir">
        <td style={{ paddingLeft: `${depth * 1.25 + 0.5}rem` }}>
          <button
            type="button"
            className="link"
            aria-expanded={open}
            onClick={() => setOpen(!open)}
          >
            {open ? '▾' : '▸'} {node.name}/
          </button>
        </td>
        <td className="num">{formatBytes(node.size)}</td>
        <td className="muted">{node.fileCount} files</td>
        <td />
      </tr>
      {open && <Children node={node} model={model} version={version} depth={depth + 1} />}
    </>
  );
}

function File({
  leaf,
  model,
  version,
  depth,
}: {
  leaf: FileLeaf;
  model: string;
  version: number;
  depth: number;
}) {
  return (
    <tr data-path={leaf.path}>
      <td style={{ paddingLeft: `${depth * 1.25 + 0.5}rem` }}>{leaf.name}</td>
      <td className="num">{formatBytes(leaf.size)}</td>
      <td>
        <code title={leaf.sha256}>{shortDigest(leaf.sha256)}</code>
      </td>
      <td>
        <DownloadLink
          path={fileUrl(model, version, leaf.path)}
          name={leaf.name}
          label={`download ${leaf.path}`}
        >
          Download
        </DownloadLink>
      </td>
    </tr>
  );
}

function Children({
  node,
  model,
  version,
  depth,
}: {
  node: DirNode;
  model: string;
  version: number;
  depth: number;
}) {
  return (
    <>
      {node.children.map((c) =>
        c.kind === 'dir' ? (
          <Dir key={`d/${c.path}`} node={c} model={model} version={version} depth={depth} />
        ) : (
          <File key={c.path} leaf={c} model={model} version={version} depth={depth} />
        ),
      )}
    </>
  );
}

export function FileTree({
  files,
  model,
  version,
}: {
  files: readonly { path: string; size: number; sha256: string }[];
  model: string;
  version: number;
}) {
  const root = buildFileTree(files);
  return (
    <table className="data files-table">
      <thead>
        <tr>
          <th scope="col">Path</th>
          <th scope="col" className="num">
            Size
          </th>
          <th scope="col">SHA-256</th>
          <th scope="col">
            <span className="visually-hidden">Download</span>
          </th>
        </tr>
      </thead>
      <tbody>
        <Children node={root} model={model} version={version} depth={0} />
      </tbody>
    </table>
  );
}

/**
 * The version page's format and security sections: what the files are (format summary
 * and dtype mix, stored on the version at creation), the unsafe-pickle scan with the
 * globals each flagged file imports, the signatures attached, and the tensors of a
 * weights file (virtualised: a GGUF or a sharded checkpoint lists thousands).
 */
import { useQuery } from '@tanstack/react-query';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useRef, useState } from 'react';
import { keys, type ModelVersion, registry } from '../api/registry';
import { formatBytes, formatCount, formatTime, versionRef } from '../lib/format';
import {
  dtypeMix,
  elementCount,
  filterTensors,
  formatShape,
  formatShare,
  tensorFiles,
} from '../lib/inspection';
import { Empty, ErrorBox, Loading } from './status';

export function FormatSummary({ v }: { v: ModelVersion }) {
  const s = v.summary;
  if (s === null) return <p className="muted">Not inspected (created before inspection).</p>;
  const mix = dtypeMix(s.dtypes);
  const unreadable = s.files.filter((f) => !f.readable);
  return (
    <>
      <dl className="facts" aria-label="format summary">
        <dt>Format</dt>
        <dd>{s.format ?? 'no weights format recognised'}</dd>
        <dt>Framework</dt>
        <dd>{s.framework ?? '—'}</dd>
        <dt>Architecture</dt>
        <dd>{s.architecture ?? '—'}</dd>
        <dt>Parameters</dt>
        <dd title={s.parameterCount === null ? undefined : s.parameterCount.toLocaleString('en')}>
          {formatCount(s.parameterCount)}
          {s.tensorCount !== null && ` in ${s.tensorCount.toLocaleString('en')} tensors`}
        </dd>
        {mix.length > 0 && (
          <>
            <dt>Dtypes</dt>
            <dd>
              <div className="dtype-bar" aria-hidden="true">
                {mix.map((d) => (
                  <span key={d.dtype} style={{ width: `${d.share * 100}%` }} title={d.dtype} />
                ))}
              </div>
              <ul className="inline-list" aria-label="dtype mix">
                {mix.map((d) => (
                  <li key={d.dtype}>
                    <code>{d.dtype}</code> {formatShare(d.share)} ({formatCount(d.params)})
                  </li>
                ))}
              </ul>
            </dd>
          </>
        )}
      </dl>
      {unreadable.length > 0 && (
        <ul className="muted" aria-label="unreadable files">
          {unreadable.map((f) => (
            <li key={f.path}>
              {f.path} looked like {f.format} but could not be read{f.reason && `: ${f.reason}`}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

const VERDICT_TEXT: Record<string, string> = {
  none: 'no pickles',
  safe: 'safe',
  suspicious: 'suspicious',
  dangerous: 'dangerous',
  unreadable: 'unreadable',
};

/** The scan verdict as a badge: `data-verdict` carries the raw value for tests and CSS. */
export function ScanBadge({ verdict }: { verdict: string }) {
  return (
    <span className={`badge scan-${verdict}`} data-verdict={verdict}>
      {VERDICT_TEXT[verdict] ?? verdict}
    </span>
  );
}

export function SecurityStatus({ v }: { v: ModelVersion }) {
  const ref = versionRef(v.model, v.version);
  const scanned = v.scan !== null && v.scan.verdict !== 'none';
  const scan = useQuery({
    queryKey: [...keys.version(v.model, v.version), 'scan'],
    queryFn: () => registry.getScan(ref),
    enabled: scanned,
    staleTime: Number.POSITIVE_INFINITY,
  });
  const signatures = useQuery({
    queryKey: [...keys.version(v.model, v.version), 'signatures'],
    queryFn: () => registry.listSignatures(ref),
    enabled: v.signatures.length > 0,
  });
  return (
    <div className="two-col">
      <section aria-labelledby="scan-heading">
        <h3 id="scan-heading">Pickle scan</h3>
        {v.scan === null ? (
          <p className="muted">Not scanned.</p>
        ) : (
          <p>
            <ScanBadge verdict={v.scan.verdict} />{' '}
            {v.scan.verdict === 'none'
              ? 'No pickle-based files.'
              : `${v.scan.files} pickle-based file${v.scan.files === 1 ? '' : 's'} scanned.`}
          </p>
        )}
        {scanned &&
          (scan.isPending ? (
            <Loading what="scan" />
          ) : scan.isError ? (
            <ErrorBox error={scan.error} />
          ) : scan.data === null ? null : (
            <table className="data scan-files">
              <thead>
                <tr>
                  <th scope="col">File</th>
                  <th scope="col">Verdict</th>
                  <th scope="col">Globals imported</th>
                </tr>
              </thead>
              <tbody>
                {scan.data.fileScans.map((f) => (
                  <tr key={f.path} data-path={f.path}>
                    <td>{f.path}</td>
                    <td>
                      <ScanBadge verdict={f.verdict} />
                    </td>
                    <td>
                      {f.globals.length === 0 ? (
                        <span className="muted">none</span>
                      ) : (
                        <ul className="globals" aria-label={`globals of ${f.path}`}>
                          {f.globals.map((g) => (
                            <li
                              key={g}
                              className={
                                f.dangerous.includes(g)
                                  ? 'dangerous'
                                  : f.suspicious.includes(g)
                                    ? 'suspicious'
                                    : undefined
                              }
                            >
                              <code>{g}</code>
                              {f.dangerous.includes(g) && ' (dangerous)'}
                              {f.suspicious.includes(g) && ' (suspicious)'}
                            </li>
                          ))}
                        </ul>
                      )}
                      {f.reason && <p className="muted">{f.reason}</p>}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ))}
      </section>
      <section aria-labelledby="signatures-heading">
        <h3 id="signatures-heading">Signatures</h3>
        {v.signatures.length === 0 ? (
          <p className="muted">
            Not signed. Sign with <code>mvault sign {ref} --key KEY</code>.
          </p>
        ) : signatures.isPending ? (
          <Loading what="signatures" />
        ) : signatures.isError ? (
          <ErrorBox error={signatures.error} />
        ) : (
          <>
            <table className="data signatures">
              <thead>
                <tr>
                  <th scope="col">Key id</th>
                  <th scope="col">Status</th>
                  <th scope="col">Signed by</th>
                  <th scope="col">When</th>
                </tr>
              </thead>
              <tbody>
                {signatures.data.map((s) => (
                  <tr key={s.keyId} data-key-id={s.keyId}>
                    <td>
                      <code title={s.keyId}>{s.keyId.slice(0, 16)}</code>
                    </td>
                    <td>
                      <span className="badge signature-verified">verified</span>
                    </td>
                    <td>{s.signedBy}</td>
                    <td>{formatTime(s.createdAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <p className="muted small">
              The server verified each signature against this version's digest and files when it was
              attached; whether to trust a key is yours to decide (
              <code>mvault verify {ref} --key KEY</code>).
            </p>
          </>
        )}
      </section>
    </div>
  );
}

const TENSOR_ROW = 33;

/** One weights file's tensors: name filter, virtualised rows. */
function TensorList({ model, version, path }: { model: string; version: number; path: string }) {
  const [query, setQuery] = useState('');
  const scrollRef = useRef<HTMLElement>(null);
  const detail = useQuery({
    queryKey: [...keys.version(model, version), 'inspect', path],
    queryFn: () => registry.inspectVersion(versionRef(model, version), { path }),
    staleTime: Number.POSITIVE_INFINITY,
  });
  const file = detail.data?.files[0];
  const all = file?.tensors ?? [];
  const shown = filterTensors(all, query);
  const virtualizer = useVirtualizer({
    count: shown.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => TENSOR_ROW,
    overscan: 16,
  });
  if (detail.isPending) return <Loading what={`tensors of ${path}`} />;
  if (detail.isError) return <ErrorBox error={detail.error} title={`Could not read ${path}`} />;
  if (!file?.readable)
    return <ErrorBox error={new Error(file?.reason ?? 'unreadable')} title={`${path}`} />;
  const items = virtualizer.getVirtualItems();
  const top = items.length > 0 ? items[0]!.start : 0;
  const bottom = items.length > 0 ? virtualizer.getTotalSize() - items[items.length - 1]!.end : 0;
  return (
    <>
      <div className="toolbar-row">
        <label>
          Find tensor{' '}
          <input
            type="search"
            value={query}
            onChange={(e) => setQuery(e.target.value)}
            placeholder="name or dtype"
          />
        </label>
        <span className="muted" aria-live="polite">
          {shown.length === all.length
            ? `${all.length} tensors`
            : `${shown.length} of ${all.length} tensors`}
          {file.architecture && ` · ${file.architecture}`}
        </span>
      </div>
      {shown.length === 0 ? (
        <Empty>No tensor matches.</Empty>
      ) : (
        <section
          className="table-scroll tensor-scroll"
          ref={scrollRef}
          // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard
          tabIndex={0}
          aria-label={`tensors of ${path}`}
        >
          <table className="data tensors-table" aria-rowcount={shown.length + 1}>
            <thead>
              <tr>
                <th scope="col">Tensor</th>
                <th scope="col">Dtype</th>
                <th scope="col">Shape</th>
                <th scope="col" className="num">
                  Elements
                </th>
                <th scope="col" className="num">
                  Bytes
                </th>
              </tr>
            </thead>
            <tbody>
              {top > 0 && (
                <tr className="spacer">
                  <td colSpan={5} style={{ height: top }} />
                </tr>
              )}
              {items.map((item) => {
                const t = shown[item.index]!;
                return (
                  <tr
                    key={t.name}
                    data-tensor={t.name}
                    aria-rowindex={item.index + 2}
                    style={{ height: TENSOR_ROW }}
                  >
                    <td className="clip" title={t.name}>
                      <code>{t.name}</code>
                    </td>
                    <td>
                      <code>{t.dtype}</code>
                    </td>
                    <td>{formatShape(t.shape)}</td>
                    <td className="num">{elementCount(t.shape).toLocaleString('en')}</td>
                    <td className="num">{t.length === null ? '—' : formatBytes(t.length)}</td>
                  </tr>
                );
              })}
              {bottom > 0 && (
                <tr className="spacer">
                  <td colSpan={5} style={{ height: bottom }} />
                </tr>
              )}
            </tbody>
          </table>
        </section>
      )}
    </>
  );
}

/** The tensors of the version's weights files: pick a file, then its tensors. */
export function TensorsSection({ v }: { v: ModelVersion }) {
  const inspection = useQuery({
    queryKey: [...keys.version(v.model, v.version), 'inspect'],
    queryFn: () => registry.inspectVersion(versionRef(v.model, v.version)),
    staleTime: Number.POSITIVE_INFINITY,
  });
  const [chosen, setChosen] = useState<string | null>(null);
  if (inspection.isPending) return <Loading what="inspection" />;
  if (inspection.isError)
    return <ErrorBox error={inspection.error} title="Could not inspect the files" />;
  const files = tensorFiles(inspection.data.files);
  if (files.length === 0)
    return (
      <p className="muted">No weights file with tensors (safetensors, GGUF, ONNX, PyTorch).</p>
    );
  const path = chosen !== null && files.some((f) => f.path === chosen) ? chosen : files[0]!.path;
  return (
    <>
      {files.length > 1 && (
        <label className="toolbar-row">
          Weights file{' '}
          <select value={path} onChange={(e) => setChosen(e.target.value)}>
            {files.map((f) => (
              <option key={f.path} value={f.path}>
                {f.path} ({f.format}, {formatCount(f.tensorCount ?? null)} tensors)
              </option>
            ))}
          </select>
        </label>
      )}
      <TensorList key={path} model={v.model} version={v.version} path={path} />
    </>
  );
}

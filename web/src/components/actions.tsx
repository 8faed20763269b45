/**
 * The registry's mutations, each behind a confirmation dialog: set or move an alias, roll
 * one back, transition a stage, approve or reject, edit a description, set or remove a tag.
 * Each calls the API through the SDK and, on success, refreshes what shows the model and
 * the audit trail (every one of these is an audit event on the server).
 */
import { useState } from 'react';
import { validateAlias } from '../../../src/core/names.js';
import { errorText, invalidateModel, registry } from '../api/registry';
import { versionRef } from '../lib/format';
import { ConfirmDialog } from './confirm-dialog';

type Close = { onClose: () => void };

/** The server's own alias rule (core/names.ts): null when valid, else why not. */
function aliasProblem(alias: string): string | null {
  try {
    validateAlias(alias);
    return null;
  } catch (e) {
    return errorText(e);
  }
}

export function SetAliasDialog({
  model,
  alias: initialAlias,
  version: initialVersion,
  current,
  onClose,
}: Close & {
  model: string;
  alias?: string;
  version?: number;
  current?: Readonly<Record<string, number>>;
}) {
  const [alias, setAlias] = useState(initialAlias ?? '');
  const [version, setVersion] = useState(initialVersion ? String(initialVersion) : '');
  const v = Number(version);
  const validVersion = /^[1-9][0-9]*$/.test(version);
  const problem = alias === '' ? null : aliasProblem(alias);
  const validAlias = alias !== '' && problem === null;
  const from = current?.[alias];
  return (
    <ConfirmDialog
      title={from === undefined ? 'Set alias' : 'Move alias'}
      confirmLabel={from === undefined ? 'Set alias' : 'Move alias'}
      canConfirm={validAlias && validVersion && from !== v}
      onClose={onClose}
      onConfirm={async () => {
        await registry.setAlias(model, alias, v);
        await invalidateModel(model);
      }}
    >
      <label>
        Alias
        <input
          value={alias}
          onChange={(e) => setAlias(e.target.value.trim())}
          readOnly={initialAlias !== undefined}
          required
        />
      </label>
      <label>
        Version
        <input
          inputMode="numeric"
          value={version}
          onChange={(e) => setVersion(e.target.value.trim())}
          required
        />
      </label>
      {problem && <p className="field-error">{problem}</p>}
      {validAlias && validVersion && (
        <p className="confirm-text">
          {from === undefined ? (
            <>
              Point <strong>{`${model}@${alias}`}</strong> at version <strong>{v}</strong>.
            </>
          ) : from === v ? (
            <>The alias already points at version {v}.</>
          ) : (
            <>
              Move <strong>{`${model}@${alias}`}</strong> from version <strong>{from}</strong> to
              version <strong>{v}</strong>. Anything deploying <code>{`${model}@${alias}`}</code>{' '}
              gets the new version.
            </>
          )}
        </p>
      )}
    </ConfirmDialog>
  );
}

export function RollbackDialog({
  model,
  alias,
  onClose,
}: Close & { model: string; alias: string }) {
  return (
    <ConfirmDialog
      title="Roll back alias"
      confirmLabel="Roll back"
      danger
      onClose={onClose}
      onConfirm={async () => {
        await registry.rollback(model, alias);
        await invalidateModel(model);
      }}
    >
      <p className="confirm-text">
        Point <strong>{`${model}@${alias}`}</strong> back at the version it pointed at before its
        last move.
      </p>
    </ConfirmDialog>
  );
}

export function RemoveAliasDialog({
  model,
  alias,
  onClose,
}: Close & { model: string; alias: string }) {
  return (
    <ConfirmDialog
      title="Remove alias"
      confirmLabel="Remove alias"
      danger
      onClose={onClose}
      onConfirm={async () => {
        await registry.deleteAlias(model, alias);
        await invalidateModel(model);
      }}
    >
      <p className="confirm-text">
        Remove <strong>{`${model}@${alias}`}</strong>. The version itself is kept.
      </p>
    </ConfirmDialog>
  );
}

const STAGES = ['None', 'Staging', 'Production', 'Archived'] as const;

export function StageDialog({
  model,
  version,
  stage,
  onClose,
}: Close & { model: string; version: number; stage: string }) {
  const [to, setTo] = useState<string>(stage === 'Production' ? 'Archived' : 'Production');
  const [archive, setArchive] = useState(false);
  return (
    <ConfirmDialog
      title="Transition stage"
      confirmLabel="Transition"
      canConfirm={to !== stage}
      onClose={onClose}
      onConfirm={async () => {
        await registry.transitionStage(versionRef(model, version), to, {
          archiveExisting: archive,
        });
        await invalidateModel(model);
      }}
    >
      <label>
        New stage
        <select value={to} onChange={(e) => setTo(e.target.value)}>
          {STAGES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </label>
      {(to === 'Staging' || to === 'Production') && (
        <label className="check">
          <input type="checkbox" checked={archive} onChange={(e) => setArchive(e.target.checked)} />{' '}
          Archive other versions in {to}
        </label>
      )}
      <p className="confirm-text">
        Move version {version} from <strong>{stage}</strong> to <strong>{to}</strong>.
      </p>
    </ConfirmDialog>
  );
}

export function ReviewDialog({
  model,
  version,
  decision,
  onClose,
}: Close & { model: string; version: number; decision: 'approve' | 'reject' }) {
  const [comment, setComment] = useState('');
  return (
    <ConfirmDialog
      title={decision === 'approve' ? 'Approve version' : 'Reject version'}
      confirmLabel={decision === 'approve' ? 'Approve' : 'Reject'}
      danger={decision === 'reject'}
      onClose={onClose}
      onConfirm={async () => {
        const ref = versionRef(model, version);
        const options = comment.trim() ? { comment: comment.trim() } : {};
        await (decision === 'approve'
          ? registry.approve(ref, options)
          : registry.reject(ref, options));
        await invalidateModel(model);
      }}
    >
      <label>
        Comment (optional)
        <textarea
          value={comment}
          onChange={(e) => setComment(e.target.value)}
          rows={3}
          maxLength={10000}
        />
      </label>
    </ConfirmDialog>
  );
}

/** Edits the description of a model (version undefined) or of one version. */
export function DescriptionDialog({
  model,
  version,
  description,
  onClose,
}: Close & { model: string; version?: number; description: string | null }) {
  const [text, setText] = useState(description ?? '');
  return (
    <ConfirmDialog
      title="Edit description"
      confirmLabel="Save"
      canConfirm={text !== (description ?? '')}
      onClose={onClose}
      onConfirm={async () => {
        const value = text.trim() === '' ? null : text;
        if (version === undefined) await registry.updateModel(model, { description: value });
        else await registry.updateVersion(versionRef(model, version), { description: value });
        await invalidateModel(model);
      }}
    >
      <label>
        Description
        <textarea
          value={text}
          onChange={(e) => setText(e.target.value)}
          rows={5}
          maxLength={100000}
        />
      </label>
    </ConfirmDialog>
  );
}

/** Sets (or, with `remove`, deletes) a tag on a model or a version. */
export function TagDialog({
  model,
  version,
  tagKey,
  value: initialValue,
  remove,
  onClose,
}: Close & { model: string; version?: number; tagKey?: string; value?: string; remove?: boolean }) {
  const [key, setKey] = useState(tagKey ?? '');
  const [value, setValue] = useState(initialValue ?? '');
  const target = version === undefined ? model : versionRef(model, version);
  return (
    <ConfirmDialog
      title={remove ? 'Remove tag' : tagKey ? 'Edit tag' : 'Add tag'}
      confirmLabel={remove ? 'Remove tag' : 'Save tag'}
      danger={remove}
      canConfirm={key.trim() !== ''}
      onClose={onClose}
      onConfirm={async () => {
        if (remove) {
          if (version === undefined) await registry.deleteModelTag(model, key);
          else await registry.deleteVersionTag(target, key);
        } else if (version === undefined) await registry.setModelTag(model, key.trim(), value);
        else await registry.setVersionTag(target, key.trim(), value);
        await invalidateModel(model);
      }}
    >
      {remove ? (
        <p className="confirm-text">
          Remove the tag <code>{key}</code> from <strong>{target}</strong>.
        </p>
      ) : (
        <>
          <label>
            Key
            <input
              value={key}
              onChange={(e) => setKey(e.target.value)}
              readOnly={tagKey !== undefined}
              required
            />
          </label>
          <label>
            Value
            <input value={value} onChange={(e) => setValue(e.target.value)} />
          </label>
        </>
      )}
    </ConfirmDialog>
  );
}

/** A tag list with edit/remove buttons and an add button, each opening its dialog. */
export function TagList({
  model,
  version,
  tags,
}: {
  model: string;
  version?: number;
  tags: Readonly<Record<string, string>>;
}) {
  const [dialog, setDialog] = useState<null | { key?: string; value?: string; remove?: boolean }>(
    null,
  );
  const entries = Object.entries(tags).sort(([a], [b]) => (a < b ? -1 : 1));
  return (
    <div className="tags">
      {entries.length === 0 && <span className="muted">No tags.</span>}
      {entries.map(([k, v]) => (
        <span key={k} className="tag">
          <code>
            {k}={v}
          </code>
          <button
            type="button"
            className="link"
            onClick={() => setDialog({ key: k, value: v })}
            aria-label={`Edit tag ${k}`}
          >
            edit
          </button>
          <button
            type="button"
            className="link"
            onClick={() => setDialog({ key: k, value: v, remove: true })}
            aria-label={`Remove tag ${k}`}
          >
            remove
          </button>
        </span>
      ))}
      <button type="button" className="small" onClick={() => setDialog({})}>
        Add tag
      </button>
      {dialog && (
        <TagDialog
          model={model}
          {...(version !== undefined ? { version } : {})}
          {...(dialog.key !== undefined ? { tagKey: dialog.key, value: dialog.value ?? '' } : {})}
          {...(dialog.remove ? { remove: true } : {})}
          onClose={() => setDialog(null)}
        />
      )}
    </div>
  );
}

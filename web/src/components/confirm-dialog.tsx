/**
 * A modal confirmation on the native <dialog> element: focus is trapped and Escape cancels
 * (the browser's own behaviour), the confirm button shows progress, and a failure from the
 * server is shown inside the dialog so nothing is lost.
 */
import { type ReactNode, useEffect, useRef, useState } from 'react';
import { errorText } from '../api/registry';

export interface ConfirmDialogProps {
  readonly title: string;
  readonly children?: ReactNode;
  readonly confirmLabel: string;
  /** Runs the action; the dialog closes when it resolves and shows the error when it rejects. */
  readonly onConfirm: () => Promise<unknown>;
  readonly onClose: () => void;
  readonly danger?: boolean;
  /** False while the form inside is not valid. */
  readonly canConfirm?: boolean;
}

export function ConfirmDialog(props: ConfirmDialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);

  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      await props.onConfirm();
      props.onClose();
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };

  return (
    <dialog
      ref={ref}
      className="dialog"
      aria-labelledby="dialog-title"
      onClose={props.onClose}
      onCancel={(e) => {
        if (busy) e.preventDefault();
      }}
    >
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          if (!busy && props.canConfirm !== false) void confirm();
        }}
      >
        <h2 id="dialog-title">{props.title}</h2>
        <div className="dialog-body">{props.children}</div>
        {error !== null && (
          <p className="state error" role="alert">
            {errorText(error)}
          </p>
        )}
        <div className="dialog-actions">
          <button type="button" onClick={props.onClose} disabled={busy}>
            Cancel
          </button>
          <button
            type="submit"
            className={props.danger ? 'danger' : 'primary'}
            disabled={busy || props.canConfirm === false}
          >
            {busy ? 'Working…' : props.confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}

/** Loading, error and empty states: one look everywhere, announced to screen readers. */
import type { ReactNode } from 'react';
import { errorText } from '../api/registry';

export function Loading({ what }: { what: string }) {
  return (
    <p className="state loading" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function ErrorBox({ error, title }: { error: unknown; title?: string }) {
  return (
    <div className="state error" role="alert">
      <strong>{title ?? 'Something went wrong'}</strong>
      <p>{errorText(error)}</p>
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="state empty">{children}</div>;
}

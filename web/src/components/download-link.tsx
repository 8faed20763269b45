/**
 * A download link that also works when the server asks for sign-in: a plain link when
 * the tab is not signed in; signed in, a click fetches a short-lived signed URL of that
 * one file (api/registry.ts downloadUrl) and follows it, so the browser still streams the
 * download to disk (nothing is held in memory) and the token never enters a URL.
 */
import { type MouseEvent, useState } from 'react';
import { downloadUrl, signedIn } from '../api/registry';

export function DownloadLink({
  path,
  name,
  label,
  children,
}: {
  /** The download's path on this server (each segment percent-encoded). */
  path: string;
  /** The file name the browser saves it under. */
  name: string;
  /** Accessible name, e.g. `download weights/model.safetensors`. */
  label: string;
  children: React.ReactNode;
}) {
  const [error, setError] = useState<string | null>(null);
  const onClick = async (e: MouseEvent<HTMLAnchorElement>) => {
    if (!signedIn()) return; // the plain link works
    e.preventDefault();
    setError(null);
    try {
      const url = await downloadUrl(path);
      const a = document.createElement('a');
      a.href = url;
      a.download = name;
      a.rel = 'noopener';
      document.body.append(a);
      a.click();
      a.remove();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };
  return (
    <>
      <a href={path} download={name} aria-label={label} onClick={onClick}>
        {children}
      </a>
      {error && (
        <span role="alert" className="download-error">
          {' '}
          {error}
        </span>
      )}
    </>
  );
}

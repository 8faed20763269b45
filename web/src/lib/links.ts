/** Client URLs of the UI's pages (deep links), one place for their shape. */
const enc = encodeURIComponent;

export const links = {
  model: (name: string) => `/models/${enc(name)}`,
  version: (name: string, v: number) => `/models/${enc(name)}/versions/${v}`,
  compare: (name: string, versions: readonly number[]) =>
    `/models/${enc(name)}/compare?versions=${versions.join(',')}`,
  experiments: '/experiments',
  experiment: (id: string) => `/experiments/${enc(id)}`,
  /** A run's page; the run knows its experiment, so the URL needs only its id. */
  run: (runId: string) => `/experiments/runs/${enc(runId)}`,
  audit: (filters: { model?: string; actions?: string } = {}) => {
    const q = new URLSearchParams();
    if (filters.model) q.set('model', filters.model);
    if (filters.actions) q.set('actions', filters.actions);
    const s = q.toString();
    return s ? `/audit?${s}` : '/audit';
  },
};

/** Reads and writes query-string state of the current page (replacing history). */
export function withQuery(search: string, changes: Record<string, string | null>): string {
  const q = new URLSearchParams(search);
  for (const [k, v] of Object.entries(changes)) {
    if (v === null || v === '') q.delete(k);
    else q.set(k, v);
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** The sign-in form shown when the server answers 401 (see api/registry.ts). */
import { type FormEvent, useEffect, useState } from 'react';
import { onSignInNeeded, signIn } from '../api/registry';

export function useSignInNeeded(): boolean {
  const [needed, setNeeded] = useState(false);
  useEffect(() => onSignInNeeded(setNeeded), []);
  return needed;
}

export function SignIn() {
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await signIn(user, password);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="page">
      <h1 tabIndex={-1}>Sign in</h1>
      <p>This registry asks who you are.</p>
      <form onSubmit={submit} className="sign-in">
        <label>
          User name
          <input
            name="username"
            autoComplete="username"
            value={user}
            onChange={(e) => setUser(e.target.value)}
            required
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
          />
        </label>
        {error ? (
          <p className="field-error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}

/**
 * The shell: header with navigation and the theme switch, and the client routes. Every
 * page is a deep link; the server answers index.html for these prefixes (see
 * src/server/web-ui.ts CLIENT_ROUTES — add a prefix there when adding a top-level page).
 * The MLflow side lives under /experiments: the list, one experiment's runs
 * (/experiments/ID) and a run (/experiments/runs/RUN_ID).
 */
import { useEffect, useState } from 'react';
import { Link, Route, Switch, useLocation } from 'wouter';
import { AuditPage } from './pages/audit-page';
import { ComparePage } from './pages/compare-page';
import { ExperimentPage } from './pages/experiment-page';
import { ExperimentsPage } from './pages/experiments-page';
import { ModelPage } from './pages/model-page';
import { ModelsPage } from './pages/models-page';
import { RunPage } from './pages/run-page';
import { VersionPage } from './pages/version-page';

type Theme = 'light' | 'dark' | 'system';

function useTheme(): [Theme, (t: Theme) => void] {
  const [theme, setTheme] = useState<Theme>(
    () => (localStorage.getItem('mv-theme') as Theme | null) ?? 'system',
  );
  useEffect(() => {
    if (theme === 'system') {
      delete document.documentElement.dataset.theme;
      localStorage.removeItem('mv-theme');
    } else {
      document.documentElement.dataset.theme = theme;
      localStorage.setItem('mv-theme', theme);
    }
  }, [theme]);
  return [theme, setTheme];
}

function NavLink({ href, children }: { href: string; children: string }) {
  const [location] = useLocation();
  const active =
    href === '/' ? location === '/' || location.startsWith('/models') : location.startsWith(href);
  return (
    <Link
      href={href}
      className={active ? 'active' : undefined}
      aria-current={active ? 'page' : undefined}
    >
      {children}
    </Link>
  );
}

function NotFound() {
  return (
    <main className="page">
      <h1>Page not found</h1>
      <p>
        Nothing here. Go to the <Link href="/">models</Link>.
      </p>
    </main>
  );
}

/** Decodes a route parameter (names may contain `/`, sent as `%2F`). */
export function param(value: string | undefined): string {
  try {
    return decodeURIComponent(value ?? '');
  } catch {
    return value ?? '';
  }
}

export function App() {
  const [theme, setTheme] = useTheme();
  const [location] = useLocation();
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs on every navigation
  useEffect(() => {
    // A new page: move focus to its heading for keyboard and screen-reader users.
    document.querySelector<HTMLElement>('main h1')?.focus({ preventScroll: true });
  }, [location]);
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link href="/" className="brand">
          Modelvault
        </Link>
        <nav aria-label="Main">
          <NavLink href="/">Models</NavLink>
          <NavLink href="/experiments">Experiments</NavLink>
          <NavLink href="/audit">Audit trail</NavLink>
          <a href="/docs">API docs</a>
        </nav>
        <label className="theme">
          <span className="visually-hidden">Theme</span>
          <select value={theme} onChange={(e) => setTheme(e.target.value as Theme)}>
            <option value="system">System theme</option>
            <option value="light">Light</option>
            <option value="dark">Dark</option>
          </select>
        </label>
      </header>
      <div id="main">
        <Switch>
          <Route path="/" component={ModelsPage} />
          <Route path="/models" component={ModelsPage} />
          <Route path="/models/:name">{(p) => <ModelPage name={param(p.name)} />}</Route>
          <Route path="/models/:name/versions/:version">
            {(p) => <VersionPage name={param(p.name)} version={param(p.version)} />}
          </Route>
          <Route path="/models/:name/compare">{(p) => <ComparePage name={param(p.name)} />}</Route>
          <Route path="/experiments" component={ExperimentsPage} />
          <Route path="/experiments/runs/:runId">{(p) => <RunPage runId={param(p.runId)} />}</Route>
          <Route path="/experiments/:id">{(p) => <ExperimentPage id={param(p.id)} />}</Route>
          <Route path="/audit" component={AuditPage} />
          <Route component={NotFound} />
        </Switch>
      </div>
    </>
  );
}

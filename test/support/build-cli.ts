/**
 * Vitest global setup: the CLI tests run the real built binary (dist/bin/mvault.js, tsc's
 * output bundled by scripts/bundle-cli.mjs — what `npm start` and users run) and the
 * browser tests the built web UI (dist/web), so build each when it is missing or older
 * than its sources (mtimes only: cheap when nothing changed). `npm test` builds first
 * (pretest), so there this finds both fresh and does nothing.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'dist', 'bin', 'mvault.js');
const WEB_INDEX = join(ROOT, 'dist', 'web', 'index.html');
const WEB_SOURCE = /\.(ts|tsx|css|html)$/;

function newestSource(dir: string, include: (name: string) => boolean): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path, include));
    else if (include(entry.name) && !entry.name.endsWith('.test.ts')) {
      newest = Math.max(newest, statSync(path).mtimeMs);
    }
  }
  return newest;
}

function mtime(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

export default function setup(): void {
  const require = createRequire(import.meta.url);
  const isTs = (name: string) => name.endsWith('.ts');
  if (mtime(MAIN) <= newestSource(join(ROOT, 'src'), isTs)) {
    execFileSync(
      process.execPath,
      [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
      {
        cwd: ROOT,
        stdio: 'inherit',
      },
    );
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'bundle-cli.mjs')], {
      cwd: ROOT,
      stdio: 'inherit',
    });
  }
  // The UI bundles web/ and the SDK it uses (src/client, src/core).
  const webNewest = Math.max(
    newestSource(join(ROOT, 'web'), (n) => WEB_SOURCE.test(n)),
    newestSource(join(ROOT, 'src', 'client'), isTs),
    newestSource(join(ROOT, 'src', 'core'), isTs),
  );
  if (mtime(WEB_INDEX) <= webNewest) {
    const vite = join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
    execFileSync(process.execPath, [vite, 'build', '--config', 'web/vite.config.ts'], {
      cwd: ROOT,
      stdio: 'inherit',
    });
  }
}

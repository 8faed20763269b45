/**
 * The SDK's dependency rules (DESIGN §8): the client imports only core, the pure chunking
 * and format modules, and itself; and what `index.ts` loads eagerly uses no Node built-ins,
 * so the SDK runs in browsers (push and pull load their Node-only code on demand).
 */
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Static, value-level imports of a module (type-only imports and `import()` excluded). */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  const re = /^(?:import|export)\s+(?!type\b)(?:[^'";]*?\s+from\s+)?'([^']+)'/gm;
  for (const m of text.matchAll(re)) {
    // `import { type A, type B } from` is type-only too.
    const clause = m[0];
    const names = /\{([^}]*)\}/.exec(clause)?.[1];
    if (names?.split(',').every((n) => n.trim() === '' || n.trim().startsWith('type '))) {
      continue;
    }
    out.push(m[1]!);
  }
  return out;
}

function graph(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const spec of imports(file)) {
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      else seen.add(spec);
    }
  };
  visit(entry);
  return seen;
}

const allowed = (rel: string) =>
  rel.startsWith('core/') ||
  rel.startsWith('client/') ||
  rel.startsWith('formats/') ||
  rel.startsWith('storage/chunking/');

describe('client import boundary', () => {
  it('reaches only core, formats, pure chunking and itself', () => {
    for (const entry of ['index.ts', 'node-transfer.ts']) {
      for (const dep of graph(join(SRC, 'client', entry))) {
        if (!dep.startsWith('/')) continue;
        const rel = relative(SRC, dep);
        expect(allowed(rel), `${entry} reaches ${rel}`).toBe(true);
      }
    }
  });

  it('loads no Node built-ins from index.ts', () => {
    const builtins = [...graph(join(SRC, 'client', 'index.ts'))].filter((d) => !d.startsWith('/'));
    expect(builtins).toEqual([]);
    // The Node-only half does use them (so the check above can fail).
    expect([...graph(join(SRC, 'client', 'node-transfer.ts'))]).toContain('node:crypto');
  });
});

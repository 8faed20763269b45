/**
 * Which SQL dialects the metadata suites run on: `MODELVAULT_TEST_DIALECTS=sqlite,postgres`
 * (comma-separated). Default: both when the PostgreSQL binaries are on this machine, else
 * SQLite alone — unless `MODELVAULT_TEST_REQUIRE_ALL=1` (CI), where missing PostgreSQL
 * fails the run instead.
 */
export type TestDialect = 'sqlite' | 'postgres';

const KNOWN: readonly TestDialect[] = ['sqlite', 'postgres'];

/** The dialects asked for explicitly, or undefined for the default. @throws on a typo. */
export function requestedDialects(
  env: NodeJS.ProcessEnv = process.env,
): readonly TestDialect[] | undefined {
  const text = env.MODELVAULT_TEST_DIALECTS?.trim();
  if (!text) return undefined;
  const names = text.split(',').map((s) => s.trim().toLowerCase());
  for (const n of names) {
    if (!KNOWN.includes(n as TestDialect)) {
      throw new Error(`MODELVAULT_TEST_DIALECTS: unknown dialect '${n}' (sqlite, postgres)`);
    }
  }
  return KNOWN.filter((d) => names.includes(d));
}

export function requireAll(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.MODELVAULT_TEST_REQUIRE_ALL === '1';
}

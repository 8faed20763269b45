/**
 * Metadata at scale: 1,000 models × 100 versions, each with 10 metrics and 10 params.
 * Measures search with a metric filter and ORDER BY a metric (p50/p95 over 200 queries,
 * through the registry's searchVersions: parse, compile, SQL, hydrate), the same search
 * with a filter that matches few versions and one that matches most (the two ends of the
 * search's plan choice), and on SQLite `mvault ls MODEL` wall time (the built CLI binary,
 * median of 5).
 *
 *   npm run bench:metadata -- [--models 1000] [--versions 100] [--rounds 3] [--queries 200]
 *                             [--registry DIR] [--postgres | --postgres-url URL] [--skip-cli]
 *
 * --rounds: the queries run that many times; each round's p50/p95 is printed and the
 *   table reports the median round (the machine is shared: single rounds are noisy).
 * --registry DIR: keep the loaded registry in DIR and reuse it on the next run (loading
 *   100,000 versions takes about a minute); without it a temp directory is removed.
 * --postgres: the metadata on a throwaway PostgreSQL cluster that the bench starts itself
 *   (initdb + pg_ctl, as the tests do) and removes; --postgres-url: on that database
 *   instead (it should be empty; the bench creates its tables there and leaves them).
 * --skip-cli: no `mvault ls` timing (e.g. for a source tree that is not built).
 *
 * The rows are bulk-loaded with plain SQL (creating 100,000 versions through the API,
 * each with an fsync'ed audit event, would take the benchmark's whole budget and measure
 * something else); PostgreSQL then VACUUMs and ANALYZEs it, as its autovacuum would soon
 * after such a load. Queries go through the real registry.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { DatabaseConfig } from '../src/metadata/database.js';
import { openRegistryDirectory } from '../src/registry/registry-directory.js';
import { pseudoRandomNumbers } from '../test/fixtures/model-files.js';
import { type PostgresServer, startPostgres } from '../test/support/postgres-server.js';
import { median } from './lib/util.js';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: '1000' },
    versions: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '3' },
    queries: { type: 'string', default: '200' },
    registry: { type: 'string' },
    postgres: { type: 'boolean', default: false },
    'postgres-url': { type: 'string' },
    'skip-cli': { type: 'boolean', default: false },
  },
});
const MODELS = Number(values.models);
const VERSIONS = Number(values.versions);
const ROUNDS = Number(values.rounds);
const QUERIES = Number(values.queries);
const METRICS = 10;
const PARAMS = 10;
const onPostgres = values.postgres || values['postgres-url'] !== undefined;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** One model's generated versions: metric and param values, the same on every dialect. */
interface GeneratedVersion {
  readonly version: number;
  readonly digest: string;
  readonly metrics: readonly number[];
  readonly params: readonly string[];
}

function* generate(): Generator<{ name: string; versions: GeneratedVersion[] }> {
  const rand = pseudoRandomNumbers(0x9e3779b9);
  for (let m = 0; m < MODELS; m++) {
    const versions: GeneratedVersion[] = [];
    for (let v = 1; v <= VERSIONS; v++) {
      const metrics = Array.from({ length: METRICS }, () => rand());
      const params = Array.from({ length: PARAMS }, () => String(Math.floor(rand() * 10)));
      versions.push({
        version: v,
        digest: (m * VERSIONS + v).toString(16).padStart(64, '0'),
        metrics,
        params,
      });
    }
    yield { name: `model-${m}`, versions };
  }
}

const VERSION_COLUMNS = `model_id, version, manifest_digest, size, file_count, description, created_by,
  created_at, updated_at, status, status_message, stage, approval, approval_reviewer,
  approval_comment, approval_time, run_id, source, deleted_at, model_card`;

function loadSqlite(path: string, now: number): void {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  const insModel = db.prepare(
    `insert into registered_models (name, description, owner, created_at, updated_at, deleted_at, next_version)
     values (?, null, 'bench', ?, ?, null, ?)`,
  );
  const insVersion = db.prepare(
    `insert into model_versions (${VERSION_COLUMNS})
     values (?, ?, ?, 1000, 1, null, 'bench', ?, ?, 'READY', null, 'None', 'pending', null, null, null, null, null, null, null)`,
  );
  const insMetric = db.prepare(
    'insert into version_metrics (version_id, key, value, step, timestamp) values (?, ?, ?, 0, ?)',
  );
  const insLatest = db.prepare(
    'insert into version_latest_metrics (version_id, key, value, step, timestamp) values (?, ?, ?, 0, ?)',
  );
  const insParam = db.prepare(
    'insert into version_params (version_id, key, value) values (?, ?, ?)',
  );
  db.transaction(() => {
    for (const model of generate()) {
      const modelId = Number(insModel.run(model.name, now, now, VERSIONS + 1).lastInsertRowid);
      for (const v of model.versions) {
        const at = now + v.version;
        const versionId = Number(
          insVersion.run(modelId, v.version, v.digest, at, at).lastInsertRowid,
        );
        for (const [k, value] of v.metrics.entries()) {
          insMetric.run(versionId, `m${k}`, value, now);
          insLatest.run(versionId, `m${k}`, value, now);
        }
        for (const [k, value] of v.params.entries()) insParam.run(versionId, `p${k}`, value);
      }
    }
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

/** Bulk load through `unnest` of arrays: one statement per table per batch of models. */
async function loadPostgres(url: string, now: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const BATCH = 20;
    let batch: { name: string; versions: GeneratedVersion[] }[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      await client.query('begin');
      const models = await client.query<{ id: string; name: string }>(
        `insert into registered_models (name, description, owner, created_at, updated_at, deleted_at, next_version)
         select n, null, 'bench', $2, $2, null, $3 from unnest($1::text[]) as n returning id, name`,
        [batch.map((b) => b.name), now, VERSIONS + 1],
      );
      const modelIds = new Map(models.rows.map((r) => [r.name, Number(r.id)]));
      const vm: number[] = [];
      const vv: number[] = [];
      const vd: string[] = [];
      const va: number[] = [];
      for (const b of batch) {
        for (const v of b.versions) {
          vm.push(modelIds.get(b.name)!);
          vv.push(v.version);
          vd.push(v.digest);
          va.push(now + v.version);
        }
      }
      const versions = await client.query<{ id: string; model_id: string; version: number }>(
        `insert into model_versions (${VERSION_COLUMNS})
         select m, v, d, 1000, 1, null, 'bench', a, a, 'READY', null, 'None', 'pending', null, null, null, null, null, null, null
         from unnest($1::bigint[], $2::int[], $3::text[], $4::bigint[]) as t(m, v, d, a)
         returning id, model_id, version`,
        [vm, vv, vd, va],
      );
      const versionIds = new Map(
        versions.rows.map((r) => [`${r.model_id}:${r.version}`, Number(r.id)]),
      );
      const mi: number[] = [];
      const mk: string[] = [];
      const mv: number[] = [];
      const pi: number[] = [];
      const pk: string[] = [];
      const pv: string[] = [];
      for (const b of batch) {
        for (const v of b.versions) {
          const id = versionIds.get(`${modelIds.get(b.name)}:${v.version}`)!;
          v.metrics.forEach((value, k) => {
            mi.push(id);
            mk.push(`m${k}`);
            mv.push(value);
          });
          v.params.forEach((value, k) => {
            pi.push(id);
            pk.push(`p${k}`);
            pv.push(value);
          });
        }
      }
      for (const table of ['version_metrics', 'version_latest_metrics']) {
        await client.query(
          `insert into ${table} (version_id, key, value, step, timestamp)
           select i, k, v, 0, $4 from unnest($1::bigint[], $2::text[], $3::float8[]) as t(i, k, v)`,
          [mi, mk, mv, now],
        );
      }
      await client.query(
        `insert into version_params (version_id, key, value)
         select i, k, v from unnest($1::bigint[], $2::text[], $3::text[]) as t(i, k, v)`,
        [pi, pk, pv],
      );
      await client.query('commit');
      batch = [];
    };
    for (const model of generate()) {
      batch.push(model);
      if (batch.length >= BATCH) await flush();
    }
    await flush();
    // VACUUM too, as autovacuum would: it sets the visibility map, without which the
    // search's index-only scans fetch heap pages (autovacuum had run mid-load, leaving the
    // last batches' pages unmarked: ~14 % heap fetches on the walk).
    await client.query('vacuum analyze');
  } finally {
    await client.end();
  }
}

async function versionCount(config: DatabaseConfig): Promise<number> {
  if (config.kind === 'sqlite') {
    if (!existsSync(config.path)) return 0;
    const db = new Database(config.path, { readonly: true });
    try {
      return (db.prepare('select count(*) as n from model_versions').get() as { n: number }).n;
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: config.url });
  await client.connect();
  try {
    const r = await client.query<{ n: string }>('select count(*) as n from model_versions');
    return Number(r.rows[0]!.n);
  } finally {
    await client.end();
  }
}

/** The timed query shapes: the issue's, plus the two ends of the filter's selectivity. */
const SHAPES = [
  {
    label: "`metrics.m0 > x AND params.p1 = 'y'`, ORDER BY `metrics.m1 DESC` (the issue's query)",
    queries: QUERIES,
    query: (rand: () => number, i: number) => ({
      filter: `metrics.m0 > ${(0.5 + rand() * 0.49).toFixed(3)} AND params.p1 = '${i % 10}'`,
      orderBy: ['metrics.m1 DESC'],
    }),
  },
  {
    label: "few match: `metrics.m0 > 0.999x AND params.p1 = 'y'`, ORDER BY `metrics.m1 DESC`",
    queries: Math.ceil(QUERIES / 4),
    query: (rand: () => number, i: number) => ({
      filter: `metrics.m0 > ${(0.999 + rand() * 0.0009).toFixed(5)} AND params.p1 = '${i % 10}'`,
      orderBy: ['metrics.m1 DESC'],
    }),
  },
  {
    label: 'most match: `metrics.m0 > 0.0x`, ORDER BY `metrics.m1 ASC`',
    queries: Math.ceil(QUERIES / 4),
    query: (rand: () => number) => ({
      filter: `metrics.m0 > ${(rand() * 0.1).toFixed(3)}`,
      orderBy: ['metrics.m1 ASC'],
    }),
  },
] as const;

let pgServer: PostgresServer | undefined;
const root = values.registry ?? (await mkdtemp(join(tmpdir(), 'mv-bench-meta-')));
const registryDir = join(root, '.modelvault');
try {
  let config: DatabaseConfig = { kind: 'sqlite', path: join(registryDir, 'metadata.db') };
  if (onPostgres) {
    let url = values['postgres-url'];
    if (url === undefined) {
      if (values.registry !== undefined) {
        throw new Error('--registry keeps a SQLite registry; with --postgres use --postgres-url');
      }
      // As a server would be tuned for this data (464 MB): the default 128 MB cache would
      // keep re-reading the search's indexes from the OS page cache.
      pgServer = await startPostgres(undefined, ['shared_buffers=1GB']);
      url = pgServer.url;
    }
    config = { kind: 'postgres', url };
  }
  await mkdir(root, { recursive: true });
  (
    await openRegistryDirectory(registryDir, {
      create: true,
      ...(onPostgres ? { database: config } : {}),
    })
  ).close();

  const now = Date.now();
  let loadSeconds: number | undefined;
  const existing = await versionCount(config);
  if (existing === 0) {
    const t0 = performance.now();
    if (config.kind === 'sqlite') loadSqlite(config.path, now);
    else await loadPostgres(config.url, now);
    loadSeconds = (performance.now() - t0) / 1000;
  } else if (existing !== MODELS * VERSIONS) {
    throw new Error(`the registry holds ${existing} versions, not ${MODELS * VERSIONS}`);
  }

  const dir = await openRegistryDirectory(registryDir, onPostgres ? { database: config } : {});
  // One untimed query first: connections, statement caches and the page cache warm up.
  await dir.registry.searchVersions({ filter: 'metrics.m0 > 0.5', orderBy: ['metrics.m1 DESC'] });
  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  type RoundResult = { p50: number; p95: number; cpu50: number; cpu95: number; rows: number };
  const rounds: RoundResult[][] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const rand = pseudoRandomNumbers(0x2545f491 + round);
    const results: RoundResult[] = [];
    for (const shape of SHAPES) {
      const times: number[] = [];
      const cpu: number[] = [];
      let matched = 0;
      for (let i = 0; i < shape.queries; i++) {
        const q = shape.query(rand, i);
        const c = cpuMs();
        const t = performance.now();
        const r = await dir.registry.searchVersions({ ...q, maxResults: 100 });
        times.push(performance.now() - t);
        cpu.push(cpuMs() - c);
        matched += r.items.length;
      }
      times.sort((a, b) => a - b);
      cpu.sort((a, b) => a - b);
      results.push({
        p50: percentile(times, 50),
        p95: percentile(times, 95),
        cpu50: percentile(cpu, 50),
        cpu95: percentile(cpu, 95),
        rows: matched / shape.queries,
      });
    }
    rounds.push(results);
    console.error(
      `round ${round + 1}: ${results.map((r) => `${r.p50.toFixed(1)}/${r.p95.toFixed(1)} ms (CPU ${r.cpu50.toFixed(1)}/${r.cpu95.toFixed(1)})`).join(', ')} (load ${loadavg()[0]!.toFixed(1)})`,
    );
  }

  // One model's versions through the API, and `mvault ls MODEL` through the binary.
  const lsApi: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    await dir.registry.listVersions(`model-${Math.floor(MODELS / 2)}`, { maxResults: 100 });
    lsApi.push(performance.now() - t);
  }
  lsApi.sort((a, b) => a - b);
  await dir.close();

  const lsCli: number[] = [];
  if (!onPostgres && !values['skip-cli']) {
    const cli = join(import.meta.dirname, '..', 'dist', 'bin', 'mvault.js');
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      execFileSync(
        process.execPath,
        [cli, '--registry', registryDir, 'ls', `model-${Math.floor(MODELS / 2)}`],
        { stdio: 'ignore' },
      );
      lsCli.push(performance.now() - t);
    }
    lsCli.sort((a, b) => a - b);
  }
  const nodeStart: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    execFileSync(process.execPath, ['-e', '0']);
    nodeStart.push(performance.now() - t);
  }
  nodeStart.sort((a, b) => a - b);

  const fmt = (n: number) => n.toFixed(1);
  console.log(`# Metadata benchmark (${config.kind}) — ${new Date().toISOString()}`);
  console.log(
    `\n${MODELS} models × ${VERSIONS} versions, ${METRICS} metrics and ${PARAMS} params each (${loadSeconds === undefined ? 'loaded before' : `bulk load ${loadSeconds.toFixed(1)} s`}); load average ${loadavg()[0]!.toFixed(1)}; median of ${ROUNDS} round(s)\n`,
  );
  console.log('| measurement | p50 ms | p95 ms | CPU p50 ms | CPU p95 ms |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  SHAPES.forEach((shape, s) => {
    const of = (k: keyof RoundResult) => fmt(median(rounds.map((r) => r[s]![k])));
    const rows = rounds[0]![s]!.rows;
    console.log(
      `| searchVersions: ${shape.label}, 100 results (${shape.queries} queries, ${rows.toFixed(0)} rows each) | ${of('p50')} | ${of('p95')} | ${of('cpu50')} | ${of('cpu95')} |`,
    );
  });
  console.log(
    `| listVersions(one model), API (20 runs) | ${fmt(percentile(lsApi, 50))} | ${fmt(percentile(lsApi, 95))} | | |`,
  );
  if (lsCli.length > 0) {
    console.log(
      `| \`mvault ls MODEL\`, whole process (5 runs) | ${fmt(percentile(lsCli, 50))} | ${fmt(percentile(lsCli, 95))} | | |`,
    );
  }
  console.log(
    `| \`node -e 0\`, for reference (5 runs) | ${fmt(percentile(nodeStart, 50))} | ${fmt(percentile(nodeStart, 95))} | | |`,
  );
} finally {
  pgServer?.stop();
  if (values.registry === undefined) await rm(root, { recursive: true, force: true });
}

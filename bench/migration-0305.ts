/**
 * Migration 0305 (packed metric history) on a large database: wall time, CPU and peak RSS
 * of the upgrade, against a baseline measured in the same run on the same data.
 *
 *   node --import tsx bench/migration-0305.ts [--runs 2000] [--keys 50] [--steps 200]
 *     [--pending 0] [--rounds 3] [--postgres] [--keep DIR]
 *
 * The database is built at the schema just before 0305 (the registry's migrations up to
 * 0304), then `run_metrics` is filled with --runs × --keys × --steps points (one INSERT …
 * SELECT over recursive CTEs / generate_series; a NaN every 97 steps) and every run gets
 * --pending points in `run_pending_metrics` (the keys in turn, steps continuing after the
 * folded ones, the first tenth of them repeating folded points, as a job resumed from a
 * checkpoint logs them). PostgreSQL then VACUUMs and ANALYZEs, as its autovacuum would.
 * That database is the template: each round copies it (SQLite: the file; PostgreSQL:
 * CREATE DATABASE … TEMPLATE) and runs, each in a child process of its own,
 *
 * - baseline: in one transaction (rolled back), `select count(*)` of run_metrics and
 *   `create table … as select * from run_metrics` — one full read and one full write of
 *   the points, what any copy of the table costs on this machine at this moment;
 * - migrate: openDatabase with the migrations up to 0305, i.e. what a server upgrading
 *   from 0304 runs at start-up (0305 alone is pending).
 *
 * Each child reports its wall time, CPU (user + system, process.cpuUsage) and peak RSS
 * (process.resourceUsage().maxRSS); the table gives each round and the medians, and the
 * migration's time per million points and as a multiple of the baseline's (the machine is
 * shared: the ratio is what compares runs). --keep DIR keeps the template in DIR and reuses
 * it when its shape matches (SQLite only). --postgres: a throwaway cluster started by the
 * bench (initdb + pg_ctl, as the tests do) and removed at the end.
 *
 * Shapes measured in docs/benchmarks.md (MLflow section, session 13): many ordinary runs
 * (--runs 2000 --keys 50 --steps 200), one long key (--runs 1 --keys 1 --steps 2000000),
 * pending points (--pending 4000).
 */
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { type DatabaseConfig, openDatabase } from '../src/metadata/database.js';
import { REGISTRY_MIGRATIONS } from '../src/registry/local-registry.js';
import { type PostgresServer, startPostgres } from '../test/support/postgres-server.js';
import { median } from './lib/util.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '2000' },
    keys: { type: 'string', default: '50' },
    steps: { type: 'string', default: '200' },
    pending: { type: 'string', default: '0' },
    rounds: { type: 'string', default: '3' },
    postgres: { type: 'boolean', default: false },
    keep: { type: 'string' },
    // Internal: the child's part and its database (JSON DatabaseConfig).
    child: { type: 'string' },
    config: { type: 'string' },
  },
});

const BEFORE_0305 = REGISTRY_MIGRATIONS.filter((m) => m.name < '0305');
const UP_TO_0305 = REGISTRY_MIGRATIONS.filter((m) => m.name <= '0305-packed-metric-history');

interface ChildResult {
  readonly wallMs: number;
  readonly cpuMs: number;
  /** Peak RSS of the child process, MiB. */
  readonly maxRssMiB: number;
  /**
   * RSS of file pages at the end (MiB): SQLite reads the database through a memory map of
   * up to 256 MiB (dialects/sqlite.ts), whose pages count in the peak RSS too.
   */
  readonly rssFileMiB: number;
  /** SQLite: the database file and its WAL after the migration (MB), before any checkpoint. */
  readonly dbMB?: number;
  readonly walMB?: number;
  /** The baseline's parts, ms. */
  readonly countMs?: number;
  readonly copyMs?: number;
}

/** The child: one measured step on `config`, its figures as one JSON line on stdout. */
async function child(what: string, config: DatabaseConfig): Promise<void> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let countMs: number | undefined;
  let copyMs: number | undefined;
  let rssFileMiB = Number.NaN;
  let files: { dbMB: number; walMB: number } | undefined;
  const rssFile = async () => {
    const status = await readFile('/proc/self/status', 'utf8').catch(() => '');
    return Number(/RssFile:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN) / 1024;
  };
  if (what === 'migrate') {
    const db = await openDatabase(config, UP_TO_0305);
    rssFileMiB = await rssFile();
    if (config.kind === 'sqlite') {
      const size = (p: string) => (existsSync(p) ? statSync(p).size / 1e6 : 0);
      files = { dbMB: size(config.path), walMB: size(`${config.path}-wal`) };
    }
    await db.db.destroy();
  } else if (config.kind === 'sqlite') {
    const db = new Database(config.path);
    db.exec('begin');
    const a = performance.now();
    db.prepare('select count(*) from run_metrics').get();
    const b = performance.now();
    db.exec('create table bench_copy as select * from run_metrics');
    copyMs = performance.now() - b;
    countMs = b - a;
    rssFileMiB = await rssFile();
    db.exec('rollback');
    db.close();
  } else {
    const client = new pg.Client({ connectionString: config.url });
    await client.connect();
    await client.query('begin');
    const a = performance.now();
    await client.query('select count(*) from run_metrics');
    const b = performance.now();
    await client.query('create table bench_copy as select * from run_metrics');
    copyMs = performance.now() - b;
    countMs = b - a;
    await client.query('rollback');
    await client.end();
  }
  const cpu = process.cpuUsage(c0);
  const result: ChildResult = {
    wallMs: performance.now() - t0,
    cpuMs: (cpu.user + cpu.system) / 1000,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    rssFileMiB,
    ...files,
    ...(countMs !== undefined ? { countMs } : {}),
    ...(copyMs !== undefined ? { copyMs } : {}),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function runChild(what: string, config: DatabaseConfig): Promise<ChildResult> {
  const self = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    const p = spawn(
      process.execPath,
      ['--import', 'tsx', self, '--child', what, '--config', JSON.stringify(config)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    p.stdout.on('data', (d) => {
      out += d;
    });
    p.on('error', reject);
    p.on('exit', (code) => {
      if (code !== 0) reject(new Error(`child ${what} exited with ${code}`));
      else resolve(JSON.parse(out.trim().split('\n').pop()!) as ChildResult);
    });
  });
}

const RUNS = Number(values.runs);
const KEYS = Number(values.keys);
const STEPS = Number(values.steps);
const PENDING = Number(values.pending);
const ROUNDS = Number(values.rounds);
const T0 = 1_700_000_000_000;

// The generated points, as SQL over (r: run key, j: key number, s: step). Keys sort as
// their numbers (zero-padded), so the SELECT yields them in run_metrics' key order.
const KEY = (j: string) => `'metric/' || ${j}`;
const VALUE = (s: string, j: string) => `((${s} * 7919 + ${j} * 104729) % 1000003) / 1000003.0`;

/** SQLite: the old tables filled in their key order, then checkpointed. */
function fillSqlite(path: string): void {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  db.pragma('foreign_keys = OFF');
  const keyOf = (j: string) => KEY(`printf('%06d', ${j})`);
  db.transaction(() => {
    db.exec(`insert into experiments (id, name, artifact_location, lifecycle_stage, created_at, updated_at)
      values (1, 'bench', '/tmp/bench', 'active', ${T0}, ${T0})`);
    db.exec(`with recursive r(k) as (select 1 union all select k + 1 from r where k < ${RUNS})
      insert into runs (id, experiment_id, name, user_id, status, start_time, end_time,
        lifecycle_stage, artifact_uri, run_key)
      select printf('%032x', k), 1, 'run-' || k, 'bench', 'FINISHED', ${T0} + k, null,
        'active', '/tmp/bench/' || k, k from r`);
    db.exec(`with recursive
        r(k) as (select 1 union all select k + 1 from r where k < ${RUNS}),
        j(j) as (select 0 union all select j + 1 from j where j < ${KEYS - 1}),
        s(s) as (select 0 union all select s + 1 from s where s < ${STEPS - 1})
      insert into run_metrics (run_key, key, step, timestamp, value, is_nan)
      select k, ${keyOf('j')}, s, ${T0} + s * 1000,
        case when s % 97 = 96 then 0 else ${VALUE('s', 'j')} end,
        case when s % 97 = 96 then 1 else 0 end
      from r, j, s`);
    if (PENDING > 0) {
      // Pending point p: key p % KEYS at step STEPS - PENDING/10/KEYS + p / KEYS (the first
      // tenth repeat folded points exactly).
      const back = Math.floor(PENDING / 10 / KEYS);
      db.exec(`with recursive
          r(k) as (select 1 union all select k + 1 from r where k < ${RUNS}),
          p(p) as (select 0 union all select p + 1 from p where p < ${PENDING - 1})
        insert into run_pending_metrics (run_key, seq, key, step, timestamp, value, is_nan)
        select k, p, ${keyOf(`p % ${KEYS}`)}, ${STEPS - back} + p / ${KEYS},
          ${T0} + (${STEPS - back} + p / ${KEYS}) * 1000,
          ${VALUE(`(${STEPS - back} + p / ${KEYS})`, `(p % ${KEYS})`)}, 0
        from r, p`);
    }
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

/** PostgreSQL: the same points through generate_series, then VACUUM ANALYZE. */
async function fillPostgres(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const keyOf = (j: string) => KEY(`lpad((${j})::text, 6, '0')`);
  try {
    await client.query(`insert into experiments (id, name, artifact_location, lifecycle_stage, created_at, updated_at)
      values (1, 'bench', '/tmp/bench', 'active', ${T0}, ${T0})`);
    await client.query(`insert into runs (id, experiment_id, name, user_id, status, start_time,
        end_time, lifecycle_stage, artifact_uri, run_key)
      select lpad(to_hex(k), 32, '0'), 1, 'run-' || k, 'bench', 'FINISHED', ${T0} + k, null,
        'active', '/tmp/bench/' || k, k from generate_series(1, ${RUNS}) as k`);
    await client.query(`insert into run_metrics (run_key, key, step, timestamp, value, is_nan)
      select k, ${keyOf('j')}, s, ${T0} + s * 1000,
        case when s % 97 = 96 then 0 else ${VALUE('s::bigint', 'j')} end,
        case when s % 97 = 96 then 1 else 0 end
      from generate_series(1, ${RUNS}) as k, generate_series(0, ${KEYS - 1}) as j,
        generate_series(0, ${STEPS - 1}) as s
      order by 1, 2, 3`);
    if (PENDING > 0) {
      const back = Math.floor(PENDING / 10 / KEYS);
      await client.query(`insert into run_pending_metrics (run_key, seq, key, step, timestamp, value, is_nan)
        select k, p, ${keyOf(`p % ${KEYS}`)}, ${STEPS - back} + p / ${KEYS},
          ${T0} + (${STEPS - back} + p / ${KEYS}) * 1000,
          ${VALUE(`(${STEPS - back} + p / ${KEYS})::bigint`, `(p % ${KEYS})`)}, 0
        from generate_series(1, ${RUNS}) as k, generate_series(0, ${PENDING - 1}) as p`);
    }
    await client.query('vacuum analyze');
  } finally {
    await client.end();
  }
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

async function main(): Promise<void> {
  if (values.child) {
    await child(values.child, JSON.parse(values.config!) as DatabaseConfig);
    return;
  }
  const shape = `${RUNS}x${KEYS}x${STEPS}+${PENDING}`;
  const points = RUNS * KEYS * STEPS;
  const pendingPoints = RUNS * PENDING;
  console.log(
    `migration 0305: ${fmt(RUNS)} runs × ${fmt(KEYS)} keys × ${fmt(STEPS)} steps = ${fmt(points)} ` +
      `folded points, ${fmt(pendingPoints)} pending; ${values.postgres ? 'PostgreSQL' : 'SQLite'}; ` +
      `load ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
  );
  const tmp = await mkdtemp(join(tmpdir(), 'mv-bench-0305-'));
  let server: PostgresServer | undefined;
  const rows: { base: ChildResult; mig: ChildResult }[] = [];
  try {
    const t = performance.now();
    if (!values.postgres) {
      const dir = values.keep ?? tmp;
      await mkdir(dir, { recursive: true });
      const template = join(dir, `template-${shape}.db`);
      const made = join(dir, `template-${shape}.done`);
      if (!existsSync(made) || (await readFile(made, 'utf8')) !== shape) {
        await rm(template, { force: true });
        const db = await openDatabase({ kind: 'sqlite', path: template }, BEFORE_0305);
        await db.db.destroy();
        fillSqlite(template);
        await writeFile(made, shape);
      }
      console.log(
        `template ${fmt(statSync(template).size / 1e6)} MB, ready in ${fmt((performance.now() - t) / 1000, 1)} s`,
      );
      for (let round = 0; round < ROUNDS; round++) {
        const path = join(tmp, 'round.db');
        for (const suffix of ['', '-wal', '-shm']) await rm(path + suffix, { force: true });
        await copyFile(template, path);
        const config: DatabaseConfig = { kind: 'sqlite', path };
        const base = await runChild('baseline', config);
        const mig = await runChild('migrate', config);
        rows.push({ base, mig });
        console.log(JSON.stringify({ round, base, mig, load: loadavg()[0] }));
      }
    } else {
      server = await startPostgres(undefined, ['shared_buffers=512MB']);
      const admin = new pg.Client({ connectionString: server.url });
      admin.on('error', () => undefined); // the server stops under it on a failure
      await admin.connect();
      const urlOf = (name: string) => {
        const u = new URL(server!.url);
        u.pathname = `/${name}`;
        return u.toString();
      };
      await admin.query('create database bench_template');
      const db = await openDatabase(
        { kind: 'postgres', url: urlOf('bench_template') },
        BEFORE_0305,
      );
      await db.db.destroy();
      await fillPostgres(urlOf('bench_template'));
      console.log(`template ready in ${fmt((performance.now() - t) / 1000, 1)} s`);
      for (let round = 0; round < ROUNDS; round++) {
        await admin.query('drop database if exists bench_round');
        await admin.query('create database bench_round template bench_template');
        const config: DatabaseConfig = { kind: 'postgres', url: urlOf('bench_round') };
        const base = await runChild('baseline', config);
        const mig = await runChild('migrate', config);
        rows.push({ base, mig });
        console.log(JSON.stringify({ round, base, mig, load: loadavg()[0] }));
      }
      await admin.end();
    }
  } finally {
    server?.stop();
    await rm(tmp, { recursive: true, force: true });
  }
  const m = (f: (r: { base: ChildResult; mig: ChildResult }) => number) => median(rows.map(f));
  const total = points + pendingPoints;
  console.log('');
  console.log(
    '| round | baseline count+copy ms | baseline RSS MiB | migrate wall ms | migrate CPU ms | migrate peak RSS MiB | × baseline |',
  );
  console.log(
    '| ----: | ---------------------: | ---------------: | --------------: | -------------: | -------------------: | ---------: |',
  );
  const line = (
    label: string,
    r: { base: Omit<ChildResult, 'rssFileMiB'>; mig: Omit<ChildResult, 'rssFileMiB'> },
  ) =>
    console.log(
      `| ${label} | ${fmt(r.base.countMs!)}+${fmt(r.base.copyMs!)} | ${fmt(r.base.maxRssMiB)} | ` +
        `${fmt(r.mig.wallMs)} | ${fmt(r.mig.cpuMs)} | ${fmt(r.mig.maxRssMiB)} | ` +
        `${(r.mig.wallMs / (r.base.countMs! + r.base.copyMs!)).toFixed(1)} |`,
    );
  for (const [i, r] of rows.entries()) line(String(i + 1), r);
  const med = {
    base: {
      wallMs: m((r) => r.base.wallMs),
      cpuMs: m((r) => r.base.cpuMs),
      maxRssMiB: m((r) => r.base.maxRssMiB),
      countMs: m((r) => r.base.countMs!),
      copyMs: m((r) => r.base.copyMs!),
    },
    mig: {
      wallMs: m((r) => r.mig.wallMs),
      cpuMs: m((r) => r.mig.cpuMs),
      maxRssMiB: m((r) => r.mig.maxRssMiB),
    },
  };

  line('median', med);
  console.log(
    `(of the migration's peak RSS, file pages at its end: ${rows.map((r) => fmt(r.mig.rssFileMiB)).join(', ')} MiB)`,
  );
  if (rows[0]?.mig.walMB !== undefined) {
    console.log(
      `(after the migration: database file ${rows.map((r) => fmt(r.mig.dbMB!)).join(', ')} MB, ` +
        `WAL ${rows.map((r) => fmt(r.mig.walMB!)).join(', ')} MB)`,
    );
  }
  console.log(
    `\nmigration: ${fmt(med.mig.wallMs / (total / 1e6))} ms wall, ${fmt(med.mig.cpuMs / (total / 1e6))} ms CPU ` +
      `per million points (median; ${fmt(total)} points); ratio to baseline ` +
      `${m((r) => r.mig.wallMs / (r.base.countMs! + r.base.copyMs!)).toFixed(1)}×`,
  );
}

await main();

/**
 * What gc's purge of deleted MLflow runs costs (registry/tracking-purge.ts): a
 * registry with --runs deleted runs, each with --keys metric keys × --steps steps of
 * history (folded into segments, as logged by log-batch), 20 params, 5 tags, a dataset
 * input and one unique artifact of --artifact-bytes, all deleted more than the retention
 * period ago. On copies of that directory, each measured once:
 *
 * - purge: TrackingPurge.purge alone (what gc does before reading its roots);
 * - gc: the whole `gc({graceMs: 0})` (purge, roots, the store's collection).
 *
 * Reports wall time, CPU (user + system, process.cpuUsage; with --postgres also the
 * PostgreSQL server's, all its processes, from /proc), the growth of peak RSS (which counts
 * the pages of SQLite's memory map of the file that the deletes touch) and of the JS heap
 * (sampled every 5 ms).
 *
 * `--postgres`: the metadata on a throwaway PostgreSQL server the bench starts (as the tests
 * do: test/support/postgres-server.ts) and removes afterwards, also on SIGINT/SIGTERM. The
 * registry is built in database `bench_registry` (then ANALYZEd, as autovacuum would have
 * by then), which is renamed `bench_template`; each measurement gets a copy of it under the
 * name the directory records, `CREATE DATABASE bench_registry TEMPLATE bench_template`,
 * beside a copy of the directory (the store's packs). `--explain FILE` (PostgreSQL only)
 * loads auto_explain and turns it on for the purge's copy alone, so FILE receives the
 * server log with the plan (EXPLAIN ANALYZE, buffers) of every statement the purge ran.
 *
 *   node --import tsx bench/tracking-purge.ts [--runs 1000] [--keys 10] [--steps 500]
 *     [--artifact-bytes 20000] [--postgres [--explain FILE]]
 */
import { rmSync } from 'node:fs';
import { copyFile, cp, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { ArtifactService } from '../src/registry/artifact-service.js';
import { AuditService } from '../src/registry/audit-service.js';
import type { RegistryContext } from '../src/registry/registry-context.js';
import { openRegistryDirectory } from '../src/registry/registry-directory.js';
import { DELETED_RETENTION_MS } from '../src/registry/retention.js';
import { TrackingPurge } from '../src/registry/tracking-purge.js';
import { pseudoRandomBytes } from '../test/fixtures/model-files.js';
import { startPostgres } from '../test/support/postgres-server.js';
import { postgresCpu } from './lib/util.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '1000' },
    keys: { type: 'string', default: '10' },
    steps: { type: 'string', default: '500' },
    'artifact-bytes': { type: 'string', default: '20000' },
    postgres: { type: 'boolean', default: false },
    explain: { type: 'string' },
  },
});
if (values.explain !== undefined && !values.postgres) throw new Error('--explain needs --postgres');
const RUNS = Number(values.runs);
const KEYS = Number(values.keys);
const STEPS = Number(values.steps);
const ARTIFACT = Number(values['artifact-bytes']);
const DAY = 24 * 60 * 60 * 1000;

async function* once(bytes: Uint8Array) {
  yield bytes;
}

let now = Date.now();
const clock = () => now++;

/** Where the registry's metadata is: in PostgreSQL database `bench_registry`, or in its directory. */
function options() {
  return {
    clock,
    defaultActor: 'bench',
    ...(server ? { database: { kind: 'postgres' as const, url: databaseUrl(REGISTRY_DB) } } : {}),
  };
}

async function build(root: string): Promise<void> {
  const rd = await openRegistryDirectory(root, { create: true, ...options() });
  try {
    const t = rd.tracking;
    const artifacts = new ArtifactService({ store: rd.store });
    const exp = await t.createExperiment({ name: 'bench' });
    const started = performance.now();
    for (let r = 0; r < RUNS; r++) {
      const id = (await t.createRun({ experimentId: exp })).info.run_id;
      const points = [];
      for (let s = 0; s < STEPS; s++) {
        for (let k = 0; k < KEYS; k++) {
          points.push({ key: `metric_${k}`, value: Math.sin(s + k), timestamp: s, step: s });
        }
      }
      for (let i = 0; i < points.length; i += 1000) {
        await t.logBatch(id, { metrics: points.slice(i, i + 1000) });
      }
      await t.logBatch(id, {
        params: Array.from({ length: 20 }, (_, i) => ({ key: `p${i}`, value: String(i) })),
        tags: Array.from({ length: 5 }, (_, i) => ({ key: `t${i}`, value: 'x' })),
      });
      await t.logInputs(id, [
        { tags: [], dataset: { name: 'd', digest: 'abc', source_type: 'local', source: '/d' } },
      ]);
      await artifacts.put(
        `${exp}/${id}/artifacts/model/weights.bin`,
        once(pseudoRandomBytes(r + 1, ARTIFACT)),
      );
      await t.deleteRun(id);
    }
    console.log(
      `built ${RUNS} runs × ${KEYS} keys × ${STEPS} steps in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
  } finally {
    await rd.close();
  }
}

async function measure(
  label: string,
  root: string,
  fn: (rd: Awaited<ReturnType<typeof openRegistryDirectory>>) => Promise<unknown>,
) {
  const rd = await openRegistryDirectory(root, options());
  try {
    const rssBefore = process.resourceUsage().maxRSS;
    // The JS heap's peak, sampled (RSS also counts SQLite's memory map of the file).
    const heapBefore = process.memoryUsage().heapUsed;
    let heapPeak = heapBefore;
    const sampler = setInterval(() => {
      heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
    }, 5);
    const dbCpu = server ? await postgresCpu(server.dataDirectory) : 0;
    const cpu = process.cpuUsage();
    const wall = performance.now();
    const result = await fn(rd);
    const ms = performance.now() - wall;
    const used = process.cpuUsage(cpu);
    clearInterval(sampler);
    const dbUsed = server ? (await postgresCpu(server.dataDirectory)) - dbCpu : 0;
    console.log(
      `${label}: wall ${ms.toFixed(0)} ms, CPU ${((used.user + used.system) / 1000).toFixed(0)} ms (user ${(used.user / 1000).toFixed(0)}, system ${(used.system / 1000).toFixed(0)})${server ? `, PostgreSQL CPU ${(dbUsed * 1000).toFixed(0)} ms` : ''}, peak RSS +${((process.resourceUsage().maxRSS - rssBefore) / 1024).toFixed(0)} MiB, peak heap +${((heapPeak - heapBefore) / 2 ** 20).toFixed(0)} MiB → ${JSON.stringify(result)}`,
    );
  } finally {
    await rd.close();
  }
}

const server = values.postgres
  ? await startPostgres(
      undefined,
      values.explain === undefined ? [] : ['shared_preload_libraries=auto_explain'],
    )
  : undefined;
const dir = await mkdtemp(join(tmpdir(), 'mv-bench-purge-'));
// stop() is synchronous and idempotent: the cluster (and the copies) go even when the bench
// fails or is interrupted (a signal ends the process without 'exit' unless handled).
process.on('exit', () => {
  server?.stop();
  rmSync(dir, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));
if (server) process.stderr.write(`PostgreSQL: ${server.url}, data in ${server.dataDirectory}\n`);

function databaseUrl(db: string): string {
  if (!server) throw new Error('no PostgreSQL server');
  const u = new URL(server.url);
  u.pathname = `/${db}`;
  return u.toString();
}

const REGISTRY_DB = 'bench_registry';

/** Runs statements as the superuser on database `db` (`postgres` unless given). */
async function admin(statements: readonly string[], db = 'postgres'): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl(db) });
  await client.connect();
  try {
    for (const s of statements) await client.query(s);
  } finally {
    await client.end();
  }
}

/** A copy of the template registry for one measurement: its directory and its database. */
async function copyOf(label: string, explain = false): Promise<string> {
  await cp(join(dir, 'template'), join(dir, label), { recursive: true });
  if (server) {
    await admin([
      `drop database if exists ${REGISTRY_DB}`,
      `create database ${REGISTRY_DB} template bench_template`,
      ...(explain
        ? [
            `alter database ${REGISTRY_DB} set auto_explain.log_min_duration = 0`,
            `alter database ${REGISTRY_DB} set auto_explain.log_analyze = on`,
            `alter database ${REGISTRY_DB} set auto_explain.log_buffers = on`,
          ]
        : []),
    ]);
  }
  return join(dir, label);
}

try {
  if (server) await admin([`create database ${REGISTRY_DB}`]);
  await build(join(dir, 'template'));
  if (server) {
    await admin(['analyze'], REGISTRY_DB);
    await admin([`alter database ${REGISTRY_DB} rename to bench_template`]);
  }
  now += DELETED_RETENTION_MS + DAY;
  console.log(
    `${server ? 'PostgreSQL' : 'SQLite'}; load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  await measure('purge', await copyOf('purge', values.explain !== undefined), async (rd) => {
    const ctx = (rd.registry as unknown as { context: RegistryContext }).context;
    const purge = new TrackingPurge(
      ctx,
      new AuditService(ctx),
      new ArtifactService({ store: rd.store }),
    );
    return purge.purge(ctx.now() - ctx.retentionMs, 'bench');
  });
  if (server && values.explain !== undefined) {
    await copyFile(join(dirname(server.dataDirectory), 'server.log'), values.explain);
  }
  await measure('gc', await copyOf('gc'), (rd) => rd.registry.gc({ graceMs: 0 }));
} finally {
  await rm(dir, { recursive: true, force: true });
  server?.stop();
}

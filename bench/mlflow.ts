/**
 * MLflow API throughput through a real server process, one sequential client over a
 * keep-alive connection: req/s for runs/log-metric, runs/log-batch (100 metrics),
 * runs/get, metrics/get-history (one key of a run of 100 keys × 2,000 steps, the whole
 * history), model-versions/create (freezing a logged model of 5 files),
 * model-versions/search (a name filter, a page of 10 of 100 versions) and runs/search (an
 * experiment of 1,000 runs with 20 metrics and 5 params each, a page of 100: a metric
 * filter ordered by another metric, and a param filter in the default order), each as a
 * ratio to GET /health on the same server in the same run (the baseline: the HTTP stack
 * alone). Issue 5's target: >= 1650 req/s (10x MLflow 2.17's ~165 req/s on this kind of
 * machine).
 *
 *   node --import tsx bench/mlflow.ts [--requests 2000] [--rounds 5] [--cpu] [--only log-batch]
 *                                     [--postgres]
 *
 * Each round runs every workload for `--requests` requests after 200 warm-up requests;
 * the report gives the median over rounds. With `--cpu` it also reports the server
 * process's CPU time per request (utime + stime from /proc/<pid>/stat, read before and
 * after each measured loop), which, unlike req/s, hardly depends on what else the shared
 * machine is running. `--only` keeps the workloads whose name contains the text (the
 * /health baseline always runs). The server is `src/server/main.ts` on a
 * loopback port over a fresh registry in bench/.work/mlflow (removed afterwards).
 *
 * `--postgres`: the registry's metadata on a throwaway PostgreSQL server the bench starts
 * (as the tests do: test/support/postgres-server.ts) and removes afterwards; the server is
 * then `mvault serve` from the sources (src/cli/main.ts, `MODELVAULT_DB`, the registry
 * directory as `MODELVAULT_HOME`, created on start), which takes the database as
 * deployments do (docs/deploy.md). With `--cpu` it also reports the PostgreSQL server's
 * CPU time per request (its postmaster and all its processes, from /proc, around each
 * measured loop): on PostgreSQL much of a request's cost is outside the Node process.
 * `BENCH_PG_SETTINGS='log_statement=all …'` passes more settings to that server (its log
 * is in the cluster's directory; the bench prints where).
 */
import { mkdir, rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startPostgres } from '../test/support/postgres-server.js';
import { keepAliveClient, sequentialRate } from './lib/keep-alive-client.js';
import { startNodeServer, startServerProcess } from './lib/server-process.js';
import { median, postgresCpu } from './lib/util.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '5' },
    cpu: { type: 'boolean', default: false },
    only: { type: 'string' },
    postgres: { type: 'boolean', default: false },
  },
});
const REQUESTS = Number(values.requests);
const ROUNDS = Number(values.rounds);
const work = join(ROOT, 'bench', '.work', 'mlflow');
await rm(work, { recursive: true, force: true });
await mkdir(work, { recursive: true });

const pg = values.postgres
  ? await startPostgres(undefined, process.env.BENCH_PG_SETTINGS?.split(' ').filter(Boolean))
  : undefined;
// stop() is synchronous and idempotent: the cluster goes even when the bench fails or is
// interrupted (a signal ends the process without 'exit' unless handled).
process.on('exit', () => pg?.stop());
let stopServer = () => {};
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    stopServer();
    process.exit(130);
  });
}
if (pg) process.stderr.write(`PostgreSQL: ${pg.url}, data in ${pg.dataDirectory}\n`);
const server = pg
  ? await startNodeServer(['--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', '0'], {
      MODELVAULT_HOME: join(work, 'registry'),
      MODELVAULT_DB: pg.url,
    })
  : await startServerProcess(join(work, 'registry'));
stopServer = () => server.child.kill('SIGTERM');
const databaseCpu = pg && values.cpu ? () => postgresCpu(pg.dataDirectory) : undefined;

const client = keepAliveClient(server.url);
const call = client.call;

const post = (path: string, body: unknown) =>
  call('POST', `/api/2.0/mlflow/${path}`, JSON.stringify(body));
const created = JSON.parse(await post('runs/create', { experiment_id: '0', run_name: 'bench' }));
const runId: string = created.run.info.run_id;
// runs/get reads a run of realistic size: 100 metrics, 20 params, 10 tags.
const seed = JSON.parse(await post('runs/create', { experiment_id: '0', run_name: 'read' }));
const readId: string = seed.run.info.run_id;
await post('runs/log-batch', {
  run_id: readId,
  metrics: Array.from({ length: 100 }, (_, i) => ({
    key: `m${i}`,
    value: i,
    timestamp: 1,
    step: 0,
  })),
  params: Array.from({ length: 20 }, (_, i) => ({ key: `p${i}`, value: String(i) })),
  tags: Array.from({ length: 10 }, (_, i) => ({ key: `t${i}`, value: String(i) })),
});

// The registry workloads: a model whose versions are frozen from a logged model (5 files,
// as log_model writes them), and a model with 100 versions to search.
const artifactRoot = `0/${readId}/artifacts`;
for (const [name, size] of [
  ['MLmodel', 200],
  ['conda.yaml', 150],
  ['python_env.yaml', 100],
  ['requirements.txt', 50],
  ['python_model.pkl', 64 * 1024],
] as const) {
  await call(
    'PUT',
    `/api/2.0/mlflow-artifacts/artifacts/${artifactRoot}/model/${name}`,
    'x'.repeat(size),
  );
}
await post('registered-models/create', { name: 'bench-model' });
await post('registered-models/create', { name: 'bench-search' });
const source = `mlflow-artifacts:/${artifactRoot}/model`;
for (let i = 0; i < 100; i++) {
  await post('model-versions/create', { name: 'bench-search', source, run_id: readId });
}

// metrics/get-history reads one key of a run logged as training loops do: 2,000 steps of
// 100 keys (log-batch), so folded points and pending ones (seeded only when selected).
const historyName = 'metrics/get-history (2,000 points)';
const historyRun = JSON.parse(await post('runs/create', { experiment_id: '0', run_name: 'hist' }))
  .run.info.run_id as string;
if (values.only === undefined || historyName.includes(values.only)) {
  for (let s = 0; s < 2000; s++) {
    await post('runs/log-batch', {
      run_id: historyRun,
      metrics: Array.from({ length: 100 }, (_, i) => ({
        key: `k${i}`,
        value: (s * 100 + i) / 7,
        timestamp: 1_700_000_000_000 + s,
        step: s,
      })),
    });
  }
}

// runs/search over an experiment of 1,000 runs, each with 20 metrics and 5 params (one
// log-batch each, seeded only when selected): a metric filter ordered by another metric,
// and a param filter in the default order (start_time DESC), a page of 100 each.
const searchByMetric = 'runs/search (metric filter, order by metric, 100 of ~500)';
const searchByParam = 'runs/search (param filter, default order, 100 of 250)';
const searchExp = JSON.parse(await post('experiments/create', { name: 'bench-runs-search' }))
  .experiment_id as string;
if (
  values.only === undefined ||
  [searchByMetric, searchByParam].some((n) => n.includes(values.only!))
) {
  // A fixed pseudo-random sequence (an LCG), so every run of the bench seeds the same values.
  let state = 12345;
  const next = () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
  for (let r = 0; r < 1000; r++) {
    const run = JSON.parse(
      await post('runs/create', {
        experiment_id: searchExp,
        run_name: `s${r}`,
        start_time: 1_700_000_000_000 + r,
      }),
    ).run.info.run_id as string;
    await post('runs/log-batch', {
      run_id: run,
      metrics: Array.from({ length: 20 }, (_, i) => ({
        key: `m${i}`,
        value: next(),
        timestamp: 1_700_000_000_000 + r,
        step: 0,
      })),
      params: Array.from({ length: 5 }, (_, i) => ({ key: `p${i}`, value: String((r + i) % 4) })),
    });
  }
}

let step = 0;
const workloads: Record<string, () => Promise<unknown>> = {
  'GET /health (baseline)': () => call('GET', '/health'),
  'runs/log-metric': () =>
    post('runs/log-metric', {
      run_id: runId,
      run_uuid: runId,
      key: 'loss',
      value: Math.random(),
      timestamp: Date.now(),
      step: step++,
    }),
  'runs/log-batch (100 metrics)': () => {
    const s = step++;
    const ts = Date.now();
    return post('runs/log-batch', {
      run_id: runId,
      metrics: Array.from({ length: 100 }, (_, i) => ({
        key: `k${i}`,
        value: Math.random(),
        timestamp: ts,
        step: s,
      })),
    });
  },
  'runs/get': () => call('GET', `/api/2.0/mlflow/runs/get?run_id=${readId}&run_uuid=${readId}`),
  [historyName]: () =>
    call('GET', `/api/2.0/mlflow/metrics/get-history?run_id=${historyRun}&metric_key=k37`),
  'model-versions/create (freezes 5 files)': () =>
    post('model-versions/create', { name: 'bench-model', source, run_id: readId }),
  'model-versions/search (name, 10 of 100)': () =>
    call(
      'GET',
      `/api/2.0/mlflow/model-versions/search?filter=${encodeURIComponent("name='bench-search'")}&max_results=10`,
    ),
  [searchByMetric]: () =>
    post('runs/search', {
      experiment_ids: [searchExp],
      filter: 'metrics.m1 > 0.5',
      order_by: ['metrics.m2 DESC'],
      max_results: 100,
    }),
  [searchByParam]: () =>
    post('runs/search', {
      experiment_ids: [searchExp],
      filter: "params.p1 = '2'",
      max_results: 100,
    }),
};

const selected = Object.entries(workloads).filter(
  ([name], i) => i === 0 || values.only === undefined || name.includes(values.only),
);
const results: Record<string, number[]> = {};
const cpuPerRequest: Record<string, number[]> = {};
const dbCpuPerRequest: Record<string, number[]> = {};
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, fn] of selected) {
    const {
      reqPerS: rate,
      serverCpuMs: ms,
      databaseCpuMs: dbMs,
    } = await sequentialRate(REQUESTS, fn, {
      serverPid: values.cpu ? server.child.pid : undefined,
      databaseCpu,
    });
    results[name] = [...(results[name] ?? []), rate];
    let line = `round ${round + 1} ${name}: ${rate.toFixed(0)} req/s`;
    if (values.cpu) {
      cpuPerRequest[name] = [...(cpuPerRequest[name] ?? []), ms];
      line += `, server CPU ${ms.toFixed(3)} ms/request`;
    }
    if (databaseCpu) {
      dbCpuPerRequest[name] = [...(dbCpuPerRequest[name] ?? []), dbMs];
      line += `, PostgreSQL CPU ${dbMs.toFixed(3)} ms/request`;
    }
    process.stderr.write(`${line}\n`);
  }
}

const baseline = median(results['GET /health (baseline)']!);
console.log(
  `load average at the end: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
const cpuColumns =
  (values.cpu ? ' server CPU ms/request (median) |' : '') +
  (databaseCpu ? ' PostgreSQL CPU ms/request (median) |' : '');
console.log(
  `| workload${pg ? ' (PostgreSQL)' : ''} | req/s (median of ${ROUNDS}) | ratio to /health | vs target 1650 |${cpuColumns}`,
);
console.log(
  `| --- | ---: | ---: | ---: |${values.cpu ? ' ---: |' : ''}${databaseCpu ? ' ---: |' : ''}`,
);
for (const [name, rates] of Object.entries(results)) {
  const m = median(rates);
  const cpu =
    (values.cpu ? ` ${median(cpuPerRequest[name]!).toFixed(3)} |` : '') +
    (databaseCpu ? ` ${median(dbCpuPerRequest[name]!).toFixed(3)} |` : '');
  console.log(
    `| ${name} | ${m.toFixed(0)} | ${(m / baseline).toFixed(2)} | ${(m / 1650).toFixed(2)}x |${cpu}`,
  );
}

await server.stop();
client.destroy();
pg?.stop();
await rm(work, { recursive: true, force: true });

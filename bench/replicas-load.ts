/**
 * The server issue's read load through two replicas (issue 7): autocannon, 50 connections
 * for 20 s on GET version, against
 *   - one-sqlite: one server over an embedded registry (SQLite + local packs), the
 *     single-machine baseline;
 *   - one-replica: one `mvault serve --db postgres://… --blobs s3://…` replica;
 *   - two-replicas: two such replicas over the same PostgreSQL database and bucket, the
 *     50 connections split 25 / 25 (as a load balancer would), run at the same time.
 * Every setup serves the same version, pushed once through replica A. Rounds alternate the
 * order of the setups, so that neither meets a warmer machine every time; reported: req/s
 * (summed over the replicas), p50 / p99 latency, errors and non-2xx, and each server
 * process's CPU seconds per 1,000 requests (from /proc, steadier on a shared machine than
 * wall-clock rates). The machine has two cores shared by all the processes (PostgreSQL,
 * Swift, the servers and autocannon), so two replicas cannot add cores here: the figure
 * shows what the shared database and bucket cost per request, and that the load spreads.
 *
 *   npm run bench:replicas -- [--seconds 20] [--connections 50] [--rounds 3] [--out FILE]
 *
 * BENCH_SERVER_NODE_ARGS='--cpu-prof --cpu-prof-dir=DIR' profiles the servers.
 * Starts its own throwaway PostgreSQL (initdb + pg_ctl, as the tests do) and Swift
 * (scripts/s3-server.sh), under a temp directory removed at the end.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import autocannon from 'autocannon';
import { RemoteRegistry } from '../src/client/remote-registry.js';
import { s3ClientConfig } from '../src/storage/backends/s3/s3-backend.js';
import { pseudoRandomBytes } from '../test/fixtures/model-files.js';
import { startPostgres } from '../test/support/postgres-server.js';
import { type ServerProcess, startNodeServer } from './lib/server-process.js';
import { median } from './lib/util.js';

const run = promisify(execFile);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist', 'bin', 'mvault.js');
const S3_SCRIPT = join(ROOT, 'scripts', 's3-server.sh');
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    connections: { type: 'string', default: '50' },
    rounds: { type: 'string', default: '3' },
    out: { type: 'string' },
  },
});
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);
const ROUNDS = Number(values.rounds);
for (const [name, v] of [
  ['seconds', SECONDS],
  ['connections', CONNECTIONS],
  ['rounds', ROUNDS],
] as const) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer`);
}
if (CONNECTIONS < 2) throw new Error('--connections must be at least 2 (split over two replicas)');

/** `mvault serve ARGS` from the build (what users run), on a free port. */
function serve(args: readonly string[], env: NodeJS.ProcessEnv): Promise<ServerProcess> {
  return startNodeServer([CLI, 'serve', '--port', '0', ...args], {
    MODELVAULT_LOG_LEVEL: 'warn',
    ...env,
  });
}

/** User + system CPU seconds of a process so far (/proc/PID/stat, clock ticks of 1/100 s). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface Measured {
  readonly setup: string;
  readonly reqPerSec: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
  readonly cpuMsPerRequest: number;
  readonly load1: number;
}

/** Drives `connections` split evenly over `servers` at once, for SECONDS. */
async function measure(
  setup: string,
  servers: readonly ServerProcess[],
  path: string,
): Promise<Measured> {
  const before = await Promise.all(servers.map((s) => cpuSeconds(s.child.pid!)));
  const share = Math.floor(CONNECTIONS / servers.length);
  const results = await Promise.all(
    servers.map((s) =>
      autocannon({ url: `${s.url}${path}`, connections: share, duration: SECONDS }),
    ),
  );
  const after = await Promise.all(servers.map((s) => cpuSeconds(s.child.pid!)));
  const requests = results.reduce((n, r) => n + r.requests.total, 0);
  const cpu = after.reduce((n, a, i) => n + a - before[i]!, 0);
  // With one connection pool per server, the latency figures are those of the slower pool.
  return {
    setup,
    reqPerSec: results.reduce((n, r) => n + r.requests.average, 0),
    p50: Math.max(...results.map((r) => r.latency.p50)),
    p99: Math.max(...results.map((r) => r.latency.p99)),
    // autocannon's errors include its timeouts.
    errors: results.reduce((n, r) => n + r.errors, 0),
    timeouts: results.reduce((n, r) => n + r.timeouts, 0),
    non2xx: results.reduce((n, r) => n + r.non2xx, 0),
    cpuMsPerRequest: requests > 0 ? (cpu * 1000) / requests : Number.NaN,
    load1: loadavg()[0]!,
  };
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'mv-bench-replicas-'));
  const s3Dir = join(work, 's3');
  const served: ServerProcess[] = [];
  let pg: Awaited<ReturnType<typeof startPostgres>> | undefined;
  let s3Started = false;
  try {
    pg = await startPostgres();
    const endpoint = (await run('bash', [S3_SCRIPT, 'start', s3Dir])).stdout.trim();
    s3Started = true;
    const credentials = { accessKeyId: 'test:tester', secretAccessKey: 'testing' };
    const bucket = `mv-bench-${randomBytes(4).toString('hex')}`;
    await new S3Client(s3ClientConfig({ endpoint, region: 'us-east-1', credentials })).send(
      new CreateBucketCommand({ Bucket: bucket }),
    );
    const env = {
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_REGION: 'us-east-1',
    };

    // Replicas: own directories, one database, one bucket, one server secret.
    const secret = join(work, 'server-secret.key');
    await writeFile(secret, randomBytes(32).toString('hex'), { mode: 0o600 });
    const replicaArgs = async (name: string) => {
      const dir = join(work, name);
      await run(
        process.execPath,
        [CLI, 'init', dir, '--blobs', `s3://${bucket}/replicas`, '--s3-endpoint', endpoint],
        { cwd: work, env: { ...process.env, ...env } },
      );
      return ['--registry', join(dir, '.modelvault'), '--db', pg!.url, '--server-secret', secret];
    };
    const a = await serve(await replicaArgs('a'), env);
    served.push(a);
    const b = await serve(await replicaArgs('b'), env);
    served.push(b);
    const sqliteDir = join(work, 'embedded');
    await run(process.execPath, [CLI, 'init', sqliteDir], { cwd: work });
    const single = await serve(['--registry', join(sqliteDir, '.modelvault')], {});
    served.push(single);

    // The same small model version on both stores.
    const src = join(work, 'model');
    await mkdir(src, { recursive: true });
    await writeFile(join(src, 'weights.bin'), pseudoRandomBytes(7, 1024 * 1024));
    await writeFile(join(src, 'README.md'), '# load\n');
    for (const url of [a.url, single.url]) {
      const client = new RemoteRegistry(url);
      await client.push(src, { model: 'load', metrics: { auc: 0.9 }, params: { lr: '0.1' } });
      await client.close();
    }
    const path = `/api/v1/versions/${encodeURIComponent('load@1')}`;
    for (const s of served) {
      const res = await fetch(`${s.url}${path}`);
      if (!res.ok) throw new Error(`GET ${path} on ${s.url}: ${res.status}`);
    }

    const setups: Record<string, readonly ServerProcess[]> = {
      'one-sqlite': [single],
      'one-replica': [a],
      'two-replicas': [a, b],
    };
    const rows: Measured[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const names = Object.keys(setups);
      if (round % 2 === 1) names.reverse();
      for (const name of names) {
        const m = await measure(name, setups[name]!, path);
        rows.push(m);
        console.error(
          `round ${round + 1} ${name}: ${m.reqPerSec.toFixed(0)} req/s, p50 ${m.p50} ms, p99 ${m.p99} ms, ${m.errors} errors (${m.timeouts} timeouts), ${m.non2xx} non-2xx, ${m.cpuMsPerRequest.toFixed(3)} server CPU ms/request, load ${m.load1.toFixed(1)}`,
        );
      }
    }

    const summary = Object.keys(setups).map((setup) => {
      const mine = rows.filter((r) => r.setup === setup);
      return {
        setup,
        reqPerSec: median(mine.map((r) => r.reqPerSec)),
        p50: median(mine.map((r) => r.p50)),
        p99: median(mine.map((r) => r.p99)),
        errors: mine.reduce((n, r) => n + r.errors, 0),
        non2xx: mine.reduce((n, r) => n + r.non2xx, 0),
        cpuMsPerRequest: median(mine.map((r) => r.cpuMsPerRequest)),
      };
    });
    const base = summary[0]!;
    console.log(
      `GET version, ${CONNECTIONS} connections, ${SECONDS} s, median of ${ROUNDS} rounds (load ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} at the end)\n`,
    );
    console.log(
      '| setup | req/s | vs one-sqlite | p50 ms | p99 ms | errors | non-2xx | server CPU ms/request |',
    );
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const s of summary) {
      console.log(
        `| ${s.setup} | ${s.reqPerSec.toFixed(0)} | ${(s.reqPerSec / base.reqPerSec).toFixed(2)}× | ${s.p50} | ${s.p99} | ${s.errors} | ${s.non2xx} | ${s.cpuMsPerRequest.toFixed(3)} |`,
      );
    }
    if (values.out) {
      await writeFile(
        values.out,
        `${JSON.stringify({ seconds: SECONDS, connections: CONNECTIONS, rounds: rows, summary }, null, 2)}\n`,
      );
    }
    if (summary.some((s) => s.errors > 0 || s.non2xx > 0)) process.exitCode = 1;
  } finally {
    for (const s of served) await s.stop().catch(() => undefined);
    if (s3Started) await run('bash', [S3_SCRIPT, 'stop', s3Dir]).catch(() => undefined);
    try {
      pg?.stop();
    } catch {
      // already gone
    }
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

/**
 * The server against the embedded registry on the same data (issue 4's benchmark):
 *
 * 1. Push the partial fine-tune series version by version, once into a local registry
 *    directory (the embedded engine) and once through a server process on loopback (the
 *    SDK: client-side chunking, negotiation, batches). Reported per version: the remote
 *    push time as a multiple of the local one, and the bytes the client sent (counted by a
 *    TCP relay between client and server, HTTP headers and JSON included) as a multiple of
 *    the new chunk bytes the server lacked.
 * 2. Pull the last version over loopback against a local materialize of the same version,
 *    median of several runs each. The pull goes straight to the server: the relay (in
 *    this, the client's, process) would copy every byte once more and count its CPU as
 *    the client's, and there are no sent bytes to count.
 * 3. Read load: autocannon, 50 connections for 20 s, on GET version; and one sequential
 *    keep-alive client (node:http, bench/lib/keep-alive-client.ts) doing GET version and
 *    POST create-version, with GET /health in the same run as the baseline of what the
 *    HTTP stack alone costs; median of --rounds rounds, and with --cpu the server's CPU
 *    ms per request. Issue 4's target: 10x MLflow 2.17's ~160 req/s.
 *
 *   node --import tsx bench/server-api.ts [--scale 0.2] [--versions 10] [--runs 3]
 *                                         [--seconds 20] [--requests 2000] [--out FILE]
 *                                         [--rounds 3] [--cpu]
 *                                         [--transfer-only] (skip the read load)
 *                                         [--sequential-only] (only push version 1 and
 *                                           run the sequential client)
 *                                         [--only health,version,create] (the sequential
 *                                           client's workloads to run; all by default)
 *
 * Everything lives under bench/.work/server-api/ and is removed afterwards (the generated
 * series is kept there for reuse with --keep-series).
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { RemoteRegistry } from '../src/client/remote-registry.js';
import { openRegistryDirectory } from '../src/registry/registry-directory.js';
import { keepAliveClient, sequentialRate } from './lib/keep-alive-client.js';
import { generateSeries } from './lib/safetensors-series.js';
import { startServerProcess } from './lib/server-process.js';
import { median, processCpu } from './lib/util.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    scale: { type: 'string', default: '0.2' },
    versions: { type: 'string', default: '10' },
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '20' },
    requests: { type: 'string', default: '2000' },
    out: { type: 'string' },
    'keep-series': { type: 'boolean', default: false },
    'transfer-only': { type: 'boolean', default: false },
    'sequential-only': { type: 'boolean', default: false },
    rounds: { type: 'string', default: '3' },
    cpu: { type: 'boolean', default: false },
    only: { type: 'string' },
  },
});
const SCALE = Number(values.scale);
const VERSIONS = Number(values.versions);
const RUNS = Number(values.runs);
const SECONDS = Number(values.seconds);
const REQUESTS = Number(values.requests);
const ROUNDS = Number(values.rounds);
const work = join(ROOT, 'bench', '.work', 'server-api');
const MiB = 1024 * 1024;

/** A TCP relay that counts the bytes the client sends to the server. */
function startRelay(target: number): Promise<{ port: number; sent: () => number; server: Server }> {
  let sent = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('data', (d: Buffer) => {
      sent += d.length;
    });
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('no relay port');
      server.on('close', () => {
        for (const s of sockets) s.destroy();
      });
      resolve({ port: address.port, sent: () => sent, server });
    });
  });
}

/** CPU seconds (user + system, all threads) this process has used. */
function ownCpu(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

const report: string[] = [];
const log = (line: string) => {
  console.log(line);
  report.push(line);
};

await mkdir(work, { recursive: true });
const seriesDir = join(work, 'series');
const series = await generateSeries(
  { kind: 'partial', versions: VERSIONS, scale: SCALE, seed: 1 },
  seriesDir,
  (m) => console.error(m),
);
await rm(join(work, 'local'), { recursive: true, force: true });
await rm(join(work, 'remote'), { recursive: true, force: true });
const local = await openRegistryDirectory(join(work, 'local'), { create: true });
const server = await startServerProcess(join(work, 'remote'));
const url = server.url;
const port = Number(new URL(url).port);
const relay = await startRelay(port);
// The SDK's chunk cache starts empty, as on a first push from this machine.
await rm(join(work, 'client-cache'), { recursive: true, force: true });
/** For the pulls: no relay in between. */
const direct = new RemoteRegistry(server.url, { transfer: { cacheDir: false } });
const remote = new RemoteRegistry(`http://127.0.0.1:${relay.port}`, {
  transfer: { cacheDir: join(work, 'client-cache') },
});

try {
  log(`# Server vs embedded — ${new Date().toISOString()}`);
  if (values['sequential-only']) {
    // Only the version the request-rate part reads and re-registers.
    await remote.push(join(seriesDir, series.versions[0]!.dir), {
      model: 'series',
      createModelIfMissing: true,
    });
  } else {
    log('');
    log(
      `partial series: ${VERSIONS} versions of ${(series.versions[0]!.bytes / MiB).toFixed(0)} MiB; load average ${loadavg()[0]!.toFixed(1)}`,
    );
    log('');
    log(
      '| version | local push s | remote push s | remote / local | local CPU s | client + server CPU s | CPU remote / local | new chunk MiB | sent MiB | sent / new |',
    );
    log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    const cpuRatios: number[] = [];
    const ratios: number[] = [];
    const sentRatios: number[] = [];
    let totalSent = 0;
    let totalNew = 0;
    for (const v of series.versions) {
      const dir = join(seriesDir, v.dir);
      let cpu = ownCpu();
      let t = performance.now();
      await local.registry.push(dir, { model: 'series', createModelIfMissing: true });
      const localS = (performance.now() - t) / 1000;
      const localCpu = ownCpu() - cpu;
      const before = relay.sent();
      cpu = ownCpu();
      let serverCpu = await processCpu(server.child.pid);
      t = performance.now();
      const { stats } = await remote.push(dir, { model: 'series', createModelIfMissing: true });
      const remoteS = (performance.now() - t) / 1000;
      // The relay's share of this process's CPU is counted as the client's (small).
      const clientCpu = ownCpu() - cpu;
      serverCpu = (await processCpu(server.child.pid)) - serverCpu;
      const remoteCpu = clientCpu + serverCpu;
      cpuRatios.push(remoteCpu / localCpu);
      const sent = relay.sent() - before;
      totalSent += sent;
      totalNew += stats.newBytes;
      ratios.push(remoteS / localS);
      const sentRatio = stats.newBytes > 0 ? sent / stats.newBytes : Number.NaN;
      if (stats.newBytes > 0) sentRatios.push(sentRatio);
      log(
        `| ${v.label} | ${localS.toFixed(2)} | ${remoteS.toFixed(2)} | ${(remoteS / localS).toFixed(2)} | ${localCpu.toFixed(2)} | ${clientCpu.toFixed(2)} + ${serverCpu.toFixed(2)} | ${(remoteCpu / localCpu).toFixed(2)} | ${(stats.newBytes / MiB).toFixed(1)} | ${(sent / MiB).toFixed(1)} | ${Number.isNaN(sentRatio) ? '—' : sentRatio.toFixed(3)} |`,
      );
    }
    log('');
    log(
      `median remote/local push time ${median(ratios).toFixed(2)} (target ≤ 1.5), CPU time ${median(cpuRatios).toFixed(2)}; bytes sent / new chunk bytes: whole series ${(totalSent / totalNew).toFixed(3)}, per version median ${median(sentRatios).toFixed(3)}, max ${Math.max(...sentRatios).toFixed(3)} (target ≤ 1.02; a version with almost no new bytes is all protocol)`,
    );

    // The same directory pushed again (a re-run of a pipeline, or a push after a failed
    // one): the SDK's chunk cache knows the unchanged file and reads nothing of it.
    {
      const dir = join(seriesDir, series.versions[series.versions.length - 1]!.dir);
      let cpu = ownCpu();
      let t = performance.now();
      await local.registry.push(dir, { model: 'series', createModelIfMissing: true });
      const localS = (performance.now() - t) / 1000;
      const localCpu = ownCpu() - cpu;
      cpu = ownCpu();
      let serverCpu = await processCpu(server.child.pid);
      t = performance.now();
      await remote.push(dir, { model: 'series', createModelIfMissing: true });
      const remoteS = (performance.now() - t) / 1000;
      const clientCpu = ownCpu() - cpu;
      serverCpu = (await processCpu(server.child.pid)) - serverCpu;
      log('');
      log(
        `the last version pushed again, unchanged: local ${localS.toFixed(2)} s (CPU ${localCpu.toFixed(2)} s), remote ${remoteS.toFixed(2)} s (CPU client ${clientCpu.toFixed(2)} + server ${serverCpu.toFixed(2)} s); remote / local ${(remoteS / localS).toFixed(2)}`,
      );
    }

    const last = `series@${series.versions.length + 1}`;
    const pullS: number[] = [];
    const materializeS: number[] = [];
    const materializeCpu: number[] = [];
    const pullClientCpu: number[] = [];
    const pullServerCpu: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const a = join(work, `pull-${i}`);
      let cpu = ownCpu();
      let t = performance.now();
      await local.registry.pull(last, a);
      materializeS.push((performance.now() - t) / 1000);
      materializeCpu.push(ownCpu() - cpu);
      await rm(a, { recursive: true, force: true });
      const b = join(work, `pull-remote-${i}`);
      cpu = ownCpu();
      const serverCpu = await processCpu(server.child.pid);
      t = performance.now();
      await direct.pull(last, b);
      pullS.push((performance.now() - t) / 1000);
      pullClientCpu.push(ownCpu() - cpu);
      pullServerCpu.push((await processCpu(server.child.pid)) - serverCpu);
      await rm(b, { recursive: true, force: true });
    }
    const pullRatio = median(materializeS) / median(pullS);
    log('');
    log(
      `pull of ${last}: local materialize ${median(materializeS).toFixed(2)} s, remote pull ${median(pullS).toFixed(2)} s (median of ${RUNS}); remote speed / local = ${pullRatio.toFixed(2)} (target ≥ 0.7); CPU s: local ${median(materializeCpu).toFixed(2)}, remote client ${median(pullClientCpu).toFixed(2)} + server ${median(pullServerCpu).toFixed(2)}; load average ${loadavg()[0]!.toFixed(1)}`,
    );
  } // the transfer part
  if (!values['transfer-only']) {
    // Read load and single-client request rates, straight at the server (no relay).
    const versionPath = `/api/v1/versions/${encodeURIComponent('series@1')}`;
    const versionUrl = `${url}${versionPath}`;
    if (!(await fetch(versionUrl)).ok) throw new Error(`GET ${versionUrl} failed`);
    if (!values['sequential-only']) {
      const load = await autocannon({ url: versionUrl, connections: 50, duration: SECONDS });
      log('');
      log(
        `autocannon GET version, 50 connections, ${SECONDS} s: ${load.requests.average.toFixed(0)} req/s average, p99 latency ${load.latency.p99} ms, ${load.non2xx} non-2xx, ${load.errors} errors`,
      );
    }
    const client = keepAliveClient(url);
    const got = JSON.parse(await client.call('GET', versionPath)) as {
      digest: string;
      size: number;
      fileCount: number;
    };
    await client.call('POST', '/api/v1/models', JSON.stringify({ name: 'created' }));
    const createBody = JSON.stringify({
      manifest: { digest: got.digest, size: got.size, fileCount: got.fileCount },
      metrics: { loss: 0.5 },
    });
    const all: [string, string, () => Promise<unknown>][] = [
      ['health', 'GET /health (baseline)', () => client.call('GET', '/health')],
      ['version', 'GET version', () => client.call('GET', versionPath)],
      [
        'create',
        'POST create-version',
        () => client.call('POST', '/api/v1/models/created/versions', createBody),
      ],
    ];
    const only = values.only?.split(',').map((s) => s.trim());
    const unknown = only?.filter((k) => !all.some(([key]) => key === k)) ?? [];
    if (unknown.length > 0) throw new Error(`--only: unknown workload ${unknown.join(', ')}`);
    const workloads = all
      .filter(([key]) => only === undefined || only.includes(key))
      .map(([, name, fn]) => [name, fn] as const);
    const rates = new Map<string, number[]>();
    const cpus = new Map<string, number[]>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, fn] of workloads) {
        const r = await sequentialRate(REQUESTS, fn, {
          serverPid: values.cpu ? server.child.pid : undefined,
        });
        rates.set(name, [...(rates.get(name) ?? []), r.reqPerS]);
        cpus.set(name, [...(cpus.get(name) ?? []), r.serverCpuMs]);
        console.error(
          `round ${round + 1} ${name}: ${r.reqPerS.toFixed(0)} req/s${values.cpu ? `, server CPU ${r.serverCpuMs.toFixed(3)} ms/request` : ''}`,
        );
      }
    }
    client.destroy();
    const health = median(rates.get('GET /health (baseline)') ?? [Number.NaN]);
    log('');
    log(
      `one sequential keep-alive client (node:http), ${REQUESTS} requests each after 200 warm-up, median of ${ROUNDS} rounds; load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}:`,
    );
    log('');
    log(
      `| request | req/s | ÷ GET /health | vs target 1600 |${values.cpu ? ' server CPU ms/request |' : ''}`,
    );
    log(`| --- | ---: | ---: | ---: |${values.cpu ? ' ---: |' : ''}`);
    for (const [name] of workloads) {
      const m = median(rates.get(name)!);
      const cpu = values.cpu ? ` ${median(cpus.get(name)!).toFixed(3)} |` : '';
      log(
        `| ${name} | ${m.toFixed(0)} | ${(m / health).toFixed(2)} | ${(m / 1600).toFixed(2)}x |${cpu}`,
      );
    }
  }
  if (values.out) await writeFile(values.out, `${report.join('\n')}\n`);
} finally {
  relay.server.close();
  await server.stop();
  await local.close();
  await rm(join(work, 'local'), { recursive: true, force: true });
  await rm(join(work, 'remote'), { recursive: true, force: true });
  if (!values['keep-series']) await rm(work, { recursive: true, force: true });
}

/**
 * Metadata at scale: 1,000 models × 100 versions, each with 10 metrics and 10 params.
 * Measures search with a metric filter and ORDER BY a metric (p50/p95 over 200 queries,
 * through LocalRegistry.searchVersions: parse, compile, SQL, hydrate) and `mvault ls MODEL`
 * wall time (the built CLI binary, median of 5).
 *
 *   npm run build && node --import tsx bench/metadata.ts [--models 1000] [--versions 100]
 *
 * The rows are bulk-loaded with plain SQL in one transaction (creating 100,000 versions
 * through the API, each with an fsync'ed audit event, would take the benchmark's whole
 * budget and measure something else); queries then go through the real registry.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { openRegistryDirectory } from '../src/registry/registry-directory.js';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: '1000' },
    versions: { type: 'string', default: '100' },
  },
});
const MODELS = Number(values.models);
const VERSIONS = Number(values.versions);
const METRICS = 10;
const PARAMS = 10;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

// Deterministic pseudo-random numbers (xorshift32).
let seed = 0x9e3779b9;
function rand(): number {
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed / 0x100000000;
}

const root = await mkdtemp(join(tmpdir(), 'mv-bench-meta-'));
const registryDir = join(root, '.modelvault');
try {
  (await openRegistryDirectory(registryDir, { create: true })).close();

  const t0 = performance.now();
  const db = new Database(join(registryDir, 'metadata.db'));
  db.pragma('journal_mode = WAL');
  const now = Date.now();
  const insModel = db.prepare(
    `insert into registered_models (name, description, owner, created_at, updated_at, deleted_at, next_version)
     values (?, null, 'bench', ?, ?, null, ?)`,
  );
  const insVersion = db.prepare(
    `insert into model_versions (model_id, version, manifest_digest, size, file_count, description, created_by,
       created_at, updated_at, status, status_message, stage, approval, approval_reviewer, approval_comment,
       approval_time, run_id, source, deleted_at, model_card)
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
    for (let m = 0; m < MODELS; m++) {
      const modelId = Number(insModel.run(`model-${m}`, now, now, VERSIONS + 1).lastInsertRowid);
      for (let v = 1; v <= VERSIONS; v++) {
        const digest = (m * VERSIONS + v).toString(16).padStart(64, '0');
        const versionId = Number(
          insVersion.run(modelId, v, digest, now + v, now + v).lastInsertRowid,
        );
        for (let k = 0; k < METRICS; k++) {
          const value = rand();
          insMetric.run(versionId, `m${k}`, value, now);
          insLatest.run(versionId, `m${k}`, value, now);
        }
        for (let k = 0; k < PARAMS; k++)
          insParam.run(versionId, `p${k}`, String(Math.floor(rand() * 10)));
      }
    }
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  const loadSeconds = (performance.now() - t0) / 1000;

  const dir = await openRegistryDirectory(registryDir);
  const times: number[] = [];
  let matched = 0;
  for (let i = 0; i < 200; i++) {
    const threshold = (0.5 + rand() * 0.49).toFixed(3);
    const t = performance.now();
    const r = await dir.registry.searchVersions({
      filter: `metrics.m0 > ${threshold} AND params.p1 = '${i % 10}'`,
      orderBy: ['metrics.m1 DESC'],
      maxResults: 100,
    });
    times.push(performance.now() - t);
    matched += r.items.length;
  }
  times.sort((a, b) => a - b);

  // One model's versions through the API, and `mvault ls MODEL` through the binary.
  const lsApi: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    await dir.registry.listVersions(`model-${Math.floor(MODELS / 2)}`, { maxResults: 100 });
    lsApi.push(performance.now() - t);
  }
  lsApi.sort((a, b) => a - b);
  await dir.close();

  const cli = join(import.meta.dirname, '..', 'dist', 'bin', 'mvault.js');
  const lsCli: number[] = [];
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
  const nodeStart: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    execFileSync(process.execPath, ['-e', '0']);
    nodeStart.push(performance.now() - t);
  }
  nodeStart.sort((a, b) => a - b);

  const fmt = (n: number) => n.toFixed(1);
  console.log(`# Metadata benchmark — ${new Date().toISOString()}`);
  console.log(
    `\n${MODELS} models × ${VERSIONS} versions, ${METRICS} metrics and ${PARAMS} params each (bulk load ${loadSeconds.toFixed(1)} s); load average ${(await import('node:os')).loadavg()[0]!.toFixed(1)}\n`,
  );
  console.log('| measurement | p50 ms | p95 ms |');
  console.log('| --- | ---: | ---: |');
  console.log(
    `| searchVersions: metrics.m0 > x AND params.p1 = 'y', ORDER BY metrics.m1 DESC, 100 results (200 queries, ${(matched / 200).toFixed(0)} rows each) | ${fmt(percentile(times, 50))} | ${fmt(percentile(times, 95))} |`,
  );
  console.log(
    `| listVersions(one model), API (20 runs) | ${fmt(percentile(lsApi, 50))} | ${fmt(percentile(lsApi, 95))} |`,
  );
  console.log(
    `| \`mvault ls MODEL\`, whole process (5 runs) | ${fmt(percentile(lsCli, 50))} | ${fmt(percentile(lsCli, 95))} |`,
  );
  console.log(
    `| \`node -e 0\`, for reference (5 runs) | ${fmt(percentile(nodeStart, 50))} | ${fmt(percentile(nodeStart, 95))} |`,
  );
} finally {
  await rm(root, { recursive: true, force: true });
}

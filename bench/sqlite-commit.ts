/**
 * What a durable commit costs on this disk: SQLite in WAL mode (as the registry opens it),
 * transactions of `--rows` indexed rows each, committed with synchronous=FULL (an fsync of
 * the WAL per commit: what a created version gets) and with synchronous=NORMAL (no fsync:
 * what MLflow logging gets), alternately; wall and CPU ms per commit, median of rounds.
 * The difference of the wall times is the fsync's cost, which bounds a sequential client's
 * durable writes however little CPU the server spends.
 *
 *   node --import tsx bench/sqlite-commit.ts [--rows 100] [--commits 300] [--rounds 3]
 *
 * The database lives in bench/.work/sqlite-commit (the repository's disk) and is removed.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { median } from './lib/util.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '100' },
    commits: { type: 'string', default: '300' },
    rounds: { type: 'string', default: '3' },
  },
});
const ROWS = Number(values.rows);
const COMMITS = Number(values.commits);
const ROUNDS = Number(values.rounds);
const work = join(ROOT, 'bench', '.work', 'sqlite-commit');
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });

const db = new Database(join(work, 'commit.db'));
db.pragma('journal_mode = WAL');
db.exec('create table points (id integer primary key, k text, v real, step integer)');
db.exec('create index points_k_v on points (k, v)');
const insert = db.prepare('insert into points (k, v, step) values (?, ?, ?)');

const results: Record<string, { wall: number[]; cpu: number[] }> = {
  FULL: { wall: [], cpu: [] },
  NORMAL: { wall: [], cpu: [] },
};
let n = 0;
for (let round = 0; round < ROUNDS; round++) {
  for (const mode of ['FULL', 'NORMAL'] as const) {
    db.pragma(`synchronous = ${mode}`);
    const cpu0 = process.cpuUsage();
    const t = performance.now();
    for (let c = 0; c < COMMITS; c++) {
      db.exec('BEGIN IMMEDIATE');
      for (let r = 0; r < ROWS; r++) insert.run(`k${r}`, Math.random(), n);
      db.exec('COMMIT');
      n++;
    }
    const cpu = process.cpuUsage(cpu0);
    results[mode]!.wall.push((performance.now() - t) / COMMITS);
    results[mode]!.cpu.push((cpu.user + cpu.system) / 1000 / COMMITS);
  }
}
db.close();
rmSync(work, { recursive: true, force: true });

console.log(
  `${ROWS} rows per commit, ${COMMITS} commits per round, median of ${ROUNDS}; load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
console.log('| synchronous (WAL) | wall ms/commit | CPU ms/commit |');
console.log('| --- | ---: | ---: |');
for (const [mode, r] of Object.entries(results)) {
  console.log(`| ${mode} | ${median(r.wall).toFixed(2)} | ${median(r.cpu).toFixed(2)} |`);
}
const fsync = median(results.FULL!.wall) - median(results.NORMAL!.wall);
console.log(`\nthe fsync per durable commit: ${fsync.toFixed(2)} ms of wall time`);

/**
 * Pack transfer through the S3 backend against plain SDK calls on the same bytes, with the
 * same client settings, measured side by side in one run (the machine is shared and noisy):
 *
 *   node --import tsx bench/s3.ts [--packs 8] [--pack-mib 32] [--runs 3]
 *
 * Uses the server at MODELVAULT_TEST_S3_ENDPOINT (Swift's test:tester/testing credentials
 * unless MODELVAULT_TEST_S3_ACCESS_KEY/_SECRET_KEY say otherwise), else starts one with
 * scripts/s3-server.sh in a temp directory and stops it afterwards.
 *
 * PUT: `openS3Backend(...).putFile` of each pack file, one pack at a time (the store seals
 * and stores packs one after the other), against one streamed PutObject per file.
 * GET: `getRange` of each whole pack (one ranged GET into a buffer, as reads of coalesced
 * chunk runs do) against GetObject with the body read to the end.
 * Reports MiB/s and the backend/SDK ratio, median of `--runs` runs.
 * Then (unless --series-versions 0) the partial fine-tune series pushed into a registry on
 * the same bucket against PutObject of each version's files (see measureSeries).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { openRegistryDirectory } from '../src/registry/registry-directory.js';
import { openS3Backend } from '../src/storage/backends/s3/open-s3-backend.js';
import { s3ClientConfig } from '../src/storage/backends/s3/s3-backend.js';
import { generateSeries } from './lib/safetensors-series.js';
import { MiB, median } from './lib/util.js';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../scripts/s3-server.sh', import.meta.url));

const { values } = parseArgs({
  options: {
    packs: { type: 'string', default: '8' },
    'pack-mib': { type: 'string', default: '32' },
    runs: { type: 'string', default: '3' },
    // The partial fine-tune series pushed into a registry whose packs are on S3, version
    // by version, against PutObject of the same version's files (0 versions: skip).
    'series-versions': { type: 'string', default: '10' },
    'series-scale': { type: 'string', default: '0.1' },
  },
});
const packs = Number(values.packs);
const packSize = Number(values['pack-mib']) * MiB;
const runs = Number(values.runs);
const seriesVersions = Number(values['series-versions']);
const seriesScale = Number(values['series-scale']);

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'mv-bench-s3-'));
  let serverDir: string | undefined;
  try {
    let endpoint = process.env.MODELVAULT_TEST_S3_ENDPOINT;
    if (!endpoint) {
      serverDir = join(work, 'server');
      endpoint = (await run('bash', [SCRIPT, 'start', serverDir])).stdout.trim();
    }
    const credentials = {
      accessKeyId: process.env.MODELVAULT_TEST_S3_ACCESS_KEY ?? 'test:tester',
      secretAccessKey: process.env.MODELVAULT_TEST_S3_SECRET_KEY ?? 'testing',
    };
    const settings = { endpoint, region: 'us-east-1', credentials };
    const client = new S3Client(s3ClientConfig(settings));
    const bucket = `mv-bench-${randomBytes(4).toString('hex')}`;
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    const backend = await openS3Backend({ ...settings, bucket, prefix: 'backend' });

    const files: string[] = [];
    for (let i = 0; i < packs; i++) {
      const path = join(work, `pack-${i}`);
      await writeFile(path, randomBytes(packSize));
      files.push(path);
    }
    const total = packs * packSize;
    const rate = (seconds: number) => total / MiB / seconds;
    const time = async (fn: () => Promise<void>) => {
      const t0 = performance.now();
      await fn();
      return (performance.now() - t0) / 1000;
    };
    const key = (i: number) => `packs/${String(i).padStart(2, '0')}/pack-${i}.pack`;
    const put = { backend: [] as number[], sdk: [] as number[] };
    const get = { backend: [] as number[], sdk: [] as number[] };
    for (let r = 0; r < runs; r++) {
      // Alternate which goes first, so that neither always meets a warmer server.
      const order = r % 2 === 0 ? ['backend', 'sdk'] : ['sdk', 'backend'];
      for (const who of order) {
        if (who === 'backend') {
          put.backend.push(
            rate(
              await time(async () => {
                for (const [i, f] of files.entries()) await backend.putFile(key(i), f);
              }),
            ),
          );
        } else {
          put.sdk.push(
            rate(
              await time(async () => {
                for (const [i, f] of files.entries()) {
                  await client.send(
                    new PutObjectCommand({
                      Bucket: bucket,
                      Key: `sdk/${key(i)}`,
                      Body: createReadStream(f),
                      ContentLength: packSize,
                    }),
                  );
                }
              }),
            ),
          );
        }
      }
      for (const who of order) {
        if (who === 'backend') {
          get.backend.push(
            rate(
              await time(async () => {
                for (let i = 0; i < packs; i++) await backend.getRange(key(i), 0, packSize);
              }),
            ),
          );
        } else {
          get.sdk.push(
            rate(
              await time(async () => {
                for (let i = 0; i < packs; i++) {
                  const out = await client.send(
                    new GetObjectCommand({ Bucket: bucket, Key: `sdk/${key(i)}` }),
                  );
                  for await (const _ of out.Body as Readable) {
                    // read to the end
                  }
                }
              }),
            ),
          );
        }
      }
      process.stderr.write(
        `run ${r + 1}/${runs}: put ${put.backend.at(-1)!.toFixed(0)} vs ${put.sdk.at(-1)!.toFixed(0)} MiB/s, get ${get.backend.at(-1)!.toFixed(0)} vs ${get.sdk.at(-1)!.toFixed(0)} MiB/s\n`,
      );
    }
    const row = (name: string, m: { backend: number[]; sdk: number[] }) => {
      const b = median(m.backend);
      const s = median(m.sdk);
      return `| ${name} | ${b.toFixed(0)} | ${s.toFixed(0)} | ${(b / s).toFixed(2)}x |`;
    };
    console.log(`${packs} packs of ${packSize / MiB} MiB, median of ${runs} runs (MiB/s)\n`);
    console.log('| operation | S3 backend | plain SDK | ratio |');
    console.log('|---|---:|---:|---:|');
    console.log(row('PUT (putFile vs PutObject)', put));
    console.log(row('GET (getRange vs GetObject)', get));

    await backend.close();
    if (seriesVersions > 0) {
      await measureSeries(work, client, bucket, settings, credentials);
    }
    for (let i = 0; i < packs; i++) {
      for (const k of [`backend/${key(i)}`, `sdk/${key(i)}`]) {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: k }));
      }
    }
    client.destroy();
  } finally {
    if (serverDir) await run('bash', [SCRIPT, 'stop', serverDir]).catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * The partial fine-tune series pushed version by version into a registry whose packs are in
 * `bucket` (metadata in SQLite beside it), each push timed against PutObject of the same
 * version's files — what storing the checkpoint as plain objects costs with the same client.
 * Issue 7's target: push throughput >= 0.8x PutObject's, i.e. push time <= 1.25x.
 */
async function measureSeries(
  work: string,
  client: S3Client,
  bucket: string,
  settings: { endpoint: string; region: string },
  credentials: { accessKeyId: string; secretAccessKey: string },
): Promise<void> {
  const series = await generateSeries(
    { kind: 'partial', versions: seriesVersions, scale: seriesScale, seed: 1 },
    join(work, 'series'),
  );
  // The registry reads S3 credentials from the standard AWS environment.
  process.env.AWS_ACCESS_KEY_ID = credentials.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = credentials.secretAccessKey;
  const dir = await openRegistryDirectory(join(work, 'registry'), {
    create: true,
    blobs: { url: `s3://${bucket}/registry`, endpoint: settings.endpoint, region: settings.region },
  });
  const rows: { version: number; mib: number; newMib: number; push: number; put: number }[] = [];
  try {
    for (const [i, v] of series.versions.entries()) {
      const src = join(work, 'series', v.dir);
      const files = await readdir(src);
      const sizes = await Promise.all(files.map(async (f) => (await stat(join(src, f))).size));
      // Alternate which goes first, so that neither always meets a warmer server.
      let push = 0;
      let put = 0;
      let newBytes = 0;
      const doPush = async () => {
        const t0 = performance.now();
        const { stats } = await dir.registry.push(src, { model: 'series' });
        push = (performance.now() - t0) / 1000;
        newBytes = stats.newBytes;
      };
      const doPut = async () => {
        const t0 = performance.now();
        for (const [k, f] of files.entries()) {
          await client.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: `plain/v${i + 1}/${f}`,
              Body: createReadStream(join(src, f)),
              ContentLength: sizes[k]!,
            }),
          );
        }
        put = (performance.now() - t0) / 1000;
      };
      if (i % 2 === 0) {
        await doPush();
        await doPut();
      } else {
        await doPut();
        await doPush();
      }
      const bytes = sizes.reduce((a, b) => a + b, 0);
      rows.push({ version: i + 1, mib: bytes / MiB, newMib: newBytes / MiB, push, put });
      process.stderr.write(
        `series v${i + 1}: push ${push.toFixed(2)} s (${(newBytes / MiB).toFixed(1)} MiB new), PutObject ${put.toFixed(2)} s\n`,
      );
    }
  } finally {
    await dir.close();
  }
  const ratios = rows.map((r) => r.put / r.push);
  const totalPush = rows.reduce((a, r) => a + r.push, 0);
  const totalPut = rows.reduce((a, r) => a + r.put, 0);
  console.log(
    `\nPartial series (${rows.length} versions of ${rows[0]!.mib.toFixed(0)} MiB, --scale ${seriesScale}) pushed into a registry on S3 against PutObject of the same files:\n`,
  );
  console.log('| version | MiB | new MiB | push s | PutObject s | push speed ÷ PutObject speed |');
  console.log('|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(
      `| ${r.version} | ${r.mib.toFixed(1)} | ${r.newMib.toFixed(1)} | ${r.push.toFixed(2)} | ${r.put.toFixed(2)} | ${(r.put / r.push).toFixed(2)}x |`,
    );
  }
  console.log(
    `\nmedian per version ${median(ratios).toFixed(2)}x (first version, all bytes new: ${ratios[0]!.toFixed(2)}x); whole series ${(totalPut / totalPush).toFixed(2)}x (target >= 0.8x)`,
  );
}

await main();

/**
 * Property-based fuzzing of every route of the native (/api/v1) and MLflow
 * (/api/2.0, /ajax-api/2.0) APIs, enumerated from the Fastify instance: hostile path
 * parameters, query strings and bodies (support/hostile-requests.ts), part in-process
 * (app.inject) and part over real HTTP on 127.0.0.1, plus hostile chunk uploads (lying
 * frames, truncated bodies, dropped connections). For every request: no 5xx, an error
 * body in the API's shape, and — when the request was rejected — nothing stored changed
 * (every row of every table and the stored objects, support/store-fingerprint.ts).
 *
 * MODELVAULT_FUZZ_RUNS scales the counts (default 5,000 requests; `npm run soak` 10x);
 * MODELVAULT_FUZZ_SEED replays a run (fast-check prints the seed and the shrunk request of
 * any failure).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CHUNK_BATCH_MAGIC,
  CHUNK_BATCH_MEDIA_TYPE,
  CHUNK_FRAME_HEADER_SIZE,
  encodeChunkFrameHeader,
} from '../../src/core/upload-protocol.js';
import { checkStore } from '../../src/storage/store-checker.js';
import { pseudoRandomBytes } from '../fixtures/model-files.js';
import {
  type Json,
  postJson,
  type RawFile,
  rawFile,
  sha256,
} from '../server/support/raw-upload.js';
import { startTestServer, type TestServer } from '../server/support/test-server.js';
import {
  type HostileRequest,
  hostileRequest,
  type KnownValues,
  type Pools,
  pools,
  propertyNames,
} from './support/hostile-requests.js';
import { type StoreChange, StoreWatch } from './support/store-fingerprint.js';

const SCALE = Number(process.env.MODELVAULT_FUZZ_RUNS ?? 5000) / 5000;
const INJECTED = Math.round(3400 * SCALE);
const OVER_HTTP = Math.round(1300 * SCALE);
const UPLOADS = Math.round(300 * SCALE);
/** Fixed in CI (reproducible); a fresh one per soak run (more ground covered). */
const SEED = process.env.MODELVAULT_FUZZ_SEED
  ? Number(process.env.MODELVAULT_FUZZ_SEED)
  : process.env.MODELVAULT_SOAK
    ? Date.now() % 2 ** 31
    : 20261126;

/** Routes of the two APIs (the web UI's pages and /docs are static files). */
const API_ROUTE = /^\/(api\/v1|api\/2\.0|ajax-api\/2\.0)\//;

interface Reply {
  readonly status: number;
  readonly body: string;
}

/** Sends the request over a real connection, the path exactly as given. */
function overHttp(base: string, r: HostileRequest): Promise<Reply> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method: r.method, path: r.url, headers: r.headers },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    // An explicit length: Node sends a DELETE's body with neither a length nor chunking.
    if (r.body !== undefined) req.setHeader('content-length', Buffer.byteLength(r.body));
    req.end(r.body);
  });
}

function describeRequest(r: HostileRequest): string {
  const body = r.body === undefined ? '' : ` body ${String(r.body).slice(0, 300)}`;
  return `${r.method} ${r.url.slice(0, 300)} ${JSON.stringify(r.headers)}${body}`;
}

let server: TestServer;
let watch: StoreWatch;
let known: KnownValues;
let p: Pools;
let routes: { method: string; url: string }[];
let work: string;
let pending: RawFile;
const statuses = new Map<number, number>();

/** The checks every reply must pass; returns a failure description or undefined. */
async function check(
  r: HostileRequest,
  reply: Reply,
  allowed: (change: StoreChange) => boolean = () => false,
): Promise<string | undefined> {
  statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
  const what = `${describeRequest(r)} -> ${reply.status} ${reply.body.slice(0, 500)}`;
  if (reply.status >= 500) return `server error: ${what}`;
  // Listing every stored object is the slow part: reads are checked for row changes only.
  const changed = await watch.changed({ objects: !['GET', 'HEAD'].includes(r.method) });
  if (reply.status >= 400) {
    if (changed && !allowed(changed)) {
      return `rejected request changed the store (${changed.description}): ${what}`;
    }
    if (r.method !== 'HEAD') {
      let parsed: Json;
      try {
        parsed = JSON.parse(reply.body);
      } catch {
        return `error reply is not JSON: ${what}`;
      }
      const mlflow = /^\/(api|ajax-api)\/2\.0\//.test(r.url);
      const shaped = mlflow
        ? typeof parsed?.error_code === 'string' && typeof parsed?.message === 'string'
        : typeof parsed?.error?.code === 'string' && typeof parsed?.error?.message === 'string';
      if (!shaped) return `error reply not in the API's error shape: ${what}`;
    }
  }
  return undefined;
}

beforeAll(async () => {
  server = await startTestServer({ expireEveryMs: 0 });
  work = await mkdtemp(join(tmpdir(), 'mv-fuzz-'));
  // Something to find: a version with a file, an alias, an experiment with a run, and an
  // open upload session, so hostile requests also reach past "not found".
  await writeFile(join(work, 'weights.bin'), pseudoRandomBytes(3, 40_000));
  const { version } = await server.client().push(work, { model: 'm', metrics: { auc: 0.9 } });
  await server.client().setAlias('m', 'production', version.version);
  const exp = await postJson(server.url, '/api/2.0/mlflow/experiments/create', { name: 'e' });
  const run = await postJson(server.url, '/api/2.0/mlflow/runs/create', {
    experiment_id: exp.body.experiment_id,
  });
  pending = rawFile('pending.bin', pseudoRandomBytes(4, 20_000));
  const upload = await postJson(server.url, '/api/v1/uploads', { files: [pending.spec] });
  known = {
    model: 'm',
    version: version.version,
    fileSha256: sha256(pseudoRandomBytes(3, 40_000)),
    filePath: 'weights.bin',
    runId: run.body.run.info.run_id,
    experimentId: exp.body.experiment_id,
    uploadId: upload.body.id,
  };
  const fields = propertyNames(server.app.swagger());
  p = pools(known, fields);
  routes = server.routes.filter((r) => API_ROUTE.test(r.url));
  watch = new StoreWatch(server.backend.store);
  await watch.reset();
});

afterAll(async () => {
  console.info(
    `hostile input: seed ${SEED}; replies by status: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`,
  );
  await server?.close();
  await rm(work, { recursive: true, force: true });
});

describe('hostile requests to every API route', () => {
  it('enumerates the routes of both APIs from the server', () => {
    const paths = new Set(routes.map((r) => r.url));
    expect(paths).toContain('/api/v1/models/:name');
    expect(paths).toContain('/api/v1/uploads/:id/chunks');
    expect(paths).toContain('/api/2.0/mlflow/runs/log-batch');
    expect(paths).toContain('/api/2.0/mlflow-artifacts/artifacts/*');
    expect(routes.length).toBeGreaterThan(150);
  });

  it(`${INJECTED} in-process requests: no 5xx, errors in shape, rejected ones store nothing`, {
    timeout: 600_000,
  }, async () => {
    await fc.assert(
      fc.asyncProperty(hostileRequest(routes, p), async (r) => {
        const res = await server.app.inject({
          method: r.method as 'GET',
          url: r.url,
          headers: r.headers,
          ...(r.body !== undefined ? { payload: r.body } : {}),
        });
        const failure = await check(r, { status: res.statusCode, body: res.body });
        if (failure) throw new Error(failure);
      }),
      { numRuns: INJECTED, seed: SEED, endOnFailure: true },
    );
  });

  it(`${OVER_HTTP} requests over HTTP on 127.0.0.1: the same, and the server keeps serving`, {
    timeout: 600_000,
  }, async () => {
    await fc.assert(
      fc.asyncProperty(hostileRequest(routes, p), async (r) => {
        const failure = await check(r, await overHttp(server.url, r));
        if (failure) throw new Error(failure);
      }),
      { numRuns: OVER_HTTP, seed: SEED + 1, endOnFailure: true },
    );
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });
});

describe('hostile chunk uploads over HTTP', () => {
  /**
   * One frame: a chunk the open session expects (0-2) or one it does not (3), sent honestly
   * or lying about its id or its length.
   */
  const frame = fc.record({
    chunk: fc.integer({ min: 0, max: 3 }),
    seed: fc.integer({ min: 0, max: 1000 }),
    lie: fc.constantFrom('none', 'none', 'id', 'length-short', 'length-long', 'random-id'),
  });

  it(`${UPLOADS} lying, truncated and dropped chunk batches: rejected, only verified chunks kept, still serving`, {
    timeout: 600_000,
  }, async () => {
    const expected = pending.chunks;
    await fc.assert(
      fc.asyncProperty(
        fc.array(frame, { minLength: 1, maxLength: 4 }),
        fc.constantFrom('whole', 'truncated', 'dropped', 'bad-magic'),
        fc.integer({ min: 0, max: 99 }),
        async (frames, delivery, cutPercent) => {
          const parts: Buffer[] = [Buffer.from(CHUNK_BATCH_MAGIC)];
          let lies = false;
          let at = CHUNK_BATCH_MAGIC.length;
          const boundaries = [{ at, honestBefore: true }];
          for (const f of frames) {
            const bytes = Buffer.from(
              f.chunk < expected.length
                ? expected[f.chunk]!.bytes
                : pseudoRandomBytes(10_000 + f.seed, 100 + f.seed),
            );
            let id = sha256(bytes);
            let declared = bytes.length;
            if (f.lie === 'id') id = sha256(Buffer.concat([bytes, Buffer.from('x')]));
            if (f.lie === 'random-id') id = sha256(Buffer.from(`r${f.seed}`));
            if (f.lie === 'length-short') declared = Math.max(0, bytes.length - 1);
            if (f.lie === 'length-long') declared = bytes.length + 7;
            if (f.lie !== 'none' || f.chunk >= expected.length) lies = true;
            parts.push(Buffer.from(encodeChunkFrameHeader(id, declared)), bytes);
            at += CHUNK_FRAME_HEADER_SIZE + bytes.length;
            boundaries.push({ at, honestBefore: !lies });
          }
          let body = Buffer.concat(parts);
          if (delivery === 'bad-magic') body[0] = 0x00;
          if (delivery === 'truncated' || delivery === 'dropped') {
            body = body.subarray(0, Math.floor((body.length * cutPercent) / 100));
          }
          const path = `/api/v1/uploads/${known.uploadId}/chunks`;
          const reply = await sendBatch(server.url, path, body, delivery === 'dropped');
          // What a refused or broken batch may leave: the session's chunks that verified
          // before the failure (kept so that a resumed push skips them), nothing else.
          const onlyVerifiedChunks = (c: StoreChange) =>
            delivery !== 'bad-magic' &&
            c.tables.every((t) =>
              ['chunks', 'packs', 'storage_leases', 'upload_sessions'].includes(t),
            );
          const r: HostileRequest = {
            method: 'POST',
            url: path,
            headers: { 'content-type': CHUNK_BATCH_MEDIA_TYPE },
          };
          if (reply === 'dropped') {
            // The server finishes the request after the client is gone: let it settle.
            for (let quiet = 0, polls = 0; quiet < 3 && polls < 200; polls++) {
              await new Promise((resolve) => setTimeout(resolve, 25));
              // Listing every stored object is the slow part: reads are checked for row changes only.
              const changed = await watch.changed({ objects: !['GET', 'HEAD'].includes(r.method) });
              if (changed && !onlyVerifiedChunks(changed)) {
                throw new Error(`a dropped batch ${changed.description}`);
              }
              quiet = changed ? 0 : quiet + 1;
            }
          } else {
            const failure = await check(r, reply, onlyVerifiedChunks);
            if (failure) throw new Error(failure);
            // A cut at a frame boundary leaves a shorter batch (an empty one at 0 bytes).
            const valid =
              (delivery === 'whole' && !lies) ||
              (delivery === 'truncated' &&
                (body.length === 0 ||
                  boundaries.some((b) => b.at === body.length && b.honestBefore)));
            if (!valid && reply.status < 400) {
              throw new Error(`a ${delivery} batch (lies: ${lies}) was accepted: ${reply.body}`);
            }
          }
          const health = await fetch(`${server.url}/health`);
          if (health.status !== 200) throw new Error(`health ${health.status} after ${delivery}`);
        },
      ),
      { numRuns: UPLOADS, seed: SEED + 2, endOnFailure: true },
    );
    // Whatever arrived, the store holds nothing damaged.
    expect((await checkStore(server.backend.store)).problems).toEqual([]);
  });
});

/**
 * POSTs a chunk batch with an honest Content-Length; with `drop`, sends a Content-Length
 * for more bytes than it writes and closes the connection.
 */
function sendBatch(
  base: string,
  path: string,
  body: Buffer,
  drop: boolean,
): Promise<Reply | 'dropped'> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: 'POST',
        path,
        headers: {
          'content-type': CHUNK_BATCH_MEDIA_TYPE,
          'content-length': String(drop ? body.length + 1000 : body.length),
        },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', (e) => (drop ? resolve('dropped') : reject(e)));
    if (drop) {
      req.write(body, () => {
        req.destroy();
        resolve('dropped');
      });
      return;
    }
    req.end(body);
  });
}

/**
 * Push and pull through the SDK against a real server: round trip, deduplication over the
 * network, HTTP Range downloads, chunk-aligned parallel pulls, concurrent pushes.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chunkLocalFile } from '../../src/client/chunk-file.js';
import { InvalidArgumentError, NotFoundError } from '../../src/core/errors.js';
import { CHUNK_BATCH_MEDIA_TYPE } from '../../src/core/upload-protocol.js';
import {
  modelFiles,
  startTestServer,
  TEST_CHUNKING,
  type TestServer,
  writeTree,
} from './support/test-server.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function readTree(root: string, rel = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const ent of await readdir(join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${ent.name}` : ent.name;
    if (ent.isDirectory()) Object.assign(out, await readTree(root, r));
    else out[r] = sha(await readFile(join(root, r)));
  }
  return out;
}

/** A fetch that counts the payload bytes of chunk batches it sends. */
function countingFetch() {
  const counter = { batchBytes: 0, batches: 0 };
  const f: typeof fetch = async (input, init) => {
    const type = new Headers(init?.headers).get('content-type');
    if (type === CHUNK_BATCH_MEDIA_TYPE && init?.body instanceof Uint8Array) {
      counter.batchBytes += init.body.length;
      counter.batches++;
    }
    return fetch(input, init);
  };
  return { fetch: f, counter };
}

describe('push and pull over HTTP', () => {
  let server: TestServer;
  let work: string;

  beforeAll(async () => {
    server = await startTestServer();
    work = await mkdtemp(join(tmpdir(), 'mv-push-'));
  });
  afterAll(async () => {
    await server.close();
    await rm(work, { recursive: true, force: true });
  });

  it('pushes a directory and pulls it back byte for byte', async () => {
    const src = join(work, 'v1');
    await writeTree(src, modelFiles(0));
    const client = server.client();
    const progress: number[] = [];
    const { version, stats } = await client.push(src, {
      model: 'fraud',
      metrics: { auc: 0.9 },
      params: { lr: '3e-4' },
      tags: { team: 'risk' },
      description: 'first',
      onProgress: (p) => progress.push(p.bytesDone),
    });
    expect(version).toMatchObject({
      model: 'fraud',
      version: 1,
      fileCount: 3,
      description: 'first',
    });
    expect(version.metrics).toEqual({ auc: 0.9 });
    expect(version.params).toEqual({ lr: '3e-4' });
    expect(stats.files).toBe(3);
    expect(stats.newBytes).toBe(stats.bytes); // nothing was stored before
    expect(stats.newChunks).toBeGreaterThan(20);
    expect(progress.length).toBeGreaterThan(0);

    const dest = join(work, 'pulled-v1');
    const pulled = await client.pull('fraud@1', dest);
    expect(pulled.files).toBe(3);
    expect(pulled.bytes).toBe(version.size);
    expect(await readTree(dest)).toEqual(await readTree(src));
    // No temp files left behind.
    expect(Object.keys(await readTree(dest)).some((p) => p.endsWith('.mvault-partial'))).toBe(
      false,
    );
  });

  it('a changed version sends only the chunks the server does not have', async () => {
    const src = join(work, 'v2');
    await writeTree(src, modelFiles(1));
    // What is new, computed independently of the server: chunk both versions locally.
    const ids = async (root: string) => {
      const out = new Map<string, number>();
      for (const rel of Object.keys(modelFiles())) {
        const c = await chunkLocalFile(join(root, ...rel.split('/')), TEST_CHUNKING);
        for (const k of c.chunks) out.set(k.id, k.length);
      }
      return out;
    };
    const before = await ids(join(work, 'v1'));
    const after = await ids(src);
    let expectedBytes = 0;
    let expectedChunks = 0;
    for (const [id, length] of after) {
      if (!before.has(id)) {
        expectedBytes += length;
        expectedChunks++;
      }
    }
    expect(expectedBytes).toBeGreaterThan(0);

    const { fetch: f, counter } = countingFetch();
    const client = server.client({ fetch: f });
    const { version, stats } = await client.push(src, {
      model: 'fraud',
      lineage: { parents: ['fraud@1'] },
    });
    expect(version.version).toBe(2);
    expect(version.lineage.parents).toEqual([{ model: 'fraud', version: 1 }]);
    expect(stats.newBytes).toBe(expectedBytes);
    expect(stats.newChunks).toBe(expectedChunks);
    expect(stats.bytes).toBe(version.size);
    // On the wire: the new chunk bytes plus framing (4-byte magic per batch, 36 per chunk).
    expect(counter.batchBytes).toBe(expectedBytes + 4 * counter.batches + 36 * expectedChunks);
    expect(stats.newBytes).toBeLessThan(stats.bytes / 2);

    const dest = join(work, 'pulled-v2');
    await client.pull('fraud@2', dest);
    expect(await readTree(dest)).toEqual(await readTree(src));

    const diff = await client.diffVersions('fraud@1', 'fraud@2');
    expect(diff.files?.changed.map((c) => c.path).sort()).toEqual([
      'config.json',
      'model.safetensors',
    ]);
    expect(diff.files?.unchanged).toBe(1);
  });

  it('pushing identical content again sends nothing and makes a new version', async () => {
    const { fetch: f, counter } = countingFetch();
    const { version, stats } = await server
      .client({ fetch: f })
      .push(join(work, 'v2'), { model: 'fraud' });
    expect(version.version).toBe(3);
    expect(stats.newBytes).toBe(0);
    expect(counter.batches).toBe(0);
    const v2 = await server.client().getVersion('fraud@2');
    expect(version.digest).toBe(v2.digest);
  });

  it('pushes a single file and empty files', async () => {
    const src = join(work, 'odd');
    await writeTree(src, { 'empty.bin': new Uint8Array(0), 'one.bin': new Uint8Array([7]) });
    const client = server.client();
    const { version } = await client.push(src, { model: 'odd' });
    expect(version.fileCount).toBe(2);
    const dest = join(work, 'odd-pulled');
    await client.pull('odd', dest);
    expect(await readTree(dest)).toEqual(await readTree(src));
    const single = await client.push(join(src, 'one.bin'), { model: 'single' });
    expect(single.version.fileCount).toBe(1);
  });

  it('pull refuses a non-empty destination and unknown versions', async () => {
    const client = server.client();
    await expect(client.pull('fraud@1', join(work, 'v1'))).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await expect(client.pull('fraud@99', join(work, 'nope'))).rejects.toBeInstanceOf(NotFoundError);
  });

  it('pulls large files as verified chunk-aligned ranges in parallel', async () => {
    const client = server.client({
      transfer: { parallelFileBytes: 64 * 1024, rangeBytes: 24 * 1024, parallel: 3 },
    });
    const dest = join(work, 'ranged');
    await client.pull('fraud@2', dest);
    expect(await readTree(dest)).toEqual(await readTree(join(work, 'v2')));
  });

  it('serves files with Range, ETag and If-None-Match', async () => {
    const client = server.client();
    const manifest = await client.manifest('fraud@1');
    const entry = manifest.files.find((f) => f.path === 'model.safetensors')!;
    const bytes = await readFile(join(work, 'v1', 'model.safetensors'));
    const url = `${server.url}/api/v1/files/${entry.sha256}`;

    const whole = await fetch(url);
    expect(whole.status).toBe(200);
    expect(whole.headers.get('etag')).toBe(`"${entry.sha256}"`);
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
    expect(Buffer.from(await whole.arrayBuffer()).equals(bytes)).toBe(true);

    const cases: [string, number, number][] = [
      ['bytes=0-99', 0, 99],
      ['bytes=5000-70000', 5000, 70000],
      [`bytes=-123`, bytes.length - 123, bytes.length - 1],
      [`bytes=${bytes.length - 10}-`, bytes.length - 10, bytes.length - 1],
    ];
    for (const [range, start, end] of cases) {
      const r = await fetch(url, { headers: { range } });
      expect(r.status, range).toBe(206);
      expect(r.headers.get('content-range')).toBe(`bytes ${start}-${end}/${bytes.length}`);
      expect(Number(r.headers.get('content-length'))).toBe(end - start + 1);
      expect(Buffer.from(await r.arrayBuffer()).equals(bytes.subarray(start, end + 1))).toBe(true);
    }

    const bad = await fetch(url, { headers: { range: `bytes=${bytes.length}-` } });
    expect(bad.status).toBe(416);
    expect(bad.headers.get('content-range')).toBe(`bytes */${bytes.length}`);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe(
      'RANGE_NOT_SATISFIABLE',
    );

    // If-Range with another ETag: the whole file.
    const stale = await fetch(url, { headers: { range: 'bytes=0-9', 'if-range': '"other"' } });
    expect(stale.status).toBe(200);
    await stale.arrayBuffer();

    const cached = await fetch(url, { headers: { 'if-none-match': `"${entry.sha256}"` } });
    expect(cached.status).toBe(304);

    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBe(bytes.length);

    const byPath = await fetch(
      `${server.url}/api/v1/versions/fraud%401/files/tokenizer/vocab.txt`,
      {
        headers: { range: 'bytes=10-19' },
      },
    );
    expect(byPath.status).toBe(206);
    const vocab = await readFile(join(work, 'v1', 'tokenizer', 'vocab.txt'));
    expect(Buffer.from(await byPath.arrayBuffer()).equals(vocab.subarray(10, 20))).toBe(true);

    const chunks = await client.fileChunks(entry.sha256);
    expect(chunks.size).toBe(bytes.length);
    expect(chunks.chunks.reduce((s, c) => s + c.length, 0)).toBe(bytes.length);
  });

  it('concurrent pushes from four clients to one model get consecutive versions', async () => {
    const roots = await Promise.all(
      [10, 11, 12, 13].map(async (variant) => {
        const root = join(work, `c${variant}`);
        await writeTree(root, modelFiles(variant));
        return root;
      }),
    );
    // Two clients push the same files, so they share an upload session.
    roots.push(roots[0]!);
    const results = await Promise.all(
      roots.map((root, i) =>
        server.client().push(root, { model: 'busy', tags: { client: String(i) } }),
      ),
    );
    const numbers = results.map((r) => r.version.version).sort((a, b) => a - b);
    expect(numbers).toEqual([1, 2, 3, 4, 5]);
    const listed = await server.client().listVersions('busy');
    expect(listed.items.map((v) => v.version)).toEqual([5, 4, 3, 2, 1]);
    for (const [i, r] of results.entries()) expect(r.version.tags).toEqual({ client: String(i) });
  });
});

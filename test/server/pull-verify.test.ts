/**
 * End-to-end verification of pulls: the SDK tells the server it verifies
 * (CLIENT_VERIFIES_HEADER), so the server streams stored bytes unchecked and the client
 * must catch any damage itself — a flipped byte in a pack on the server's disk fails the
 * pull (sequential and ranged, node:http and a custom fetch) and leaves nothing behind. A
 * plain download without the header is still verified by the server. Also: a pull resumes
 * after its connection is cut mid-body, typed errors of downloads, and a commit that finds
 * a deduplicated chunk damaged on the server names it.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, open, readdir, readFile, rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HttpClient } from '../../src/client/http-client.js';
import { openDownload } from '../../src/client/node-download.js';
import type { Sha256Hex } from '../../src/core/digest.js';
import { NotFoundError, VerificationError } from '../../src/core/errors.js';
import { CLIENT_VERIFIES_HEADER, VERIFIED_BY_HEADER } from '../../src/core/upload-protocol.js';
import { chunkIdsToHex } from '../../src/storage/index/chunk-index.js';
import { packKey } from '../../src/storage/store-layout.js';
import { pseudoRandomBytes } from '../fixtures/model-files.js';
import { startTestServer, type TestServer, writeTree } from './support/test-server.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const WEIGHTS = pseudoRandomBytes(7, 300_000);

/** A TCP relay that cuts the first connection to carry `cutAfter` bytes from the server. */
async function startCuttingRelay(target: number, cutAfter: number) {
  let connections = 0;
  let cuts = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    connections++;
    const upstream = connect(target, '127.0.0.1');
    sockets.add(client).add(upstream);
    let down = 0;
    client.pipe(upstream);
    upstream.on('data', (d: Buffer) => {
      down += d.length;
      if (cuts === 0 && down > cutAfter) {
        cuts++;
        client.write(d.subarray(0, d.length - (down - cutAfter)));
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(d);
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no relay port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    connections: () => connections,
    cuts: () => cuts,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

describe('pulls verify every byte themselves', () => {
  let server: TestServer;
  let work: string;
  let fileSha: string;

  beforeAll(async () => {
    server = await startTestServer();
    work = await mkdtemp(join(tmpdir(), 'mv-pull-verify-'));
    await writeTree(join(work, 'src'), {
      'weights.bin': WEIGHTS,
      'notes.txt': pseudoRandomBytes(8, 500),
    });
    await server.client().push(join(work, 'src'), { model: 'm' });
    fileSha = sha(WEIGHTS);
  });
  afterAll(async () => {
    await server.close();
    await rm(work, { recursive: true, force: true });
  });

  /** Where the `k`-th chunk of weights.bin lives on the server's disk. */
  async function chunkOnDisk(k: number) {
    const store = server.backend.store;
    const record = (await store.index.getFile(fileSha as Sha256Hex))!;
    const ids = chunkIdsToHex(record.chunkIds);
    const loc = (await store.index.locate([ids[k]!])).get(ids[k]!)!;
    const path = join(
      server.dir,
      'registry',
      'objects',
      ...packKey(loc.packId as Sha256Hex).split('/'),
    );
    return { id: ids[k]!, path, offset: loc.offset };
  }

  /** Flips one byte of the `k`-th chunk in its pack; the returned function flips it back. */
  async function flip(k: number): Promise<{ id: string; restore: () => Promise<void> }> {
    const c = await chunkOnDisk(k);
    const toggle = async () => {
      const fh = await open(c.path, 'r+');
      const b = Buffer.alloc(1);
      await fh.read(b, 0, 1, c.offset + 3);
      await fh.write(Buffer.from([b[0]! ^ 0x5a]), 0, 1, c.offset + 3);
      await fh.close();
    };
    await toggle();
    return { id: c.id, restore: toggle };
  }

  let damage: { restore: () => Promise<void> } | undefined;
  afterEach(async () => {
    await damage?.restore();
    damage = undefined;
  });

  it('pulls intact, telling the server it verifies', async () => {
    const seen: string[] = [];
    const recording: typeof fetch = async (input, init) => {
      const h = new Headers(init?.headers);
      if (String(input).includes('/api/v1/files/')) seen.push(h.get(CLIENT_VERIFIES_HEADER) ?? '-');
      return fetch(input, init);
    };
    for (const client of [server.client(), server.client({ fetch: recording })]) {
      const dest = join(work, `ok-${Math.random()}`);
      await client.pull('m@1', dest);
      expect(sha(await readFile(join(dest, 'weights.bin')))).toBe(fileSha);
    }
    expect(seen).toEqual(['sha256', 'sha256']);
  });

  it('a byte flipped in a pack on the server fails the pull (sequential, both transports)', async () => {
    damage = await flip(3);
    for (const options of [{}, { fetch: ((i, init) => fetch(i, init)) as typeof fetch }]) {
      const dest = join(work, `bad-${Math.random()}`);
      const err = await server
        .client(options)
        .pull('m@1', dest)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(VerificationError);
      expect((err as VerificationError).details).toMatchObject({ sha256: fileSha });
      // Nothing half-written is left under a final name, nor any temp file.
      expect((await readdir(dest)).filter((n) => n !== 'notes.txt')).toEqual([]);
    }
  });

  it('a byte flipped in a pack fails a ranged pull naming the chunk', async () => {
    const bad = await flip(40);
    damage = bad;
    const client = server.client({
      transfer: { parallelFileBytes: 64 * 1024, rangeBytes: 32 * 1024, parallel: 3 },
    });
    const dest = join(work, `ranged-${Math.random()}`);
    const err = await client.pull('m@1', dest).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VerificationError);
    expect((err as VerificationError).details).toMatchObject({ chunk: bad.id });
    expect(await readdir(dest)).not.toContain('weights.bin');
  });

  it('without the header the server still verifies: the damaged body is cut short', async () => {
    damage = await flip(3);
    const url = `${server.url}/api/v1/files/${fileSha}`;
    const trusted = await fetch(url, { headers: { [CLIENT_VERIFIES_HEADER]: 'sha256' } });
    expect(trusted.headers.get(VERIFIED_BY_HEADER)).toBe('client');
    const bytes = new Uint8Array(await trusted.arrayBuffer());
    expect(bytes.length).toBe(WEIGHTS.length); // every byte sent, one of them wrong
    expect(sha(bytes)).not.toBe(fileSha);

    // Without it, the server checks the chunks it reads: the damaged one is never sent
    // (refused with CORRUPT before the first byte here, or the body is cut short).
    const outcome = await fetch(url).then(
      async (r) =>
        r.ok
          ? sha(new Uint8Array(await r.arrayBuffer()))
          : ((await r.json()) as { error: { code: string } }).error.code,
      () => 'cut short',
    );
    expect(['CORRUPT', 'cut short']).toContain(outcome);
  });

  it('a client-verified download serves exact ranges, with its headers, log and byte count', async () => {
    const url = `${server.url}/api/v1/files/${fileSha}`;
    const metric = async () => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      const line = text
        .split('\n')
        .find(
          (l) =>
            l.startsWith('modelvault_http_response_bytes_total') &&
            l.includes('route="/api/v1/files/:sha256"'),
        );
      return line ? Number(line.split(' ').pop()) : 0;
    };
    const before = await metric();
    for (const [from, to] of [
      [0, 0],
      [1000, 250_000],
      [WEIGHTS.length - 7, WEIGHTS.length - 1],
    ] as const) {
      const res = await fetch(url, {
        headers: { [CLIENT_VERIFIES_HEADER]: 'sha256', range: `bytes=${from}-${to}` },
      });
      expect(res.status).toBe(206);
      expect(res.headers.get('content-range')).toBe(`bytes ${from}-${to}/${WEIGHTS.length}`);
      expect(res.headers.get('etag')).toBe(`"${fileSha}"`);
      expect(res.headers.get(VERIFIED_BY_HEADER)).toBe('client');
      expect(res.headers.get('x-request-id')).toBeTruthy();
      const body = Buffer.from(await res.arrayBuffer());
      expect(body.equals(Buffer.from(WEIGHTS.subarray(from, to + 1)))).toBe(true);
    }
    // A missing file is still a JSON error answer, not a cut connection.
    const missing = await fetch(`${server.url}/api/v1/files/${'1'.repeat(64)}`, {
      headers: { [CLIENT_VERIFIES_HEADER]: 'sha256' },
    });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
    expect((await metric()) - before).toBe(1 + 249_001 + 7);
  });

  it('resumes a download whose connection is cut mid-body', async () => {
    const relay = await startCuttingRelay(Number(new URL(server.url).port), 120_000);
    try {
      const dest = join(work, 'resumed');
      // The JSON before the files is far below the cut: it lands in weights.bin's body.
      const client = new (await import('../../src/client/remote-registry.js')).RemoteRegistry(
        relay.url,
        { retryDelayMs: 5, transfer: { parallel: 1 } },
      );
      await client.pull('m@1', dest);
      expect(sha(await readFile(join(dest, 'weights.bin')))).toBe(fileSha);
      expect(relay.cuts()).toBe(1);
      expect(relay.connections()).toBeGreaterThanOrEqual(2);
    } finally {
      await relay.close();
    }
  });

  it('downloads report typed errors on both transports', async () => {
    const missing = `/api/v1/files/${'0'.repeat(64)}`;
    for (const options of [{}, { fetch: ((i, init) => fetch(i, init)) as typeof fetch }]) {
      const http = new HttpClient(server.url, { ...options, retryDelayMs: 5 });
      await expect(openDownload(http, missing, {}, undefined)).rejects.toBeInstanceOf(
        NotFoundError,
      );
    }
    const closed = new HttpClient('http://127.0.0.1:9', { retries: 1, retryDelayMs: 1 });
    await expect(openDownload(closed, missing, {}, undefined)).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    });
  });

  it('a commit that finds a deduplicated chunk damaged on the server names it', async () => {
    // The new version shares weights.bin's first chunks and changes its end.
    const changed = Uint8Array.from(WEIGHTS);
    changed.fill(1, 290_000);
    await writeTree(join(work, 'v2'), { 'weights.bin': changed });
    const bad = await flip(2);
    damage = bad;
    const err = await server
      .client()
      .push(join(work, 'v2'), { model: 'm' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VerificationError);
    expect((err as VerificationError).details).toMatchObject({ chunk: bad.id });
    expect((await server.client().listVersions('m')).items.map((v) => v.version)).toEqual([1]);
  });
});

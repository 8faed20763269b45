/**
 * The socket download path against real TCP servers that answer by hand, byte for byte:
 * bodies larger than its buffers with a slow consumer (buffers lent and reused, reading
 * paused and resumed), a response head split across packets, what it leaves to node:http
 * (chunked bodies, error answers), a connection cut mid-body, and header injection.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { NotFoundError } from '../core/errors.js';
import { HttpClient } from './http-client.js';
import { openDownload } from './node-download.js';
import { socketDownload } from './socket-download.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

let server: Server | undefined;
const sockets = new Set<Socket>();
afterEach(async () => {
  for (const s of sockets) s.destroy();
  sockets.clear();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/** A server that reads one request head, records it and runs `answer` on the socket. */
async function serve(answer: (socket: Socket, head: string) => void): Promise<{
  client: HttpClient;
  heads: string[];
}> {
  const heads: string[] = [];
  server = createServer((socket) => {
    sockets.add(socket);
    let text = '';
    socket.on('data', (d: Buffer) => {
      if (text.includes('\r\n\r\n')) return;
      text += d.toString('latin1');
      if (text.includes('\r\n\r\n')) {
        heads.push(text);
        answer(socket, text);
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return {
    client: new HttpClient(`http://127.0.0.1:${address.port}`, { retries: 0, retryDelayMs: 1 }),
    heads,
  };
}

/** Writes `bytes` in pieces of `piece` bytes, a few ms apart. */
async function dribble(socket: Socket, bytes: Uint8Array, piece: number) {
  for (let at = 0; at < bytes.length && !socket.destroyed; at += piece) {
    socket.write(bytes.subarray(at, at + piece));
    await new Promise((r) => setTimeout(r, 1));
  }
}

describe('socketDownload', () => {
  it('reads a body larger than its buffers through a slow consumer, buffers reused', async () => {
    const body = randomBytes(5 * 1024 * 1024 + 777);
    const { client, heads } = await serve((socket) => {
      // The head arrives in two pieces, the body with it and then in bursts.
      const head = Buffer.from(
        `HTTP/1.1 206 Partial Content\r\nContent-Length: ${body.length}\r\nETag: "x"\r\n\r\n`,
      );
      socket.write(head.subarray(0, 20));
      setTimeout(() => {
        socket.write(Buffer.concat([head.subarray(20), body.subarray(0, 1000)]));
        void dribble(socket, body.subarray(1000), 256 * 1024);
      }, 5);
    });
    const res = await socketDownload(client, '/f', { 'x-test': 'yes' }, undefined);
    expect(res).toBeDefined();
    expect(res!.status).toBe(206);
    expect(res!.lendsBlocks).toBe(true);
    expect(res!.header('ETag')).toBe('"x"');
    const hash = createHash('sha256');
    const buffers = new Set<ArrayBufferLike>();
    let blocks = 0;
    let largest = 0;
    await res!.consume(async (b) => {
      hash.update(b);
      buffers.add(b.buffer);
      blocks++;
      largest = Math.max(largest, b.length);
      await new Promise((r) => setTimeout(r, 10)); // slower than the network
    });
    expect(hash.digest('hex')).toBe(sha(body));
    expect(largest).toBeLessThanOrEqual(1024 * 1024);
    // Far fewer buffers than blocks: they come back and are reused.
    expect(blocks).toBeGreaterThan(5);
    expect(buffers.size).toBeLessThanOrEqual(5);
    expect(heads[0]).toMatch(/^GET \/f HTTP\/1\.1\r\n/);
    expect(heads[0]).toContain('x-test: yes\r\n');
    expect(heads[0]).toContain('connection: close\r\n');
  });

  it('leaves chunked bodies and error answers to node:http (openDownload repeats the GET)', async () => {
    const body = randomBytes(70_000);
    const { client, heads } = await serve((socket, head) => {
      if (head.startsWith('GET /missing')) {
        const json = JSON.stringify({ error: { code: 'NOT_FOUND', message: 'no such file' } });
        socket.end(
          `HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: ${json.length}\r\n\r\n${json}`,
        );
        return;
      }
      socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
      socket.end(
        Buffer.concat([
          Buffer.from(`${body.length.toString(16)}\r\n`),
          body,
          Buffer.from('\r\n0\r\n\r\n'),
        ]),
      );
    });
    expect(await socketDownload(client, '/chunked', {}, undefined)).toBeUndefined();
    const res = await openDownload(client, '/chunked', {}, undefined);
    expect(res.lendsBlocks).toBe(false);
    const parts: Uint8Array[] = [];
    await res.consume((b) => {
      parts.push(b);
      return undefined;
    });
    expect(sha(Buffer.concat(parts))).toBe(sha(body));
    await expect(openDownload(client, '/missing', {}, undefined)).rejects.toBeInstanceOf(
      NotFoundError,
    );
    // chunked: socket, socket, node:http; missing: socket, node:http
    expect(heads.length).toBe(5);
  });

  it('reports a connection cut mid-body as UNAVAILABLE, and keeps what came before', async () => {
    const body = randomBytes(3 * 1024 * 1024);
    const { client } = await serve((socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
      socket.write(body.subarray(0, 1_500_000), () => setTimeout(() => socket.destroy(), 20));
    });
    const res = await socketDownload(client, '/cut', {}, undefined);
    let got = 0;
    const err = await res!
      .consume((b) => {
        got += b.length;
        return undefined;
      })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'UNAVAILABLE' });
    expect(got).toBeGreaterThan(0);
    expect(got).toBeLessThanOrEqual(1_500_000);
  });

  it('refuses header values that would split the request', async () => {
    const { client, heads } = await serve((socket) => socket.destroy());
    await expect(
      socketDownload(client, '/f', { 'x-evil': 'a\r\nx-injected: 1' }, undefined),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(heads).toEqual([]);
  });

  it('cannot reach a closed port: UNAVAILABLE', async () => {
    const closed = new HttpClient('http://127.0.0.1:9', { retries: 0 });
    await expect(socketDownload(closed, '/f', {}, undefined)).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    });
  });
});

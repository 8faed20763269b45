import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { expect, it } from 'vitest';
import { describeObjectBackendConformance } from '../../../../test/conformance/object-backend-conformance.js';
import { pseudoRandomBytes } from '../../../../test/fixtures/model-files.js';
import { describeWithS3 } from '../../../../test/support/s3-server.js';
import { openS3Backend } from './open-s3-backend.js';
import { S3Backend, type S3BackendOptions } from './s3-backend.js';

const MiB = 1024 * 1024;

/** Counts the commands a backend's client sends, by name. */
function countCommands(backend: S3Backend): Map<string, number> {
  const counts = new Map<string, number>();
  backend.client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = context.commandName ?? '?';
      counts.set(name, (counts.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize' },
  );
  return counts;
}

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describeWithS3('S3 backend on a real S3 server', (server) => {
  const options = (prefix: string): S3BackendOptions => ({
    bucket: server().bucket,
    prefix,
    endpoint: server().endpoint,
    region: server().region,
    credentials: server().credentials,
    // Small parts, so that the conformance suite's 20 MiB putFile is a 4-part upload.
    multipartThreshold: 5 * MiB,
    partSize: 5 * MiB,
  });

  // The stack the store uses: retries around a concurrency limit around S3Backend.
  describeObjectBackendConformance('S3 (openS3Backend, 4 requests at a time)', async () => {
    const prefix = server().uniquePrefix();
    return {
      backend: await openS3Backend({ ...options(prefix), concurrency: 4 }),
      cleanup: () => server().emptyPrefix(`${prefix}/`),
    };
  });

  it('keeps its objects under its prefix in the bucket, invisible to other prefixes', async () => {
    const a = new S3Backend(options('team/a'));
    const ab = new S3Backend(options('team/a-b'));
    try {
      expect(a.location).toBe(`s3://${server().bucket}/team/a`);
      expect(a.capabilities.local).toBe(false);
      expect(a.capabilities.putFileCopies).toBe(true);
      await a.put('packs/ab/x.pack', Buffer.from('in a'));
      await ab.put('packs/ab/x.pack', Buffer.from('in a-b'));
      const raw = await server().client.send(
        new ListObjectsV2Command({ Bucket: server().bucket, Prefix: 'team/' }),
      );
      expect(raw.Contents?.map((o) => o.Key).sort()).toEqual([
        'team/a-b/packs/ab/x.pack',
        'team/a/packs/ab/x.pack',
      ]);
      const listed: string[] = [];
      for await (const o of a.list('')) listed.push(o.key);
      expect(listed).toEqual(['packs/ab/x.pack']);
      expect(Buffer.from(await a.getRange('packs/ab/x.pack', 0, 4)).toString()).toBe('in a');
    } finally {
      await a.close();
      await ab.close();
      await server().emptyPrefix('team/');
    }
  });

  it('uploads a large file in parts, each streamed, and reads a range with one GET', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mv-s3-mpu-'));
    const b = new S3Backend({ ...options(server().uniquePrefix()), partConcurrency: 2 });
    const counts = countCommands(b);
    try {
      const data = pseudoRandomBytes(7, 12 * MiB + 3);
      await writeFile(join(dir, 'pack'), data);
      await b.putFile('packs/12/big.pack', join(dir, 'pack'));
      expect(counts.get('UploadPartCommand')).toBe(3);
      expect(counts.get('CompleteMultipartUploadCommand')).toBe(1);
      expect(counts.get('PutObjectCommand')).toBeUndefined();
      const head = await server().client.send(
        new HeadObjectCommand({ Bucket: b.bucket, Key: `${b.keyPrefix}packs/12/big.pack` }),
      );
      expect(head.ContentLength).toBe(data.length);
      const got = await b.getRange('packs/12/big.pack', 5 * MiB - 10, 2 * MiB);
      expect(Buffer.from(got).equals(Buffer.from(data.subarray(5 * MiB - 10, 7 * MiB - 10)))).toBe(
        true,
      );
      expect(counts.get('GetObjectCommand')).toBe(1);
    } finally {
      await b.close();
      await server().emptyPrefix(b.keyPrefix);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports a missing bucket clearly', async () => {
    const missing = { ...options('p'), bucket: 'mv-no-such-bucket-here' };
    await expect(openS3Backend(missing)).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: /bucket 'mv-no-such-bucket-here' does not exist/,
    });
    const b = new S3Backend(missing);
    await expect(b.put('k', Buffer.from('v'))).rejects.toMatchObject({
      code: 'IO',
      message: /does not exist/,
    });
    await b.close();
  });

  it('reports wrong credentials when it opens, and on each call without retrying', async () => {
    const wrong = {
      ...options('p'),
      credentials: { accessKeyId: 'test:tester', secretAccessKey: 'wrong' },
    };
    await expect(openS3Backend(wrong)).rejects.toMatchObject({ code: 'IO', message: /denied/ });
    const retries: unknown[] = [];
    const b = await openS3Backend({
      ...wrong,
      checkBucket: false,
      retry: { onRetry: (e) => retries.push(e) },
    });
    await expect(b.put('k', Buffer.from('v'))).rejects.toMatchObject({ code: 'IO' });
    expect(retries).toEqual([]);
    await b.close();
  });
});

it('turns an unreachable server into transient errors, retried with backoff', async () => {
  const endpoint = `http://127.0.0.1:${await closedPort()}`;
  const base = {
    bucket: 'mv-bucket',
    endpoint,
    credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
  };
  const bare = new S3Backend(base);
  await expect(bare.stat('k')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  await bare.close();
  const retries: number[] = [];
  const b = await openS3Backend({
    ...base,
    checkBucket: false,
    retry: { maxAttempts: 3, sleep: async () => {}, onRetry: (e) => retries.push(e.attempt) },
  });
  await expect(b.getRange('k', 0, 1)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  expect(retries).toEqual([1, 2]);
  await b.close();
  await expect(openS3Backend(base)).rejects.toMatchObject({
    code: 'UNAVAILABLE',
    message: /cannot reach the s3 server/,
  });
});

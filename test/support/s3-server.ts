/**
 * A real S3-compatible server for a test file: `describeWithS3` starts one with
 * `scripts/s3-server.sh` (OpenStack Swift + s3api on loopback, in a temp directory) before
 * the file's tests and stops it after them, or uses the server named by
 * MODELVAULT_TEST_S3_ENDPOINT (with MODELVAULT_TEST_S3_ACCESS_KEY / _SECRET_KEY, default
 * Swift's test:tester / testing). Each suite gets its own fresh bucket.
 *
 * Without Swift installed the suites skip with a message saying so, unless
 * MODELVAULT_TEST_REQUIRE_ALL=1 (CI), where they fail.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3ClientConfig } from '../../src/storage/backends/s3/s3-backend.js';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../../scripts/s3-server.sh', import.meta.url));

export interface S3TestServer {
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** A bucket created for this suite (emptied and removed after it). */
  readonly bucket: string;
  /** A client with the backend's settings, for setup and for checking from outside. */
  readonly client: S3Client;
  /** A key prefix no other test in this suite uses. */
  uniquePrefix(): string;
  /** Deletes every object under `prefix` (one by one: Swift needs Content-MD5 for bulk). */
  emptyPrefix(prefix: string): Promise<void>;
}

function swiftInstalled(): boolean {
  return existsSync('/usr/bin/swift-proxy-server') && existsSync('/usr/bin/memcached');
}

/**
 * `describe(name, fn)` with an S3 server: `server()` returns it inside tests and hooks.
 */
export function describeWithS3(name: string, fn: (server: () => S3TestServer) => void): void {
  const external = process.env.MODELVAULT_TEST_S3_ENDPOINT;
  if (!external && !swiftInstalled()) {
    const why =
      'OpenStack Swift is not installed (apt-get install swift swift-proxy swift-object swift-container swift-account memcached), and MODELVAULT_TEST_S3_ENDPOINT is not set';
    if (process.env.MODELVAULT_TEST_REQUIRE_ALL === '1') {
      describe(name, () => {
        it('needs an S3 server', () => {
          throw new Error(`${why}; MODELVAULT_TEST_REQUIRE_ALL=1 forbids skipping`);
        });
      });
    } else {
      console.warn(`skipping '${name}': ${why}`);
      describe.skip(name, () => fn(() => expect.unreachable()));
    }
    return;
  }
  describe(name, () => {
    let current: S3TestServer | undefined;
    let dir: string | undefined;
    beforeAll(async () => {
      let endpoint = external;
      if (!endpoint) {
        dir = await mkdtemp(join(tmpdir(), 'mv-s3-server-'));
        const { stdout } = await run('bash', [SCRIPT, 'start', dir], { timeout: 90_000 });
        endpoint = stdout.trim().split('\n').pop()!;
      }
      const credentials = {
        accessKeyId: process.env.MODELVAULT_TEST_S3_ACCESS_KEY ?? 'test:tester',
        secretAccessKey: process.env.MODELVAULT_TEST_S3_SECRET_KEY ?? 'testing',
      };
      const region = 'us-east-1';
      const client = new S3Client(s3ClientConfig({ endpoint, region, credentials }));
      const bucket = `mv-test-${randomBytes(6).toString('hex')}`;
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      let n = 0;
      current = {
        endpoint,
        region,
        credentials,
        bucket,
        client,
        uniquePrefix: () => `t${++n}-${randomBytes(4).toString('hex')}`,
        emptyPrefix: (prefix) => emptyPrefix(client, bucket, prefix),
      };
    });
    afterAll(async () => {
      try {
        if (current) {
          await current.emptyPrefix('');
          await current.client.send(new DeleteBucketCommand({ Bucket: current.bucket }));
          current.client.destroy();
        }
      } finally {
        if (dir) {
          await run('bash', [SCRIPT, 'stop', dir], { timeout: 60_000 });
          await rm(dir, { recursive: true, force: true });
        }
      }
    });
    fn(() => {
      if (!current) throw new Error('the S3 server is not running (beforeAll failed)');
      return current;
    });
  });
}

async function emptyPrefix(client: S3Client, bucket: string, prefix: string): Promise<void> {
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        ...(token ? { ContinuationToken: token } : {}),
      }),
    );
    await Promise.all(
      (page.Contents ?? []).map((o) =>
        client.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key! })),
      ),
    );
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

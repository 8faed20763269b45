/**
 * Scale-out (DESIGN §7): two `mvault serve` processes over one PostgreSQL database (the
 * metadata and the chunk index) and one S3 bucket (the packs), each with its own local
 * directory. Concurrent pushes through both replicas get unique consecutive numbers and
 * pull byte-identical through the other one; alias moves racing on both end in the state
 * the audit trail's last event names, and the one linear audit chain verifies. A garbage
 * collection on one replica, racing pushes through the other that reuse the bytes it
 * collects, deletes nothing live; and a push cut off by killing its replica resumes on the
 * other one, sending only what the dead one had not stored.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRemoteRegistry } from '../../src/client/open-remote-registry.js';
import type { RegistryApi } from '../../src/core/registry-api.js';
import { pseudoRandomBytes } from '../fixtures/model-files.js';
import { mvaultOk } from '../support/cli.js';
import { freshDatabase, TEST_DIALECTS } from '../support/dialects.js';
import { describeWithS3 } from '../support/s3-server.js';
import { BUILT_CLI, type ChildServer, startChild } from './support/child-server.js';
import { writeTree } from './support/test-server.js';

const SERVE = BUILT_CLI;
const PUSHES = 6;

describe.each(TEST_DIALECTS.filter((d) => d === 'postgres'))('replicas (%s)', (dialect) => {
  describeWithS3('two servers over one PostgreSQL and one bucket', (s3) => {
    const children: ChildServer[] = [];
    const cleanups: (() => Promise<void>)[] = [];
    let work: string;
    let url: string;
    let env: Record<string, string | undefined>;
    const dirs: string[] = [];
    const urls: string[] = [];
    let a: RegistryApi;
    let b: RegistryApi;

    beforeAll(async () => {
      work = await mkdtemp(join(tmpdir(), 'mv-replicas-'));
      const fresh = await freshDatabase(dialect);
      cleanups.push(
        () => rm(work, { recursive: true, force: true }),
        () => fresh.cleanup(),
      );
      if (fresh.config.kind !== 'postgres') throw new Error('expected a PostgreSQL database');
      url = fresh.config.url;
      env = {
        AWS_ACCESS_KEY_ID: s3().credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3().credentials.secretAccessKey,
        AWS_REGION: s3().region,
        MODELVAULT_S3_ENDPOINT: undefined,
        AWS_ENDPOINT_URL: undefined,
        AWS_ENDPOINT_URL_S3: undefined,
        MODELVAULT_DB: '',
        MODELVAULT_REGISTRY: '',
      };
      const blobs = `s3://${s3().bucket}/${s3().uniquePrefix()}`;
      const replicas: RegistryApi[] = [];
      for (const name of ['a', 'b']) {
        const dir = join(work, name);
        await mvaultOk(['init', dir, '--blobs', blobs, '--s3-endpoint', s3().endpoint], {
          cwd: work,
          env,
        });
        dirs.push(join(dir, '.modelvault'));
        const server = await startChild(
          SERVE,
          ['serve', '--port', '0', '--registry', join(dir, '.modelvault'), '--db', url],
          env,
        );
        children.push(server);
        urls.push(server.url);
        replicas.push(await openRemoteRegistry(server.url, { check: true }));
      }
      [a, b] = replicas as [RegistryApi, RegistryApi];
    });
    afterAll(async () => {
      await a?.close();
      await b?.close();
      for (const c of children) if (c.child.exitCode === null) c.child.kill('SIGKILL');
      for (const c of cleanups) await c();
    });

    /** `mvault ARGS` in replica `i`'s directory, over the shared database and bucket. */
    const onReplica = (i: number, args: string[]) =>
      mvaultOk([...args, '--registry', dirs[i]!], {
        cwd: work,
        env: { ...env, MODELVAULT_DB: url },
      });

    it('push, pull, alias moves and the audit chain agree across replicas', async () => {
      await a.createModel({ name: 'shared' });

      // Concurrent pushes, alternating replicas.
      const contents = Array.from({ length: PUSHES }, (_, i) =>
        pseudoRandomBytes(100 + i, 200_000),
      );
      const pushed = await Promise.all(
        contents.map(async (bytes, i) => {
          const src = join(work, `model-${i}`);
          await writeTree(src, { 'weights.bin': bytes, 'README.md': Buffer.from(`# run ${i}\n`) });
          const via = i % 2 === 0 ? a : b;
          return { i, version: (await via.push(src, { model: 'shared' })).version.version };
        }),
      );
      expect(pushed.map((p) => p.version).sort((x, y) => x - y)).toEqual(
        Array.from({ length: PUSHES }, (_, i) => i + 1),
      );
      // Each version pulls byte-identical through the replica that did not receive it.
      for (const { i, version } of pushed) {
        const other = i % 2 === 0 ? b : a;
        const out = join(work, `out-${i}`);
        await other.pull(`shared@${version}`, out);
        expect(Buffer.compare(await readFile(join(out, 'weights.bin')), contents[i]!)).toBe(0);
      }

      // Alias moves racing on both replicas: the final target is the last event's.
      await Promise.all(
        Array.from({ length: 8 }, (_, k) =>
          (k % 2 === 0 ? a : b).setAlias('shared', 'champion', (k % PUSHES) + 1),
        ),
      );
      const final = await b.getVersion('shared@champion');
      const events = await a.auditLog({
        model: 'shared',
        actions: ['alias.set'],
        order: 'desc',
        maxResults: 1,
      });
      const last = events.items[0];
      expect(last?.subject).toBe('shared@champion');
      expect((last?.data as { version?: number } | undefined)?.version).toBe(final.version);

      const verified = await b.auditVerify();
      expect(verified.ok).toBe(true);
    });

    it('GC on one replica while the other takes pushes deletes nothing live', async () => {
      // Garbage whose bytes the pushes reuse: an MLflow run artifact, stored through
      // replica A and deleted, so its chunks are unreferenced. A GC with no grace period
      // tombstones and sweeps them while replica B's uploads are told the chunks exist.
      const reused = pseudoRandomBytes(300, 300_000);
      const artifact = `${urls[0]}/api/2.0/mlflow-artifacts/artifacts/0/gc-race/artifacts/garbage.bin`;
      expect((await fetch(artifact, { method: 'PUT', body: reused })).status).toBe(200);
      expect((await fetch(artifact, { method: 'DELETE' })).status).toBe(200);

      let pushing = true;
      let collected = 0;
      const gcRuns = (async () => {
        let runs = 0;
        while (pushing || runs === 0) {
          const r = await onReplica(0, ['gc', '--grace', '0', '--json']);
          const report = r.json<{ chunksTombstoned: number; bytesFreed: number }>();
          collected += report.chunksTombstoned + report.bytesFreed;
          runs++;
        }
        return runs;
      })();
      const contents: Buffer[] = [];
      try {
        for (let i = 0; i < 4; i++) {
          const bytes = Buffer.concat([reused, pseudoRandomBytes(310 + i, 100_000)]);
          contents.push(bytes);
          const src = join(work, `gc-${i}`);
          await writeTree(src, { 'weights.bin': bytes });
          // With no grace period a collection may take the manifest between its commit and
          // the version's; the server then refuses the version and the SDK pushes again.
          const { version } = await b.push(src, { model: 'gc-race' });
          expect(version.version).toBe(i + 1);
        }
      } finally {
        pushing = false;
      }
      expect(await gcRuns).toBeGreaterThan(0);
      // The collections did collect: the deleted artifact's chunks were garbage.
      expect(collected).toBeGreaterThan(0);

      // One more collection after the last push, then every version pulls through A.
      await onReplica(0, ['gc', '--grace', '0']);
      for (let i = 0; i < contents.length; i++) {
        const out = join(work, `gc-out-${i}`);
        await a.pull(`gc-race@${i + 1}`, out);
        expect(Buffer.compare(await readFile(join(out, 'weights.bin')), contents[i]!)).toBe(0);
      }
      const fsck = await onReplica(1, ['fsck', '--json']);
      expect(fsck.json<{ problems: unknown[] }>().problems).toEqual([]);
    });

    // Last: it kills replica A.
    it('a replica killed mid-upload: the client resumes the push on the other', async () => {
      // Big enough for several upload batches, so some are stored before the kill.
      const bytes = pseudoRandomBytes(400, 40 * 1024 * 1024);
      const src = join(work, 'big');
      await writeTree(src, { 'weights.bin': bytes });
      const abort = new AbortController();
      let killedAt = 0;
      const first = await a
        .push(src, {
          model: 'failover',
          signal: abort.signal,
          // Progress with a path is local hashing; without one, bytes the server stored.
          onProgress: ({ bytesDone, bytesTotal, path }) => {
            if (path === undefined && killedAt === 0 && bytesDone > 0 && bytesDone < bytesTotal) {
              killedAt = bytesDone;
              children[0]!.child.kill('SIGKILL');
              // As a user would: give up on the dead replica and push to the other one.
              abort.abort();
            }
          },
        })
        .catch((e: unknown) => e);
      expect(killedAt, 'the push never reported progress before it ended').toBeGreaterThan(0);
      expect(first).toBeInstanceOf(Error);
      await children[0]!.exited;

      const { version, stats } = await b.push(src, { model: 'failover' });
      expect(version.version).toBe(1);
      // The chunks stored through A before the kill are not sent again.
      expect(stats.newBytes).toBeLessThan(bytes.length);
      expect(stats.newBytes).toBeLessThanOrEqual(bytes.length - killedAt);
      const out = join(work, 'failover-out');
      await b.pull('failover@1', out);
      expect(Buffer.compare(await readFile(join(out, 'weights.bin')), bytes)).toBe(0);
      const fsck = await onReplica(1, ['fsck', '--json']);
      expect(fsck.json<{ problems: unknown[] }>().problems).toEqual([]);
    });
  });
});

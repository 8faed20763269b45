/**
 * `mvault serve --db postgres://…` as a real process: the metadata and the chunk index go
 * to PostgreSQL, the packs stay in the registry directory; MODELVAULT_DB does the same.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openRemoteRegistry } from '../../src/client/open-remote-registry.js';
import { openDatabase } from '../../src/metadata/database.js';
import { pseudoRandomBytes } from '../fixtures/model-files.js';
import { type FreshDatabase, freshDatabase, TEST_DIALECTS } from '../support/dialects.js';
import { BUILT_CLI, type ChildServer, startChild } from './support/child-server.js';
import { writeTree } from './support/test-server.js';

const SERVE = BUILT_CLI;

describe.each(TEST_DIALECTS.filter((d) => d === 'postgres'))(
  'mvault serve --db (%s)',
  (dialect) => {
    const children: ChildServer[] = [];
    const cleanups: (() => Promise<void>)[] = [];
    afterAll(async () => {
      for (const c of children) if (c.child.exitCode === null) c.child.kill('SIGKILL');
      for (const c of cleanups) await c();
    });

    async function setup(): Promise<{ work: string; fresh: FreshDatabase; url: string }> {
      const work = await mkdtemp(join(tmpdir(), 'mv-pgserve-'));
      const fresh = await freshDatabase(dialect);
      cleanups.push(
        () => rm(work, { recursive: true, force: true }),
        () => fresh.cleanup(),
      );
      if (fresh.config.kind !== 'postgres') throw new Error('expected a PostgreSQL database');
      return { work, fresh, url: fresh.config.url };
    }

    it('keeps versions in PostgreSQL and packs in the directory; pushes and pulls', async () => {
      const { work, url } = await setup();
      const bytes = pseudoRandomBytes(7, 300_000);
      await writeTree(join(work, 'model'), { 'weights.bin': bytes });
      // The server creates the default registry directory (MODELVAULT_HOME) on first start.
      const server = await startChild(SERVE, ['serve', '--port', '0', '--db', url], {
        MODELVAULT_HOME: join(work, 'registry'),
        MODELVAULT_REGISTRY: '',
        MODELVAULT_DB: '',
      });
      children.push(server);
      expect(server.output()).toMatch(/metadata: postgres:\/\/mv@127\.0\.0\.1/);
      const client = await openRemoteRegistry(server.url, { check: true });
      const { version } = await client
        .push(join(work, 'model'), { model: 'fraud' })
        .catch((e: unknown) => {
          throw new Error(`${(e as Error).message}\n${server.output()}`);
        });
      expect(version.version).toBe(1);
      await client.pull('fraud@1', join(work, 'out'));
      expect(Buffer.compare(await readFile(join(work, 'out', 'weights.bin')), bytes)).toBe(0);
      await client.close?.();

      // The rows are in PostgreSQL, not in the directory's SQLite (which was never created).
      const db = await openDatabase<{
        model_versions: { version: number };
        chunks: { id: Uint8Array };
      }>({ kind: 'postgres', url }, []);
      try {
        expect(await db.db.selectFrom('model_versions').select('version').execute()).toEqual([
          { version: 1 },
        ]);
        const chunks = await db.db.selectFrom('chunks').select('id').execute();
        expect(chunks.length).toBeGreaterThan(0);
        expect(chunks.every((c) => c.id.length === 32)).toBe(true);
      } finally {
        await db.close();
      }
      await expect(readFile(join(work, 'registry', 'metadata.db'))).rejects.toMatchObject({
        code: 'ENOENT',
      });
    });

    it('reads MODELVAULT_DB, and refuses an unsupported database URL', async () => {
      const { work, url } = await setup();
      const server = await startChild(SERVE, ['serve', '--port', '0'], {
        MODELVAULT_HOME: join(work, 'registry'),
        MODELVAULT_REGISTRY: '',
        MODELVAULT_DB: url,
      });
      children.push(server);
      const client = await openRemoteRegistry(server.url, { check: true });
      await client.createModel({ name: 'from-env' });
      expect((await client.getModel('from-env')).name).toBe('from-env');
      await client.close?.();
      await expect(
        startChild(SERVE, ['serve', '--port', '0', '--db', 'mysql://u:pw@h/d'], {
          MODELVAULT_HOME: join(work, 'registry2'),
        }),
      ).rejects.toThrow(/unsupported database URL scheme in 'mysql:\/\/u:\*\*\*@h\/d'/);
    });
  },
);

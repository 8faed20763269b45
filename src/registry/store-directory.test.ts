/**
 * A registry directory remembers where its PostgreSQL metadata is: commands that open it
 * without naming a database reach that database instead of creating an empty SQLite one
 * (whose empty chunk index `repair` would fill and `gc` would then collect).
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freshDatabase, TEST_DIALECTS } from '../../test/support/dialects.js';
import type { DatabaseConfig } from '../metadata/database.js';
import { metadataDbPath, storeConfigPath } from '../storage/store-layout.js';
import { openRegistryDirectory } from './registry-directory.js';

describe.each(TEST_DIALECTS.filter((d) => d === 'postgres'))(
  'a registry directory over %s',
  (dialect) => {
    const cleanups: (() => Promise<void>)[] = [];
    afterAll(async () => {
      for (const c of cleanups) await c();
    });

    async function setup() {
      const work = await mkdtemp(join(tmpdir(), 'mv-location-'));
      const a = await freshDatabase(dialect);
      const b = await freshDatabase(dialect);
      cleanups.push(
        () => rm(work, { recursive: true, force: true }),
        () => a.cleanup(),
        () => b.cleanup(),
      );
      if (a.config.kind !== 'postgres') throw new Error('expected PostgreSQL');
      // The test server trusts loopback, so a password is accepted and ignored.
      const url = new URL(a.config.url);
      url.password = 'hunter2';
      const withPassword: DatabaseConfig = { kind: 'postgres', url: url.toString() };
      return { root: join(work, '.modelvault'), withPassword, other: b.config };
    }

    it('records the database without its password and reopens it unnamed', async () => {
      const { root, withPassword } = await setup();
      const created = await openRegistryDirectory(root, { create: true, database: withPassword });
      await created.registry.createModel({ name: 'fraud' });
      expect(created.metadataLocation).not.toContain('hunter2');
      await created.close();

      const config = await readFile(storeConfigPath(root), 'utf8');
      expect(config).not.toContain('hunter2');
      expect(JSON.parse(config).metadata).toEqual({
        kind: 'postgres',
        url: withPassword.kind === 'postgres' ? withPassword.url.replace(':hunter2', '') : '',
      });

      const reopened = await openRegistryDirectory(root);
      expect((await reopened.registry.getModel('fraud')).name).toBe('fraud');
      await reopened.close();
      await expect(stat(metadataDbPath(root))).rejects.toMatchObject({ code: 'ENOENT' });
    });

    it('refuses another database, and SQLite, without creating anything', async () => {
      const { root, withPassword, other } = await setup();
      await (await openRegistryDirectory(root, { create: true, database: withPassword })).close();
      const sqlite: DatabaseConfig = { kind: 'sqlite', path: metadataDbPath(root) };
      for (const database of [other, sqlite]) {
        await expect(openRegistryDirectory(root, { database })).rejects.toMatchObject({
          code: 'CONFLICT',
          message: expect.stringContaining('keeps its metadata in PostgreSQL'),
        });
      }
      await expect(stat(metadataDbPath(root))).rejects.toMatchObject({ code: 'ENOENT' });
    });

    it('records the location of a store created before it was recorded', async () => {
      const { root, withPassword } = await setup();
      await (await openRegistryDirectory(root, { create: true, database: withPassword })).close();
      const config = JSON.parse(await readFile(storeConfigPath(root), 'utf8'));
      delete config.metadata;
      await writeFile(storeConfigPath(root), JSON.stringify(config));

      await (await openRegistryDirectory(root, { database: withPassword })).close();
      expect(JSON.parse(await readFile(storeConfigPath(root), 'utf8')).metadata.kind).toBe(
        'postgres',
      );
    });

    it('moves a registry whose SQLite metadata is still empty (just initialised) to PostgreSQL', async () => {
      const { root, withPassword } = await setup();
      await (await openRegistryDirectory(root, { create: true })).close();
      const moved = await openRegistryDirectory(root, { database: withPassword });
      await moved.registry.createModel({ name: 'fraud' });
      await moved.close();
      const reopened = await openRegistryDirectory(root);
      expect((await reopened.registry.getModel('fraud')).name).toBe('fraud');
      await reopened.close();
    });

    it('refuses PostgreSQL for a registry whose metadata is its own SQLite file', async () => {
      const { root, withPassword } = await setup();
      const local = await openRegistryDirectory(root, { create: true });
      await local.registry.createModel({ name: 'kept' });
      await local.close();
      await expect(openRegistryDirectory(root, { database: withPassword })).rejects.toMatchObject({
        code: 'CONFLICT',
        message: expect.stringContaining('metadata.db'),
      });
      const again = await openRegistryDirectory(root);
      expect((await again.registry.getModel('kept')).name).toBe('kept');
      await again.close();
    });
  },
);

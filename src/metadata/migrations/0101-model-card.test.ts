import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type FreshDatabase,
  freshDatabase,
  TEST_DIALECTS,
} from '../../../test/support/dialects.js';
import { openDatabase } from '../database.js';
import type { RegistryDB } from '../schema.js';
import { registryMigration } from './0100-registry.js';
import { modelCardMigration } from './0101-model-card.js';

describe.each(TEST_DIALECTS)('migration 0101-model-card on %s', (dialect) => {
  let fresh: FreshDatabase | undefined;
  afterEach(async () => {
    await fresh?.cleanup();
    fresh = undefined;
  });

  it('adds a nullable model_card column to a database that already has versions', async () => {
    fresh = await freshDatabase(dialect);
    const before = await openDatabase<RegistryDB>(fresh.config, [registryMigration]);
    await sql`insert into registered_models (name, created_at, updated_at) values ('m', 1, 1)`.execute(
      before.db,
    );
    await sql`insert into model_versions (model_id, version, manifest_digest, size, file_count,
      created_at, updated_at) values (1, 1, ${'a'.repeat(64)}, 0, 0, 1, 1)`.execute(before.db);
    await before.close();

    const after = await openDatabase<RegistryDB>(fresh.config, [
      registryMigration,
      modelCardMigration,
    ]);
    try {
      const row = await after.db
        .selectFrom('model_versions')
        .select(['version', 'model_card'])
        .executeTakeFirstOrThrow();
      expect(row).toEqual({ version: 1, model_card: null });
      await after.db.updateTable('model_versions').set({ model_card: '# Card' }).execute();
      const again = await after.db
        .selectFrom('model_versions')
        .select('model_card')
        .executeTakeFirstOrThrow();
      expect(again.model_card).toBe('# Card');
    } finally {
      await after.close();
    }
  });
});

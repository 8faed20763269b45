/**
 * Child process for the database-open race test: waits for `go`, then opens (creating and
 * migrating) the database at argv[2] (a SQLite path or a postgres:// URL) with the storage
 * and registry migrations, makes one write, and reports `{ ok }` or `{ error }` over IPC.
 *
 *   node --import tsx concurrent-opener.ts DB WORKER
 */
import { databaseConfigFrom, openDatabase } from '../../src/metadata/database.js';
import { REGISTRY_MIGRATIONS } from '../../src/registry/local-registry.js';
import { storageMigrations } from '../../src/storage/index/storage-migrations.js';

const [location, worker] = process.argv.slice(2);
if (!location || !worker || !process.send) {
  throw new Error('usage: concurrent-opener DB WORKER (forked with IPC)');
}
const go = new Promise<void>((resolve) => process.once('message', () => resolve()));
process.send({ ready: true });
await go;
let reply: { ok: true } | { error: string };
try {
  const database = await openDatabase(databaseConfigFrom(location), [
    ...storageMigrations,
    ...REGISTRY_MIGRATIONS,
  ]);
  await database.writeTransaction(async (trx) => {
    await trx
      .insertInto('storage_leases' as never)
      .values({ name: `w${worker}`, holder: worker, expires_at: 0 } as never)
      .execute();
  });
  await database.close();
  reply = { ok: true };
} catch (e) {
  reply = { error: `${(e as { code?: string }).code ?? ''} ${(e as Error).message}` };
}
process.send(reply, () => process.exit(0));

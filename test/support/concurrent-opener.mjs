/**
 * Child process for the database-open race test: waits for `go`, then opens (creating and
 * migrating) the database at argv[2] (a SQLite path or a postgres:// URL) with the storage
 * and registry migrations, makes one write, and reports `{ ok }` or `{ error }` over IPC.
 *
 *   node concurrent-opener.mjs DB WORKER   (plain JavaScript over dist/: quick to start)
 */
import { databaseConfigFrom, openDatabase } from '../../dist/metadata/database.js';
import { REGISTRY_MIGRATIONS } from '../../dist/registry/local-registry.js';
import { storageMigrations } from '../../dist/storage/index/storage-migrations.js';

const [location, worker] = process.argv.slice(2);
if (!location || !worker || !process.send) {
  throw new Error('usage: concurrent-opener DB WORKER (forked with IPC)');
}
const go = new Promise((resolve) => process.once('message', () => resolve()));
process.send({ ready: true });
await go;
let reply;
try {
  const database = await openDatabase(databaseConfigFrom(location), [
    ...storageMigrations,
    ...REGISTRY_MIGRATIONS,
  ]);
  await database.writeTransaction(async (trx) => {
    await trx
      .insertInto('storage_leases')
      .values({ name: `w${worker}`, holder: worker, expires_at: 0 })
      .execute();
  });
  await database.close();
  reply = { ok: true };
} catch (e) {
  reply = { error: `${e.code ?? ''} ${e.message}` };
}
process.send(reply, () => process.exit(0));

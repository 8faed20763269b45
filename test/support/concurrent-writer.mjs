/**
 * Child process for the concurrency test: opens the registry whose database is argv[2] (a
 * SQLite path or a postgres:// URL) and creates
 * argv[4] versions of model argv[3] (creating the model if missing), then reports the
 * version numbers it got over IPC. It says `ready` once the registry is open and waits
 * for `go`, so all writers start writing at the same time.
 *
 *   node concurrent-writer.mjs DB MODEL COUNT WORKER   (plain JavaScript over dist/: quick to start)
 */
import { databaseConfigFrom } from '../../dist/metadata/database.js';
import { openLocalRegistry } from '../../dist/registry/local-registry.js';

const [location, model, count, worker] = process.argv.slice(2);
if (!location || !model || !count || !worker || !process.send) {
  throw new Error('usage: concurrent-writer DB MODEL COUNT WORKER (forked with IPC)');
}
const registry = await openLocalRegistry({
  db: databaseConfigFrom(location),
  defaultActor: `worker-${worker}`,
});
const numbers = [];
const go = new Promise((resolve) => process.once('message', () => resolve()));
process.send({ ready: true });
await go;
try {
  for (let i = 0; i < Number(count); i++) {
    const v = await registry.createVersion({
      model,
      manifest: {
        digest: `${worker.padStart(4, '0')}${String(i).padStart(60, '0')}`,
        size: i,
        fileCount: 1,
      },
      metrics: { i },
      tags: { worker },
      createModelIfMissing: true,
    });
    numbers.push(v.version);
  }
} finally {
  await registry.close();
}
process.send({ worker, numbers }, () => process.exit(0));

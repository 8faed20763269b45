/**
 * What a registry has stored, condensed for "did this change?" checks: a digest over every
 * row of every metadata table (audit trail, versions, chunk index…) and over the list of
 * stored objects (pack keys and sizes). Reading every row is slow next to a request, so
 * `StoreWatch` recomputes the row digest only when SQLite's `total_changes()` moved (any
 * insert, update or delete on the registry's connection, even one rolled back since).
 */
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import type { Store } from '../../../src/storage/store.js';

export interface StoreFingerprint {
  /** Digest of every row of every table, in rowid order (key order for WITHOUT ROWID tables). */
  readonly rows: string;
  /** Digest of the stored objects' keys and sizes. */
  readonly objects: string;
  /** Digest per table, to say what changed when the digest differs. */
  readonly tables: Readonly<Record<string, string>>;
}

function db(store: Store) {
  return store.index.storageDb.db;
}

/** Every table, and whether it has a rowid (a WITHOUT ROWID table is its key's b-tree). */
async function tables(store: Store): Promise<{ name: string; rowid: boolean }[]> {
  const r = await sql<{
    name: string;
    sql: string;
  }>`select name, sql from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name`.execute(
    db(store),
  );
  return r.rows.map((t) => ({ name: t.name, rowid: !/without\s+rowid\s*$/i.test(t.sql) }));
}

async function rowDigest(store: Store): Promise<{ rows: string; tables: Record<string, string> }> {
  const all = createHash('sha256');
  const digests: Record<string, string> = {};
  for (const { name: t, rowid } of await tables(store)) {
    // A WITHOUT ROWID table is scanned in its primary key's order.
    const order = rowid ? sql` order by rowid` : sql``;
    const rows = (await sql`select * from ${sql.table(t)}${order}`.execute(db(store))).rows;
    const h = createHash('sha256');
    for (const row of rows) {
      h.update(
        JSON.stringify(row, (_k, v) =>
          v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v,
        ),
      );
    }
    digests[t] = `${rows.length}:${h.digest('hex')}`;
    all.update(`${t} ${digests[t]}\n`);
  }
  return { rows: all.digest('hex'), tables: digests };
}

async function objectDigest(store: Store): Promise<string> {
  const keys: string[] = [];
  const { location } = store.backend;
  if (location.startsWith('file:')) {
    // Names only, for speed: objects are content-addressed and written whole (atomically).
    const root = fileURLToPath(location);
    for (const name of await readdir(root, { recursive: true }).catch(() => [])) keys.push(name);
  } else {
    for await (const o of store.backend.list('')) keys.push(`${o.key} ${o.size}`);
  }
  return createHash('sha256').update(keys.sort().join('\n')).digest('hex');
}

async function totalChanges(store: Store): Promise<number> {
  const r = await sql<{ n: number }>`select total_changes() as n`.execute(db(store));
  return Number(r.rows[0]!.n);
}

export async function fingerprint(store: Store): Promise<StoreFingerprint> {
  return { ...(await rowDigest(store)), objects: await objectDigest(store) };
}

/** What differs between two states of a store. */
export interface StoreChange {
  /** Tables whose rows differ. */
  readonly tables: readonly string[];
  /** True when the stored objects (packs) differ. */
  readonly objects: boolean;
  readonly description: string;
}

/** Tracks a store between requests: `changed()` says whether anything stored differs. */
export class StoreWatch {
  private changes = -1;
  private last: StoreFingerprint | undefined;

  constructor(private readonly store: Store) {}

  /** Takes the current state as the baseline. */
  async reset(): Promise<StoreFingerprint> {
    this.changes = await totalChanges(this.store);
    this.last = await fingerprint(this.store);
    return this.last;
  }

  /**
   * Compares with the baseline and makes the current state the new one. Returns what
   * differs, or undefined when nothing stored changed. `objects: false` skips listing the
   * stored objects (for requests that cannot write any: reads).
   */
  async changed(options: { objects?: boolean } = {}): Promise<StoreChange | undefined> {
    const before = this.last ?? (await this.reset());
    const changes = await totalChanges(this.store);
    const objectsNow = options.objects === false ? before.objects : await objectDigest(this.store);
    if (changes === this.changes && objectsNow === before.objects) return undefined;
    this.changes = changes;
    const now = { ...(await rowDigest(this.store)), objects: objectsNow };
    this.last = now;
    if (now.rows === before.rows && now.objects === before.objects) return undefined;
    const tablesChanged = Object.keys({ ...before.tables, ...now.tables }).filter(
      (t) => before.tables[t] !== now.tables[t],
    );
    const objects = now.objects !== before.objects;
    const parts = [
      ...(objects ? ['stored objects'] : []),
      ...(tablesChanged.length > 0 ? [`rows of ${tablesChanged.join(', ')}`] : []),
    ];
    return { tables: tablesChanged, objects, description: `changed ${parts.join(' and ')}` };
  }
}

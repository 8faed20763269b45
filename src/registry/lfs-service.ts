/**
 * The Git LFS server's logic (git-lfs `docs/api/`: batch, basic transfers, locking): one LFS
 * repository per (namespace, repo), whose objects are files of the deduplicating store, so a
 * retrained checkpoint pushed with `git push` costs only its changed chunks, and the same
 * bytes pushed to two repositories (or registered as a model version) are stored once.
 *
 * Tables (migration 0500-lfs, metadata/lfs-schema.ts):
 *
 *   lfs_objects  (namespace, repo, oid) → size, one-entry manifest, who, when
 *   lfs_locks    id → (namespace, repo, path), owner, locked_at; one lock per path
 *
 * Contracts:
 * - An object becomes visible (batch answers "present", downloads work) only after every
 *   byte arrived, its SHA-256 equals the oid and its size the expected one; then its row
 *   and its audit event are written in one transaction. A failed, aborted or mismatching
 *   upload records nothing (its temp file is removed; no file is ingested).
 * - Liveness: every object row names a one-entry manifest (`{path: 'blob'}`) of its bytes;
 *   `liveManifests()` lists them, and garbage collection treats them as roots.
 * - Audit: `lfs.object.uploaded`, `lfs.lock.created`, `lfs.lock.deleted`, with subject
 *   `lfs:<namespace>/<repo>`, in the same transaction as the change.
 * - Locks are exclusive per path; only the owner unlocks unless `force`.
 * - A repository (`lfs_repos`, migration 0501) is made by its first upload or lock, in that
 *   transaction; its creator, when a registered user, gets MANAGE on it (`grantCreator`).
 *   Who may do what on a repository is the server's business (routes/lfs/): this service
 *   trusts the actor it is given.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { isSha256Hex, type Sha256Hex } from '../core/digest.js';
import {
  AlreadyExistsError,
  InvalidArgumentError,
  ModelvaultError,
  NotFoundError,
  VerificationError,
} from '../core/errors.js';
import { validateLfsSegment, validateManifestPath } from '../core/names.js';
import type { NamedMigration } from '../metadata/database.js';
import type { LfsTables } from '../metadata/lfs-schema.js';
import { lfsMigration } from '../metadata/migrations/0500-lfs.js';
import { lfsReposMigration } from '../metadata/migrations/0501-lfs-repos.js';
import type { RegistryDB } from '../metadata/schema.js';
import type { Store } from '../storage/store.js';
import type { AuditService } from './audit-service.js';
import { checkActor } from './input-checks.js';
import { grantCreator } from './permission-service.js';
import type { RegistryContext } from './registry-context.js';
import { spoolToFile } from './spool-to-file.js';

/** Migrations the LFS service needs, run by whoever opens the metadata database. */
export const LFS_MIGRATIONS: readonly NamedMigration[] = [lfsMigration, lfsReposMigration];

const BLOB_ENTRY = 'blob';
const LOCK_ID = /^[0-9a-f]{32}$/;
export const DEFAULT_LOCK_LIMIT = 100;
export const MAX_LOCK_LIMIT = 1000;

type Tables = RegistryDB & LfsTables;

/** A validated LFS repository: `/lfs/<namespace>/<repo>`. */
export interface LfsRepo {
  readonly namespace: string;
  readonly repo: string;
}

export interface LfsObject {
  readonly oid: Sha256Hex;
  readonly size: number;
}

/** One object of a batch answer: present (with its size), absent, or invalid. */
export type LfsObjectState =
  | { readonly oid: string; readonly size: number; readonly state: 'present' }
  | { readonly oid: string; readonly size: number; readonly state: 'absent' }
  | {
      readonly oid: string;
      readonly size: number;
      readonly state: 'invalid';
      readonly code: 404 | 422;
      readonly message: string;
    };

export interface LfsLock {
  readonly id: string;
  readonly path: string;
  readonly lockedAt: number;
  readonly owner: string;
}

export interface LockPage {
  readonly locks: readonly LfsLock[];
  readonly nextCursor?: string;
}

export interface LockQuery {
  readonly path?: string;
  readonly id?: string;
  readonly cursor?: string;
  readonly limit?: number;
}

/** A lock that already exists on the path (409, with the lock in the answer). */
export class LockExistsError extends AlreadyExistsError {
  constructor(readonly lock: LfsLock) {
    super(`'${lock.path}' is already locked by ${lock.owner}`, { id: lock.id, path: lock.path });
  }
}

export interface LfsServiceOptions {
  /** Largest object accepted. Default 64 GiB. */
  readonly maxObjectBytes?: number;
}

/** The repository segment validated (`LFS namespace`, `LFS repository`). */
export function checkLfsRepo(namespace: unknown, repo: unknown): LfsRepo {
  return {
    namespace: validateLfsSegment(namespace, 'LFS namespace'),
    repo: validateLfsSegment(repo, 'LFS repository'),
  };
}

/** @throws InvalidArgumentError unless `oid` is 64 lowercase hex characters. */
export function checkOid(oid: unknown): Sha256Hex {
  if (!isSha256Hex(oid)) {
    throw new InvalidArgumentError(
      `invalid LFS oid ${JSON.stringify(String(oid).slice(0, 80))}: expected 64 lowercase hex characters (SHA-256)`,
      { oid: String(oid).slice(0, 80) },
    );
  }
  return oid;
}

function subject(r: LfsRepo): string {
  return `lfs:${r.namespace}/${r.repo}`;
}

export class LfsService {
  private readonly maxObjectBytes: number;

  constructor(
    private readonly ctx: RegistryContext,
    private readonly audit: AuditService,
    private readonly store: Store,
    options: LfsServiceOptions = {},
  ) {
    this.maxObjectBytes = options.maxObjectBytes ?? 64 * 1024 ** 3;
  }

  private get db(): Kysely<Tables> {
    return this.ctx.database.db as unknown as Kysely<Tables>;
  }

  private write<T>(fn: (trx: Kysely<Tables>) => Promise<T>): Promise<T> {
    return this.ctx.database.writeTransaction((trx) => fn(trx as unknown as Kysely<Tables>));
  }

  private actor(actor: string | undefined): string {
    return checkActor(actor ?? this.ctx.defaultActor);
  }

  /**
   * Makes the repository's row unless it exists (inside a write transaction), granting
   * its creator MANAGE.
   */
  private async ensureRepo(
    trx: Kysely<Tables>,
    r: LfsRepo,
    actor: string,
    now: number,
  ): Promise<void> {
    const found = await trx
      .selectFrom('lfs_repos')
      .select('id')
      .where('namespace', '=', r.namespace)
      .where('repo', '=', r.repo)
      .executeTakeFirst();
    if (found) return;
    const row = await trx
      .insertInto('lfs_repos')
      .values({ namespace: r.namespace, repo: r.repo, created_at: now, created_by: actor })
      .returning('id')
      .executeTakeFirstOrThrow();
    await grantCreator(
      trx as unknown as Kysely<RegistryDB>,
      this.audit,
      { kind: 'lfs_repo', id: Number(row.id), label: `${r.namespace}/${r.repo}` },
      actor,
      now,
    );
  }

  // ----------------------------------------------------------------- objects

  /** A lock of `r` by id, or undefined. */
  async getLock(r: LfsRepo, id: string): Promise<LfsLock | undefined> {
    if (!LOCK_ID.test(id)) return undefined;
    const row = await this.db
      .selectFrom('lfs_locks')
      .selectAll()
      .where('id', '=', id)
      .where('namespace', '=', r.namespace)
      .where('repo', '=', r.repo)
      .executeTakeFirst();
    return row && toLock(row);
  }

  /** The object `oid` of `r`, or undefined. */
  async getObject(r: LfsRepo, oid: string): Promise<LfsObject | undefined> {
    if (!isSha256Hex(oid)) return undefined;
    const row = await this.db
      .selectFrom('lfs_objects')
      .select(['oid', 'size'])
      .where('namespace', '=', r.namespace)
      .where('repo', '=', r.repo)
      .where('oid', '=', oid)
      .executeTakeFirst();
    return row && { oid: row.oid as Sha256Hex, size: Number(row.size) };
  }

  /**
   * What the repository has of each requested object (the batch API's view). Never throws
   * for one bad object: an invalid oid or size is that object's 422.
   */
  async lookup(
    r: LfsRepo,
    objects: readonly { readonly oid: unknown; readonly size: unknown }[],
  ): Promise<LfsObjectState[]> {
    const valid = objects.map((o) => o.oid).filter((oid): oid is Sha256Hex => isSha256Hex(oid));
    const present = new Map<string, number>();
    for (let i = 0; i < valid.length; i += 300) {
      const rows = await this.db
        .selectFrom('lfs_objects')
        .select(['oid', 'size'])
        .where('namespace', '=', r.namespace)
        .where('repo', '=', r.repo)
        .where('oid', 'in', valid.slice(i, i + 300))
        .execute();
      for (const row of rows) present.set(row.oid, Number(row.size));
    }
    return objects.map((o) => {
      const oid = typeof o.oid === 'string' ? o.oid.slice(0, 80) : String(o.oid).slice(0, 80);
      const size = typeof o.size === 'number' ? o.size : -1;
      if (!isSha256Hex(o.oid)) {
        return { oid, size, state: 'invalid', code: 422, message: 'oid must be 64 hex characters' };
      }
      if (!Number.isSafeInteger(o.size) || size < 0) {
        return { oid, size, state: 'invalid', code: 422, message: 'size must be an integer >= 0' };
      }
      if (size > this.maxObjectBytes) {
        return {
          oid,
          size,
          state: 'invalid',
          code: 422,
          message: `object is larger than the limit of ${this.maxObjectBytes} bytes`,
        };
      }
      const stored = present.get(o.oid);
      if (stored === undefined) return { oid, size, state: 'absent' };
      if (stored !== size) {
        return {
          oid,
          size,
          state: 'invalid',
          code: 422,
          message: `object ${oid} has ${stored} bytes, not ${size}`,
        };
      }
      return { oid, size, state: 'present' };
    });
  }

  /**
   * Stores the object `oid` from `body` (streamed to a temp file in the store's temp
   * directory while its SHA-256 is computed), then ingests it deduplicated and records it.
   * Idempotent: uploading an object the repository has stores nothing new.
   * @throws VerificationError (422) when the bytes' SHA-256 is not `oid` or their count is
   *   not `expectedSize`; ModelvaultError TOO_LARGE past the object limit. Nothing is
   *   recorded or ingested then.
   */
  async upload(
    r: LfsRepo,
    oidValue: string,
    body: AsyncIterable<Uint8Array>,
    options: { readonly expectedSize?: number; readonly actor?: string } = {},
  ): Promise<LfsObject & { readonly newBytes: number }> {
    const oid = checkOid(oidValue);
    const actor = this.actor(options.actor);
    const expected = options.expectedSize;
    if (expected !== undefined && (!Number.isSafeInteger(expected) || expected < 0)) {
      throw new InvalidArgumentError('object size must be an integer >= 0');
    }
    const tmp = join(this.store.tmpDir, `lfs-${randomBytes(8).toString('hex')}.tmp`);
    try {
      const spooled = await spoolToFile(body, tmp, {
        limit: this.maxObjectBytes,
        what: 'object',
        hash: true,
      });
      const actual = spooled.sha256;
      const received = spooled.size;
      if (actual !== oid) {
        throw new VerificationError(
          `object bytes hash to ${actual}, not to the oid ${oid}: nothing was stored`,
          { oid, actual },
        );
      }
      if (expected !== undefined && received !== expected) {
        throw new VerificationError(
          `object ${oid} has ${received} bytes, not the ${expected} announced: nothing was stored`,
          { oid, size: received, expected },
        );
      }
      const file = await this.store.ingestFile(tmp);
      const manifest = await this.store.commitManifest([
        { path: BLOB_ENTRY, sha256: file.sha256, size: file.size },
      ]);
      const now = this.ctx.now();
      await this.write(async (trx) => {
        await this.ensureRepo(trx, r, actor, now);
        const existing = await trx
          .selectFrom('lfs_objects')
          .select('oid')
          .where('namespace', '=', r.namespace)
          .where('repo', '=', r.repo)
          .where('oid', '=', oid)
          .executeTakeFirst();
        if (existing) return;
        await trx
          .insertInto('lfs_objects')
          .values({
            namespace: r.namespace,
            repo: r.repo,
            oid,
            size: file.size,
            manifest: manifest.digest,
            created_at: now,
            created_by: actor,
          })
          .execute();
        await this.audit.append(trx as unknown as Kysely<RegistryDB>, {
          actor,
          action: 'lfs.object.uploaded',
          subject: subject(r),
          time: now,
          data: { oid, size: file.size, newBytes: file.stats.newBytes },
        });
      });
      return { oid, size: file.size, newBytes: file.stats.newBytes };
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /**
   * The verify action: the object exists with this size.
   * @throws NotFoundError (not stored), VerificationError (another size).
   */
  async verify(r: LfsRepo, oidValue: unknown, size: unknown): Promise<LfsObject> {
    const oid = checkOid(oidValue);
    const found = await this.getObject(r, oid);
    if (!found) {
      throw new NotFoundError(`object ${oid} not found in ${subject(r)}`, { oid });
    }
    if (found.size !== size) {
      throw new VerificationError(`object ${oid} has ${found.size} bytes, not ${String(size)}`, {
        oid,
      });
    }
    return found;
  }

  /**
   * Manifests that keep LFS objects alive (for garbage collection); with `among`, only those
   * of these digests, read through `db` (GC's re-check inside its transaction).
   */
  async liveManifests(among?: readonly string[], handle?: unknown): Promise<Set<string>> {
    // `handle`: a handle on the same database (a transaction of another service's types).
    const db = (handle ?? this.db) as Kysely<Tables>;
    if (among !== undefined && among.length === 0) return new Set();
    let query = db.selectFrom('lfs_objects').select('manifest').distinct();
    if (among !== undefined) query = query.where('manifest', 'in', [...among]);
    const rows = await query.execute();
    return new Set(rows.map((row) => row.manifest));
  }

  // ------------------------------------------------------------------- locks

  /**
   * Locks `path` for the actor.
   * @throws LockExistsError (409, carrying the existing lock), InvalidArgumentError (path).
   */
  async createLock(r: LfsRepo, pathValue: unknown, actorValue?: string): Promise<LfsLock> {
    const path = checkLockPath(pathValue);
    const owner = this.actor(actorValue);
    return this.write(async (trx) => {
      const now = this.ctx.now();
      await this.ensureRepo(trx, r, owner, now);
      const existing = await trx
        .selectFrom('lfs_locks')
        .selectAll()
        .where('namespace', '=', r.namespace)
        .where('repo', '=', r.repo)
        .where('path', '=', path)
        .executeTakeFirst();
      if (existing) throw new LockExistsError(toLock(existing));
      const lock = {
        id: randomBytes(16).toString('hex'),
        path,
        owner,
        lockedAt: now,
      };
      await trx
        .insertInto('lfs_locks')
        .values({
          id: lock.id,
          namespace: r.namespace,
          repo: r.repo,
          path,
          owner,
          locked_at: lock.lockedAt,
        })
        .execute();
      await this.audit.append(trx as unknown as Kysely<RegistryDB>, {
        actor: owner,
        action: 'lfs.lock.created',
        subject: subject(r),
        time: lock.lockedAt,
        data: { id: lock.id, path },
      });
      return lock;
    });
  }

  /** Locks of `r`, by id, filtered by path or id, paged by cursor (the last id seen). */
  async listLocks(r: LfsRepo, query: LockQuery = {}): Promise<LockPage> {
    const limit = checkLimit(query.limit);
    let q = this.db
      .selectFrom('lfs_locks')
      .selectAll()
      .where('namespace', '=', r.namespace)
      .where('repo', '=', r.repo);
    if (query.path !== undefined && query.path !== '') q = q.where('path', '=', query.path);
    if (query.id !== undefined && query.id !== '') q = q.where('id', '=', query.id);
    if (query.cursor !== undefined && query.cursor !== '') {
      if (!LOCK_ID.test(query.cursor)) throw new InvalidArgumentError('invalid lock cursor');
      q = q.where('id', '>', query.cursor);
    }
    const rows = await q
      .orderBy('id')
      .limit(limit + 1)
      .execute();
    const locks = rows.slice(0, limit).map(toLock);
    const last = locks[locks.length - 1];
    return rows.length > limit && last ? { locks, nextCursor: last.id } : { locks };
  }

  /** One page of locks split into the actor's (`ours`) and everyone else's (`theirs`). */
  async verifyLocks(
    r: LfsRepo,
    query: { readonly cursor?: string; readonly limit?: number; readonly actor?: string },
  ): Promise<{ ours: LfsLock[]; theirs: LfsLock[]; nextCursor?: string }> {
    const actor = this.actor(query.actor);
    const page = await this.listLocks(r, {
      ...(query.cursor !== undefined ? { cursor: query.cursor } : {}),
      ...(query.limit !== undefined ? { limit: query.limit } : {}),
    });
    return {
      ours: page.locks.filter((l) => l.owner === actor),
      theirs: page.locks.filter((l) => l.owner !== actor),
      ...(page.nextCursor !== undefined ? { nextCursor: page.nextCursor } : {}),
    };
  }

  /**
   * Removes lock `id`; another user's lock only with `force`.
   * @throws NotFoundError (no such lock), ModelvaultError PERMISSION_DENIED (someone else's).
   */
  async unlock(
    r: LfsRepo,
    id: string,
    options: { readonly force?: boolean; readonly actor?: string } = {},
  ): Promise<LfsLock> {
    const actor = this.actor(options.actor);
    const notFound = () =>
      new NotFoundError(`lock '${String(id).slice(0, 64)}' not found in ${subject(r)}`, {
        id: String(id).slice(0, 64),
      });
    if (!LOCK_ID.test(id)) throw notFound();
    return this.write(async (trx) => {
      const row = await trx
        .selectFrom('lfs_locks')
        .selectAll()
        .where('id', '=', id)
        .where('namespace', '=', r.namespace)
        .where('repo', '=', r.repo)
        .executeTakeFirst();
      if (!row) throw notFound();
      const lock = toLock(row);
      const forced = lock.owner !== actor;
      if (forced && options.force !== true) {
        throw new ModelvaultError(
          'PERMISSION_DENIED',
          `'${lock.path}' is locked by ${lock.owner}: only they can unlock it, or use force`,
          { id, owner: lock.owner },
        );
      }
      await trx.deleteFrom('lfs_locks').where('id', '=', id).execute();
      await this.audit.append(trx as unknown as Kysely<RegistryDB>, {
        actor,
        action: 'lfs.lock.deleted',
        subject: subject(r),
        data: { id, path: lock.path, owner: lock.owner, forced },
      });
      return lock;
    });
  }
}

function toLock(row: {
  id: string;
  path: string;
  owner: string;
  locked_at: number | string;
}): LfsLock {
  return { id: row.id, path: row.path, owner: row.owner, lockedAt: Number(row.locked_at) };
}

function checkLockPath(value: unknown): string {
  try {
    return validateManifestPath(value);
  } catch (e) {
    if (e instanceof InvalidArgumentError) {
      throw new InvalidArgumentError(e.message.replace('manifest path', 'lock path'), e.details);
    }
    throw e;
  }
}

function checkLimit(value: unknown): number {
  if (value === undefined) return DEFAULT_LOCK_LIMIT;
  if (!Number.isSafeInteger(value) || (value as number) < 1) {
    throw new InvalidArgumentError('limit must be a positive integer');
  }
  return Math.min(value as number, MAX_LOCK_LIMIT);
}

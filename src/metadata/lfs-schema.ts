/**
 * Tables of the Git LFS server (migration `0500-lfs`), owned by `src/registry/lfs-service.ts`.
 * An LFS repository is a (namespace, repo) pair; its objects are files of the deduplicating
 * store, so the bytes live only there and are shared with model versions and other repos.
 */
import type { Generated } from 'kysely';

/** One LFS object of one repository: visible only once its bytes were verified and stored. */
export interface LfsObjectsTable {
  namespace: string;
  repo: string;
  /** The LFS oid: SHA-256 of the object's bytes, 64 lowercase hex (= the store's file id). */
  oid: string;
  size: number;
  /**
   * Digest of a one-entry manifest (`{path:'blob', sha256: oid, size}`) committed for the
   * bytes: garbage collection keeps every manifest listed here alive (an LFS object is a
   * live root). Identical bytes share one manifest.
   */
  manifest: string;
  created_at: number;
  created_by: string;
}

/** A file lock of the LFS locking API: one per (namespace, repo, path). */
export interface LfsLocksTable {
  /** 32 random lowercase hex characters. */
  id: string;
  namespace: string;
  repo: string;
  /** Relative to the repository root, '/'-separated (a manifest path). */
  path: string;
  owner: string;
  locked_at: number;
}

/**
 * One LFS repository (migration `0501-lfs-repos`): made by its first upload or lock; its
 * id is the resource id of permission grants (`resource_kind = 'lfs_repo'`).
 */
export interface LfsReposTable {
  id: Generated<number>;
  namespace: string;
  repo: string;
  created_at: number;
  created_by: string;
}

export interface LfsTables {
  lfs_repos: LfsReposTable;
  lfs_objects: LfsObjectsTable;
  lfs_locks: LfsLocksTable;
}

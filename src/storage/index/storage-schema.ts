/**
 * Tables the storage engine owns in the metadata database (created by
 * `storageMigrations`). The database is an index and a cache of what the packs hold:
 * `chunks` can be rebuilt from pack trailers (`repair`); `files` and `manifests` are the
 * engine's records of what it committed.
 */
export interface PacksTable {
  /** Hex SHA-256 of the pack trailer (see pack-format.ts). */
  id: string;
  size: number;
  chunk_count: number;
  created_at: number;
}

export interface ChunksTable {
  /** Hex SHA-256 of the chunk bytes. */
  id: string;
  pack_id: string;
  offset: number;
  length: number;
  /**
   * GC tombstone: ms since epoch when GC found the chunk unreferenced; null when live.
   * Dedup ignores tombstoned chunks; committing a file that uses one clears it.
   */
  dead_since: number | null;
}

export interface FilesTable {
  /** Hex SHA-256 of the file bytes (= sha256sum). */
  sha256: string;
  size: number;
  chunk_count: number;
  /** Concatenated 32-byte chunk ids, in file order. */
  chunk_ids: Uint8Array;
  format: string;
  created_at: number;
}

export interface ManifestsTable {
  digest: string;
  /** Canonical JSON; its SHA-256 is `digest`. */
  body: string;
  total_size: number;
  file_count: number;
  created_at: number;
}

export interface ManifestFilesTable {
  manifest_digest: string;
  path: string;
  file_sha256: string;
}

/** Named leases (GC) shared by every process and replica using the database. */
export interface StorageLeasesTable {
  name: string;
  holder: string;
  expires_at: number;
}

export interface StorageTables {
  storage_leases: StorageLeasesTable;
  packs: PacksTable;
  chunks: ChunksTable;
  files: FilesTable;
  manifests: ManifestsTable;
  manifest_files: ManifestFilesTable;
}

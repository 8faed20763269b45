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
  /** SHA-256 of the chunk bytes (32 bytes; the engine's API uses hex, see chunk-id.ts). */
  id: Uint8Array;
  /** The pack's id (32 bytes). */
  pack_id: Uint8Array;
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

/**
 * Shortcut for ingest: a large piece (a tensor) whose bytes were seen before maps to the
 * chunks it was cut into, so it need not be chunked and hashed again. Keyed by SHA-256 of
 * the chunking parameters and the piece's bytes; every use is re-checked against
 * `chunks`, so a stale entry only costs a miss.
 */
export interface PieceCacheTable {
  key: string;
  /** Per chunk: 32-byte id, then its length as u32 LE. */
  chunks: Uint8Array;
  created_at: number;
}

export interface StorageTables {
  piece_cache: PieceCacheTable;
  storage_leases: StorageLeasesTable;
  packs: PacksTable;
  chunks: ChunksTable;
  files: FilesTable;
  manifests: ManifestsTable;
  manifest_files: ManifestFilesTable;
}

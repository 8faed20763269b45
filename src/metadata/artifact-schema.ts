/**
 * Tables of the MLflow artifact proxy (migration `0301-artifacts`), owned by
 * `src/registry/artifact-service.ts`. They map MLflow's mutable artifact paths onto files of
 * the deduplicating store; the bytes themselves live only in the store.
 *
 * The tree is stored one entry per (directory, name), directories included, so listing a
 * directory is one indexed equality lookup on every dialect (no LIKE, no collation-dependent
 * range scan on PostgreSQL).
 */

export interface ArtifactEntriesTable {
  /** The parent directory's path, `''` at the root (`1/ab12/artifacts/model`). */
  dir: string;
  /** The last segment of the entry's path. */
  name: string;
  kind: 'file' | 'dir';
  /** Files only: the SHA-256 and size of the bytes in the store. */
  sha256: string | null;
  size: number | null;
  /**
   * Files only: digest of a one-entry manifest (`{path:'blob', sha256, size}`) committed for
   * these bytes. Garbage collection keeps every manifest listed here alive; identical bytes
   * share one manifest, so two runs logging the same checkpoint cost it once.
   */
  manifest: string | null;
  updated_at: number;
}

/** An open multipart upload (`mlflow-artifacts/mpu/create`). */
export interface ArtifactUploadsTable {
  /** 32 random lowercase hex characters; also the capability in the part URLs. */
  id: string;
  /** The artifact path the assembled file will have. */
  path: string;
  num_parts: number;
  created_at: number;
  /**
   * When it was created or last received a part (migration 0308): an upload idle longer
   * than its time to live is refused and dropped by garbage collection.
   */
  updated_at: number;
}

/** One received part of a multipart upload, stored (deduplicated) like any file. */
export interface ArtifactPartsTable {
  upload_id: string;
  part_number: number;
  sha256: string;
  size: number;
  /** One-entry manifest keeping the part's bytes alive until complete/abort. */
  manifest: string;
}

export interface ArtifactTables {
  mlflow_artifact_entries: ArtifactEntriesTable;
  mlflow_artifact_uploads: ArtifactUploadsTable;
  mlflow_artifact_parts: ArtifactPartsTable;
}

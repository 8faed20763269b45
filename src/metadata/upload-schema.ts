/**
 * Tables of remote upload sessions (migration `0200-uploads`), owned by
 * `src/registry/upload-service.ts`. They live in the metadata database so every server
 * replica sees every session, and a push interrupted on one can resume on another.
 */

export interface UploadSessionsTable {
  /** 32 random lowercase hex characters. */
  id: string;
  /** SHA-256 of the canonical file list: a re-POST of the same list finds this session. */
  spec_digest: string;
  /** Who created it; only they may resume or commit it. */
  actor: string;
  state: 'open' | 'committing' | 'committed';
  file_count: number;
  chunk_count: number;
  total_size: number;
  /** Chunk frames accepted and bytes of chunks written, over every batch. */
  received_chunks: number;
  received_bytes: number;
  created_at: number;
  /** Last activity; a committer refreshes it while it verifies (its lease). */
  updated_at: number;
  expires_at: number;
  /** Process that is committing (state `committing`). */
  committer: string | null;
  /**
   * The client's id of the commit that claimed the session: a repeated commit with the
   * same id returns its version; a commit with another id creates another version.
   */
  commit_id: string | null;
  /** JSON `{model, version, stats}` once committed (a repeated commit returns it). */
  result: string | null;
  /** JSON of the error of the last failed commit, reported once (to the same commit id). */
  last_error: string | null;
}

export interface UploadFilesTable {
  session_id: string;
  path: string;
  size: number;
  sha256: string;
  format: string;
  /** Concatenated 32-byte chunk ids, in file order. */
  chunk_ids: Uint8Array;
}

/** Every distinct chunk a session declared, with its length. */
export interface UploadChunksTable {
  session_id: string;
  chunk_id: string;
  length: number;
}

export interface UploadTables {
  upload_sessions: UploadSessionsTable;
  upload_files: UploadFilesTable;
  upload_chunks: UploadChunksTable;
}

/**
 * The wire protocol of remote pushes and pulls, shared by the server (`src/server`) and the
 * SDK (`src/client`), which must not import each other. Pure: no I/O, no Node-only APIs
 * (the SDK also runs in browsers).
 *
 * A push, as the client sees it (docs/api.md has the full description):
 *
 *   GET  /api/v1/info                      chunking parameters and upload limits
 *   POST /api/v1/uploads                   {files:[{path,size,sha256,chunks:[{id,length}]}]}
 *        → UploadSession: session id + the chunk ids the server lacks
 *   POST /api/v1/uploads/:id/chunks        body: a chunk batch (below), ≤ maxBatchBytes
 *        → ChunkBatchResult
 *   POST /api/v1/uploads/:id/commit        {model, metrics, params, tags, …}
 *        → 201 {state:'committed', version, stats} or 202 {state:'committing'} (repeat)
 *
 * Re-POSTing the same file list resumes the open session with the same id and lists only
 * the chunks still missing, so an interrupted push never resends stored chunks.
 *
 * Chunk batch framing (media type `application/vnd.modelvault.chunks`), big-endian:
 *
 *   "MVC1"                     4 bytes, once at the start of the body
 *   then, repeated until the body ends:
 *     chunk id                 32 bytes (the SHA-256 of the chunk bytes)
 *     length                   u32
 *     bytes                    `length` bytes
 *
 * The body ends exactly after a frame; anything else is a truncated batch.
 */
import type { LineageInput, ModelVersion, TransferStats } from './registry-api.js';

export const API_PREFIX = '/api/v1';
export const CHUNK_BATCH_MEDIA_TYPE = 'application/vnd.modelvault.chunks';
/** "MVC1": magic and framing version of a chunk batch body. */
export const CHUNK_BATCH_MAGIC: Readonly<Uint8Array> = Uint8Array.from([0x4d, 0x56, 0x43, 0x31]);
export const CHUNK_ID_SIZE = 32;
/** Chunk id + u32 length. */
export const CHUNK_FRAME_HEADER_SIZE = CHUNK_ID_SIZE + 4;
/**
 * Request header of file downloads (any route answering with a stored file's bytes, e.g.
 * `GET /api/v1/files/:sha256`), value `sha256`: the client hashes every byte it receives
 * against the file's SHA-256 (and, for chunk-aligned ranges, each chunk against its id), so
 * the server streams the stored bytes without hashing them a second time. A damaged store
 * then fails the client's check (VerificationError) instead of ending the response early.
 * The response says who verifies in VERIFIED_BY_HEADER: `client` or `server`.
 */
export const CLIENT_VERIFIES_HEADER = 'x-modelvault-client-verifies';
export const VERIFIED_BY_HEADER = 'x-modelvault-verified-by';

/** Upload session ids: 32 lowercase hex characters. */
export const UPLOAD_ID_PATTERN = /^[0-9a-f]{32}$/;

/** The chunk formats the engine records for a file. */
export const FILE_FORMATS = ['raw', 'safetensors', 'gguf'] as const;
export type FileFormat = (typeof FILE_FORMATS)[number];

/** `GET /api/v1/info`. */
export interface ServerInfo {
  readonly name: 'modelvault';
  readonly version: string;
  readonly apiVersion: 1;
  /** The FastCDC parameters of the server's store: chunk with these to deduplicate. */
  readonly chunking: {
    readonly minSize: number;
    readonly avgSize: number;
    readonly maxSize: number;
  };
  readonly uploads: {
    /** Largest chunk batch body, framing included. */
    readonly maxBatchBytes: number;
    /** Largest chunk a session may declare (the chunking maxSize). */
    readonly maxChunkBytes: number;
    readonly maxFiles: number;
    readonly maxChunks: number;
  };
}

export interface UploadChunkSpec {
  /** SHA-256 of the chunk bytes, 64 lowercase hex. */
  readonly id: string;
  readonly length: number;
}

export interface UploadFileSpec {
  /** Manifest path: relative, '/'-separated (validated like every manifest path). */
  readonly path: string;
  readonly size: number;
  /** SHA-256 of the whole file (the server recomputes it before committing). */
  readonly sha256: string;
  /** What the client's chunker recognised; default `raw`. Informational. */
  readonly format?: FileFormat;
  /** The file's chunks in order; lengths add up to `size`. Empty for an empty file. */
  readonly chunks: readonly UploadChunkSpec[];
}

/** `POST /api/v1/uploads`. */
export interface CreateUploadRequest {
  readonly files: readonly UploadFileSpec[];
}

export type UploadState = 'open' | 'committing' | 'committed';

/** `POST /api/v1/uploads` and `GET /api/v1/uploads/:id`. */
export interface UploadSession {
  readonly id: string;
  readonly state: UploadState;
  /** True when this POST resumed an existing session (same file list). */
  readonly resumed: boolean;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly fileCount: number;
  readonly totalBytes: number;
  readonly chunkCount: number;
  /** Files the server does not have yet (by sha256). */
  readonly newFiles: number;
  /** Chunk ids the server lacks, unique, in file order: send exactly these. */
  readonly missing: readonly string[];
  readonly missingBytes: number;
}

/** `POST /api/v1/uploads/:id/chunks`. */
export interface ChunkBatchResult {
  /** Frames read and verified. */
  readonly received: number;
  /** Of those, chunks written (the others were already stored). */
  readonly stored: number;
  readonly bytes: number;
}

/** `POST /api/v1/uploads/:id/commit`: the version's metadata. */
export interface CommitUploadRequest {
  readonly model: string;
  readonly description?: string;
  readonly metrics?: Readonly<Record<string, number>>;
  readonly params?: Readonly<Record<string, string>>;
  readonly tags?: Readonly<Record<string, string>>;
  readonly runId?: string;
  readonly source?: string;
  readonly lineage?: LineageInput;
  /** Default true, as for push. */
  readonly createModelIfMissing?: boolean;
  /**
   * Chosen by the client (any 1-128 characters of [A-Za-z0-9_-]) and repeated when it
   * retries or polls: a commit with the id of the finished commit returns that version; a
   * commit with another id (another client that pushed the same files) makes a new one.
   */
  readonly commitId?: string;
}

export type CommitUploadResult =
  | {
      readonly state: 'committed';
      readonly version: ModelVersion;
      /** What the server received for this session (newBytes: chunk bytes it stored). */
      readonly stats: TransferStats;
    }
  | { readonly state: 'committing' };

/** `GET /api/v1/versions/:ref/manifest`. */
export interface ManifestResponse {
  readonly digest: string;
  readonly totalSize: number;
  readonly files: readonly {
    readonly path: string;
    readonly size: number;
    readonly sha256: string;
  }[];
}

/** `GET /api/v1/files/:sha256/chunks`: for chunk-aligned, verifiable range reads. */
export interface FileChunksResponse {
  readonly sha256: string;
  readonly size: number;
  readonly chunks: readonly {
    readonly id: string;
    readonly offset: number;
    readonly length: number;
  }[];
}

/** The JSON body of every error response. */
export interface ErrorResponse {
  readonly error: {
    readonly code: string;
    readonly message: string;
    readonly details?: Readonly<Record<string, unknown>>;
  };
}

const HEX = '0123456789abcdef';

/** The 36-byte header of one frame. @param id 64 lowercase hex characters */
export function encodeChunkFrameHeader(id: string, length: number): Uint8Array {
  if (!/^[0-9a-f]{64}$/.test(id)) throw new TypeError(`invalid chunk id '${id.slice(0, 80)}'`);
  if (!Number.isInteger(length) || length < 0 || length > 0xffff_ffff) {
    throw new TypeError(`invalid chunk length ${length}`);
  }
  const out = new Uint8Array(CHUNK_FRAME_HEADER_SIZE);
  for (let i = 0; i < CHUNK_ID_SIZE; i++) {
    out[i] = (HEX.indexOf(id[2 * i]!) << 4) | HEX.indexOf(id[2 * i + 1]!);
  }
  new DataView(out.buffer).setUint32(CHUNK_ID_SIZE, length, false);
  return out;
}

/** Parses a frame header: the chunk id (hex) and length. */
export function decodeChunkFrameHeader(header: Uint8Array): { id: string; length: number } {
  let id = '';
  for (let i = 0; i < CHUNK_ID_SIZE; i++) {
    const b = header[i]!;
    id += HEX[b >> 4]! + HEX[b & 15]!;
  }
  const length = new DataView(header.buffer, header.byteOffset, header.byteLength).getUint32(
    CHUNK_ID_SIZE,
    false,
  );
  return { id, length };
}

/**
 * ObjectBackend over any S3-compatible server (AWS S3, MinIO, Ceph RGW, OpenStack Swift's
 * s3api), with `@aws-sdk/client-s3`. Objects live in one bucket under an optional key
 * prefix: the object `packs/ab/ab12….pack` of a backend opened on `s3://models/team-a` is
 * the S3 key `team-a/packs/ab/ab12….pack` in bucket `models`.
 *
 * One call is one request, except as noted, so the store's coalesced chunk runs stay one
 * request each:
 * - getRange: one ranged GET (`Range: bytes=a-b`); a zero-length read is a HEAD. An answer
 *   shorter than asked, or 416, is a CorruptionError, as on the filesystem.
 * - getStream: one GET, whose body is handed out as it arrives (bounded memory). The GET is
 *   made at once (to report a missing object); a caller must iterate the stream or break
 *   out of it, which releases the connection.
 * - put: one PUT with Content-MD5, so the server rejects bytes damaged on the way.
 * - putFile: one PUT streamed from the file below `multipartThreshold`; above it a multipart
 *   upload of `partSize` parts (at least 5 MiB, at most 1000 parts: Swift's limit), sent
 *   `partConcurrency` at a time, each streamed from its range of the file, so memory stays
 *   at a few stream buffers whatever the size. A failed upload is aborted (best effort; a
 *   crash can leave parts behind: give the bucket a lifecycle rule that aborts incomplete
 *   multipart uploads). The source file is never moved or deleted: the caller removes it.
 * - delete: one DELETE (missing keys succeed, as S3 answers 204). Never DeleteObjects,
 *   which Swift refuses without a Content-MD5 the SDK does not send.
 * - list: ListObjectsV2 pages, one request at a time. S3 keys under the prefix that are not
 *   valid object keys (`validateObjectKey`: written by something else) are skipped.
 *
 * Nothing relies on conditional writes (`If-None-Match`: Swift answers 501): keys are
 * content-addressed, so a write is idempotent and racing writers write the same bytes.
 * The client makes one attempt per request: transient failures (5xx, throttling, resets,
 * timeouts) are thrown as `TransientError`, and `RetryBackend` retries them; compose the
 * two (and `LimitedBackend`) with `openS3Backend`. Checksums are sent and validated only
 * when S3 requires them (`WHEN_REQUIRED`): servers other than AWS refuse the SDK's default
 * aws-chunked bodies with trailing checksums. Integrity rests on the store's own hashes
 * (every chunk is verified when read; fsck verifies whole packs).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import {
  InvalidArgumentError,
  IoError,
  isModelvaultError,
  ModelvaultError,
  NotFoundError,
} from '../../../core/errors.js';
import type { BackendCapabilities, ObjectBackend, ObjectInfo } from '../object-backend.js';
import { checkRange, objectNotFound, shortObject, statSourceFile } from '../object-errors.js';
import { MAX_KEY_BYTES, validateKeyPrefix, validateObjectKey } from '../object-key.js';
import { TransientError } from '../transient-error.js';
import { type S3Location, s3LocationUrl } from './s3-location.js';

const MiB = 1024 * 1024;
/** S3's smallest part (all but the last). */
export const MIN_PART_SIZE = 5 * MiB;
/** Swift's s3api allows 1000 parts per upload (AWS 10,000): stay under both. */
export const MAX_PARTS = 1000;

export interface S3BackendOptions extends S3Location {
  /** `http://127.0.0.1:9000` for a server other than AWS; default: AWS's for the region. */
  readonly endpoint?: string;
  /** Default `us-east-1` (what S3-compatible servers expect unless configured otherwise). */
  readonly region?: string;
  /** Default: the SDK's chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profiles, …). */
  readonly credentials?: {
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
    readonly sessionToken?: string;
  };
  /** Path-style URLs (`endpoint/bucket/key`), needed by most self-hosted servers. Default true. */
  readonly forcePathStyle?: boolean;
  /**
   * putFile uses a multipart upload from this size on. Default 64 MiB: a pack (32 MiB by
   * default) goes as one PUT, which measured faster than 4 parallel parts on loopback
   * (docs/benchmarks.md); larger objects are sent in parts.
   */
  readonly multipartThreshold?: number;
  /** Size of each part but the last (raised when a file would need more than 1000). Default 8 MiB. */
  readonly partSize?: number;
  /** Parts of one upload sent at once. Default 4. */
  readonly partConcurrency?: number;
  /** Sockets the client keeps per host. Default 64. */
  readonly maxSockets?: number;
  /** A request that stalls this long fails (transiently). Default 120 s. */
  readonly requestTimeoutMs?: number;
}

/**
 * The S3 client configuration shared by the backend and anything that must talk to the
 * same server the same way (bucket setup in tests, the benchmark's baseline).
 */
export function s3ClientConfig(
  options: Omit<S3BackendOptions, 'bucket' | 'prefix'>,
): S3ClientConfig {
  // The SDK warns on Node < 22 that its future releases will need Node 22. That notice is
  // for whoever upgrades the pinned SDK (us), not for users: on Node 20 it would print on
  // every S3-backed CLI command. The SDK's own switch turns it off unless the user set it.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return {
    region: options.region ?? 'us-east-1',
    ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
    ...(options.credentials !== undefined ? { credentials: { ...options.credentials } } : {}),
    forcePathStyle: options.forcePathStyle ?? true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 1,
    requestHandler: {
      httpAgent: { keepAlive: true, maxSockets: options.maxSockets ?? 64 },
      httpsAgent: { keepAlive: true, maxSockets: options.maxSockets ?? 64 },
      connectionTimeout: 10_000,
      requestTimeout: options.requestTimeoutMs ?? 120_000,
      throwOnRequestTimeout: true,
    },
  };
}

export class S3Backend implements ObjectBackend {
  readonly location: string;
  readonly capabilities: BackendCapabilities = Object.freeze({ local: false, putFileCopies: true });
  readonly bucket: string;
  /** '' or the key prefix with its trailing '/'. */
  readonly keyPrefix: string;
  readonly client: S3Client;
  private readonly multipartThreshold: number;
  private readonly partSize: number;
  private readonly partConcurrency: number;
  private closed = false;

  /**
   * A backend on `bucket` (which must exist) under `prefix`. Does no I/O.
   * @throws InvalidArgumentError for an invalid bucket name, prefix or option.
   */
  constructor(options: S3BackendOptions) {
    const url = s3LocationUrl(options); // validates bucket and prefix
    this.bucket = options.bucket;
    this.keyPrefix = options.prefix ? `${options.prefix}/` : '';
    this.location = url;
    for (const name of [
      'multipartThreshold',
      'partSize',
      'partConcurrency',
      'maxSockets',
    ] as const) {
      const n = options[name];
      if (n !== undefined && !(Number.isSafeInteger(n) && n > 0)) {
        throw new InvalidArgumentError(`s3 backend option ${name}=${n} must be a positive integer`);
      }
    }
    this.partSize = options.partSize ?? 8 * MiB;
    if (this.partSize < MIN_PART_SIZE) {
      throw new InvalidArgumentError(`s3 partSize=${this.partSize} is below S3's minimum of 5 MiB`);
    }
    this.multipartThreshold = Math.max(options.multipartThreshold ?? 64 * MiB, this.partSize);
    this.partConcurrency = options.partConcurrency ?? 4;
    this.client = new S3Client(s3ClientConfig(options));
  }

  async getRange(key: string, offset: number, length: number): Promise<Uint8Array> {
    const s3Key = this.s3Key(key);
    checkRange(key, offset, length);
    if (length === 0) {
      const info = await this.stat(key);
      if (info === undefined) throw objectNotFound(key);
      if (offset > info.size) throw shortObject(key, offset, length, 0);
      return new Uint8Array(0);
    }
    let body: Readable | undefined;
    try {
      const out = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: s3Key,
          Range: `bytes=${offset}-${offset + length - 1}`,
        }),
      );
      body = out.Body as Readable;
      const buf = Buffer.allocUnsafe(length);
      let got = 0;
      for await (const piece of body as AsyncIterable<Buffer>) {
        if (got + piece.length > length) {
          throw new IoError(`ranged read of '${key}' returned more than ${length} bytes`, {
            key,
            offset,
            length,
          });
        }
        piece.copy(buf, got);
        got += piece.length;
      }
      if (got < length) throw shortObject(key, offset, length, got);
      return buf;
    } catch (e) {
      body?.destroy();
      if (statusOf(e) === 416) throw shortObject(key, offset, length, 0);
      throw this.translate(e, 'getRange', key);
    }
  }

  async getStream(key: string): Promise<AsyncIterable<Uint8Array>> {
    const s3Key = this.s3Key(key);
    let body: Readable;
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: s3Key }));
      body = out.Body as Readable;
    } catch (e) {
      throw this.translate(e, 'getStream', key);
    }
    const translate = (e: unknown) => this.translate(e, 'getStream', key);
    return (async function* () {
      try {
        // Breaking out of this loop destroys the body, which releases the connection.
        for await (const piece of body as AsyncIterable<Buffer>) yield piece;
      } catch (e) {
        throw translate(e);
      } finally {
        body.destroy();
      }
    })();
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    const s3Key = this.s3Key(key);
    try {
      const out = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: s3Key }),
      );
      return { key, size: out.ContentLength ?? 0 };
    } catch (e) {
      if (statusOf(e) === 404 && errorName(e) !== 'NoSuchBucket') return undefined;
      throw this.translate(e, 'stat', key);
    }
  }

  async put(key: string, data: Uint8Array): Promise<void> {
    const s3Key = this.s3Key(key);
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: s3Key,
          Body: data,
          ContentLength: data.length,
          ContentMD5: createHash('md5').update(data).digest('base64'),
        }),
      );
    } catch (e) {
      throw this.translate(e, 'put', key);
    }
  }

  async putFile(key: string, path: string): Promise<void> {
    const s3Key = this.s3Key(key);
    const info = await statSourceFile(
      key,
      path,
      (e) => new IoError(`cannot read '${path}' for object '${key}'`, { key, path }, { cause: e }),
    );
    try {
      if (info.size < this.multipartThreshold) {
        await this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: s3Key,
            Body: createReadStream(path),
            ContentLength: info.size,
          }),
        );
      } else {
        await this.multipartUpload(s3Key, path, info.size);
      }
    } catch (e) {
      throw this.translate(e, 'putFile', key);
    }
  }

  async delete(key: string): Promise<void> {
    const s3Key = this.s3Key(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: s3Key }));
    } catch (e) {
      if (statusOf(e) === 404 && errorName(e) !== 'NoSuchBucket') return;
      throw this.translate(e, 'delete', key);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    this.checkOpen();
    validateKeyPrefix(prefix);
    let token: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.keyPrefix + prefix,
            ...(token !== undefined ? { ContinuationToken: token } : {}),
          }),
        );
      } catch (e) {
        throw this.translate(e, 'list', prefix);
      }
      for (const o of page.Contents ?? []) {
        const full = o.Key;
        if (full === undefined || !full.startsWith(this.keyPrefix)) continue;
        const key = full.slice(this.keyPrefix.length);
        if (!isValidKey(key)) continue;
        yield { key, size: o.Size ?? 0 };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  /**
   * Checks that the bucket exists and the credentials can use it (one HEAD), so that a
   * misconfigured store fails when it is opened with a clear message rather than at the
   * first write.
   * @throws NotFoundError when the bucket does not exist; ModelvaultError('UNAVAILABLE')
   *   when the server cannot be reached; IoError for anything else (e.g. access denied).
   */
  async checkBucket(): Promise<void> {
    this.checkOpen();
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (e) {
      const status = statusOf(e);
      if (status === 404) {
        throw new NotFoundError(`s3 bucket '${this.bucket}' does not exist`, {
          bucket: this.bucket,
        });
      }
      if (status === 403) {
        throw new IoError(
          `access to s3 bucket '${this.bucket}' is denied (check the credentials)`,
          {
            bucket: this.bucket,
          },
        );
      }
      const t = this.translate(e, 'checkBucket', '');
      if (t instanceof TransientError) {
        throw new ModelvaultError(
          'UNAVAILABLE',
          `cannot reach the s3 server for ${this.location}: ${t.message}`,
          { bucket: this.bucket },
          { cause: e },
        );
      }
      throw t;
    }
  }

  /** Closes the client's connections; later calls throw UNAVAILABLE. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.client.destroy();
  }

  /** Uploads the file in parts, `partConcurrency` at a time; aborts the upload on failure. */
  private async multipartUpload(s3Key: string, path: string, size: number): Promise<void> {
    const partSize = Math.max(this.partSize, Math.ceil(size / MAX_PARTS / MiB) * MiB);
    const count = Math.ceil(size / partSize);
    const created = await this.client.send(
      new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: s3Key }),
    );
    const uploadId = created.UploadId;
    if (!uploadId) throw new IoError(`s3 gave no upload id for '${s3Key}'`, { key: s3Key });
    const etags: string[] = new Array(count);
    let next = 0;
    let failed = false;
    const worker = async () => {
      while (!failed && next < count) {
        const n = next++;
        const start = n * partSize;
        const end = Math.min(size, start + partSize); // exclusive
        const out = await this.client.send(
          new UploadPartCommand({
            Bucket: this.bucket,
            Key: s3Key,
            UploadId: uploadId,
            PartNumber: n + 1,
            Body: createReadStream(path, { start, end: end - 1 }),
            ContentLength: end - start,
          }),
        );
        if (!out.ETag) throw new IoError(`s3 gave no etag for part ${n + 1} of '${s3Key}'`);
        etags[n] = out.ETag;
      }
    };
    try {
      const workers = Array.from({ length: Math.min(this.partConcurrency, count) }, () =>
        worker().catch((e: unknown) => {
          failed = true;
          throw e;
        }),
      );
      const results = await Promise.allSettled(workers);
      const rejected = results.find((r) => r.status === 'rejected');
      if (rejected) throw (rejected as PromiseRejectedResult).reason;
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: s3Key,
          UploadId: uploadId,
          MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
        }),
      );
    } catch (e) {
      await this.client
        .send(
          new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: s3Key, UploadId: uploadId }),
        )
        .catch(() => undefined);
      throw e;
    }
  }

  /** The S3 key of `key` (validated), after checking the backend is open. */
  private s3Key(key: string): string {
    this.checkOpen();
    validateObjectKey(key);
    const full = this.keyPrefix + key;
    if (Buffer.byteLength(full, 'utf8') > MAX_KEY_BYTES) {
      throw new InvalidArgumentError(
        `object key '${key.slice(0, 200)}' is too long under prefix '${this.keyPrefix}' (S3 allows ${MAX_KEY_BYTES} bytes)`,
        { key: key.slice(0, 200) },
      );
    }
    return full;
  }

  private checkOpen(): void {
    if (this.closed) {
      throw new ModelvaultError('UNAVAILABLE', `backend ${this.location} is closed`);
    }
  }

  /**
   * Maps an SDK or network error to the project's typed errors; ModelvaultErrors pass
   * through. Transient failures become TransientError (retried by RetryBackend).
   */
  private translate(e: unknown, op: string, key: string): unknown {
    if (isModelvaultError(e)) return e;
    const status = statusOf(e);
    const name = errorName(e);
    const details = { key, op, bucket: this.bucket, status, s3Code: name };
    const why = `${name ?? 'error'}${status ? ` (http ${status})` : ''}: ${(e as Error)?.message ?? String(e)}`;
    if (name === 'NoSuchBucket') {
      return new IoError(`s3 bucket '${this.bucket}' does not exist (${op} '${key}')`, details, {
        cause: e,
      });
    }
    if (status === 404 && READ_OPS.has(op)) return objectNotFound(key);
    if (isTransientFailure(e, status, name)) {
      return new TransientError(`${op} '${key}' on ${this.location} failed: ${why}`, details, {
        cause: e,
      });
    }
    return new IoError(`${op} '${key}' on ${this.location} failed: ${why}`, details, { cause: e });
  }
}

const READ_OPS = new Set(['getRange', 'getStream', 'stat']);

/** S3 error codes that mean "slow down / try again" whatever their HTTP status. */
const RETRYABLE_NAMES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'RequestTimeout',
  'RequestTimeoutException',
  'RequestTimeTooSkewed',
  'InternalError',
  'ServiceUnavailable',
  'TimeoutError',
]);
/** Network failures that a new connection may not meet. */
const RETRYABLE_ERRNOS = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

function isTransientFailure(e: unknown, status: number | undefined, name: string | undefined) {
  if (status !== undefined && (status >= 500 || status === 429 || status === 408)) return true;
  if (name !== undefined && RETRYABLE_NAMES.has(name)) return true;
  const code = (e as { code?: unknown })?.code;
  if (typeof code === 'string' && RETRYABLE_ERRNOS.has(code)) return true;
  // The SDK marks throttling and transient answers it recognises.
  return Boolean((e as { $retryable?: unknown })?.$retryable);
}

function statusOf(e: unknown): number | undefined {
  return (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function errorName(e: unknown): string | undefined {
  const name = (e as { name?: unknown })?.name;
  return typeof name === 'string' ? name : undefined;
}

function isValidKey(key: string): boolean {
  try {
    validateObjectKey(key);
    return true;
  } catch {
    return false;
  }
}

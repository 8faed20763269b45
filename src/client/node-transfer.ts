/**
 * Push and pull over HTTP (Node only: they read and write local files). Loaded on demand
 * by RemoteRegistry, so the rest of the SDK stays usable in browsers.
 *
 * Push: chunk every file locally with the server's parameters (GET /api/v1/info, cached
 * per client for a few minutes) → POST the file list → send only the missing chunks in
 * batches (a few in parallel, each ≤ 16 MiB) → commit, repeating while the server answers
 * 202. A failed batch or a dropped connection re-POSTs the same
 * file list, which resumes the session and lists only what is still missing; nothing
 * stored is sent twice. Memory: the chunk lists and the batches in flight.
 *
 * Pull: every file is written to `<target>.mvault-partial`, hashed while it is written,
 * and renamed only when its size and SHA-256 match the manifest, whose own digest is
 * checked against the version. The client verifies every byte itself and says so
 * (CLIENT_VERIFIES_HEADER), so the server does not hash what it sends a second time. A
 * file is one streamed GET (node-download.ts), hashed as it arrives while earlier blocks
 * are written (BlockWriter); a dropped download resumes with a
 * Range request from the bytes already written. Files of 64 MiB or more are fetched as
 * chunk-aligned ranges in parallel, each chunk verified against its id as it arrives, then
 * the whole file re-hashed. Like a local pull (Store.materialize) nothing is fsynced: run
 * `sync` when the copy must survive a power loss.
 */
import { createHash } from 'node:crypto';
import { type FileHandle, mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  ConflictError,
  InvalidArgumentError,
  IoError,
  ModelvaultError,
  VerificationError,
} from '../core/errors.js';
import { type LocalFile, listLocalTree, readFully } from '../core/local-files.js';
import { manifestDigest } from '../core/manifest-json.js';
import { validateManifestPath } from '../core/names.js';
import type {
  ModelVersion,
  PullOptions,
  PushOptions,
  TransferStats,
} from '../core/registry-api.js';
import {
  CHUNK_BATCH_MAGIC,
  CHUNK_BATCH_MEDIA_TYPE,
  CHUNK_FRAME_HEADER_SIZE,
  CLIENT_VERIFIES_HEADER,
  type CommitUploadRequest,
  type CommitUploadResult,
  type CreateUploadRequest,
  encodeChunkFrameHeader,
  type FileChunksResponse,
  type ManifestResponse,
  type ServerInfo,
  type UploadSession,
} from '../core/upload-protocol.js';
import { BlockWriter } from './block-writer.js';
import { ChunkCache, defaultChunkCacheDir } from './chunk-cache.js';
import { type ChunkedFile, chunkLocalFile, dropCached } from './chunk-file.js';
import { type HttpClient, isTransient, retryDelay, sleep } from './http-client.js';
import { openDownload } from './node-download.js';

/** Tuning knobs of transfers; the defaults suit a LAN or a good WAN link. */
export interface TransferTuning {
  /** Largest chunk batch the client sends (capped by the server's limit). Default 16 MiB. */
  readonly batchBytes?: number;
  /** Requests in flight at once. Default 4. */
  readonly parallel?: number;
  /** Pull files at least this large as parallel chunk-aligned ranges. Default 64 MiB. */
  readonly parallelFileBytes?: number;
  /** Size of one range of a parallel file download. Default 16 MiB. */
  readonly rangeBytes?: number;
  /**
   * Where push remembers what it chunked (chunk-cache.ts), or false for nowhere. Default
   * defaultChunkCacheDir(): `MODELVAULT_CACHE_DIR` (`off` for none), else
   * `$XDG_CACHE_HOME/modelvault` or `~/.cache/modelvault`.
   */
  readonly cacheDir?: string | false;
}

const enc = encodeURIComponent;

/** Runs `fn` over `items` with at most `n` at once; the first failure stops new work. */
async function pool<T>(
  items: readonly T[],
  n: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed: { error: unknown } | undefined;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (e) {
        failed ??= { error: e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(n, items.length)) }, worker));
  if (failed) throw failed.error;
}

/** Failures of the connection while a body streams in (undici reports them as TypeError). */
function isBodyInterruption(e: unknown): boolean {
  return isTransient(e) || (e instanceof TypeError && !(e instanceof ModelvaultError));
}

// ------------------------------------------------------------------------------ push

/** One ChunkCache per directory, so its statistics cover every push of the process. */
const chunkCaches = new Map<string, ChunkCache>();

/** The cache a push with `tuning` uses, if any. */
export function chunkCacheFor(tuning: TransferTuning): ChunkCache | undefined {
  const dir = tuning.cacheDir === undefined ? defaultChunkCacheDir() : tuning.cacheDir;
  if (dir === false || dir === undefined) return undefined;
  const cache = chunkCaches.get(dir) ?? new ChunkCache(dir);
  chunkCaches.set(dir, cache);
  return cache;
}

/**
 * Errors by which the server (or the re-read of a chunk before it is sent) says a chunk
 * list does not match the file's bytes: what a wrong cache entry would cause.
 */
function isMismatch(e: unknown): boolean {
  return e instanceof VerificationError || e instanceof ChunkMismatchError;
}

class ChunkMismatchError extends IoError {}

export async function pushTree(
  http: HttpClient,
  source: string,
  options: PushOptions,
  tuning: TransferTuning = {},
): Promise<{ version: ModelVersion; stats: TransferStats }> {
  const cache = chunkCacheFor(tuning);
  const used: UsedCache = [];
  try {
    return await pushTreeOnce(http, source, options, tuning, cache, used);
  } catch (e) {
    infoCache.delete(http); // a server reconfigured since (limits, chunking) is asked again
    const fromCache = used.some((u) => u.c.fromCache?.file || u.c.fromCache?.pieces.length);
    if (!cache || !isMismatch(e) || !fromCache) throw e;
    // The server refused what the cache said (or a cached chunk did not match the file):
    // forget every entry this push used and chunk everything afresh, once.
    for (const u of used) await dropCached(cache, u.params, u.abs, u.c);
    return await pushTreeOnce(http, source, options, tuning, cache, [], true);
  }
}

type UsedCache = { params: ServerInfo['chunking']; abs: string; c: ChunkedFile }[];

async function pushTreeOnce(
  http: HttpClient,
  source: string,
  options: PushOptions,
  tuning: TransferTuning,
  cache: ChunkCache | undefined,
  used: UsedCache,
  refresh = false,
): Promise<{ version: ModelVersion; stats: TransferStats }> {
  const signal = options.signal;
  const info = await serverInfo(http, signal);
  const files = await listLocalTree(source);
  const total = files.reduce((s, f) => s + f.size, 0);

  // 1. Chunk and hash locally (or take what the cache knows).
  let hashed = 0;
  const chunked: { file: LocalFile; c: ChunkedFile }[] = [];
  for (const file of files) {
    const c = await chunkLocalFile(file.abs, info.chunking, {
      signal,
      onBytes: (n) => {
        hashed += n;
        options.onProgress?.({ bytesDone: hashed, bytesTotal: total, path: file.rel });
      },
      ...(cache ? { cache: refresh ? cache.writeOnly() : cache } : {}),
    });
    if (c.size !== file.size) throw new IoError(`file '${file.abs}' changed while it was read`);
    chunked.push({ file, c });
    used.push({ params: info.chunking, abs: file.abs, c });
  }
  const spec: CreateUploadRequest = {
    files: chunked.map(({ file, c }) => ({
      path: file.rel,
      size: c.size,
      sha256: c.sha256,
      format: c.format,
      chunks: c.chunks.map((k) => ({ id: k.id, length: k.length })),
    })),
  };
  const where = new Map<string, { abs: string; offset: number; length: number }>();
  let chunkCount = 0;
  for (const { file, c } of chunked) {
    for (const k of c.chunks) {
      chunkCount++;
      if (!where.has(k.id)) where.set(k.id, { abs: file.abs, offset: k.offset, length: k.length });
    }
  }

  // 2. Negotiate and send what is missing; on a failure, resume and send what is left.
  const sent = { bytes: 0, chunks: 0 };
  const batchLimit = Math.min(tuning.batchBytes ?? 16 * 1024 * 1024, info.uploads.maxBatchBytes);
  const negotiate = () =>
    http.json<UploadSession>('POST', '/api/v1/uploads', { json: spec, signal, idempotent: true });

  const commitId = randomId();
  const metadata: CommitUploadRequest = {
    model: options.model,
    commitId,
    ...(options.description !== undefined ? { description: options.description } : {}),
    ...(options.metrics !== undefined ? { metrics: options.metrics } : {}),
    ...(options.params !== undefined ? { params: options.params } : {}),
    ...(options.tags !== undefined ? { tags: options.tags } : {}),
    ...(options.runId !== undefined ? { runId: options.runId } : {}),
    ...(options.source !== undefined ? { source: options.source } : {}),
    ...(options.lineage !== undefined ? { lineage: options.lineage } : {}),
    createModelIfMissing: options.createModelIfMissing ?? true,
  };

  let failures = 0;
  const retry = async (e: unknown) => {
    if (!isTransient(e) || ++failures > http.retries || signal?.aborted) throw e;
    await sleep(retryDelay(e, failures, http.retryDelayMs), signal);
  };

  for (;;) {
    let session: UploadSession;
    try {
      session = await negotiate();
      const toSend = session.missing;
      const missingBytes = session.missingBytes;
      let done = 0;
      await sendChunks(
        http,
        session.id,
        toSend,
        where,
        batchLimit,
        tuning.parallel ?? 4,
        signal,
        (b, n) => {
          sent.bytes += b;
          sent.chunks += n;
          done += b;
          options.onProgress?.({ bytesDone: done, bytesTotal: missingBytes });
        },
      );
    } catch (e) {
      await retry(e);
      continue;
    }
    let result: CommitUploadResult | 'resend';
    try {
      result = await commitLoop(http, session.id, metadata, signal);
    } catch (e) {
      await retry(e);
      continue;
    }
    if (result === 'resend') {
      if (++failures > http.retries) {
        throw new ConflictError('the server keeps losing uploaded chunks; try the push again');
      }
      continue;
    }
    if (result.state !== 'committed') continue;
    return {
      version: result.version,
      stats: {
        files: files.length,
        bytes: total,
        newBytes: sent.bytes,
        chunks: chunkCount,
        newChunks: sent.chunks,
      },
    };
  }
}

/** GET /api/v1/info, once per client for INFO_TTL_MS (chunking parameters are fixed per store). */
const infoCache = new WeakMap<HttpClient, { info: ServerInfo; at: number }>();
const INFO_TTL_MS = 5 * 60 * 1000;

async function serverInfo(http: HttpClient, signal: AbortSignal | undefined): Promise<ServerInfo> {
  const cached = infoCache.get(http);
  if (cached && Date.now() - cached.at < INFO_TTL_MS) return cached.info;
  const info = await http.json<ServerInfo>('GET', '/api/v1/info', { signal });
  infoCache.set(http, { info, at: Date.now() });
  return info;
}

function randomId(): string {
  return globalThis.crypto.randomUUID().replace(/-/g, '');
}

/** Sends `ids` in batches of at most `limit` bytes, `parallel` at a time. */
async function sendChunks(
  http: HttpClient,
  uploadId: string,
  ids: readonly string[],
  where: ReadonlyMap<string, { abs: string; offset: number; length: number }>,
  limit: number,
  parallel: number,
  signal: AbortSignal | undefined,
  onSent: (bytes: number, chunks: number) => void,
): Promise<void> {
  const batches: string[][] = [];
  let current: string[] = [];
  let size = CHUNK_BATCH_MAGIC.length;
  for (const id of ids) {
    const loc = where.get(id);
    if (!loc) throw new ModelvaultError('INTERNAL', `the server asked for unknown chunk ${id}`);
    const frame = CHUNK_FRAME_HEADER_SIZE + loc.length;
    if (current.length > 0 && size + frame > limit) {
      batches.push(current);
      current = [];
      size = CHUNK_BATCH_MAGIC.length;
    }
    current.push(id);
    size += frame;
  }
  if (current.length > 0) batches.push(current);

  await pool(batches, parallel, async (batch) => {
    signal?.throwIfAborted();
    const body = await buildBatch(batch, where);
    await http.request('POST', `/api/v1/uploads/${uploadId}/chunks`, {
      body,
      headers: { 'content-type': CHUNK_BATCH_MEDIA_TYPE },
      signal,
    });
    onSent(
      body.length - CHUNK_BATCH_MAGIC.length - batch.length * CHUNK_FRAME_HEADER_SIZE,
      batch.length,
    );
  });
}

/** Reads the chunks from their files into one framed body, checking each against its id. */
async function buildBatch(
  ids: readonly string[],
  where: ReadonlyMap<string, { abs: string; offset: number; length: number }>,
): Promise<Uint8Array> {
  let total = CHUNK_BATCH_MAGIC.length;
  for (const id of ids) total += CHUNK_FRAME_HEADER_SIZE + where.get(id)!.length;
  const body = new Uint8Array(total);
  body.set(CHUNK_BATCH_MAGIC, 0);
  let at = CHUNK_BATCH_MAGIC.length;
  const handles = new Map<string, FileHandle>();
  try {
    for (const id of ids) {
      const loc = where.get(id)!;
      let fh = handles.get(loc.abs);
      if (!fh) {
        fh = await open(loc.abs, 'r');
        handles.set(loc.abs, fh);
      }
      body.set(encodeChunkFrameHeader(id, loc.length), at);
      at += CHUNK_FRAME_HEADER_SIZE;
      const bytes = body.subarray(at, at + loc.length);
      const n = await readFully(fh, bytes, loc.offset);
      if (n !== loc.length || createHash('sha256').update(bytes).digest('hex') !== id) {
        throw new ChunkMismatchError(`file '${loc.abs}' changed during the push; push it again`, {
          path: loc.abs,
        });
      }
      at += loc.length;
    }
  } finally {
    await Promise.all([...handles.values()].map((h) => h.close()));
  }
  return body;
}

/**
 * Commits, repeating while the server answers 202. Resolves 'resend' when the server
 * reports chunks missing (GC reclaimed some, or a batch was lost) or the manifest collected
 * before the version committed: the caller negotiates again and sends what is missing.
 */
async function commitLoop(
  http: HttpClient,
  uploadId: string,
  metadata: CommitUploadRequest,
  signal: AbortSignal | undefined,
): Promise<CommitUploadResult | 'resend'> {
  for (let polls = 0; ; polls++) {
    try {
      const res = await http.request('POST', `/api/v1/uploads/${uploadId}/commit`, {
        json: metadata,
        signal,
      });
      const result = (await res.json()) as CommitUploadResult;
      if (result.state === 'committed') return result;
      // 202: the server is still verifying; it normally waits before answering, so the
      // pause only matters against a server configured not to.
      await sleep(Math.min(1000, 20 * 2 ** Math.min(polls, 6)), signal);
    } catch (e) {
      if (
        e instanceof ConflictError &&
        (e.details?.missing !== undefined || e.details?.collected === true)
      ) {
        return 'resend';
      }
      throw e;
    }
  }
}

// ------------------------------------------------------------------------------ pull

export async function pullVersion(
  http: HttpClient,
  ref: string,
  dest: string,
  options: PullOptions = {},
  tuning: TransferTuning = {},
): Promise<{ version: ModelVersion; files: number; bytes: number }> {
  const signal = options.signal;
  const version = await http.json<ModelVersion>('GET', `/api/v1/versions/${enc(ref)}`, { signal });
  // The exact version, so an alias that moves meanwhile cannot mix two versions' files.
  const exact = `${version.model}@${version.version}`;
  const manifest = await http.json<ManifestResponse>(
    'GET',
    `/api/v1/versions/${enc(exact)}/manifest`,
    { signal },
  );
  if (manifest.digest !== version.digest || manifestDigest(manifest.files) !== version.digest) {
    throw new VerificationError(`the manifest of ${exact} does not match the version digest`, {
      ref: exact,
      digest: version.digest,
    });
  }
  await mkdir(dest, { recursive: true });
  if ((await readdir(dest)).length > 0) {
    throw new InvalidArgumentError(`destination '${dest}' is not empty`, { dest });
  }
  const targets = manifest.files.map((f) => {
    validateManifestPath(f.path);
    return { ...f, target: join(dest, ...f.path.split('/')) };
  });
  let done = 0;
  const progress = (n: number, path: string) => {
    done += n;
    options.onProgress?.({ bytesDone: done, bytesTotal: manifest.totalSize, path });
  };
  const parallel = tuning.parallel ?? 4;
  const bigFrom = tuning.parallelFileBytes ?? 64 * 1024 * 1024;
  const small = targets.filter((f) => f.size < bigFrom);
  const big = targets.filter((f) => f.size >= bigFrom);
  await pool(small, parallel, async (f) => {
    await mkdir(dirname(f.target), { recursive: true });
    await downloadFile(http, f.sha256, f.size, f.target, (n) => progress(n, f.path), signal);
  });
  for (const f of big) {
    await mkdir(dirname(f.target), { recursive: true });
    await downloadLargeFile(
      http,
      f.sha256,
      f.size,
      f.target,
      tuning,
      (n) => progress(n, f.path),
      signal,
    );
  }
  return { version, files: targets.length, bytes: manifest.totalSize };
}

/**
 * Downloads one file as a single stream, hashing every block as it arrives while earlier
 * blocks are written (BlockWriter), resuming with Range after an interruption. The server
 * is told the client verifies (CLIENT_VERIFIES_HEADER), so each byte is hashed once.
 *
 * The hash runs on this thread, on the socket's own buffers: handing them to the hash
 * worker would mean copying each into shared memory and a message per 4 MiB, which cost
 * more CPU than the hash itself (profiled).
 */
async function downloadFile(
  http: HttpClient,
  sha256: string,
  size: number,
  target: string,
  onBytes: (n: number) => void,
  signal: AbortSignal | undefined,
): Promise<void> {
  const tmp = `${target}.mvault-partial`;
  const fh = await open(tmp, 'w');
  let hash = createHash('sha256');
  let ok = false;
  try {
    let written = 0;
    let failures = 0;
    while (written < size) {
      signal?.throwIfAborted();
      let writer = new BlockWriter(fh, written);
      try {
        const res = await openDownload(
          http,
          `/api/v1/files/${sha256}`,
          {
            [CLIENT_VERIFIES_HEADER]: 'sha256',
            ...(written > 0 ? { range: `bytes=${written}-`, 'if-range': `"${sha256}"` } : {}),
          },
          signal,
        );
        let received = written;
        if (written > 0 && res.status !== 206) {
          // The server sent the whole file: start over.
          await fh.truncate(0);
          hash = createHash('sha256');
          received = 0;
          writer = new BlockWriter(fh, 0);
        }
        await res.consume((b) => {
          if (received + b.length > size) {
            throw new VerificationError(`file ${sha256} is longer than its ${size} bytes`, {
              sha256,
            });
          }
          hash.update(b);
          received += b.length;
          onBytes(b.length);
          return res.lendsBlocks ? writer.writeLent(b) : writer.offer(b);
        });
        written = await writer.flush();
      } catch (e) {
        // What arrived is written and hashed (a failed write wins over the download's error).
        written = await writer.flush();
        if (!isBodyInterruption(e) || ++failures > http.retries || signal?.aborted) throw e;
        await sleep(http.retryDelayMs * 2 ** (failures - 1), signal);
      }
    }
    checkDigest(sha256, hash.digest('hex'));
    ok = true;
  } finally {
    await fh.close();
    if (!ok) await rm(tmp, { force: true });
  }
  await rename(tmp, target);
}

function checkDigest(sha256: string, actual: string): void {
  if (actual !== sha256) {
    throw new VerificationError(
      `downloaded file hashes to ${actual}, expected ${sha256}: it was damaged in transit or in the server's store (run \`mvault fsck\` there)`,
      { sha256, actual },
    );
  }
}

/**
 * Downloads a large file as chunk-aligned ranges in parallel, verifying every chunk as it
 * arrives, then re-reads the file once to check its SHA-256.
 */
async function downloadLargeFile(
  http: HttpClient,
  sha256: string,
  size: number,
  target: string,
  tuning: TransferTuning,
  onBytes: (n: number) => void,
  signal: AbortSignal | undefined,
): Promise<void> {
  const map = await http.json<FileChunksResponse>('GET', `/api/v1/files/${sha256}/chunks`, {
    signal,
  });
  if (map.size !== size) {
    throw new VerificationError(`file ${sha256} is ${map.size} bytes, the manifest says ${size}`);
  }
  const rangeBytes = tuning.rangeBytes ?? 16 * 1024 * 1024;
  const ranges: { chunks: FileChunksResponse['chunks'] }[] = [];
  let current: FileChunksResponse['chunks'][number][] = [];
  let bytes = 0;
  for (const c of map.chunks) {
    if (current.length > 0 && bytes + c.length > rangeBytes) {
      ranges.push({ chunks: current });
      current = [];
      bytes = 0;
    }
    current.push(c);
    bytes += c.length;
  }
  if (current.length > 0) ranges.push({ chunks: current });

  const tmp = `${target}.mvault-partial`;
  const fh = await open(tmp, 'w+');
  let ok = false;
  try {
    await pool(ranges, tuning.parallel ?? 4, async (r) => {
      let failures = 0;
      for (;;) {
        let counted = 0;
        try {
          await fetchRange(http, sha256, r.chunks, fh, signal, (n) => {
            counted += n;
            onBytes(n);
          });
          return;
        } catch (e) {
          onBytes(-counted);
          if (!isBodyInterruption(e) || ++failures > http.retries || signal?.aborted) throw e;
          await sleep(http.retryDelayMs * 2 ** (failures - 1), signal);
        }
      }
    });
    const whole = createHash('sha256');
    const buf = new Uint8Array(4 * 1024 * 1024);
    for (let pos = 0; pos < size; ) {
      const n = await readFully(fh, buf.subarray(0, Math.min(buf.length, size - pos)), pos);
      if (n === 0) break;
      whole.update(buf.subarray(0, n));
      pos += n;
    }
    checkDigest(sha256, whole.digest('hex'));
    ok = true;
  } finally {
    await fh.close();
    if (!ok) await rm(tmp, { force: true });
  }
  await rename(tmp, target);
}

/** One chunk-aligned range: each chunk hashed and compared with its id before it is written. */
async function fetchRange(
  http: HttpClient,
  sha256: string,
  chunks: FileChunksResponse['chunks'],
  fh: FileHandle,
  signal: AbortSignal | undefined,
  onBytes: (n: number) => void,
): Promise<void> {
  const first = chunks[0]!;
  const last = chunks[chunks.length - 1]!;
  const start = first.offset;
  const end = last.offset + last.length;
  const res = await openDownload(
    http,
    `/api/v1/files/${sha256}`,
    {
      [CLIENT_VERIFIES_HEADER]: 'sha256',
      range: `bytes=${start}-${end - 1}`,
      'if-range': `"${sha256}"`,
    },
    signal,
  );
  if (res.status !== 206) {
    res.cancel();
    throw new ModelvaultError('INTERNAL', `the server ignored a range request for ${sha256}`);
  }
  let i = 0;
  let inChunk = 0;
  let hash = createHash('sha256');
  let pos = start;
  const writer = new BlockWriter(fh, start);
  try {
    await res.consume((b) => {
      let from = 0;
      while (from < b.length) {
        const c = chunks[i];
        if (!c) throw new VerificationError(`range of ${sha256} is longer than requested`);
        const take = Math.min(c.length - inChunk, b.length - from);
        hash.update(b.subarray(from, from + take));
        inChunk += take;
        from += take;
        if (inChunk === c.length) {
          if (hash.digest('hex') !== c.id) {
            throw new VerificationError(`chunk ${c.id} of ${sha256} fails verification`, {
              sha256,
              chunk: c.id,
            });
          }
          hash = createHash('sha256');
          inChunk = 0;
          i++;
        }
      }
      pos += b.length;
      onBytes(b.length);
      return res.lendsBlocks ? writer.writeLent(b) : writer.offer(b);
    });
  } finally {
    // Nothing may still be writing when the caller retries the range or closes the file.
    await writer.flush();
  }
  if (pos !== end || i !== chunks.length) {
    throw new ModelvaultError('UNAVAILABLE', `range of ${sha256} ended early`);
  }
}

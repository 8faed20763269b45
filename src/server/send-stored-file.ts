/**
 * Answers GET/HEAD for one file of the store, honouring Range, If-Range and If-None-Match.
 * The ETag is the file's SHA-256, so it is strong and the same wherever the file is served
 * (native downloads, version files, MLflow's artifact proxy). Every byte is read through
 * Store.readFile, which verifies each chunk: a stored file that turns out damaged ends the
 * response early (the client's digest check catches it), never silently. A client that
 * sends CLIENT_VERIFIES_HEADER (the SDK's pull, which hashes every byte against the
 * digest it asked for) gets the stored bytes unverified: one hash per byte, not two —
 * written by hand from a few reused buffers (Store.readFileLent), as that is what a pull
 * costs the server.
 */
import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Sha256Hex } from '../core/digest.js';
import { ModelvaultError } from '../core/errors.js';
import { CLIENT_VERIFIES_HEADER, VERIFIED_BY_HEADER } from '../core/upload-protocol.js';
import type { Store } from '../storage/store.js';
import { etagMatches, parseRange } from './http-range.js';

export interface SendFileOptions {
  /** Cache-Control header. Default: immutable (the URL names the content). */
  readonly cacheControl?: string;
  /** Called with every block sent (byte metrics of streamed bodies). */
  readonly onBytes?: (n: number) => void;
  /** Content-Type. Default application/octet-stream. */
  readonly contentType?: string;
}

async function* counted(
  source: AsyncIterable<Uint8Array>,
  count: (n: number) => void,
): AsyncGenerator<Uint8Array> {
  for await (const b of source) {
    count(b.length);
    yield b;
  }
}

export function sendStoredFile(
  store: Store,
  req: FastifyRequest,
  reply: FastifyReply,
  file: { readonly sha256: string; readonly size: number },
  options: SendFileOptions = {},
): FastifyReply | Promise<FastifyReply> {
  const { sha256, size } = file;
  const etag = `"${sha256}"`;
  reply
    .header('etag', etag)
    .header('accept-ranges', 'bytes')
    .header('cache-control', options.cacheControl ?? 'public, max-age=31536000, immutable')
    .type(options.contentType ?? 'application/octet-stream');
  if (etagMatches(req.headers['if-none-match'], etag)) return reply.status(304).send();
  const ifRange = req.headers['if-range'];
  const range =
    ifRange === undefined || ifRange === etag
      ? parseRange(req.headers.range, size)
      : ({ kind: 'full' } as const);
  if (range.kind === 'unsatisfiable') {
    reply.header('content-range', `bytes */${size}`);
    throw new ModelvaultError(
      'RANGE_NOT_SATISFIABLE',
      `range '${String(req.headers.range).slice(0, 100)}' is outside file ${sha256} of ${size} bytes`,
      { sha256, size },
    );
  }
  const start = range.kind === 'partial' ? range.start : 0;
  const length = range.kind === 'partial' ? range.end - range.start + 1 : size;
  if (range.kind === 'partial') {
    reply.status(206).header('content-range', `bytes ${range.start}-${range.end}/${size}`);
  }
  reply.header('content-length', length);
  const clientVerifies = req.headers[CLIENT_VERIFIES_HEADER] === 'sha256';
  reply.header(VERIFIED_BY_HEADER, clientVerifies ? 'client' : 'server');
  if (req.method === 'HEAD' || length === 0) return reply.send();
  if (clientVerifies) {
    return sendLent(
      store,
      reply,
      sha256 as Sha256Hex,
      range.kind === 'partial' ? { offset: start, length } : undefined,
      options.onBytes,
    );
  }
  // Verified as read: a damaged chunk is never sent.
  const bytes = store.readFile(
    sha256 as Sha256Hex,
    range.kind === 'partial' ? { offset: start, length } : undefined,
  );
  const body = options.onBytes ? counted(bytes, options.onBytes) : bytes;
  return reply.send(Readable.from(body, { objectMode: false }));
}

/**
 * Writes the stored bytes to the raw response from Store.readFileLent's reused buffers,
 * each block only once the previous one is out (its write callback). The reply is
 * hijacked at the first block, with the status and headers set so far: an error before
 * it (a missing file or chunk) still becomes a normal error answer; after it, the
 * connection is cut and the client sees a short body. Fastify's onResponse hooks (log,
 * metrics) still run when the response finishes.
 */
async function sendLent(
  store: Store,
  reply: FastifyReply,
  sha256: Sha256Hex,
  range: { offset: number; length: number } | undefined,
  onBytes: ((n: number) => void) | undefined,
): Promise<FastifyReply> {
  const res = reply.raw;
  let started = false;
  try {
    await store.readFileLent(sha256, range, (block) => {
      if (!started) {
        started = true;
        reply.hijack();
        for (const [name, value] of Object.entries(reply.getHeaders())) {
          if (value !== undefined) res.setHeader(name, value);
        }
        res.writeHead(reply.statusCode);
      }
      onBytes?.(block.length);
      return writeOut(res, block);
    });
  } catch (e) {
    if (!started) throw e;
    reply.log.warn({ err: e, sha256 }, 'download cut short');
    res.destroy();
    return reply;
  }
  res.end();
  return reply;
}

/** Writes `block`; resolves once the response is done with it, rejects if it closes first. */
function writeOut(res: ServerResponse, block: Uint8Array): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onClose = () => reject(new Error('the connection closed during a download'));
    res.once('close', onClose);
    res.write(block, (e) => {
      res.off('close', onClose);
      if (e) reject(e);
      else resolve();
    });
  });
}

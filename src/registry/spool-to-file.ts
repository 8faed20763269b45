/**
 * Streams an upload body into a local file while counting (and optionally hashing) its
 * bytes, refusing it past a size limit: how the artifact proxy and the Git LFS server take
 * request bodies without ever holding a whole file in memory. The caller owns `path` (and
 * removes it, whatever happens).
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ModelvaultError } from '../core/errors.js';

/**
 * Writes `body` to `path`. Resolves the byte count and, with `hash`, the SHA-256 (hex).
 * @throws ModelvaultError TOO_LARGE (`<what> is larger than the limit of N bytes`) as soon
 *   as more than `limit` bytes arrived; the body's own errors (an aborted request).
 */
export async function spoolToFile(
  body: AsyncIterable<Uint8Array>,
  path: string,
  options: { readonly limit: number; readonly what: string; readonly hash?: boolean },
): Promise<{ size: number; sha256?: string }> {
  const { limit, what } = options;
  const hash = options.hash ? createHash('sha256') : undefined;
  let size = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > limit) {
        done(
          new ModelvaultError('TOO_LARGE', `${what} is larger than the limit of ${limit} bytes`, {
            limit,
          }),
        );
        return;
      }
      hash?.update(chunk);
      done(null, chunk);
    },
  });
  await pipeline(body, counter, createWriteStream(path));
  return hash ? { size, sha256: hash.digest('hex') } : { size };
}

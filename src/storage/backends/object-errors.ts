/**
 * The range check and the errors every ObjectBackend shares, so that a bad range or a
 * missing or short object reads the same from the filesystem and from S3.
 */
import type { Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import {
  CorruptionError,
  hasErrno,
  InvalidArgumentError,
  NotFoundError,
} from '../../core/errors.js';

/** Largest single getRange; larger reads should stream. */
export const MAX_RANGE_LENGTH = 2 ** 31 - 1;

/** @throws InvalidArgumentError for a negative, non-integer or too large range. */
export function checkRange(key: string, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new InvalidArgumentError(`invalid offset ${offset} reading '${key}'`, { key, offset });
  }
  if (!Number.isSafeInteger(length) || length < 0 || length > MAX_RANGE_LENGTH) {
    throw new InvalidArgumentError(`invalid length ${length} reading '${key}'`, { key, length });
  }
  if (!Number.isSafeInteger(offset + length)) {
    throw new InvalidArgumentError(`range ${offset}+${length} of '${key}' is too large`, { key });
  }
}

export function objectNotFound(key: string): NotFoundError {
  return new NotFoundError(`object '${key}' not found`, { key });
}

/** A read of `offset+length` found only `got` bytes: the object is shorter than its user thinks. */
export function shortObject(
  key: string,
  offset: number,
  length: number,
  got: number,
): CorruptionError {
  return new CorruptionError(
    `object '${key}' is shorter than expected: range ${offset}+${length} returned ${got} bytes`,
    { key, offset, length, got },
  );
}

/**
 * Stats the local file a `putFile(key, path)` uploads.
 * @throws NotFoundError when it does not exist, InvalidArgumentError when it is not a
 *   regular file, and `otherError(e)` for any other failure (each backend's own mapping).
 */
export async function statSourceFile(
  key: string,
  path: string,
  otherError: (e: unknown) => unknown,
): Promise<Stats> {
  let info: Stats;
  try {
    info = await stat(path);
  } catch (e) {
    if (hasErrno(e, 'ENOENT')) {
      throw new NotFoundError(`source file '${path}' for object '${key}' does not exist`, {
        key,
        path,
      });
    }
    throw otherError(e);
  }
  if (!info.isFile()) {
    throw new InvalidArgumentError(`source '${path}' for object '${key}' is not a file`, {
      key,
      path,
    });
  }
  return info;
}

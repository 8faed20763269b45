/**
 * `s3://bucket/prefix` locations: parsing and validation, with no SDK import (the CLI
 * checks a `--blobs` flag without loading the S3 client).
 */
import { InvalidArgumentError } from '../../../core/errors.js';
import { validateObjectKey } from '../object-key.js';

export interface S3Location {
  readonly bucket: string;
  /** Key prefix of every object, without leading or trailing `/`; '' or absent for none. */
  readonly prefix?: string;
}

// S3's rules for new buckets: 3-63 lowercase letters, digits, dots and hyphens, starting
// and ending with a letter or digit.
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export function isS3Url(text: string): boolean {
  return /^s3:\/\//i.test(text);
}

/**
 * Parses `s3://bucket` or `s3://bucket/some/prefix` (a trailing `/` is ignored).
 * @throws InvalidArgumentError naming what is wrong.
 */
export function parseS3Url(url: string): S3Location {
  const m = /^s3:\/\/([^/]*)(?:\/(.*))?$/i.exec(url);
  if (!m) {
    throw new InvalidArgumentError(`'${url.slice(0, 200)}' is not an s3://bucket/prefix location`);
  }
  const prefix = (m[2] ?? '').replace(/\/+$/, '');
  const location = { bucket: m[1]!, prefix };
  s3LocationUrl(location);
  return location;
}

/**
 * The canonical `s3://bucket/prefix` of a location, after validating it.
 * @throws InvalidArgumentError for a bucket name S3 would refuse or an invalid prefix.
 */
export function s3LocationUrl(location: S3Location): string {
  const { bucket } = location;
  const prefix = location.prefix ?? '';
  if (typeof bucket !== 'string' || !BUCKET.test(bucket) || bucket.includes('..')) {
    throw new InvalidArgumentError(
      `invalid s3 bucket name '${String(bucket).slice(0, 80)}': 3-63 lowercase letters, digits, '.' and '-'`,
      { bucket: String(bucket).slice(0, 80) },
    );
  }
  if (prefix !== '') {
    try {
      validateObjectKey(prefix);
    } catch (e) {
      throw new InvalidArgumentError(
        `invalid s3 key prefix '${prefix.slice(0, 200)}': ${(e as Error).message}`,
        { prefix: prefix.slice(0, 200) },
      );
    }
  }
  return prefix === '' ? `s3://${bucket}` : `s3://${bucket}/${prefix}`;
}

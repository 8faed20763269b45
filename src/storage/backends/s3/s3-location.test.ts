import { describe, expect, it } from 'vitest';
import { isS3Url, parseS3Url, s3LocationUrl } from './s3-location.js';

describe('s3 locations', () => {
  it('parses bucket and prefix', () => {
    expect(parseS3Url('s3://models')).toEqual({ bucket: 'models', prefix: '' });
    expect(parseS3Url('s3://models/')).toEqual({ bucket: 'models', prefix: '' });
    expect(parseS3Url('s3://my.models-1/team/a/')).toEqual({
      bucket: 'my.models-1',
      prefix: 'team/a',
    });
    expect(s3LocationUrl({ bucket: 'models', prefix: 'x/y' })).toBe('s3://models/x/y');
    expect(isS3Url('S3://b')).toBe(true);
    expect(isS3Url('/srv/s3://b')).toBe(false);
  });

  it('rejects what S3 or the key rules would refuse', () => {
    for (const bad of [
      'http://models/x',
      's3://',
      's3://ab',
      's3://Models',
      's3://under_score',
      's3://-dash',
      's3://a..b',
      `s3://${'a'.repeat(64)}`,
      's3://models//double',
      's3://models/../up',
      's3://models/a/./b',
      's3://models/tab\there',
    ]) {
      expect(() => parseS3Url(bad), bad).toThrow(/s3/);
    }
  });
});

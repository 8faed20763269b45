import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Sha256Hex } from '../core/digest.js';
import { DEFAULT_CHUNKING } from './chunking/chunking-params.js';
import {
  formatStoreConfig,
  isPackKey,
  lockPath,
  metadataDbPath,
  objectsDir,
  PACKS_PREFIX,
  packKey,
  parsePackKey,
  parseProcessTmpDirName,
  parseStoreConfig,
  processTmpDirName,
  STORE_FORMAT_VERSION,
  storeConfigPath,
  tempFileName,
  tmpDir,
  validateBlobsConfig,
  validateS3Endpoint,
} from './store-layout.js';

const ID = 'ab12'.padEnd(64, '0') as Sha256Hex;

describe('store layout', () => {
  it('places store files under the root', () => {
    expect(storeConfigPath('/s')).toBe(join('/s', 'modelvault.json'));
    expect(metadataDbPath('/s')).toBe(join('/s', 'metadata.db'));
    expect(objectsDir('/s')).toBe(join('/s', 'objects'));
    expect(tmpDir('/s')).toBe(join('/s', 'tmp'));
    expect(lockPath('/s', 'gc')).toBe(join('/s', 'locks', 'gc.lock'));
    expect(tempFileName('pack', 'beef')).toBe('pack-beef.tmp');
  });

  it('names per-process tmp dirs and recognises them', () => {
    expect(processTmpDirName(1234, 'a1b2')).toBe('1234.a1b2');
    expect(parseProcessTmpDirName('1234.a1b2')).toBe(1234);
    for (const name of ['1234', 'x.ab', '0.ab', '-1.ab', '12.', '12.AB', 'pack-ab.tmp']) {
      expect(parseProcessTmpDirName(name), name).toBeUndefined();
    }
    expect(() => processTmpDirName(0, 'ab')).toThrow(/invalid process id/);
    expect(() => processTmpDirName(1, '../x')).toThrow(/invalid tmp dir suffix/);
  });

  it('rejects lock names that are not simple', () => {
    for (const name of ['', '../x', 'a/b', 'GC', 'a.b']) {
      expect(() => lockPath('/s', name)).toThrow(/invalid lock name/);
    }
  });

  it('builds fanned-out pack keys and parses them back', () => {
    const key = packKey(ID);
    expect(key).toBe(`packs/ab/${ID}.pack`);
    expect(key.startsWith(PACKS_PREFIX)).toBe(true);
    expect(parsePackKey(key)).toBe(ID);
    expect(isPackKey(key)).toBe(true);
  });

  it('rejects keys that are not pack keys', () => {
    for (const key of [
      `packs/cd/${ID}.pack`, // fan-out does not match the id
      `packs/AB/${ID.toUpperCase()}.pack`,
      `packs/ab/${ID}`,
      `packs/ab/${ID}.pack.tmp`,
      `x/packs/ab/${ID}.pack`,
      `packs/ab/${ID.slice(1)}.pack`,
      'packs/ab/.pack',
    ]) {
      expect(() => parsePackKey(key), key).toThrow(/is not a pack key/);
      expect(isPackKey(key)).toBe(false);
    }
    expect(() => packKey('nothex' as Sha256Hex)).toThrow(/invalid pack id/);
  });

  it('round-trips the store config', () => {
    const config = {
      formatVersion: STORE_FORMAT_VERSION,
      created: '2025-01-02T03:04:05.000Z',
      chunking: DEFAULT_CHUNKING,
    };
    const text = formatStoreConfig(config);
    expect(text.endsWith('\n')).toBe(true);
    expect(parseStoreConfig(text)).toEqual(config);
  });

  it('records where the blobs live, and refuses invalid locations', () => {
    const config = {
      formatVersion: STORE_FORMAT_VERSION,
      created: '2025-01-02T03:04:05.000Z',
      chunking: DEFAULT_CHUNKING,
      blobs: { url: 's3://models/team-a', endpoint: 'http://127.0.0.1:9000', region: 'eu-west-1' },
    };
    expect(parseStoreConfig(formatStoreConfig(config))).toEqual(config);
    expect(validateBlobsConfig({ url: 's3://models/team-a/' })).toEqual({
      url: 's3://models/team-a',
    });
    const text = (blobs: unknown) =>
      JSON.stringify({ ...JSON.parse(formatStoreConfig(config)), blobs });
    for (const bad of [
      { url: 'file:///x' },
      { url: 's3://UPPER' },
      { url: 's3://models', endpoint: 'ftp://host' },
      { url: 's3://models', endpoint: 'http://user:pw@host' },
      { url: 's3://models', endpoint: 'http://host/path' },
      { url: 's3://models', region: 'Not A Region' },
      'a string',
    ]) {
      expect(() => parseStoreConfig(text(bad)), JSON.stringify(bad)).toThrow(/blobs/);
    }
    expect(() => validateS3Endpoint('https://s3.example.com:8443')).not.toThrow();
  });

  it('records a PostgreSQL metadata location without a password, and refuses others', () => {
    const config = {
      formatVersion: STORE_FORMAT_VERSION,
      created: '2025-01-02T03:04:05.000Z',
      chunking: DEFAULT_CHUNKING,
      metadata: { kind: 'postgres' as const, url: 'postgres://mv@db.internal:5432/registry' },
    };
    expect(parseStoreConfig(formatStoreConfig(config))).toEqual(config);
    const text = (metadata: unknown) =>
      JSON.stringify({ ...JSON.parse(formatStoreConfig(config)), metadata });
    for (const bad of [
      { kind: 'postgres', url: 'postgres://mv:secret@db/registry' },
      { kind: 'postgres', url: 'mysql://db/registry' },
      { kind: 'postgres', url: 'postgres:///registry' },
      { kind: 'sqlite', url: 'postgres://db/registry' },
      'postgres://db/registry',
    ]) {
      expect(() => parseStoreConfig(text(bad)), JSON.stringify(bad)).toThrow(/metadata/);
    }
    expect(() => formatStoreConfig({ ...config, metadata: bad() })).toThrow(/password/);
    function bad() {
      return { kind: 'postgres' as const, url: 'postgres://mv:pw@db/registry' };
    }
  });

  it('rejects damaged or newer store configs', () => {
    const good = JSON.parse(
      formatStoreConfig({
        formatVersion: 1,
        created: '2025-01-02T03:04:05.000Z',
        chunking: DEFAULT_CHUNKING,
      }),
    );
    const bad = (patch: object) => JSON.stringify({ ...good, ...patch });
    expect(() => parseStoreConfig('{')).toThrow(/not valid json/);
    expect(() => parseStoreConfig('[]')).toThrow(/not an object/);
    expect(() => parseStoreConfig(bad({ formatVersion: 0 }))).toThrow(/formatVersion/);
    expect(() => parseStoreConfig(bad({ created: 'yesterday' }))).toThrow(/created/);
    expect(() => parseStoreConfig(bad({ chunking: null }))).toThrow(/chunking/);
    expect(() =>
      parseStoreConfig(bad({ chunking: { ...DEFAULT_CHUNKING, avgSize: 1000 } })),
    ).toThrow(/avgSize/);
    try {
      parseStoreConfig(bad({ formatVersion: STORE_FORMAT_VERSION + 1 }));
      expect.unreachable();
    } catch (e) {
      expect(e).toMatchObject({ code: 'UNSUPPORTED' });
    }
    expect(() => parseStoreConfig(bad({ formatVersion: 0 }))).toThrow(
      expect.objectContaining({ code: 'CORRUPT' }),
    );
  });
});

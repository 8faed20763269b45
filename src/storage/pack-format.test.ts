import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Sha256Hex } from '../core/digest.js';
import {
  checkFooterAgainstSize,
  checkPackHeader,
  decodeFooter,
  decodeTrailer,
  encodeFooter,
  encodeTrailer,
  MIN_PACK_SIZE,
  PACK_ENTRY_SIZE,
  PACK_FOOTER_SIZE,
  PACK_HEADER,
  type PackEntry,
  packIdOfTrailer,
  validatePackEntries,
} from './pack-format.js';

const id = (s: string) => createHash('sha256').update(s).digest('hex') as Sha256Hex;

describe('pack format', () => {
  it('has the documented fixed sizes and magic', () => {
    expect(Buffer.from(PACK_HEADER).toString('latin1')).toBe('MVPACK\x00\x01');
    expect(PACK_ENTRY_SIZE).toBe(48);
    expect(PACK_FOOTER_SIZE).toBe(56);
    expect(MIN_PACK_SIZE).toBe(64);
  });

  it('encodes trailer entries byte for byte as documented', () => {
    const e: PackEntry = { id: id('a'), offset: 2 ** 40 + 3, length: 0xfedcba98, flags: 0 };
    const bytes = encodeTrailer([e]);
    expect(bytes.length).toBe(48);
    expect(bytes.subarray(0, 32).toString('hex')).toBe(e.id);
    expect(bytes.readBigUInt64LE(32)).toBe(BigInt(2 ** 40 + 3));
    expect(bytes.readUInt32LE(40)).toBe(0xfedcba98);
    expect(bytes.readUInt32LE(44)).toBe(0);
    expect(decodeTrailer(bytes, 'p')).toEqual([e]);
  });

  it('encodes the footer byte for byte as documented', () => {
    const f = { entryCount: 7, trailerOffset: 12345, trailerSha256: id('t') };
    const bytes = encodeFooter(f);
    expect(bytes.readUInt32LE(0)).toBe(7);
    expect(bytes.readUInt32LE(4)).toBe(0);
    expect(bytes.readBigUInt64LE(8)).toBe(12345n);
    expect(bytes.subarray(16, 48).toString('hex')).toBe(f.trailerSha256);
    expect(bytes.subarray(48).toString('latin1')).toBe('MVPKEND1');
    expect(decodeFooter(bytes, 'p')).toEqual(f);
  });

  it('names the pack id after the trailer hash, deterministically', () => {
    const entries = [
      { id: id('a'), offset: 8, length: 1, flags: 0 },
      { id: id('b'), offset: 9, length: 1, flags: 0 },
    ];
    const t = encodeTrailer(entries);
    expect(packIdOfTrailer(t)).toBe(createHash('sha256').update(t).digest('hex'));
    expect(packIdOfTrailer(encodeTrailer(entries))).toBe(packIdOfTrailer(t));
    expect(packIdOfTrailer(encodeTrailer([...entries].reverse()))).not.toBe(packIdOfTrailer(t));
  });

  it('rejects malformed footers, headers and trailers', () => {
    const f = encodeFooter({ entryCount: 0, trailerOffset: 8, trailerSha256: id('') });
    const bad = Buffer.from(f);
    bad[55] = 0x30;
    expect(() => decodeFooter(bad, 'p')).toThrow(/pack p: bad footer magic/);
    const reserved = Buffer.from(f);
    reserved[5] = 1;
    expect(() => decodeFooter(reserved, 'p')).toThrow(/reserved field is 256/);
    const huge = Buffer.from(f);
    huge.writeBigUInt64LE(2n ** 60n, 8);
    expect(() => decodeFooter(huge, 'p')).toThrow(/trailer offset .* out of range/);
    expect(() => decodeFooter(f.subarray(1), 'p')).toThrow(/footer is 55 bytes/);
    expect(() => decodeTrailer(new Uint8Array(47), 'p')).toThrow(/not a multiple of 48/);
    expect(() => checkPackHeader(Buffer.from('MVPACX\x00\x01', 'latin1'), 'p')).toThrow(
      /bad header magic/,
    );
    expect(() => checkPackHeader(Buffer.from('MVPACK\x00\x02', 'latin1'), 'p')).toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED' }),
    );
    checkPackHeader(PACK_HEADER, 'p');
  });

  it('checks footer geometry against the object size', () => {
    const f = { entryCount: 2, trailerOffset: 100, trailerSha256: id('') };
    checkFooterAgainstSize(f, 100 + 96 + 56, 'p');
    expect(() => checkFooterAgainstSize(f, 100 + 96 + 57, 'p')).toThrow(/footer describes 252/);
    expect(() => checkFooterAgainstSize({ ...f, trailerOffset: 4 }, 4 + 96 + 56, 'p')).toThrow(
      /inside the header/,
    );
  });

  it('validates entries: inside the data region, ascending, non-overlapping, known flags', () => {
    const e = (offset: number, length: number, flags = 0): PackEntry => ({
      id: id(`${offset}:${length}`),
      offset,
      length,
      flags,
    });
    validatePackEntries([], 8, 'p');
    validatePackEntries([e(8, 10), e(18, 0), e(18, 2), e(30, 70)], 100, 'p'); // gaps allowed
    expect(() => validatePackEntries([e(7, 2)], 100, 'p')).toThrow(/inside the header/);
    expect(() => validatePackEntries([e(8, 10), e(90, 11)], 100, 'p')).toThrow(
      /entry 1 \(chunk [0-9a-f]{64}\) ends at 101, past the data region end 100/,
    );
    expect(() => validatePackEntries([e(8, 10), e(17, 1)], 100, 'p')).toThrow(
      /entry 1 .* starts at 17, before the previous entry ends at 18/,
    );
    expect(() => validatePackEntries([e(50, 10), e(8, 1)], 100, 'p')).toThrow(
      /before the previous/,
    );
    expect(() => validatePackEntries([e(8, 10, 1)], 100, 'p')).toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED' }),
    );
  });
});

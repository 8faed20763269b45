import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { copyFromShared, copyOutOfShared, isShared } from './shared-copy.js';

describe('copyFromShared', () => {
  const shared = new Uint8Array(new SharedArrayBuffer(1 << 20));
  shared.set(randomBytes(shared.length));

  it('copies the same bytes as TypedArray.set, for every alignment and many sizes', () => {
    // Sizes below and above the scratch buffer (256 KiB), and odd ones.
    const sizes = [0, 1, 63, 64, 65, 4095, 65536, 65537, 262143, 262144, 262145, 600001];
    for (const size of sizes) {
      for (let from = 0; from < 16; from++) {
        const at = (from * 5 + size) % 11;
        const source = shared.subarray(from * 3, from * 3 + size);
        const want = Buffer.alloc(size + 20, 0xaa);
        want.set(source, at);
        const got = Buffer.alloc(size + 20, 0xaa);
        copyFromShared(got, at, source);
        expect(got.equals(want)).toBe(true);
      }
    }
  });

  it('refuses a copy past the end, like set, leaving the target unchanged', () => {
    const target = Buffer.alloc(1000, 7);
    expect(() => copyFromShared(target, 900, shared.subarray(5, 205))).toThrow(RangeError);
    expect(target.every((b) => b === 7)).toBe(true);
  });

  it('copies out a private buffer', () => {
    const source = shared.subarray(12345, 12345 + 300000);
    const copy = copyOutOfShared(source);
    expect(isShared(copy)).toBe(false);
    expect(isShared(source)).toBe(true);
    expect(copy.equals(Buffer.from(source.slice()))).toBe(true);
    shared[12345] = shared[12345]! ^ 0xff;
    expect(copy[0]).not.toBe(shared[12345]);
  });
});

import { describe, expect, it } from 'vitest';
import {
  AWKWARD_VALID_KEYS,
  INVALID_KEYS,
} from '../../../test/conformance/object-backend-conformance.js';
import { validateKeyPrefix, validateObjectKey } from './object-key.js';

describe('object keys', () => {
  it('accepts ordinary and awkward keys unchanged', () => {
    for (const key of ['a', 'packs/ab/x.pack', ...AWKWARD_VALID_KEYS]) {
      expect(validateObjectKey(key)).toBe(key);
    }
  });

  it('rejects keys that could escape a root or do not map to a path', () => {
    for (const key of INVALID_KEYS) {
      expect(() => validateObjectKey(key), JSON.stringify(key)).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
      );
    }
  });

  it('names the rule a key breaks, printing control characters visibly', () => {
    expect(() => validateObjectKey('a/../b')).toThrow("invalid object key 'a/../b': '..' segment");
    expect(() => validateObjectKey('a\0b')).toThrow(
      "invalid object key 'a\\x00b': contains a backslash or control character",
    );
    expect(() => validateObjectKey(42 as unknown as string)).toThrow(/not a string/);
  });

  it('accepts prefixes ending in a partial segment or a slash', () => {
    for (const p of ['', 'a', 'a/', 'packs/a', 'packs/ab/', '.', 'a/.', 'a/..x']) {
      expect(validateKeyPrefix(p)).toBe(p);
    }
  });

  it('rejects prefixes with bad segments before the last one', () => {
    for (const p of ['/', '/a', '../', 'a/../', './', 'a//', 'a\\', 'a\0', 'x'.repeat(256)]) {
      expect(() => validateKeyPrefix(p), JSON.stringify(p)).toThrow(/invalid object prefix/);
    }
  });
});

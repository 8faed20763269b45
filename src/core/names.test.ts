import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from './errors.js';
import {
  validateAlias,
  validateExperimentName,
  validateManifestPath,
  validateMetricKey,
  validateModelName,
  validateParamKey,
  validateParamValue,
  validateTagKey,
  validateTagValue,
  validateUserName,
} from './names.js';

function reasonOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidArgumentError);
    return (e as InvalidArgumentError).details?.reason;
  }
  throw new Error('expected an InvalidArgumentError');
}

describe('validateModelName', () => {
  it.each([
    'fraud',
    'fraud-detector',
    'team/fraud-detector',
    'org/team/model.v2',
    'A_1',
    '9lives',
    'a'.repeat(200),
  ])('accepts %s', (name) => {
    expect(validateModelName(name)).toBe(name);
  });

  it.each([
    ['', 'empty'],
    ['a'.repeat(201), 'too-long'],
    ['a..b', 'dot-dot'],
    ['team/../x', 'dot-dot'],
    ['/abs', 'empty-segment'],
    ['team/', 'empty-segment'],
    ['a//b', 'empty-segment'],
    ['.hidden', 'bad-character'],
    ['team/-x', 'bad-character'],
    ['fraud@3', 'bad-character'],
    ['my model', 'bad-character'],
    ['models:/x', 'bad-character'],
    ['ünï', 'bad-character'],
    ['a\\b', 'bad-character'],
  ])('rejects %j (%s)', (name, reason) => {
    expect(reasonOf(() => validateModelName(name))).toBe(reason);
  });

  it('explains the rule and names the value', () => {
    expect(() => validateModelName('a..b')).toThrow(
      "invalid model name 'a..b': use 1-200 characters: letters, digits, '.', '_', '-', and '/' between segments",
    );
  });

  it('rejects non-strings with InvalidArgumentError', () => {
    expect(() => validateModelName(42)).toThrow(
      'invalid model name: expected a string but got a number',
    );
    expect(() => validateModelName(null)).toThrow(InvalidArgumentError);
    expect(() => validateModelName(undefined)).toThrow(InvalidArgumentError);
  });

  it('escapes control characters and shortens long values in messages', () => {
    try {
      validateModelName(`a\nb${'x'.repeat(200)}`);
    } catch (e) {
      const message = (e as Error).message;
      expect(message).not.toContain('\n');
      expect(message).toContain("'a\\u000ab");
      expect(message).toContain('…');
    }
  });
});

describe('validateAlias', () => {
  it.each([
    'production',
    'champion',
    'canary-eu',
    'Champion',
    'v1beta',
    'latest2',
    '_x',
    '2024-q3',
    'a'.repeat(255),
  ])('accepts %s', (alias) => {
    expect(validateAlias(alias)).toBe(alias);
  });

  it.each([
    ['', 'empty'],
    ['a'.repeat(256), 'too-long'],
    ['latest', 'reserved'],
    ['LATEST', 'reserved'],
    ['v12', 'reserved'],
    ['V3', 'reserved'],
    ['12', 'reserved'],
    ['0', 'reserved'],
    ['-x', 'leading-dash'],
    ['prod.eu', 'bad-character'],
    ['a b', 'bad-character'],
    ['a/b', 'bad-character'],
    ['sha256:ab', 'bad-character'],
  ])('rejects %j (%s)', (alias, reason) => {
    expect(reasonOf(() => validateAlias(alias))).toBe(reason);
  });
});

describe('validateTagKey / validateTagValue', () => {
  it.each([
    'team',
    'mlflow.source.name',
    'mlflow.log-model.history',
    'my key',
    'ключ',
    '..',
    '/x',
    'k'.repeat(250),
  ])('accepts key %s', (key) => {
    expect(validateTagKey(key)).toBe(key);
  });

  it('counts code points, as MLflow does', () => {
    expect(validateTagKey('😀'.repeat(250))).toHaveLength(500);
    expect(reasonOf(() => validateTagKey('😀'.repeat(251)))).toBe('too-long');
  });

  it.each([
    ['', 'empty'],
    ['k'.repeat(251), 'too-long'],
    ['a\tb', 'control-character'],
    ['a\u0000', 'control-character'],
    ['a\u0085', 'control-character'],
    ['\ud800', 'lone-surrogate'],
  ])('rejects key %j (%s)', (key, reason) => {
    expect(reasonOf(() => validateTagKey(key))).toBe(reason);
  });

  it('accepts values up to 8000 characters, newlines and the empty string', () => {
    expect(validateTagValue('')).toBe('');
    expect(validateTagValue('line 1\nline 2\t{"json": true}')).toContain('\n');
    expect(validateTagValue('v'.repeat(8000))).toHaveLength(8000);
    expect(reasonOf(() => validateTagValue('v'.repeat(8001)))).toBe('too-long');
    expect(reasonOf(() => validateTagValue('a\u0000b'))).toBe('nul');
  });
});

describe('validateMetricKey / validateParamKey', () => {
  it.each([
    'auc',
    'val/loss',
    'eval:f1 macro',
    'a.b-c_d',
    'précision',
    'x/y/z',
    '.hidden',
    'a..b',
    'k'.repeat(250),
  ])('accepts %s', (key) => {
    expect(validateMetricKey(key)).toBe(key);
    expect(validateParamKey(key)).toBe(key);
  });

  it.each([
    ['', 'empty'],
    ['k'.repeat(251), 'too-long'],
    ['a=b', 'bad-character'],
    ['a\tb', 'bad-character'],
    ['a@b', 'bad-character'],
    ['/abs', 'empty-segment'],
    ['trailing/', 'empty-segment'],
    ['a//b', 'empty-segment'],
    ['.', 'dot-segment'],
    ['a/./b', 'dot-segment'],
    ['a/..', 'dot-segment'],
    ['..', 'dot-dot'],
    ['..loss', 'dot-dot'],
  ])('rejects %j (%s)', (key, reason) => {
    expect(reasonOf(() => validateMetricKey(key))).toBe(reason);
  });

  it('names the kind of key in the message', () => {
    expect(() => validateParamKey('a=b')).toThrow(/^invalid param key 'a=b': use 1-250 characters/);
  });
});

describe('validateParamValue', () => {
  it('accepts up to 6000 characters', () => {
    expect(validateParamValue('')).toBe('');
    expect(validateParamValue('3e-4')).toBe('3e-4');
    expect(validateParamValue('p'.repeat(6000))).toHaveLength(6000);
    expect(reasonOf(() => validateParamValue('p'.repeat(6001)))).toBe('too-long');
    expect(reasonOf(() => validateParamValue('\u0000'))).toBe('nul');
  });
});

describe('validateExperimentName', () => {
  it('accepts MLflow-style names', () => {
    expect(validateExperimentName('/Users/me@example.com/fraud q3')).toContain('fraud');
    expect(validateExperimentName('e'.repeat(500))).toHaveLength(500);
  });
  it.each([
    ['', 'empty'],
    ['e'.repeat(501), 'too-long'],
    ['a\nb', 'control-character'],
  ])('rejects %j (%s)', (name, reason) => {
    expect(reasonOf(() => validateExperimentName(name))).toBe(reason);
  });
});

describe('validateUserName', () => {
  it.each(['alice', 'ci-bot', 'first.last@example.com', 'svc+deploy', 'u'.repeat(255)])(
    'accepts %s',
    (user) => {
      expect(validateUserName(user)).toBe(user);
    },
  );
  it.each([
    ['', 'empty'],
    ['u'.repeat(256), 'too-long'],
    ['.alice', 'bad-character'],
    ['alice:secret', 'bad-character'],
    ['al ice', 'bad-character'],
  ])('rejects %j (%s)', (user, reason) => {
    expect(reasonOf(() => validateUserName(user))).toBe(reason);
  });
});

describe('validateManifestPath', () => {
  it.each([
    'model.safetensors',
    'weights/layer.0/model.bin',
    '.hidden/..dots.../x',
    'a b/c:d',
    'ü/日本/😀',
    `${'d'.repeat(255)}/x`,
  ])('accepts %s', (p) => {
    expect(validateManifestPath(p)).toBe(p);
  });

  it.each([
    ['', 'empty'],
    ['/etc/passwd', 'absolute'],
    ['a/', 'empty-segment'],
    ['a//b', 'empty-segment'],
    ['..', 'dot-segment'],
    ['a/../../b', 'dot-segment'],
    ['./a', 'dot-segment'],
    ['a\\b', 'backslash'],
    ['..\\x', 'backslash'],
    ['a\u0000b', 'control-character'],
    ['a\nb', 'control-character'],
    ['C:/Windows', 'drive-prefix'],
    ['c:x', 'drive-prefix'],
    ['d'.repeat(256), 'segment-too-long'],
    ['é'.repeat(128), 'segment-too-long'],
    [`${'d/'.repeat(2048)}x`, 'too-long'],
    ['\udc00', 'lone-surrogate'],
  ])('rejects %j (%s)', (p, reason) => {
    expect(reasonOf(() => validateManifestPath(p))).toBe(reason);
  });
});

const validators = [
  validateModelName,
  validateAlias,
  validateTagKey,
  validateTagValue,
  validateMetricKey,
  validateParamKey,
  validateParamValue,
  validateExperimentName,
  validateUserName,
  validateManifestPath,
];

/** Strings biased towards the characters the rules care about. */
const interesting = fc.string({
  unit: fc.oneof(
    fc.constantFrom(
      'a',
      'Z',
      '0',
      '.',
      '..',
      '/',
      '\\',
      '-',
      '_',
      ':',
      ' ',
      '@',
      '\u0000',
      '\n',
      'é',
      '😀',
    ),
    fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
  ),
  maxLength: 40,
});

describe('properties', () => {
  it('validators throw nothing but InvalidArgumentError, and return their input', () => {
    fc.assert(
      fc.property(fc.oneof(interesting, fc.string({ unit: 'binary' }), fc.anything()), (value) => {
        for (const validate of validators) {
          try {
            expect(validate(value)).toBe(value);
          } catch (e) {
            if (!(e instanceof InvalidArgumentError)) throw e;
            expect(e.message).toMatch(/^invalid [a-z ]+/);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('accepted manifest paths never escape the root they are joined to', () => {
    const posixRoot = '/srv/modelvault/checkout';
    const winRoot = 'D:\\modelvault\\checkout';
    fc.assert(
      fc.property(interesting, (p) => {
        let ok = false;
        try {
          validateManifestPath(p);
          ok = true;
        } catch (e) {
          if (!(e instanceof InvalidArgumentError)) throw e;
        }
        if (!ok) return;
        const posix = path.posix.resolve(posixRoot, p);
        expect(posix.startsWith(`${posixRoot}/`)).toBe(true);
        const win = path.win32.resolve(winRoot, p);
        expect(win.startsWith(`${winRoot}\\`)).toBe(true);
        expect(path.posix.relative(posixRoot, posix)).toBe(p);
      }),
      { numRuns: 5000 },
    );
  });

  it('accepted model names are their own normal form as paths', () => {
    fc.assert(
      fc.property(interesting, (name) => {
        try {
          validateModelName(name);
        } catch {
          return;
        }
        expect(path.posix.normalize(name)).toBe(name);
        expect(name).not.toContain('@');
      }),
      { numRuns: 3000 },
    );
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from './errors.js';
import {
  formatModelsUri,
  formatVersionRef,
  MODEL_STAGES,
  parseModelStage,
  parseVersionNumber,
  parseVersionRef,
  type VersionRef,
} from './version-ref.js';

const HEX = 'ab'.repeat(32);

describe('parseVersionRef', () => {
  it.each<[string, object]>([
    ['fraud', { model: 'fraud', kind: 'latest' }],
    ['fraud@latest', { model: 'fraud', kind: 'latest' }],
    ['fraud@LATEST', { model: 'fraud', kind: 'latest' }],
    ['fraud@3', { model: 'fraud', kind: 'number', number: 3 }],
    ['fraud@03', { model: 'fraud', kind: 'number', number: 3 }],
    ['fraud@v12', { model: 'fraud', kind: 'number', number: 12 }],
    ['fraud@V12', { model: 'fraud', kind: 'number', number: 12 }],
    ['fraud@production', { model: 'fraud', kind: 'alias', alias: 'production' }],
    ['fraud@Champion', { model: 'fraud', kind: 'alias', alias: 'Champion' }],
    ['fraud@Production', { model: 'fraud', kind: 'alias', alias: 'Production' }],
    [`fraud@sha256:${HEX}`, { model: 'fraud', kind: 'digest', digest: HEX }],
    [`fraud@sha256:${HEX.toUpperCase()}`, { model: 'fraud', kind: 'digest', digest: HEX }],
    ['team/fraud@7', { model: 'team/fraud', kind: 'number', number: 7 }],
    ['team/fraud', { model: 'team/fraud', kind: 'latest' }],
    ['models:/fraud/3', { model: 'fraud', kind: 'number', number: 3 }],
    ['models:/fraud/latest', { model: 'fraud', kind: 'latest' }],
    ['models:/fraud/Latest', { model: 'fraud', kind: 'latest' }],
    ['models:/fraud/Production', { model: 'fraud', kind: 'stage', stage: 'Production' }],
    ['models:/fraud/staging', { model: 'fraud', kind: 'stage', stage: 'Staging' }],
    ['models:/fraud/ARCHIVED', { model: 'fraud', kind: 'stage', stage: 'Archived' }],
    ['models:/fraud/none', { model: 'fraud', kind: 'stage', stage: 'None' }],
    ['models:/fraud@champion', { model: 'fraud', kind: 'alias', alias: 'champion' }],
    ['models:/team/fraud/3', { model: 'team/fraud', kind: 'number', number: 3 }],
    ['models:/team/fraud@prod', { model: 'team/fraud', kind: 'alias', alias: 'prod' }],
    [
      'models:/org/team/fraud/Staging',
      { model: 'org/team/fraud', kind: 'stage', stage: 'Staging' },
    ],
    ['models:/team/3/1', { model: 'team/3', kind: 'number', number: 1 }],
  ])('%s', (text, expected) => {
    expect(parseVersionRef(text)).toEqual(expected);
  });

  it.each<[string, string, RegExp]>([
    ['', 'model', /expected a model name/],
    ['@3', 'model', /expected a model name/],
    ['fraud@', 'version', /expected a version number, alias or sha256 digest after '@'/],
    ['fraud@0', 'version', /invalid version number '0'/],
    ['fraud@99999999999999999999', 'version', /from 1 to 9007199254740991/],
    ['fraud@v0', 'version', /invalid version number '0'/],
    ['fraud@sha256:abc', 'digest', /expected 64 hex characters/],
    ['fraud@prod@eu', 'alias', /invalid alias 'prod@eu'/],
    ['fraud@-x', 'alias', /invalid alias '-x'/],
    ['a..b@3', 'model', /invalid model name 'a..b'/],
    ['my model@3', 'model', /invalid model name 'my model'/],
    ['models:/fraud', 'version', /expected models:\/NAME\/VERSION/],
    ['models:/', 'version', /expected models:\/NAME\/VERSION/],
    ['models:/fraud/', 'stage', /after the last '\/' but found ''/],
    ['models:/fraud/v3', 'stage', /found 'v3'/],
    ['models:/team/fraud', 'stage', /found 'fraud'/],
    ['models:/fraud@3', 'alias', /invalid alias '3'/],
    ['models:/fraud@latest', 'alias', /invalid alias 'latest'/],
    ['models:/fraud@', 'alias', /expected an alias after '@'/],
    ['models:/@prod', 'model', /expected a model name/],
    ['models://profile@databricks/fraud/1', 'model', /profile or host/],
    ['models:/fraud/3?x=1', 'stage', /found '3\?x=1'/],
  ])('rejects %j', (text, part, message) => {
    try {
      parseVersionRef(text);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InvalidArgumentError);
      const err = e as InvalidArgumentError;
      expect(err.message.startsWith(`invalid version reference '${text}'`)).toBe(true);
      expect(err.message).toMatch(message);
      expect(err.details?.part).toBe(part);
    }
  });

  it('rejects non-strings', () => {
    expect(() => parseVersionRef(3)).toThrow(
      'invalid version reference: expected a string but got a number',
    );
  });
});

describe('formatVersionRef / formatModelsUri', () => {
  it('prints the canonical native form', () => {
    expect(formatVersionRef(parseVersionRef('fraud@v3'))).toBe('fraud@3');
    expect(formatVersionRef(parseVersionRef('fraud@latest'))).toBe('fraud');
    expect(formatVersionRef(parseVersionRef(`t/f@sha256:${HEX}`))).toBe(`t/f@sha256:${HEX}`);
    expect(formatVersionRef(parseVersionRef('models:/t/f/production'))).toBe(
      'models:/t/f/Production',
    );
  });

  it('prints models:/ URIs, except for digests', () => {
    expect(formatModelsUri(parseVersionRef('t/f@3'))).toBe('models:/t/f/3');
    expect(formatModelsUri(parseVersionRef('t/f'))).toBe('models:/t/f/latest');
    expect(formatModelsUri(parseVersionRef('t/f@prod'))).toBe('models:/t/f@prod');
    expect(() => formatModelsUri(parseVersionRef(`f@sha256:${HEX}`))).toThrow(
      /has no models:\/ form/,
    );
  });
});

describe('parseVersionNumber / parseModelStage', () => {
  it('parses version numbers', () => {
    expect(parseVersionNumber('1')).toBe(1);
    expect(parseVersionNumber('9007199254740991')).toBe(9007199254740991);
    for (const bad of ['', '-1', '1.0', ' 1', '1e3', '0x10', '9007199254740992']) {
      expect(() => parseVersionNumber(bad)).toThrow(InvalidArgumentError);
    }
    expect(() => parseVersionNumber(3)).toThrow(InvalidArgumentError);
  });

  it('parses stages case-insensitively', () => {
    expect(parseModelStage('production')).toBe('Production');
    expect(parseModelStage('NONE')).toBe('None');
    expect(() => parseModelStage('prod')).toThrow(
      "invalid stage 'prod': expected one of None, Staging, Production, Archived",
    );
  });
});

const segment = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,8}$/);
const modelName = fc
  .array(segment, { minLength: 1, maxLength: 3 })
  .map((s) => s.join('/'))
  .filter((s) => s.length <= 200);
const alias = fc
  .stringMatching(/^[A-Za-z_][A-Za-z0-9_-]{0,12}$/)
  .filter((a) => !/^(?:latest|[vV]?[0-9]+)$/i.test(a));
const ref: fc.Arbitrary<VersionRef> = fc.oneof(
  modelName.map((model) => ({ model, kind: 'latest' }) as VersionRef),
  fc
    .tuple(modelName, fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }))
    .map(([model, number]) => ({ model, kind: 'number', number }) as VersionRef),
  fc
    .tuple(modelName, alias)
    .map(([model, a]) => ({ model, kind: 'alias', alias: a }) as VersionRef),
  fc
    .tuple(modelName, fc.stringMatching(/^[0-9a-f]{64}$/))
    .map(([model, digest]) => ({ model, kind: 'digest', digest }) as VersionRef),
  fc
    .tuple(modelName, fc.constantFrom(...MODEL_STAGES))
    .map(([model, stage]) => ({ model, kind: 'stage', stage }) as VersionRef),
);

describe('properties', () => {
  it('format then parse is the identity, in both forms', () => {
    fc.assert(
      fc.property(ref, (r) => {
        expect(parseVersionRef(formatVersionRef(r))).toEqual(r);
        if (r.kind !== 'digest') expect(parseVersionRef(formatModelsUri(r))).toEqual(r);
      }),
      { numRuns: 2000 },
    );
  });

  it('random text never throws anything but InvalidArgumentError', () => {
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 60 }),
      fc.string({
        unit: fc.constantFrom(
          'a',
          '3',
          '@',
          '/',
          'models:/',
          'v',
          'sha256:',
          'latest',
          '.',
          ':',
          ' ',
        ),
        maxLength: 20,
      }),
    );
    fc.assert(
      fc.property(text, (t) => {
        try {
          const r = parseVersionRef(t);
          // Whatever parses prints back to something that parses to the same thing.
          expect(parseVersionRef(formatVersionRef(r))).toEqual(r);
        } catch (e) {
          if (!(e instanceof InvalidArgumentError)) throw e;
        }
      }),
      { numRuns: 5000 },
    );
  });
});

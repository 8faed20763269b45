import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../core/errors.js';
import { frozenVersionPath, parseFrozenPath } from './frozen-artifact-view.js';
import { proxyPathOf } from './mlflow-version-service.js';

describe('frozen version paths', () => {
  it('round-trip model names with slashes and sub-paths', () => {
    expect(frozenVersionPath('team/fraud', 3)).toBe('_modelvault/models/team/fraud@3');
    expect(parseFrozenPath('_modelvault/models/team/fraud@3')).toEqual({
      model: 'team/fraud',
      version: 3,
      sub: '',
    });
    expect(parseFrozenPath('_modelvault/models/m@12/data/w.bin')).toEqual({
      model: 'm',
      version: 12,
      sub: 'data/w.bin',
    });
  });

  it('are undefined above a version and reject a bad version number', () => {
    for (const p of ['_modelvault', '_modelvault/models', '_modelvault/models/team', '1/r/a@1']) {
      expect(parseFrozenPath(p)).toBeUndefined();
    }
    for (const p of ['_modelvault/models/m@0', '_modelvault/models/m@x', '_modelvault/models/m@']) {
      expect(() => parseFrozenPath(p)).toThrow(InvalidArgumentError);
    }
  });

  it('proxy URIs with and without an authority name the same path', () => {
    expect(proxyPathOf('mlflow-artifacts:/1/r/artifacts/model')).toBe('1/r/artifacts/model');
    expect(proxyPathOf('mlflow-artifacts://host:5000/1/r/artifacts/')).toBe('1/r/artifacts');
    expect(proxyPathOf('s3://b/k')).toBeUndefined();
  });
});

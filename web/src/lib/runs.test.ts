import { describe, expect, it } from 'vitest';
import {
  artifactDownloadUrl,
  axisFor,
  axisPosition,
  axisTicks,
  baseName,
  DEFAULT_RUNS_PAGE_SIZE,
  keyValueMap,
  MAX_RUNS_PAGE_SIZE,
  metricNumber,
  parentPath,
  parsePageSize,
  parseRunSort,
  type RunLike,
  runKeys,
  runMetrics,
  runOrderBy,
  runSortParam,
  runSource,
  runsCountText,
  toggleRunSort,
} from './runs';

const run = (
  id: string,
  metrics: Record<string, number | string>,
  params: Record<string, string>,
): RunLike => ({
  info: { run_id: id, run_name: id },
  data: {
    metrics: Object.entries(metrics).map(([key, value]) => ({ key, value })),
    params: Object.entries(params).map(([key, value]) => ({ key, value })),
  },
});

describe('runs', () => {
  it('reads MLflow metric values, including the NaN and infinities it writes as strings', () => {
    expect(metricNumber(0.5)).toBe(0.5);
    expect(metricNumber('NaN')).toBeNaN();
    expect(metricNumber('Infinity')).toBe(Number.POSITIVE_INFINITY);
    expect(metricNumber('-Infinity')).toBe(Number.NEGATIVE_INFINITY);
    expect(runMetrics(run('a', { acc: 0.9, loss: 'NaN' }, {}))).toEqual({
      acc: 0.9,
      loss: Number.NaN,
    });
    expect(keyValueMap([{ key: 'lr', value: '0.1' }])).toEqual({ lr: '0.1' });
    expect(keyValueMap(undefined)).toEqual({});
  });

  it('collects the metric and param keys of all runs, sorted', () => {
    const runs = [
      run('a', { loss: 1 }, { lr: '1' }),
      run('b', { acc: 1, loss: 2 }, { depth: '3' }),
    ];
    expect(runKeys(runs)).toEqual({ metrics: ['acc', 'loss'], params: ['depth', 'lr'] });
  });

  it('builds MLflow order_by terms, quoting keys that are not identifiers', () => {
    expect(runOrderBy({ by: { kind: 'attributes', key: 'start_time' }, dir: 'DESC' })).toEqual([
      'attributes.start_time DESC',
    ]);
    expect(runOrderBy({ by: { kind: 'metrics', key: 'val loss' }, dir: 'ASC' })).toEqual([
      'metrics.`val loss` ASC',
      'attributes.start_time DESC',
    ]);
    expect(runOrderBy({ by: { kind: 'params', key: 'lr' }, dir: 'DESC' })[0]).toBe(
      'params.lr DESC',
    );
  });

  it('round-trips sorts through the URL and toggles them', () => {
    const s = parseRunSort('metrics:acc', 'asc');
    expect(s).toEqual({ by: { kind: 'metrics', key: 'acc' }, dir: 'ASC' });
    expect(runSortParam(s)).toEqual({ sort: 'metrics:acc', dir: 'asc' });
    expect(parseRunSort('run_name', null).by).toEqual({ kind: 'attributes', key: 'run_name' });
    expect(parseRunSort('drop table', 'asc').by).toEqual({ kind: 'attributes', key: 'start_time' });
    expect(toggleRunSort(s, s.by).dir).toBe('DESC');
    expect(toggleRunSort(s, { kind: 'params', key: 'lr' })).toEqual({
      by: { kind: 'params', key: 'lr' },
      dir: 'DESC',
    });
  });

  it('makes artifact download URLs under the proxy only, each segment encoded', () => {
    expect(artifactDownloadUrl('mlflow-artifacts:/1/abc/artifacts', 'model/w b.bin')).toBe(
      '/ajax-api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/model/w%20b.bin',
    );
    expect(artifactDownloadUrl('mlflow-artifacts://host:5000/1/abc/artifacts/', 'a#b')).toBe(
      '/ajax-api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/a%23b',
    );
    expect(artifactDownloadUrl('s3://bucket/x', 'a')).toBeNull();
    expect(artifactDownloadUrl('mlflow-artifacts:/', '')).toBeNull();
  });

  it('splits artifact paths and builds runs:/ sources', () => {
    expect(parentPath('a/b/c')).toBe('a/b');
    expect(parentPath('a')).toBe('');
    expect(baseName('a/b/c.txt')).toBe('c.txt');
    expect(runSource('abc', 'model/')).toBe('runs:/abc/model');
    expect(runSource('abc', '')).toBe('runs:/abc');
  });

  it('makes numeric axes for numbers and categorical ones otherwise', () => {
    const lr = axisFor('lr', ['0.1', '0.01', undefined, '1e-3']);
    expect(lr).toEqual({ key: 'lr', kind: 'numeric', min: 0.001, max: 0.1, log: true });
    expect(axisPosition(lr, '0.1')).toBe(1);
    expect(axisPosition(lr, '0.001')).toBe(0);
    expect(axisPosition(lr, '0.01')).toBeCloseTo(0.5); // log scale: evenly spaced decades
    expect(axisPosition(lr, undefined)).toBeNull();
    const depth = axisFor('depth', ['2', '8', '4']);
    expect(depth).toEqual({ key: 'depth', kind: 'numeric', min: 2, max: 8, log: false });
    expect(axisPosition(depth, '4')).toBeCloseTo(1 / 3);
    const cat = axisFor('opt', ['sgd', 'adam', 'sgd']);
    expect(cat).toEqual({ key: 'opt', kind: 'categorical', values: ['adam', 'sgd'] });
    expect(axisPosition(cat, 'adam')).toBe(0);
    expect(axisPosition(cat, 'sgd')).toBe(1);
    expect(axisPosition(cat, 'rmsprop')).toBeNull();
    expect(axisPosition(axisFor('one', ['x']), 'x')).toBe(0.5);
    expect(axisPosition(axisFor('flat', ['2', '2']), '2')).toBe(0.5);
  });

  it('labels axes at their ends or values, thinned to at most max labels', () => {
    expect(axisTicks({ key: 'a', kind: 'numeric', min: 0, max: 0.123456, log: false })).toEqual([
      { label: '0', at: 0 },
      { label: '0.1235', at: 1 },
    ]);
    const many = axisFor(
      'n',
      Array.from({ length: 20 }, (_, i) => `v${i}`),
    );
    expect(axisTicks(many, 5).length).toBeLessThanOrEqual(5);
  });
});

describe('runs paging', () => {
  it('reads a page size from the URL within bounds, else the default', () => {
    expect(parsePageSize(null)).toBe(DEFAULT_RUNS_PAGE_SIZE);
    expect(parsePageSize('50')).toBe(50);
    expect(parsePageSize(' 7 ')).toBe(7);
    expect(parsePageSize(String(MAX_RUNS_PAGE_SIZE))).toBe(MAX_RUNS_PAGE_SIZE);
    for (const bad of ['0', '-5', '1.5', 'abc', '', String(MAX_RUNS_PAGE_SIZE + 1), '1e3']) {
      expect(parsePageSize(bad)).toBe(DEFAULT_RUNS_PAGE_SIZE);
    }
  });

  it('says how many runs are loaded and never guesses a total', () => {
    expect(runsCountText(0, false)).toBe('0 runs');
    expect(runsCountText(1, false)).toBe('1 run');
    expect(runsCountText(250, false)).toBe('250 runs');
    expect(runsCountText(100, true)).toBe('100 runs loaded · more available');
  });
});

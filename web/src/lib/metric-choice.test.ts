import { describe, expect, it } from 'vitest';
import {
  chartsParam,
  chosenMetrics,
  DEFAULT_CHARTS,
  matchMetricKeys,
  toggleMetric,
} from './metric-choice';

const keys = Array.from({ length: 40 }, (_, i) => `metric_${String(i).padStart(2, '0')}`);

describe('chosenMetrics', () => {
  it('charts the first keys in sorted order when the URL does not say', () => {
    const shuffled = [...keys].reverse();
    const { chosen, missing } = chosenMetrics(null, shuffled);
    expect(chosen).toEqual(keys.slice(0, DEFAULT_CHARTS));
    expect(missing).toEqual([]);
    expect(chosenMetrics(null, ['b', 'a'], 12).chosen).toEqual(['a', 'b']);
  });

  it("keeps the URL's order, drops duplicates and empties, and reports keys the run lacks", () => {
    expect(chosenMetrics('metric_37,metric_02,,metric_37,nope', keys)).toEqual({
      chosen: ['metric_37', 'metric_02'],
      missing: ['nope'],
    });
  });

  it('reads an empty choice as none, not as the default', () => {
    expect(chosenMetrics(chartsParam([]), keys)).toEqual({ chosen: [], missing: [] });
    expect(chosenMetrics('', keys)).toEqual({ chosen: [], missing: [] });
  });

  it('round-trips through the URL form, keys with spaces, dots and slashes included', () => {
    const odd = ['val loss', 'eval/acc', 'lr.0', ' edge '];
    expect(chosenMetrics(chartsParam(odd), odd).chosen).toEqual(odd);
  });
});

describe('matchMetricKeys', () => {
  it('matches every typed word, case-insensitively, keeping the order', () => {
    expect(matchMetricKeys(keys, '37')).toEqual(['metric_37']);
    expect(matchMetricKeys(['Eval/Loss', 'train/loss', 'eval/acc'], 'LOSS eval')).toEqual([
      'Eval/Loss',
    ]);
    expect(matchMetricKeys(['b', 'a'], '  ')).toEqual(['b', 'a']);
    expect(matchMetricKeys(keys, 'metric 99')).toEqual([]);
  });
});

describe('toggleMetric', () => {
  it('puts a chosen key first and removes an unchosen one', () => {
    expect(toggleMetric(['a', 'b'], 'c', true)).toEqual(['c', 'a', 'b']);
    expect(toggleMetric(['a', 'b'], 'b', true)).toEqual(['b', 'a']);
    expect(toggleMetric(['a', 'b'], 'a', false)).toEqual(['b']);
    expect(toggleMetric(['a'], 'z', false)).toEqual(['a']);
  });
});

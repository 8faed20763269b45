import { describe, expect, it } from 'vitest';
import {
  formatBytes,
  formatCount,
  formatDelta,
  formatMetric,
  relativeTime,
  shortDigest,
} from './format';

describe('format', () => {
  it('bytes in binary units with three significant figures', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1024)).toBe('1.00 KiB');
    expect(formatBytes(150_000)).toBe('146 KiB');
    expect(formatBytes(1.21 * 1024 ** 3)).toBe('1.21 GiB');
    expect(formatBytes(-1)).toBe('—');
  });

  it('metrics: six significant digits, exponents only for extreme magnitudes', () => {
    expect(formatMetric(0.941234567)).toBe('0.941235');
    expect(formatMetric(3)).toBe('3');
    expect(formatMetric(0)).toBe('0');
    expect(formatMetric(1e-7)).toBe('1.000e-7');
    expect(formatMetric(undefined)).toBe('—');
    expect(formatMetric(Number.NaN)).toBe('NaN');
  });

  it('deltas carry a sign and hide zero', () => {
    expect(formatDelta(0.02)).toBe('+0.02');
    expect(formatDelta(-0.05)).toBe('−0.05');
    expect(formatDelta(0)).toBe('');
    expect(formatDelta(null)).toBe('');
  });

  it('relative times, past and future', () => {
    const now = Date.UTC(2024, 0, 10);
    expect(relativeTime(now - 10_000, now)).toBe('just now');
    expect(relativeTime(now - 50_000, now)).toBe('1 minute ago');
    expect(relativeTime(now - 3 * 3600_000, now)).toBe('3 hours ago');
    expect(relativeTime(now + 2 * 86400_000, now)).toBe('in 2 days');
    expect(relativeTime(now - 40 * 86400_000, now)).toMatch(/^2023-12-0[12] /);
  });

  it('short digests drop the algorithm prefix', () => {
    expect(shortDigest(`sha256:${'ab'.repeat(32)}`)).toBe('abababababab');
    expect(shortDigest('0123456789abcdef')).toBe('0123456789ab');
  });

  it('counts with metric suffixes, rounding into the next unit', () => {
    expect(formatCount(999)).toBe('999');
    expect(formatCount(1500)).toBe('1.5K');
    expect(formatCount(7_241_732_096)).toBe('7.24B');
    expect(formatCount(999_999)).toBe('1M');
    expect(formatCount(null)).toBe('—');
  });
});

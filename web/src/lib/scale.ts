/** Axis arithmetic for the hand-made SVG charts. */

/** Round tick values covering [min, max]: about `count` of them, at 1/2/5 × 10^k steps. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    return niceTicks(min - pad, max + pad, count);
  }
  if (min > max) return niceTicks(max, min, count);
  const raw = (max - min) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const start = Math.floor(min / step) * step;
  const ticks: number[] = [];
  for (let v = start; v <= max + step * 1e-9; v += step) {
    ticks.push(Number(v.toPrecision(12)));
    if (ticks.length > 100) break;
  }
  if (ticks[ticks.length - 1]! < max)
    ticks.push(Number((start + ticks.length * step).toPrecision(12)));
  return ticks;
}

/** Linear map of [d0, d1] onto [r0, r1]; a zero-width domain maps to the range's middle. */
export function linear(d0: number, d1: number, r0: number, r1: number): (v: number) => number {
  if (d0 === d1) return () => (r0 + r1) / 2;
  return (v) => r0 + ((v - d0) / (d1 - d0)) * (r1 - r0);
}

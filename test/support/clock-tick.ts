/**
 * Waits until the clock has moved past this millisecond. GC with no grace period collects
 * only what is strictly older than its start: a manifest stored in the same millisecond
 * as a collection begins is (rightly) kept, so a test that expects it collected must let
 * the clock tick first (on a fast machine the two can share a millisecond).
 */
export async function clockTick(): Promise<void> {
  const start = Date.now();
  while (Date.now() === start) await new Promise((resolve) => setTimeout(resolve, 1));
}

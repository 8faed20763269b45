/**
 * A `run_metric_segments` row as tests compare it on either dialect: its counters and
 * bounds as numbers (PostgreSQL's int8 columns come back as strings), its packed points
 * as a Buffer. The run's key is left out: callers add it when they read several runs.
 */
export interface ComparableSegment {
  readonly key: string;
  readonly fold: number;
  readonly n: number;
  readonly first_step: number;
  readonly first_timestamp: number;
  readonly last_step: number;
  readonly last_timestamp: number;
  readonly points: Buffer;
}

export function comparableSegment(r: Record<string, unknown>): ComparableSegment {
  return {
    key: r.key as string,
    fold: Number(r.fold),
    n: Number(r.n),
    first_step: Number(r.first_step),
    first_timestamp: Number(r.first_timestamp),
    last_step: Number(r.last_step),
    last_timestamp: Number(r.last_timestamp),
    points: Buffer.from(r.points as Uint8Array),
  };
}

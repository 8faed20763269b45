/**
 * Counts failed sign-ins per key (a user name, a client address) in fixed windows and
 * blocks a key that failed too often until its window ends. In memory, per server process:
 * replicas each count on their own, and a restart forgets (documented in docs/security.md).
 */
export interface FailureLimiterOptions {
  readonly maxFailures: number;
  readonly windowMs: number;
  /** Default Date.now. */
  readonly now?: () => number;
}

const MAX_KEYS = 100_000;

export class FailureLimiter {
  private readonly failures = new Map<string, { count: number; since: number }>();
  private readonly now: () => number;

  constructor(private readonly options: FailureLimiterOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Seconds until `key` may try again; 0 when it may now. */
  blockedFor(key: string): number {
    const entry = this.failures.get(key);
    if (!entry) return 0;
    const elapsed = this.now() - entry.since;
    if (elapsed >= this.options.windowMs) {
      this.failures.delete(key);
      return 0;
    }
    return entry.count >= this.options.maxFailures
      ? Math.ceil((this.options.windowMs - elapsed) / 1000)
      : 0;
  }

  fail(key: string): void {
    const now = this.now();
    const entry = this.failures.get(key);
    if (entry && now - entry.since < this.options.windowMs) {
      entry.count++;
      return;
    }
    if (this.failures.size >= MAX_KEYS) this.sweep(now);
    this.failures.set(key, { count: 1, since: now });
  }

  reset(key: string): void {
    this.failures.delete(key);
  }

  private sweep(now: number): void {
    for (const [k, e] of this.failures) {
      if (now - e.since >= this.options.windowMs) this.failures.delete(k);
    }
    if (this.failures.size >= MAX_KEYS) this.failures.clear();
  }
}

/**
 * Admits at most `limit` holders at once; the others wait in arrival order, each for at
 * most `maxWaitMs`, and are then refused with ModelvaultError UNAVAILABLE (HTTP 503) whose
 * details carry `retryAfterSeconds` (sent as Retry-After, honoured by the SDK). Used to
 * bound how much work of one kind a server does at once — and so the memory that work
 * holds — whatever the number of clients: a waiting request has not had its body read,
 * so it holds no more than its socket's buffers (TCP pushes back on its sender).
 */
import { InvalidArgumentError, ModelvaultError } from './errors.js';

export interface AdmissionGateOptions {
  /** Holders admitted at once (>= 1). */
  readonly limit: number;
  /** How long a caller may wait for a place (>= 0; 0 refuses at once when full). */
  readonly maxWaitMs: number;
  /** Names the work in the refusal message, e.g. 'chunk batches'. */
  readonly what: string;
}

interface Waiter {
  readonly admit: () => void;
  timer: NodeJS.Timeout | undefined;
}

export class AdmissionGate {
  readonly limit: number;
  private readonly maxWaitMs: number;
  private readonly what: string;
  private held = 0;
  private readonly queue: Waiter[] = [];

  constructor(options: AdmissionGateOptions) {
    if (!Number.isInteger(options.limit) || options.limit < 1) {
      throw new InvalidArgumentError(`${options.what}: limit ${options.limit} must be >= 1`);
    }
    if (!Number.isFinite(options.maxWaitMs) || options.maxWaitMs < 0) {
      throw new InvalidArgumentError(`${options.what}: wait ${options.maxWaitMs} must be >= 0`);
    }
    this.limit = options.limit;
    this.maxWaitMs = options.maxWaitMs;
    this.what = options.what;
  }

  /** Holders admitted now. */
  get active(): number {
    return this.held;
  }

  /** Callers waiting for a place. */
  get waiting(): number {
    return this.queue.length;
  }

  /**
   * Resolves with a release function (call it exactly once; later calls do nothing) once
   * admitted.
   * @throws ModelvaultError UNAVAILABLE when no place frees up within `maxWaitMs`.
   */
  async enter(): Promise<() => void> {
    if (this.held < this.limit) {
      this.held++;
      return this.releaser();
    }
    if (this.maxWaitMs === 0) throw this.refusal();
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { admit: resolve, timer: undefined };
      waiter.timer = setTimeout(() => {
        const at = this.queue.indexOf(waiter);
        if (at >= 0) this.queue.splice(at, 1);
        reject(this.refusal());
      }, this.maxWaitMs);
      this.queue.push(waiter);
    });
    return this.releaser();
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.queue.shift();
      if (next) {
        // The place passes straight to the next waiter: `held` does not change.
        clearTimeout(next.timer);
        next.admit();
      } else {
        this.held--;
      }
    };
  }

  private refusal(): ModelvaultError {
    return new ModelvaultError(
      'UNAVAILABLE',
      `the server is busy: ${this.limit} ${this.what} are being received; retry shortly`,
      { retryAfterSeconds: 1, limit: this.limit },
    );
  }
}

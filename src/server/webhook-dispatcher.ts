/**
 * Sends webhook deliveries from the server: every `intervalMs` (and right after start),
 * turns new audit events into deliveries (WebhookService.derive), claims the due ones and
 * sends them, a few at a time, recording each outcome and retrying with exponential
 * backoff (registry/webhook-service.ts). Replicas may all run one: claims are leased in
 * the database. A round never overlaps the previous one; stop() waits for the running
 * round, so a graceful shutdown does not cut a recording short.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { RetryPolicy, WebhookService } from '../registry/webhook-service.js';

export interface WebhookDispatchOptions extends RetryPolicy {
  /** How often to look for work. Default 1 s. */
  readonly intervalMs?: number;
  /** Deliveries sent at once. Default 4. */
  readonly concurrency?: number;
}

export class WebhookDispatcher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly service: WebhookService,
    private readonly log: FastifyBaseLogger,
    private readonly options: WebhookDispatchOptions = {},
  ) {}

  start(): void {
    const every = this.options.intervalMs ?? 1000;
    this.timer = setInterval(() => void this.tick(), every);
    this.timer.unref();
    void this.tick();
  }

  /** One round: derive everything new, then send what is due. Resolves when done. */
  async runOnce(): Promise<void> {
    while ((await this.service.derive()) > 0) {
      if (this.stopped) return;
    }
    const concurrency = this.options.concurrency ?? 4;
    for (;;) {
      if (this.stopped) return;
      const batch = await this.service.claim(concurrency);
      if (batch.length === 0) return;
      await Promise.all(batch.map((d) => this.service.attempt(d, this.options)));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  private async tick(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = this.runOnce()
      .catch((e) => this.log.warn({ err: e }, 'webhook dispatch failed'))
      .finally(() => {
        this.running = undefined;
      });
    await this.running;
  }
}

/**
 * The server's Prometheus metrics, rendered in the text exposition format (version 0.0.4)
 * at `GET /metrics`. Hand-written: counters and histograms with labels are all we need.
 * Label values are route templates (`/api/v1/models/:name`), never raw URLs, so the number
 * of series stays bounded whatever clients request.
 */

type Labels = Readonly<Record<string, string>>;

function labelKey(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}="${escapeLabel(labels[k]!)}"`)
    .join(',');
}

/** Characters a label value must escape; most values (methods, route templates) have none. */
const NEEDS_ESCAPE = /[\\\n"]/;

function escapeLabel(v: string): string {
  if (!NEEDS_ESCAPE.test(v)) return v; // every request labels 3–4 series: skip 3 replaces
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Number.POSITIVE_INFINITY) return '+Inf';
  if (n === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(n);
}

interface Metric {
  render(): string;
}

export class Counter implements Metric {
  private readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) return;
    const k = labelKey(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }

  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.values.size === 0) lines.push(`${this.name} 0`);
    for (const [k, v] of this.values) {
      lines.push(`${this.name}${k ? `{${k}}` : ''} ${formatNumber(v)}`);
    }
    return lines.join('\n');
  }
}

export class Gauge implements Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => number,
  ) {}

  render(): string {
    return [
      `# HELP ${this.name} ${this.help}`,
      `# TYPE ${this.name} gauge`,
      `${this.name} ${formatNumber(this.read())}`,
    ].join('\n');
  }
}

export class Histogram implements Metric {
  private readonly series = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {}

  observe(labels: Labels, value: number): void {
    const k = labelKey(labels);
    let s = this.series.get(k);
    if (!s) {
      s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(k, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [k, s] of this.series) {
      const sep = k ? ',' : '';
      this.buckets.forEach((b, i) => {
        lines.push(`${this.name}_bucket{${k}${sep}le="${formatNumber(b)}"} ${s.counts[i]}`);
      });
      lines.push(`${this.name}_bucket{${k}${sep}le="+Inf"} ${s.count}`);
      lines.push(`${this.name}_sum${k ? `{${k}}` : ''} ${formatNumber(s.sum)}`);
      lines.push(`${this.name}_count${k ? `{${k}}` : ''} ${s.count}`);
    }
    return lines.join('\n');
  }
}

/**
 * The process's memory, from one `process.memoryUsage()` per scrape: resident set size and
 * V8's heap, plus `external` and `arrayBuffers` (Buffers live there, outside the heap).
 * Comparing them tells retained objects (heap, external grow) from memory the allocator
 * keeps after it was freed (only the resident size stays up).
 */
class MemoryGauges implements Metric {
  render(): string {
    const m = process.memoryUsage();
    const gauges: [string, string, number][] = [
      [
        'modelvault_process_resident_memory_bytes',
        'Resident set size of the server process.',
        m.rss,
      ],
      ['modelvault_nodejs_heap_total_bytes', 'V8 heap size reserved.', m.heapTotal],
      ['modelvault_nodejs_heap_used_bytes', 'V8 heap in use.', m.heapUsed],
      [
        'modelvault_nodejs_external_memory_bytes',
        'Memory of C++ objects bound to JavaScript objects, Buffers included.',
        m.external,
      ],
      [
        'modelvault_nodejs_array_buffers_bytes',
        'Memory of ArrayBuffers, SharedArrayBuffers and Buffers.',
        m.arrayBuffers,
      ],
    ];
    return gauges
      .map(([name, help, v]) =>
        [`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${formatNumber(v)}`].join('\n'),
      )
      .join('\n');
  }
}

/** Every metric the server exports. */
export class ServerMetrics {
  readonly requests = new Counter(
    'modelvault_http_requests_total',
    'HTTP requests completed, by method, route template and status code.',
  );
  readonly duration = new Histogram(
    'modelvault_http_request_duration_seconds',
    'Time from request start to response end, by method and route template.',
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  );
  readonly bytesIn = new Counter(
    'modelvault_http_request_bytes_total',
    'Request body bytes received, by route template.',
  );
  readonly bytesOut = new Counter(
    'modelvault_http_response_bytes_total',
    'Response body bytes sent, by route template.',
  );
  readonly chunksReceived = new Counter(
    'modelvault_upload_chunks_received_total',
    'Chunks received in upload batches and verified.',
  );
  readonly chunksStored = new Counter(
    'modelvault_upload_chunks_stored_total',
    'Uploaded chunks written to packs (not already stored).',
  );
  readonly chunksDeduplicated = new Counter(
    'modelvault_upload_chunks_deduplicated_total',
    'Chunks declared by new upload sessions that the server already had (never sent).',
  );
  readonly bytesDeduplicated = new Counter(
    'modelvault_upload_bytes_deduplicated_total',
    'Bytes of model files declared by new upload sessions that the server already had.',
  );
  readonly commits = new Counter(
    'modelvault_upload_commits_total',
    'Commit requests answered with a committed version (repeats included).',
  );
  private readonly all: Metric[];

  /** `extra`: gauges of other owners' state (e.g. upload batches in flight). */
  constructor(extra: readonly Gauge[] = []) {
    const started = Date.now();
    this.all = [
      this.requests,
      this.duration,
      this.bytesIn,
      this.bytesOut,
      this.chunksReceived,
      this.chunksStored,
      this.chunksDeduplicated,
      this.bytesDeduplicated,
      this.commits,
      new Gauge('modelvault_uptime_seconds', 'Seconds since the server started.', () =>
        Math.floor((Date.now() - started) / 1000),
      ),
      new MemoryGauges(),
      ...extra,
    ];
  }

  render(): string {
    return `${this.all.map((m) => m.render()).join('\n')}\n`;
  }
}

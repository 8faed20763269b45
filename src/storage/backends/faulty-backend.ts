/**
 * A decorator that makes chosen operations of another backend fail, for reliability tests:
 * "the disk filled up on the third pack", "the acknowledgement of this put was lost", "the
 * connection dropped halfway through a download". Without rules it is transparent (it
 * passes the conformance suite).
 */
import type { BackendCapabilities, ObjectBackend, ObjectInfo } from './object-backend.js';

export type BackendOp = 'getRange' | 'getStream' | 'stat' | 'put' | 'putFile' | 'delete' | 'list';

export interface FaultRule {
  /** Operations the rule applies to; `'*'` for all. */
  readonly ops: BackendOp | readonly BackendOp[] | '*';
  /** Only calls whose key (the prefix, for `list`) satisfies this. Default: every call. */
  readonly key?: (key: string) => boolean;
  /** Let this many matching calls through before the first failure. Default 0. */
  readonly after?: number;
  /** Fail this many matching calls, then let them through again. Default: no limit. */
  readonly times?: number;
  /** What the failing call throws; a function builds a fresh error per failure. */
  readonly error: Error | ((op: BackendOp, key: string) => Error);
  /**
   * `'before'` (default): the call fails without reaching the inner backend.
   * `'after'`: the inner call runs to completion (a put is stored, a delete done) and then
   * the error is thrown, as when an acknowledgement is lost. For `getStream` and `list`,
   * the iteration fails after delivering its first piece (or at its end if it has none), as
   * when a connection drops mid-transfer.
   */
  readonly when?: 'before' | 'after';
}

/** A rule in force. Counters include every call the rule matched, failed or not. */
export interface Fault {
  readonly rule: FaultRule;
  /** Matching calls seen so far. */
  readonly matched: number;
  /** Calls this rule made fail so far. */
  readonly failures: number;
  /** Stops injecting this fault. Idempotent. */
  remove(): void;
}

interface ActiveFault extends Fault {
  matched: number;
  failures: number;
}

const ALL_OPS: readonly BackendOp[] = [
  'getRange',
  'getStream',
  'stat',
  'put',
  'putFile',
  'delete',
  'list',
];

export class FaultyBackend implements ObjectBackend {
  readonly location: string;
  readonly capabilities: BackendCapabilities;
  private readonly faults: ActiveFault[] = [];
  private readonly callCounts = new Map<BackendOp, number>();

  constructor(readonly inner: ObjectBackend) {
    this.location = `faulty+${inner.location}`;
    this.capabilities = inner.capabilities;
  }

  /**
   * Adds a rule. Rules are checked in the order they were added; every matching rule counts
   * the call, and the first one due to fire makes it fail.
   */
  inject(rule: FaultRule): Fault {
    const faults = this.faults;
    const fault: ActiveFault = {
      rule,
      matched: 0,
      failures: 0,
      remove() {
        const i = faults.indexOf(fault);
        if (i >= 0) faults.splice(i, 1);
      },
    };
    faults.push(fault);
    return fault;
  }

  /** Removes every rule. */
  clear(): void {
    this.faults.length = 0;
  }

  /** Calls made through this decorator, for one operation or in total. */
  calls(op?: BackendOp): number {
    if (op) return this.callCounts.get(op) ?? 0;
    let n = 0;
    for (const c of this.callCounts.values()) n += c;
    return n;
  }

  async getRange(
    key: string,
    offset: number,
    length: number,
    into?: Uint8Array,
  ): Promise<Uint8Array> {
    return this.run('getRange', key, () => this.inner.getRange(key, offset, length, into));
  }

  async getStream(key: string): Promise<AsyncIterable<Uint8Array>> {
    const fault = this.decide('getStream', key);
    if (fault?.when === 'before') throw fault.error;
    const stream = await this.inner.getStream(key);
    return fault ? failAfterFirst(stream, fault.error) : stream;
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    return this.run('stat', key, () => this.inner.stat(key));
  }

  async put(key: string, data: Uint8Array): Promise<void> {
    return this.run('put', key, () => this.inner.put(key, data));
  }

  async putFile(key: string, path: string): Promise<void> {
    return this.run('putFile', key, () => this.inner.putFile(key, path));
  }

  async delete(key: string): Promise<void> {
    return this.run('delete', key, () => this.inner.delete(key));
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const fault = this.decide('list', prefix);
    if (fault?.when === 'before') throw fault.error;
    const items = this.inner.list(prefix);
    yield* fault ? failAfterFirst(items, fault.error) : items;
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private async run<T>(op: BackendOp, key: string, call: () => Promise<T>): Promise<T> {
    const fault = this.decide(op, key);
    if (fault?.when === 'before') throw fault.error;
    const result = await call();
    if (fault) throw fault.error;
    return result;
  }

  /** Counts the call and returns the failure to inject, if any. */
  private decide(
    op: BackendOp,
    key: string,
  ): { error: Error; when: 'before' | 'after' } | undefined {
    this.callCounts.set(op, (this.callCounts.get(op) ?? 0) + 1);
    let firing: { error: Error; when: 'before' | 'after' } | undefined;
    for (const f of [...this.faults]) {
      const { rule } = f;
      const ops = rule.ops === '*' ? ALL_OPS : typeof rule.ops === 'string' ? [rule.ops] : rule.ops;
      if (!ops.includes(op) || (rule.key && !rule.key(key))) continue;
      f.matched++;
      if (firing) continue;
      const due = f.matched > (rule.after ?? 0) && f.failures < (rule.times ?? Infinity);
      if (!due) continue;
      f.failures++;
      const error = typeof rule.error === 'function' ? rule.error(op, key) : rule.error;
      firing = { error, when: rule.when ?? 'before' };
    }
    return firing;
  }
}

async function* failAfterFirst<T>(items: AsyncIterable<T>, error: Error): AsyncIterable<T> {
  for await (const item of items) {
    yield item;
    break; // ends (and so closes) the inner iteration
  }
  throw error;
}

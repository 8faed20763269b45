/**
 * Copying chunk-sized, arbitrarily placed ranges out of a SharedArrayBuffer (what ingest
 * does from its shared read blocks into a pack buffer): `TypedArray.prototype.set`, which
 * V8 runs a byte at a time when source and destination are misaligned to each other,
 * against `copyFromShared` (src/core/shared-copy.ts). CPU time, best of 3, one thread.
 *
 *   node --import tsx bench/shared-copy.ts
 */
import { randomFillSync } from 'node:crypto';
import { copyFromShared } from '../src/core/shared-copy.js';

const N = 4 << 20;
const shared = new Uint8Array(new SharedArrayBuffer(N));
randomFillSync(shared);
const target = Buffer.allocUnsafeSlow(1 << 20);
/** 64 chunk lengths between 16 KiB and ~216 KiB, as FastCDC makes them. */
const lengths = Array.from({ length: 64 }, (_, i) => 16384 + ((i * 7919 * 13) % 200000));
const cpuMs = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};

const ways: [string, (src: Uint8Array, at: number) => void][] = [
  ['TypedArray.set', (src, at) => target.set(src, at)],
  ['copyFromShared', (src, at) => copyFromShared(target, at, src)],
];
for (let round = 0; round < 2; round++) {
  for (const [name, copy] of ways) {
    let best = 0;
    for (let pass = 0; pass < 3; pass++) {
      const t0 = cpuMs();
      let bytes = 0;
      for (let r = 0; r < 30; r++) {
        let from = r;
        let at = r * 3;
        for (const n of lengths) {
          if (from + n > N) from = r;
          if (at + n > target.length) at = (at * 5) & 7;
          copy(shared.subarray(from, from + n), at);
          from += n;
          at += n;
          bytes += n;
        }
      }
      best = Math.max(best, bytes / (cpuMs() - t0) / 1e3);
    }
    console.log(`${name.padEnd(16)} ${best.toFixed(0)} MB/s`);
  }
}

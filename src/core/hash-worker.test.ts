import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const MODULE = fileURLToPath(new URL('./hash-worker.ts', import.meta.url));

/**
 * Runs `body` as an ES module in a fresh node process (with tsx), where HashWorker is in
 * scope and `print` writes a line to stdout. Resolves the exit code and stdout.
 */
async function runChild(body: string): Promise<{ code: number; stdout: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'mv-hash-worker-'));
  const script = join(dir, 'child.mts');
  await writeFile(
    script,
    `import { HashWorker } from ${JSON.stringify(MODULE)};\nconst print = (s: string) => process.stdout.write(s + '\\n');\n${body}`,
  );
  try {
    return await new Promise((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', script],
        { timeout: 60_000 },
        (error, stdout) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout }),
      );
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('HashWorker keeps the process alive exactly while it works', () => {
  it('a pending hash holds the process open, and an idle worker lets it exit', async () => {
    // Nothing but the worker's reply is pending while the digest is computed: a worker
    // that did not hold the process would end it with exit code 13 (unsettled await).
    // Afterwards the worker is idle and never closed: the process must still exit.
    const { code, stdout } = await runChild(`
      const w = new HashWorker();
      const lease = await w.acquire();
      const buf = new SharedArrayBuffer(3 * 1024 * 1024);
      new Uint8Array(buf).fill(7);
      await lease.block(buf, buf.byteLength);
      print(await lease.end());
      await lease.release();
    `);
    expect(code).toBe(0);
    expect(stdout.trim()).toBe(
      createHash('sha256')
        .update(new Uint8Array(3 * 1024 * 1024).fill(7))
        .digest('hex'),
    );
  });
});

describe('HashWorker ranges', () => {
  it('hashes keyed ranges across blocks, with a prefix, apart from the whole-stream digest', async () => {
    const { HashWorker } = await import('./hash-worker.js');
    const w = new HashWorker();
    try {
      const lease = await w.acquire();
      const data = new Uint8Array(10_000).map((_, i) => (i * 31) & 0xff);
      const prefix = new TextEncoder().encode('p\n');
      const buf = new SharedArrayBuffer(4096);
      const digests: { key: number; digest: string }[] = [];
      // Pieces [100, 5000) as key 1 and [5000, 9000) as key 2, fed in 4096-byte blocks.
      for (let pos = 0; pos < data.length; pos += 4096) {
        const view = data.subarray(pos, pos + 4096);
        new Uint8Array(buf).set(view);
        const ranges = [];
        for (const [key, a, b] of [
          [1, 100, 5000],
          [2, 5000, 9000],
        ] as const) {
          const end = pos + view.length;
          if (b <= pos || a >= end) continue;
          ranges.push({
            key,
            from: Math.max(a, pos) - pos,
            to: Math.min(b, end) - pos,
            prefix: a >= pos ? prefix : undefined,
            last: b <= end,
          });
        }
        await lease.block(buf, view.length);
        digests.push(...(await lease.ranges(buf, ranges)));
      }
      const sha = (...parts: Uint8Array[]) => {
        const h = createHash('sha256');
        for (const p of parts) h.update(p);
        return h.digest('hex');
      };
      expect(digests).toEqual([
        { key: 1, digest: sha(prefix, data.subarray(100, 5000)) },
        { key: 2, digest: sha(prefix, data.subarray(5000, 9000)) },
      ]);
      expect(await lease.end()).toBe(sha(data));
      await lease.release();
    } finally {
      await w.close();
    }
  });
});

describe('HashWorker block sinks', () => {
  it('writes each block at its position in slices cut at multiples of the slice, and reports a failed write', async () => {
    const { HashWorker } = await import('./hash-worker.js');
    const { open, readFile } = await import('node:fs/promises');
    const dir = await mkdtemp(join(tmpdir(), 'mv-hash-sink-'));
    const w = new HashWorker();
    try {
      const data = new Uint8Array(10_000).map((_, i) => (i * 37 + 11) & 0xff);
      const path = join(dir, 'out.bin');
      const fh = await open(path, 'w');
      const lease = await w.acquire();
      const buf = new SharedArrayBuffer(4096);
      // Blocks of 1, 999, 4096, 4096 and the rest: their starts fall before, on and
      // after multiples of the 1000-byte slice.
      const cuts = [0, 1, 1000, 5096, 9192, data.length];
      for (let c = 0; c + 1 < cuts.length; c++) {
        const view = data.subarray(cuts[c]!, cuts[c + 1]!);
        new Uint8Array(buf).set(view);
        await lease.block(buf, view.length, { fd: fh.fd, position: cuts[c]!, slice: 1000 });
      }
      expect(await lease.end()).toBe(createHash('sha256').update(data).digest('hex'));
      await fh.close();
      expect(Buffer.from(await readFile(path)).equals(Buffer.from(data))).toBe(true);

      // A descriptor open for reading only: the write fails with the system's error.
      const ro = await open(path, 'r');
      const err = await lease
        .block(buf, 10, { fd: ro.fd, position: 0, slice: 1000 })
        .catch((e: unknown) => e);
      await ro.close();
      expect(err).toBeInstanceOf(Error);
      expect((err as { code?: string }).code).toBe('EBADF');
      expect((err as { syscall?: string }).syscall).toBe('write');
      await lease.release();
    } finally {
      await w.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

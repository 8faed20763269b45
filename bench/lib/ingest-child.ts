/**
 * Child process for `bench/storage.ts --big`: ingests one version directory into a fresh
 * Modelvault store and prints one JSON line with the time and this process's peak RSS
 * (getrusage maxRSS and /proc/self/status VmHWM). With `--noop` it only opens the store,
 * giving the floor (Node + tsx + the store's modules) that the peak should be read against.
 *
 *   node --import tsx bench/lib/ingest-child.ts --store DIR --version DIR [--noop]
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ModelvaultAdapter } from './modelvault-adapter.js';

async function vmHwmBytes(): Promise<number | undefined> {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(await readFile('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      store: { type: 'string' },
      version: { type: 'string' },
      noop: { type: 'boolean', default: false },
    },
  });
  if (!values.store || !values.version)
    throw new Error('usage: --store DIR --version DIR [--noop]');
  const adapter = new ModelvaultAdapter();
  await adapter.init(values.store);
  let seconds = 0;
  let detail: unknown;
  if (!values.noop) {
    const r = await adapter.ingestVersion({ label: 'big', dir: values.version });
    seconds = r.seconds;
    detail = r.detail;
  }
  await adapter.close();
  const out = {
    seconds,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    vmHwmBytes: await vmHwmBytes(),
    detail,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

/**
 * Modelvault's storage engine as a StoreUnderTest: `openStore(root)` from
 * src/storage/store.ts, one `ingestTree` per version, `materialize` by manifest digest.
 *
 * src/storage/store.ts is being written in parallel with this harness. Until it exists the
 * module is loaded with a computed specifier, so this file typechecks and `--peers-only`
 * runs without it. Once it lands, replace `loadStoreModule` with
 *   import { openStore } from '../../src/storage/store.js';
 * and let the compiler check the call below against the real signature.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Sha256Hex } from '../../src/core/digest.js';
import type { ContentStore } from '../../src/storage/content-store.js';
import type { StoreUnderTest, TimedResult, VersionInput } from './store-under-test.js';
import { directorySize, nowSeconds } from './util.js';

/** What the harness expects src/storage/store.ts to export. */
export interface StoreModule {
  openStore(rootDir: string): Promise<ContentStore> | ContentStore;
}

const STORE_MODULE = '../../src/storage/store.js';

/** Whether src/storage/store.ts exists (tsx resolves the `.js` specifier to the `.ts` file). */
export function modelvaultAvailable(): boolean {
  return existsSync(fileURLToPath(new URL('../../src/storage/store.ts', import.meta.url)));
}

async function loadStoreModule(): Promise<StoreModule> {
  const specifier: string = STORE_MODULE;
  const mod = (await import(specifier)) as Partial<StoreModule>;
  if (typeof mod.openStore !== 'function') {
    throw new Error(`${STORE_MODULE} does not export openStore(rootDir)`);
  }
  return mod as StoreModule;
}

export class ModelvaultAdapter implements StoreUnderTest {
  readonly name = 'modelvault';
  readonly description = 'Modelvault ContentStore (openStore, ingestTree per version)';
  private root = '';
  private store: ContentStore | undefined;
  private readonly digests = new Map<string, Sha256Hex>();

  async init(dir: string): Promise<void> {
    this.root = dir;
    const { openStore } = await loadStoreModule();
    this.store = await openStore(dir);
  }

  private get opened(): ContentStore {
    if (!this.store) throw new Error('modelvault adapter: init() was not called');
    return this.store;
  }

  async ingestVersion(v: VersionInput): Promise<TimedResult> {
    const cpu0 = process.cpuUsage();
    const t0 = nowSeconds();
    const { manifest, stats } = await this.opened.ingestTree(v.dir);
    const seconds = nowSeconds() - t0;
    const cpu = process.cpuUsage(cpu0);
    this.digests.set(v.label, manifest.digest);
    return {
      seconds,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      // No maxRssBytes: in-process it would be the harness's peak; --big measures a child.
      detail: { ...stats, digest: manifest.digest },
    };
  }

  async materialize(label: string, destDir: string): Promise<TimedResult> {
    const digest = this.digests.get(label);
    if (!digest) throw new Error(`modelvault adapter: version ${label} was not ingested`);
    const cpu0 = process.cpuUsage();
    const t0 = nowSeconds();
    await this.opened.materialize(digest, destDir);
    const cpu = process.cpuUsage(cpu0);
    return { seconds: nowSeconds() - t0, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
  }

  /** Everything under the store's root: packs, index database, manifests. */
  async storedBytes(): Promise<number> {
    return (await directorySize(this.root)).apparentBytes;
  }

  async close(): Promise<void> {
    await this.store?.close();
    this.store = undefined;
  }
}

/**
 * Modelvault's storage engine as a StoreUnderTest: an embedded store directory
 * (openStoreDirectory), one `ingestTree` per version, `materialize` by manifest digest.
 */
import type { Sha256Hex } from '../../src/core/digest.js';
import { openStoreDirectory, type StoreDirectory } from '../../src/registry/store-directory.js';
import type { ContentStore } from '../../src/storage/content-store.js';
import type { StoreUnderTest, TimedResult, VersionInput } from './store-under-test.js';
import { directorySize, nowSeconds } from './util.js';

/** Always available: the engine is part of this repository. */
export function modelvaultAvailable(): boolean {
  return true;
}

export class ModelvaultAdapter implements StoreUnderTest {
  readonly name = 'modelvault';
  readonly description = 'Modelvault embedded store (openStoreDirectory, ingestTree per version)';
  private root = '';
  private store: ContentStore | undefined;
  private directory: StoreDirectory | undefined;
  private readonly digests = new Map<string, Sha256Hex>();

  async init(dir: string): Promise<void> {
    this.root = dir;
    this.directory = await openStoreDirectory(dir, { create: true });
    this.store = this.directory.store;
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
    await this.directory?.close();
    this.directory = undefined;
    this.store = undefined;
  }
}

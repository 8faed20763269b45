/**
 * A LocalRegistry over a real SQLite file in a fresh temp directory, with a fake clock
 * (starts at 2024-01-01, +1 ms per reading) so timestamps are distinct and ordered.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ManifestSummary } from '../../src/core/registry-api.js';
import type { ManifestEntriesReader } from '../../src/registry/diff-service.js';
import { type LocalRegistry, openLocalRegistry } from '../../src/registry/local-registry.js';

export interface FakeClock {
  (): number;
  set(ms: number): void;
}

export function fakeClock(start = Date.UTC(2024, 0, 1)): FakeClock {
  let t = start;
  const clock = (() => t++) as FakeClock;
  clock.set = (ms: number) => {
    t = ms;
  };
  return clock;
}

export interface TempRegistry {
  readonly registry: LocalRegistry;
  readonly dir: string;
  readonly path: string;
  readonly clock: FakeClock;
  cleanup(): Promise<void>;
}

export async function openTempRegistry(
  options: { manifests?: ManifestEntriesReader; defaultActor?: string } = {},
): Promise<TempRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'mv-registry-'));
  const path = join(dir, 'registry.db');
  const clock = fakeClock();
  const registry = await openLocalRegistry({
    path,
    clock,
    defaultActor: options.defaultActor ?? 'alice',
    ...(options.manifests ? { manifests: options.manifests } : {}),
  });
  return {
    registry,
    dir,
    path,
    clock,
    cleanup: async () => {
      await registry.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A deterministic fake SHA-256 hex for `label`. */
export function fakeDigest(label: string): string {
  return createHash('sha256').update(label).digest('hex');
}

export function manifest(label: string, size = 100, fileCount = 1): ManifestSummary {
  return { digest: fakeDigest(label), size, fileCount };
}

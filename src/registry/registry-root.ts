/**
 * Whether a directory is a registry, answered without loading the storage engine or the
 * database (the CLI asks while it looks for one, and should start fast).
 */
import { readFile } from 'node:fs/promises';
import { storeConfigPath } from '../storage/store-layout.js';

/** True when `root` holds a registry (its store config exists and is readable). */
export async function isRegistryDirectory(root: string): Promise<boolean> {
  return readFile(storeConfigPath(root)).then(
    () => true,
    () => false,
  );
}

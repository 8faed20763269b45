/**
 * A version's model card is the README.md at the root of its files (`README.md`, or the
 * only root file named so in another case), read back from the store after ingest so the
 * card is exactly the stored bytes. Cards that are not UTF-8 text, contain NUL or exceed
 * MAX_MODEL_CARD_BYTES are not kept on the version (the file itself always is).
 */
import type { Sha256Hex } from '../core/digest.js';
import type { ContentStore, ManifestEntry } from '../storage/content-store.js';
import { LIMITS } from './input-checks.js';

export const MAX_MODEL_CARD_BYTES = LIMITS.modelCard;

/** The manifest entry holding the model card, if any. */
export function modelCardEntry(entries: readonly ManifestEntry[]): ManifestEntry | undefined {
  const exact = entries.find((e) => e.path === 'README.md');
  if (exact) return exact;
  const others = entries.filter((e) => e.path.toLowerCase() === 'readme.md');
  return others.length === 1 ? others[0] : undefined;
}

/** The card's text, or null (see the module comment). Read errors propagate. */
export async function readModelCard(
  store: ContentStore,
  entries: readonly ManifestEntry[],
): Promise<string | null> {
  const entry = modelCardEntry(entries);
  if (!entry || entry.size > MAX_MODEL_CARD_BYTES) return null;
  const parts: Uint8Array[] = [];
  for await (const part of store.readFile(entry.sha256 as Sha256Hex)) parts.push(part);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(Buffer.concat(parts));
  } catch {
    return null;
  }
  if (text.includes('\0') || text.length > LIMITS.modelCard) return null;
  return text;
}

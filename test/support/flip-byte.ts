import { open } from 'node:fs/promises';

/**
 * Damages the file at `path` in place: XORs the byte at `position` with `mask` (non-zero,
 * so the byte always changes). What the corruption tests do to a stored pack.
 */
export async function flipByte(path: string, position: number, mask = 0xff): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    const byte = Buffer.alloc(1);
    await fh.read(byte, 0, 1, position);
    byte[0] = byte[0]! ^ mask;
    await fh.write(byte, 0, 1, position);
  } finally {
    await fh.close();
  }
}

/**
 * Chunk and pack ids are hex strings in the engine's API and 32-byte blobs in the index
 * (half the size in rows and indexes). These two functions are the only conversion.
 */
export function idToBlob(hex: string): Buffer {
  return Buffer.from(hex, 'hex');
}

export function blobToId(blob: Uint8Array): string {
  return Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength).toString('hex');
}

/**
 * FastCDC content-defined chunking (Xia et al., "FastCDC: a Fast and Efficient
 * Content-Defined Chunking Approach for Data Deduplication", USENIX ATC 2016), with a
 * 32-bit gear hash and normalized chunking (level 2):
 *
 * - the first `minSize` bytes of a chunk are never hashed (no cut can fall there);
 * - from `minSize` to `avgSize` a cut needs `log2(avgSize) + 2` hash bits to be zero
 *   (the hard mask), from `avgSize` to `maxSize` only `log2(avgSize) - 2` (the easy mask),
 *   which pulls chunk sizes towards the average;
 * - a chunk that reaches `maxSize` is cut there.
 *
 * The hash restarts at 0 at each chunk's `minSize`, and the byte that satisfies the mask is
 * the last byte of its chunk. The gear hash only depends on the previous 32 bytes, so the
 * scan state that must survive a block boundary is two integers (`CdcState`), never bytes.
 *
 * Chunk boundaries are part of the storage format: changing the gear table, the masks or
 * the rules above changes every chunk id and defeats deduplication against existing data.
 * `fastcdc.test.ts` pins golden boundaries; it must never be "updated" to make a change pass.
 *
 * Pure code: no I/O, no Node-only APIs, so the client can chunk with the same module.
 */
import { type ChunkingParams, validateChunkingParams } from './chunking-params.js';

// biome-ignore format: eight entries per line keep the table reviewable.
/**
 * The gear table: 256 pseudo-random 32-bit values. Entry `i` is the first four bytes, read
 * as a little-endian uint32, of SHA-256 of the UTF-8 string `modelvault fastcdc gear v1`
 * followed by the single byte `i`. It is spelled out rather than computed so this module
 * needs no hash implementation; `fastcdc.test.ts` re-derives it with that procedure.
 */
export const GEAR_TABLE: Readonly<Uint32Array> = Uint32Array.of(
  0x2c7c043e, 0x78a08e26, 0x2e72d837, 0xd45f3bb5, 0xba8c4cc9, 0xd97149ff, 0x3dd74aa0, 0x9a5e1478,
  0x832ae515, 0xfdce11a1, 0xd00dde04, 0x7559e4d5, 0x8c30792a, 0x9bffaf6b, 0x6ec336e3, 0x5b87f077,
  0x44a1d80f, 0xe3d9ba36, 0x04e316ed, 0x8d5a4096, 0x1c3b6330, 0x1a852f8f, 0x07a50174, 0xd4dffa77,
  0x47cfca12, 0x2dff4a72, 0xa00062a4, 0x3524363e, 0xa3470cf8, 0x49a9bd3c, 0x024537cc, 0xa995a740,
  0x57a8f9a8, 0xec5bd757, 0x88c4923d, 0xf99c51b7, 0x301b1327, 0x87352f22, 0x2a133163, 0x067b11b2,
  0xacb0bc13, 0x0cb64e8b, 0x46724f1d, 0x4e67ba89, 0xf86de739, 0xd5cf696d, 0xdd3a7014, 0xead9a9c4,
  0x011528da, 0x830f4861, 0x531c8bee, 0xac86a9f3, 0xa93d6f55, 0x9f3b82a5, 0x4cbc72d0, 0xb7f6ec96,
  0x90e473f0, 0x9d720349, 0x31abe592, 0x7c1e171c, 0xc5cbdc66, 0xd7ca6e8c, 0x6485365d, 0x4375c2e8,
  0xed21f96d, 0x381e6bdc, 0xeb3098da, 0x49fcd9ab, 0x16924396, 0xbb93a725, 0x504f24a2, 0xf846ccbd,
  0x643343d6, 0xb82f1138, 0xdfff4466, 0x9852cb39, 0x609d789c, 0x24541ab1, 0xe502cfc7, 0x2dfa6711,
  0xabf4a8b0, 0xd18f1d2c, 0xb957a20a, 0xdc1f86df, 0x880ebe32, 0x46c8d11d, 0x6cce6466, 0x83f043f7,
  0x9916ac32, 0x1553d0b8, 0x8fe4e369, 0x3cab9cd7, 0x8d9b419b, 0x592c1439, 0x2553b387, 0xda422ebd,
  0xecb062c0, 0xc015a29e, 0x71a0308e, 0x01cacb41, 0xc9d13f74, 0x279f5344, 0x86bc104d, 0x80ac7da0,
  0x2189f8af, 0x25c3864e, 0x1a4bc568, 0xb8347329, 0x960ee25c, 0x0cdd068c, 0xbb00a264, 0x9dba1831,
  0xc9998a51, 0xb4bf5b1a, 0x0496ad7a, 0xf96db3fd, 0xc2c24a37, 0xef4b677d, 0x1058222b, 0xc07df236,
  0x78c50279, 0x65ffd0d3, 0x56a74003, 0x59a56a61, 0xa05b8476, 0x3b014e3a, 0xae6e4747, 0x2f2755dc,
  0xa4e3d7e8, 0x2132e8ee, 0x9d607f82, 0xc5af7e76, 0x76c7da78, 0x08e04c4b, 0x79e99c4c, 0x07fa8ee5,
  0xc9af8b79, 0xc7f91f64, 0x76be75b9, 0x5850b238, 0x0e6e2d7a, 0xc4eded13, 0xf01459c9, 0x6bc06b23,
  0x413d33b5, 0xe8eb2d84, 0x1c50023c, 0xbbeb5c36, 0x58abca3b, 0x7fa90a88, 0x386b83df, 0x5d1f8be0,
  0x842853f5, 0xfd412051, 0x9769849b, 0xdbce2e2b, 0xda787be4, 0x9e76dc75, 0x1dd656e4, 0x90964f1e,
  0x712ce654, 0x569d19bc, 0xeac055ce, 0xadc7bf89, 0x291ca4c2, 0x6ffb1cff, 0x0ed5c9ce, 0xbe42c929,
  0x09f52696, 0x2552b599, 0xe60ce2f2, 0x8fb112c7, 0x2e256bb2, 0xc49772b4, 0xf2ad5b19, 0x2952ee88,
  0xc510933f, 0xcb8e5eab, 0xa7c9d2c6, 0x4958be5e, 0x50fca88e, 0x2d5cb829, 0x11939e2e, 0x7cb0b5da,
  0x419fd378, 0xe61dd1e3, 0x8c284933, 0x898a5901, 0xf94b9c57, 0x12c538fb, 0xd6816436, 0x0cf443d7,
  0x2c47c1e8, 0x1ff54097, 0x3c1dda70, 0xfdd6409b, 0xed38a51c, 0x5977fd18, 0xf089429e, 0x897a2b7b,
  0xd4139375, 0x5570e721, 0x03e0104d, 0x6cd6b21e, 0xccb7c3a6, 0x7086023f, 0xca3e981f, 0x10228269,
  0x350cc87e, 0x1b80b62a, 0xee2786ef, 0xaa23903e, 0x3c8280b9, 0x5e9b02d6, 0x7ac99dc3, 0x7afa85b1,
  0xc78043f9, 0x1de3b5d8, 0xfe5f4d3b, 0xbd5a8360, 0x4f8305e6, 0xdcfe2ac1, 0xe0279cf2, 0x8e28dac0,
  0xd181b4fd, 0x48c0fd29, 0x491c3843, 0x4111c822, 0x0b18da89, 0x6b4bb335, 0x18bdff8b, 0x290ab313,
  0x1640418a, 0xc931fbf2, 0x788203c1, 0xea4a2e7d, 0xb182f591, 0x4ed3563e, 0x0d3dcbb6, 0x9a9940d3,
  0x976b7ea7, 0x90c430e6, 0x73723c4d, 0x50fb7ddb, 0xc702d4e8, 0xad80fce5, 0x40c690d3, 0xa1cef25e,
  0x251512ea, 0x522c98b8, 0x016affbe, 0x5a5a2de9, 0xbffbbfe0, 0x4557470c, 0x49f81028, 0x4830bcde,
);

/**
 * The same bits as int32, for the hot loop: V8 keeps Int32Array loads and `| 0` sums in
 * 32-bit registers, whereas Uint32Array values above 2^31 become doubles (measured ~1.4x
 * slower).
 */
const GEAR = new Int32Array(GEAR_TABLE.buffer, GEAR_TABLE.byteOffset, 256);

/** ChunkingParams compiled for scanning: validated sizes and the two masks. */
export interface CdcConfig {
  readonly minSize: number;
  readonly avgSize: number;
  readonly maxSize: number;
  /** Hard mask (used before avgSize): log2(avgSize) + 2 one-bits. */
  readonly maskS: number;
  /** Easy mask (used from avgSize on): log2(avgSize) - 2 one-bits. */
  readonly maskL: number;
}

/**
 * A mask of `ones` one-bits at bits 30 and below. High bits of the gear hash depend on
 * the most preceding bytes (bit k mixes the last k+1 bytes), so a cut decision looks at
 * a window of up to 31 bytes; bit 31 is left out so the mask stays a positive int32.
 */
function topMask(ones: number): number {
  return ((2 ** ones - 1) * 2 ** (31 - ones)) | 0;
}

let lastParams: ChunkingParams | undefined;
let lastConfig: CdcConfig | undefined;

/**
 * Validates and compiles chunking parameters (memoized for the last params object).
 * @throws InvalidArgumentError for parameters `validateChunkingParams` rejects.
 */
export function cdcConfig(params: ChunkingParams): CdcConfig {
  if (params === lastParams && lastConfig !== undefined) return lastConfig;
  const p = validateChunkingParams(params);
  const bits = 31 - Math.clz32(p.avgSize);
  const config: CdcConfig = Object.freeze({
    minSize: p.minSize,
    avgSize: p.avgSize,
    maxSize: p.maxSize,
    maskS: topMask(bits + 2),
    maskL: topMask(bits - 2),
  });
  lastParams = params;
  lastConfig = config;
  return config;
}

function toConfig(params: ChunkingParams | CdcConfig): CdcConfig {
  return 'maskS' in params ? params : cdcConfig(params);
}

/**
 * The gear hash after the last scan that found no cut. A module variable rather than a
 * returned object so the scan allocates nothing.
 */
let scanHash = 0;

/**
 * The hot loop reads the input through a Uint32Array view, four words per iteration: one
 * load and a few shifts per four bytes instead of four bounds-checked byte loads measured
 * ~2x faster in V8 (two words per iteration: ~1.7x; eight: no better than four).
 * Byte order within a word must be memory order, so big-endian hosts use the byte loop.
 */
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(0x01020304).buffer)[0] === 0x04;

/**
 * `data` seen as 32-bit words: word k holds data[4k - shift, 4k - shift + 4). The view
 * starts at the aligned address at or before `data`, so its first word may include bytes
 * before `data` (never read for hashing), and it ends at the last whole word inside `data`.
 */
interface WordView {
  readonly words: Uint32Array;
  readonly shift: number;
}

function wordView(data: Uint8Array): WordView {
  const shift = data.byteOffset & 3;
  return {
    words: new Uint32Array(data.buffer, data.byteOffset - shift, (data.length + shift) >>> 2),
    shift,
  };
}

/**
 * Hashes data[i, e) from hash `h` and stops after the first byte whose hash has no bit of
 * `mask` set. Bytes up to a word boundary, then sixteen bytes (four words) per iteration,
 * then the remaining bytes; identical results to the plain byte loop.
 * @returns the index just past that byte, or -1 with the final hash in `scanHash`.
 */
function scanRange(
  data: Uint8Array,
  v: WordView,
  i: number,
  e: number,
  h: number,
  mask: number,
): number {
  const gear = GEAR;
  const shift = v.shift;
  const head = Math.min(e, i + ((4 - ((i + shift) & 3)) & 3));
  for (; i < head; i++) {
    h = ((h << 1) + gear[data[i]!]!) | 0;
    if ((h & mask) === 0) return i + 1;
  }
  if (LITTLE_ENDIAN && e - i >= 16) {
    const words = v.words;
    let k = (i + shift) >>> 2;
    const kEnd = k + ((e - i) >>> 4) * 4;
    for (; k < kEnd; k += 4) {
      const x = words[k]!;
      const y = words[k + 1]!;
      const z = words[k + 2]!;
      const w = words[k + 3]!;
      h = ((h << 1) + gear[x & 0xff]!) | 0;
      if ((h & mask) === 0) return k * 4 - shift + 1;
      h = ((h << 1) + gear[(x >>> 8) & 0xff]!) | 0;
      if ((h & mask) === 0) return k * 4 - shift + 2;
      h = ((h << 1) + gear[(x >>> 16) & 0xff]!) | 0;
      if ((h & mask) === 0) return k * 4 - shift + 3;
      h = ((h << 1) + gear[x >>> 24]!) | 0;
      if ((h & mask) === 0) return k * 4 - shift + 4;
      h = ((h << 1) + gear[y & 0xff]!) | 0;
      if ((h & mask) === 0) return k * 4 - shift + 5;
      h = ((h << 1) + gear[(y >>> 8) & 0xff]!) | 0;
      if ((h & mask) === 0) return k * 4 - shift + 6;
      h = ((h << 1) + gear[(y >>> 16) & 0xff]!) | 0;
      if ((h & mask) === 0) return k * 4 - shift + 7;
      h = ((h << 1) + gear[y >>> 24]!) | 0;
      if ((h & mask) === 0) return k * 4 - shift + 8;
      h = ((h << 1) + gear[z & 0xff]!) | 0;
      if ((h & mask) === 0) return k * 4 - shift + 9;
      h = ((h << 1) + gear[(z >>> 8) & 0xff]!) | 0;
      if ((h & mask) === 0) return k * 4 - shift + 10;
      h = ((h << 1) + gear[(z >>> 16) & 0xff]!) | 0;
      if ((h & mask) === 0) return k * 4 - shift + 11;
      h = ((h << 1) + gear[z >>> 24]!) | 0;
      if ((h & mask) === 0) return k * 4 - shift + 12;
      h = ((h << 1) + gear[w & 0xff]!) | 0;
      if ((h & mask) === 0) return k * 4 - shift + 13;
      h = ((h << 1) + gear[(w >>> 8) & 0xff]!) | 0;
      if ((h & mask) === 0) return k * 4 - shift + 14;
      h = ((h << 1) + gear[(w >>> 16) & 0xff]!) | 0;
      if ((h & mask) === 0) return k * 4 - shift + 15;
      h = ((h << 1) + gear[w >>> 24]!) | 0;
      if ((h & mask) === 0) return k * 4 - shift + 16;
    }
    i = k * 4 - shift;
  }
  for (; i < e; i++) {
    h = ((h << 1) + gear[data[i]!]!) | 0;
    if ((h & mask) === 0) return i + 1;
  }
  scanHash = h;
  return -1;
}

/**
 * One chunk's scan: hashes data[i, end) from hash `h`, with the hard mask before index
 * `normEnd` and the easy one after, and a forced cut at `maxEnd`.
 * @returns the index just past the cut, or -1 when `end` came first (hash in `scanHash`).
 */
function gearScan(
  data: Uint8Array,
  v: WordView,
  i: number,
  end: number,
  normEnd: number,
  maxEnd: number,
  h: number,
  maskS: number,
  maskL: number,
): number {
  const e1 = Math.min(normEnd, end);
  if (i < e1) {
    const cut = scanRange(data, v, i, e1, h, maskS);
    if (cut >= 0) return cut;
    h = scanHash;
    i = e1;
  }
  const e2 = Math.min(maxEnd, end);
  if (i < e2) {
    const cut = scanRange(data, v, i, e2, h, maskL);
    if (cut >= 0) return cut;
    h = scanHash;
  }
  // `i` never starts past maxEnd (minSize <= maxSize), so reaching e2 = maxEnd means the
  // chunk is full.
  if (maxEnd <= end) return maxEnd;
  scanHash = h;
  return -1;
}

/**
 * The end of the chunk that starts at `start` in a piece whose bytes end at `end`:
 * an index in (start, end], equal to `end` when no content-defined cut comes first
 * (so the last chunk of a piece may be shorter than `minSize`). Requires
 * 0 <= start < end <= data.length.
 */
export function findCut(
  data: Uint8Array,
  start: number,
  end: number,
  params: ChunkingParams | CdcConfig,
): number {
  const c = toConfig(params);
  return cutIn(data, wordView(data), start, end, c);
}

function cutIn(data: Uint8Array, v: WordView, start: number, end: number, c: CdcConfig): number {
  const cut = gearScan(
    data,
    v,
    start + c.minSize,
    end,
    start + c.avgSize,
    start + c.maxSize,
    0,
    c.maskS,
    c.maskL,
  );
  return cut < 0 ? end : cut;
}

/** The end offsets of the chunks of `data` taken as one piece; the last one is `data.length`. */
export function chunkEnds(data: Uint8Array, params: ChunkingParams | CdcConfig): number[] {
  const c = toConfig(params);
  const v = wordView(data);
  const ends: number[] = [];
  for (let start = 0; start < data.length; ) {
    start = cutIn(data, v, start, data.length, c);
    ends.push(start);
  }
  return ends;
}

/**
 * Resumable scan state of one chunk in progress: how many of its bytes have been seen and
 * the gear hash so far. A fresh state (`{ length: 0, hash: 0 }`) starts a new chunk.
 */
export interface CdcState {
  length: number;
  hash: number;
}

/**
 * Continues the chunk described by `state` over data[from, end), the bytes that follow
 * the ones it has seen. Returns the index just past the cut and resets `state` for the
 * next chunk, or returns -1 having absorbed all of data[from, end) into `state`.
 * Never cuts at `end` for lack of data: the caller decides where a piece ends.
 * Feeding a piece through any split into ranges gives the same cuts as `findCut`.
 */
export function scanCut(
  data: Uint8Array,
  from: number,
  end: number,
  state: CdcState,
  config: CdcConfig,
): number {
  const seen = state.length;
  const skip = config.minSize - seen;
  const cut = gearScan(
    data,
    wordView(data),
    skip > 0 ? from + skip : from,
    end,
    from + config.avgSize - seen,
    from + config.maxSize - seen,
    state.hash,
    config.maskS,
    config.maskL,
  );
  if (cut < 0) {
    state.length = seen + (end - from);
    state.hash = scanHash;
  } else {
    state.length = 0;
    state.hash = 0;
  }
  return cut;
}

/**
 * JavaScript source defining `scanCut` (and the functions and tables it uses) for another
 * realm: the chunk worker (cdc-worker.ts) evaluates it. It is made from this module's own
 * functions (`Function.prototype.toString`), so the worker cuts exactly where this module
 * does — there is one FastCDC, not a copy to keep in step; cdc-worker.test.ts checks the
 * worker's cuts against StreamChunker's. The functions use nothing outside this module
 * but GEAR, LITTLE_ENDIAN and scanHash, which the source declares first.
 */
export function scanCutSource(): string {
  return [
    `const GEAR = new Int32Array(Uint32Array.of(${Array.from(GEAR_TABLE).join(',')}).buffer);`,
    `const LITTLE_ENDIAN = ${LITTLE_ENDIAN};`,
    'let scanHash = 0;',
    wordView.toString(),
    scanRange.toString(),
    gearScan.toString(),
    scanCut.toString(),
  ].join('\n');
}

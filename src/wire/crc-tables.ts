// HOT PATH: no allocation
/**
 * What the two table-driven CRCs of src/wire share (CRC-32 of wire v3 in crc32.ts, CRC-32C of v2 in crc32c.ts): the
 * slicing tables of a reflected 32-bit polynomial and the slicing-by-8 loop over bytes. Only the tables differ.
 * @module
 */

/** T[k * 256 + b]: the CRC register after byte b followed by k zero bytes, k < slices (T[0..255] the classic table). */
export function slicingTables(reflectedPoly: number, slices: number): Int32Array {
  const t = new Int32Array(slices * 256);
  for (let b = 0; b < 256; b++) {
    let c = b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ reflectedPoly : c >>> 1;
    t[b] = c;
  }
  for (let b = 0; b < 256; b++) {
    let c = t[b]!;
    for (let k = 1; k < slices; k++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[k * 256 + b] = c;
    }
  }
  return t;
}

/**
 * Continues a CRC register over bytes[start, end) with tables `t` (at least 8 slices): slicing-by-8, then byte by
 * byte. Start with -1 (0xFFFFFFFF) and finish with `~crc >>> 0`. Returns the register as an int32.
 */
export function crcUpdateBytes(t: Int32Array, crc: number, bytes: Uint8Array, start: number, end: number): number {
  let c = crc | 0;
  let i = start;
  const end8 = end - 7;
  while (i < end8) {
    c ^= bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    const x0 = t[1792 + (c & 0xff)]! ^ t[1536 + ((c >>> 8) & 0xff)]! ^ t[1280 + ((c >>> 16) & 0xff)]! ^ t[1024 + (c >>> 24)]!;
    const x1 = t[768 + bytes[i + 4]!]! ^ t[512 + bytes[i + 5]!]! ^ t[256 + bytes[i + 6]!]! ^ t[bytes[i + 7]!]!;
    c = x0 ^ x1;
    i += 8;
  }
  while (i < end) {
    c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
    i++;
  }
  return c;
}

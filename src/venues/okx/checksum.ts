// HOT PATH: no allocation (bookChecksum; checksumOfStrings is cold, for the simulator and tests)
/**
 * OKX's book checksum (docs/venues/okx.md, "Checksum"): after applying a message, for ranks 1..25 append bid
 * price, bid size, ask price, ask size (a short side just stops), join with `:`, CRC-32 (IEEE) as a signed int32.
 * Deprecated: always 0 in production since 23 June 2026; 0 never fails, a non-zero value is verified.
 *
 * The numbers are the received text. OKX prints them in shortest form (no trailing zeros: all 290 frames of the
 * recording, test/venues/okx/recording.test.ts), so the text is rebuilt from the book's mantissas (digits, point,
 * trailing zeros dropped) straight into the CRC: no string per message, no copy of the levels' text.
 * @module
 */
import type { BookView } from "../../core/book-view.ts";

export const CHECKSUM_LEVELS = 25;

const CRC_TABLE = new Int32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  CRC_TABLE[n] = c;
}

const COLON = 58;
const DOT = 46;
const D0 = 48;
/** Digits of one mantissa, least significant first (a mantissa < 2^53 has at most 16; exponents up to 22 add zeros). */
const digits = new Uint8Array(40);

function crcByte(crc: number, b: number): number {
  return CRC_TABLE[(crc ^ b) & 0xff]! ^ ((crc >> 8) & 0x00ffffff); // int32 throughout (>>> would make a uint32 double)
}

/** CRC of mantissa m at exponent exp printed in shortest decimal form (30261.0 → "30261", 0.5 → "0.5"). */
function crcNumber(crc: number, m: number, exp: number): number {
  let n = 0;
  if (m < 2147483648) {
    // int32 division: several times cheaper than Math.floor on a double (measured ~80 → ~20 ns per number).
    let v = m | 0;
    do {
      const q = (v / 10) | 0;
      digits[n++] = v - q * 10;
      v = q;
    } while (v > 0);
  } else {
    let v = m;
    do {
      const q = Math.floor(v / 10);
      digits[n++] = v - q * 10;
      v = q;
    } while (v > 0);
  }
  while (n <= exp) digits[n++] = 0; // a leading "0." for values below 1
  // Trailing fractional zeros are dropped.
  let low = 0;
  while (low < exp && digits[low] === 0) low++;
  for (let i = n - 1; i >= exp; i--) crc = crcByte(crc, D0 + digits[i]!);
  if (low < exp) {
    crc = crcByte(crc, DOT);
    for (let i = exp - 1; i >= low; i--) crc = crcByte(crc, D0 + digits[i]!);
  }
  return crc;
}

const topBidPx = new Float64Array(CHECKSUM_LEVELS);
const topBidQty = new Float64Array(CHECKSUM_LEVELS);
const topAskPx = new Float64Array(CHECKSUM_LEVELS);
const topAskQty = new Float64Array(CHECKSUM_LEVELS);

/** The checksum of a book's top 25 levels, as OKX computes it (signed int32). */
export function bookChecksum(book: BookView, priceExp: number, qtyExp: number): number {
  const nb = Math.min(CHECKSUM_LEVELS, book.bidCount);
  const na = Math.min(CHECKSUM_LEVELS, book.askCount);
  // Bulk copies where the view has them (the builder's ladders: one pass instead of a rank lookup per level).
  if (book.copyBids !== undefined && book.copyAsks !== undefined) {
    book.copyBids(0, nb, topBidPx, topBidQty, 0);
    book.copyAsks(0, na, topAskPx, topAskQty, 0);
  } else {
    for (let r = 0; r < nb; r++) {
      topBidPx[r] = book.bidPriceAt(r);
      topBidQty[r] = book.bidQtyAt(r);
    }
    for (let r = 0; r < na; r++) {
      topAskPx[r] = book.askPriceAt(r);
      topAskQty[r] = book.askQtyAt(r);
    }
  }
  let crc = -1;
  let first = true;
  for (let r = 0; r < CHECKSUM_LEVELS; r++) {
    if (r < nb) {
      if (!first) crc = crcByte(crc, COLON);
      first = false;
      crc = crcNumber(crc, topBidPx[r]!, priceExp);
      crc = crcByte(crc, COLON);
      crc = crcNumber(crc, topBidQty[r]!, qtyExp);
    }
    if (r < na) {
      if (!first) crc = crcByte(crc, COLON);
      first = false;
      crc = crcNumber(crc, topAskPx[r]!, priceExp);
      crc = crcByte(crc, COLON);
      crc = crcNumber(crc, topAskQty[r]!, qtyExp);
    }
  }
  return ~crc | 0;
}

/** Cold: CRC-32 (IEEE) of an ASCII string as a signed int32. */
export function crc32Signed(text: string): number {
  let crc = -1;
  for (let i = 0; i < text.length; i++) crc = crcByte(crc, text.charCodeAt(i) & 0xff);
  return ~crc | 0;
}

/** Cold: the checksum of levels given as received strings, best first ([price, size] per level). */
export function checksumOfStrings(bids: readonly (readonly string[])[], asks: readonly (readonly string[])[]): number {
  const parts: string[] = [];
  for (let r = 0; r < CHECKSUM_LEVELS; r++) {
    if (r < bids.length) parts.push(bids[r]![0]!, bids[r]![1]!);
    if (r < asks.length) parts.push(asks[r]![0]!, asks[r]![1]!);
  }
  return crc32Signed(parts.join(":"));
}

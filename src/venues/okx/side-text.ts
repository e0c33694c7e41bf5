// HOT PATH: no allocation (except a side longer than the update has ever held)
/**
 * OKX's book side as text, the TypeScript reader: what the scanner's WebAssembly module declines (or every side where
 * WebAssembly is unavailable), and the reference the module's tests compare with (`new OkxScanner(false)`).
 * @module
 */
import type { BookUpdate } from "../../core/book-update.ts";
import { POW10, parseFixedCodes } from "../../core/fixed.ts";

const QUOTE = 34;
const COMMA = 44;
const BACKSLASH = 92;
const RBRACKET = 93;
const LBRACKET = 91;
const D0 = 48;
const D9 = 57;
const DOT = 46;

/**
 * `[["px","sz",…],…]` from p (the first level's `[`; the side is not empty), on the frame's bytes (read four at a
 * time through dv; a 0 sentinel after the frame), appended to the side: the index just after the side's closing `]`,
 * or -1: not the exact shape or a number the fast path does not take exactly (the JSON path then decides). A number's integer part
 * and decimals accumulate in int32 (Math.imul; four digits at a time where four are digits), ≤ 9 digits each,
 * combined once in a double: ~15 % less time per snapshot than accumulating in doubles (bench/okx.bench.ts), whose
 * multiply-add chain is twice as long. Decimals beyond the exponent must be zeros; integer digits + exponent ≤ 15
 * keeps the result exact. Anything else goes through parseFixedCodes, the one exact parser. Written out twice
 * (price, size) rather than as a function: JSC did not inline one, and the call cost ~20 % of the scan.
 */
export function readSideText(b: Uint8Array, dv: DataView, p: number, s: string, u: BookUpdate, bid: boolean, pe: number, qe: number): number {
  let lpx = bid ? u.bidPx : u.askPx;
  let lqty = bid ? u.bidQty : u.askQty;
  let n = bid ? u.bidCount : u.askCount;
  for (;;) {
    if (b[p] !== LBRACKET || b[p + 1] !== QUOTE) return -1;
    p += 2;
    // price
    const ps = p;
    let px = -1;
    {
      let ip = 0;
      let w = dv.getInt32(p, true);
      while (isDigits4(w)) {
        ip = (Math.imul(ip, 10000) + digits4(w)) | 0;
        p += 4;
        w = dv.getInt32(p, true);
      }
      let c = b[p]!;
      while (c >= D0 && c <= D9) {
        ip = (Math.imul(ip, 10) + (c - D0)) | 0;
        c = b[++p]!;
      }
      const intDigits = p - ps;
      if (intDigits !== 0 && intDigits <= 9 && intDigits + pe <= 15) {
        if (c === QUOTE) px = ip * POW10[pe]!;
        else if (c === DOT) {
          const fs = ++p;
          const lim = p + (pe < 9 ? pe : 9);
          let fp = 0;
          w = dv.getInt32(p, true);
          while (p + 4 <= lim && isDigits4(w)) {
            fp = (Math.imul(fp, 10000) + digits4(w)) | 0;
            p += 4;
            w = dv.getInt32(p, true);
          }
          c = b[p]!;
          while (p < lim && c >= D0 && c <= D9) {
            fp = (Math.imul(fp, 10) + (c - D0)) | 0;
            c = b[++p]!;
          }
          const fd = p - fs;
          while (c === D0) c = b[++p]!;
          if (c === QUOTE && fd !== 0) px = ip * POW10[pe]! + fp * POW10[pe - fd]!;
        }
      }
    }
    if (px < 0) {
      p = closingQuote(b, ps);
      if (p < 0) return -1;
      px = parseFixedCodes(s, ps, p, pe);
      if (px < 0) return -1;
    }
    if (b[p + 1] !== COMMA || b[p + 2] !== QUOTE) return -1;
    p += 3;
    // size
    const qs = p;
    let qty = -1;
    {
      let ip = 0;
      let w = dv.getInt32(p, true);
      while (isDigits4(w)) {
        ip = (Math.imul(ip, 10000) + digits4(w)) | 0;
        p += 4;
        w = dv.getInt32(p, true);
      }
      let c = b[p]!;
      while (c >= D0 && c <= D9) {
        ip = (Math.imul(ip, 10) + (c - D0)) | 0;
        c = b[++p]!;
      }
      const intDigits = p - qs;
      if (intDigits !== 0 && intDigits <= 9 && intDigits + qe <= 15) {
        if (c === QUOTE) qty = ip * POW10[qe]!;
        else if (c === DOT) {
          const fs = ++p;
          const lim = p + (qe < 9 ? qe : 9);
          let fp = 0;
          w = dv.getInt32(p, true);
          while (p + 4 <= lim && isDigits4(w)) {
            fp = (Math.imul(fp, 10000) + digits4(w)) | 0;
            p += 4;
            w = dv.getInt32(p, true);
          }
          c = b[p]!;
          while (p < lim && c >= D0 && c <= D9) {
            fp = (Math.imul(fp, 10) + (c - D0)) | 0;
            c = b[++p]!;
          }
          const fd = p - fs;
          while (c === D0) c = b[++p]!;
          if (c === QUOTE && fd !== 0) qty = ip * POW10[qe]! + fp * POW10[qe - fd]!;
        }
      }
    }
    if (qty < 0) {
      p = closingQuote(b, qs);
      if (p < 0) return -1;
      qty = parseFixedCodes(s, qs, p, qe);
      if (qty < 0) return -1;
    }
    p++;
    // Further fields (deprecated "0", order count): plain strings, skipped; the usual `,"0","` in two reads.
    let c: number;
    if (dv.getInt32(p, true) === ZERO_FIELD && dv.getUint16(p + 4, true) === COMMA_QUOTE) {
      let e = p + 6;
      c = b[e]!;
      while (c >= D0 && c <= D9) c = b[++e]!;
      if (c === QUOTE && e !== p + 6) p = e + 1;
    }
    while (b[p] === COMMA) {
      if (b[p + 1] !== QUOTE) return -1;
      p += 2;
      c = b[p]!;
      while (c >= 32 && c !== QUOTE && c !== BACKSLASH) c = b[++p]!;
      if (c !== QUOTE) return -1;
      p++;
    }
    if (b[p] !== RBRACKET) return -1;
    if (n === lpx.length) {
      // Cold: more levels than ever before: grow through the update, then continue on the new arrays.
      if (bid) {
        u.bidCount = n;
        u.pushBid(px, qty);
        lpx = u.bidPx;
        lqty = u.bidQty;
      } else {
        u.askCount = n;
        u.pushAsk(px, qty);
        lpx = u.askPx;
        lqty = u.askQty;
      }
      n++;
    } else {
      lpx[n] = px;
      lqty[n] = qty;
      n++;
    }
    c = b[++p]!;
    if (c === COMMA) {
      p++;
      continue;
    }
    if (c !== RBRACKET) return -1;
    if (bid) u.bidCount = n;
    else u.askCount = n;
    return p + 1;
  }
}

/** From p, the closing quote of a string with no escapes or control characters; −1 otherwise (or at the end). */
function closingQuote(b: Uint8Array, p: number): number {
  let c = b[p]!;
  while (c !== QUOTE && c !== 0 && c !== BACKSLASH) c = b[++p]!;
  return c === QUOTE ? p : -1;
}

/** `,"0"` little-endian: the deprecated third field of every OKX level. */
const ZERO_FIELD = 0x2230222c;
/** `,"` little-endian. */
const COMMA_QUOTE = 0x222c;

/** True when the 4 bytes packed little-endian in w are all ASCII digits (0x30–0x39). */
export function isDigits4(w: number): boolean {
  return (w & 0xf0f0f0f0) === 0x30303030 && (((w + 0x06060606) | 0) & 0xf0f0f0f0) === 0x30303030;
}

/** The value of 4 ASCII digits packed little-endian in w (first character in the low byte): 0 … 9999. */
export function digits4(w: number): number {
  let d = w & 0x0f0f0f0f;
  d = (d * 10 + (d >>> 8)) & 0x00ff00ff;
  return (d & 0xff) * 100 + (d >>> 16);
}

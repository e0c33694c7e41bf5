// HOT PATH: no allocation
/**
 * The level reader of the Bybit scanner: `[[price, qty],…]` into one side of a BookUpdate, prices and quantities as
 * exact mantissas (the plain case in one pass, anything else through core/fixed.ts parseFixedCodes). Split from
 * scanner.ts (its subclass) to keep each file readable.
 * @module
 */
import type { BookUpdate } from "../../core/book-update.ts";
import { POW10, parseFixedCodes } from "../../core/fixed.ts";
import { CH_0, CH_9, CH_COMMA, CH_DOT, CH_LBRACKET, CH_QUOTE, CH_RBRACKET, digits4, isDigits4, JsonCursor, skipWs, word } from "./json-cursor.ts";
import type { WasmLevels } from "../common/levels-wasm.ts";
import { SCAN_ERR_LEVEL, SCAN_ERR_MISSING, SCAN_ERR_PRICE, SCAN_ERR_QTY, SCAN_ERR_SYNTAX } from "./scan-codes.ts";

/** `],["` between two levels in Bybit's compact layout, as a little-endian word. */
const W_NEXT_LEVEL = word('],["');

export class LevelReader extends JsonCursor {
  /**
   * The WebAssembly side reader (common/levels-wasm.ts) while the frame is in its memory and the scanner wants its
   * sides read by it, else null (then, and for a side it declines, the TypeScript loop below reads the side).
   */
  protected side: WasmLevels | null = null;

  /**
   * Reads `[[p,q],…]` into one side. This loop is most of the work for a snapshot, so it keeps the cursor in a
   * local, expects Bybit's compact layout first and looks for whitespace only when the expected character is not
   * there, and finds the end of a number by its characters (digits and dots: anything else cannot parse anyway),
   * classifying the string on the cold path only when the number does not end at a closing quote.
   */
  protected scanLevels(bids: boolean, priceExp: number, qtyExp: number, out: BookUpdate): number {
    const s = this.s;
    const b = this.bytes;
    const end = this.end;
    const dv = this.view;
    // The side's arrays and count in locals, written back on success (on an error `out` is discarded anyway):
    // cheaper than a pushBid/pushAsk call per level.
    let lpx = bids ? out.bidPx : out.askPx;
    let lqty = bids ? out.bidQty : out.askQty;
    let n = bids ? out.bidCount : out.askCount;
    let p = this.pos;
    if (p >= end) return SCAN_ERR_SYNTAX;
    if (b[p] !== CH_LBRACKET) {
      const r = this.skipValue(1);
      return r < 0 ? r : SCAN_ERR_MISSING;
    }
    p = skipWs(b, p + 1, end);
    if (b[p] === CH_RBRACKET) {
      this.pos = p + 1;
      return 0;
    }
    // The module takes a plain side whole; a side it declines (nothing written to `out`) is read below from the same
    // place, which decides and names any error.
    const w = this.side;
    if (w !== null && b[p] === CH_LBRACKET) {
      const e = w.readSide(p, bids, priceExp, qtyExp, out);
      if (e >= 0) {
        this.pos = e;
        return 0;
      }
    }
    let c = 0;
    p = this.openLevel(p);
    if (p < 0) return p;
    for (;;) {
      // "price" (p is after its opening quote)
      const ps = p;
      // One pass for the plain case: digits, an optional dot with digits, nothing non-zero beyond the exponent, and
      // at most 15 significant digits after scaling, so the integer is exact (< 10^15 < 2^53). Everything else
      // (and every error) is decided by parseFixedCodes, the project's one exact decimal parser. Measured: a
      // second pass through parseFixedCodes per number doubled the cost of a snapshot. Digit counts come from
      // offsets and the exponent bounds the fraction loop: no counter per digit.
      let px = 0;
      let w = dv.getInt32(p, true);
      while (isDigits4(w)) {
        px = px * 10000 + digits4(w);
        p += 4;
        w = dv.getInt32(p, true);
      }
      c = b[p];
      while (c >= CH_0 && c <= CH_9) {
        px = px * 10 + (c - CH_0);
        c = b[++p];
      }
      let plain = p !== ps && p - ps + priceExp <= 15; // integer digits present, ≤ 15 significant after scaling
      let scale = priceExp; // powers of ten still to apply
      if (c === CH_DOT) {
        c = b[++p];
        if (!(c >= CH_0 && c <= CH_9)) plain = false; // "1." and the like: parseFixedCodes decides
        const lim = p + priceExp;
        while (p + 4 <= lim) {
          w = dv.getInt32(p, true);
          if (!isDigits4(w)) break;
          px = px * 10000 + digits4(w);
          p += 4;
        }
        c = b[p];
        while (p < lim && c >= CH_0 && c <= CH_9) {
          px = px * 10 + (c - CH_0);
          c = b[++p];
        }
        scale = lim - p;
        while (c === CH_0) c = b[++p]; // zeros beyond the exponent (a non-zero digit is caught below)
      }
      if (c !== CH_QUOTE) {
        while (c === CH_DOT || (c >= CH_0 && c <= CH_9)) c = b[++p];
        if (c !== CH_QUOTE) return this.badNumberString(ps, SCAN_ERR_PRICE);
        plain = false; // e.g. "1.2.3", or a non-zero digit beyond the exponent: parseFixedCodes rejects it
      }
      if (plain) {
        px *= POW10[scale]!;
      } else {
        px = parseFixedCodes(s, ps, p, priceExp);
        if (px < 0) {
          this.pos = p;
          return SCAN_ERR_PRICE;
        }
      }
      // ,
      c = b[++p];
      if (c !== CH_COMMA) {
        p = skipWs(b, p, end);
        c = b[p];
        if (c !== CH_COMMA) {
          this.pos = p;
          return c === CH_RBRACKET ? SCAN_ERR_LEVEL : SCAN_ERR_SYNTAX;
        }
      }
      // "qty"
      c = b[++p];
      if (c !== CH_QUOTE) {
        p = skipWs(b, p, end);
        if (b[p] !== CH_QUOTE) {
          this.pos = p;
          return this.badLevelElement();
        }
      }
      // The qty is read by a copy of the price reader above, on purpose: one shared method (value returned,
      // end offset in a field) measured ~40 % slower on the whole scan → apply → encode path (bybit.bench A/B).
      const qs = ++p;
      let qty = 0;
      w = dv.getInt32(p, true);
      while (isDigits4(w)) {
        qty = qty * 10000 + digits4(w);
        p += 4;
        w = dv.getInt32(p, true);
      }
      c = b[p];
      while (c >= CH_0 && c <= CH_9) {
        qty = qty * 10 + (c - CH_0);
        c = b[++p];
      }
      plain = p !== qs && p - qs + qtyExp <= 15; // integer digits present, ≤ 15 significant after scaling
      scale = qtyExp; // powers of ten still to apply
      if (c === CH_DOT) {
        c = b[++p];
        if (!(c >= CH_0 && c <= CH_9)) plain = false; // "1." and the like: parseFixedCodes decides
        const lim = p + qtyExp;
        while (p + 4 <= lim) {
          w = dv.getInt32(p, true);
          if (!isDigits4(w)) break;
          qty = qty * 10000 + digits4(w);
          p += 4;
        }
        c = b[p];
        while (p < lim && c >= CH_0 && c <= CH_9) {
          qty = qty * 10 + (c - CH_0);
          c = b[++p];
        }
        scale = lim - p;
        while (c === CH_0) c = b[++p]; // zeros beyond the exponent (a non-zero digit is caught below)
      }
      if (c !== CH_QUOTE) {
        while (c === CH_DOT || (c >= CH_0 && c <= CH_9)) c = b[++p];
        if (c !== CH_QUOTE) return this.badNumberString(qs, SCAN_ERR_QTY);
        plain = false; // e.g. "1.2.3", or a non-zero digit beyond the exponent: parseFixedCodes rejects it
      }
      if (plain) {
        qty *= POW10[scale]!;
      } else {
        qty = parseFixedCodes(s, qs, p, qtyExp);
        if (qty < 0) {
          this.pos = p;
          return SCAN_ERR_QTY;
        }
      }
      // Stored before the closing bracket is checked: on an error the caller discards `out`.
      if (n === lpx.length) {
        // Cold: more levels than ever; BookUpdate grows its arrays.
        if (bids) {
          out.bidCount = n;
          out.pushBid(px, qty);
          lpx = out.bidPx;
          lqty = out.bidQty;
        } else {
          out.askCount = n;
          out.pushAsk(px, qty);
          lpx = out.askPx;
          lqty = out.askQty;
        }
        n++;
      } else {
        lpx[n] = px;
        lqty[n++] = qty;
      }
      // `],["` between two levels in Bybit's compact layout: one word instead of four characters.
      if (dv.getInt32(p + 1, true) === W_NEXT_LEVEL) {
        p += 5;
        continue;
      }
      // ]
      c = b[++p];
      if (c !== CH_RBRACKET) {
        p = skipWs(b, p, end);
        c = b[p];
        if (c !== CH_RBRACKET) {
          this.pos = p;
          return c === CH_COMMA ? SCAN_ERR_LEVEL : SCAN_ERR_SYNTAX;
        }
      }
      // , or ]
      c = b[++p];
      if (c !== CH_COMMA && c !== CH_RBRACKET) {
        p = skipWs(b, p, end);
        c = b[p];
      }
      if (c === CH_COMMA) {
        p = this.openLevel(p + 1);
        if (p < 0) return p;
        continue;
      }
      if (c !== CH_RBRACKET) {
        this.pos = p;
        return SCAN_ERR_SYNTAX;
      }
      this.pos = p + 1;
      if (bids) out.bidCount = n;
      else out.askCount = n;
      return 0;
    }
  }

  /**
   * From a level's `[` (whitespace before it allowed): returns the index just after the price's opening quote, or
   * a negative code with the cursor at the fault.
   */
  protected openLevel(p: number): number {
    const b = this.bytes;
    const end = this.end;
    p = skipWs(b, p, end);
    if (b[p] !== CH_LBRACKET) {
      this.pos = p;
      if (p >= end) return SCAN_ERR_SYNTAX;
      const r = this.skipValue(2);
      return r < 0 ? r : SCAN_ERR_LEVEL;
    }
    p = skipWs(b, p + 1, end);
    if (b[p] !== CH_QUOTE) {
      this.pos = p;
      return this.badLevelElement();
    }
    return p + 1;
  }


  /**
   * Cold: a price or quantity string held something other than digits and dots. Classifies it as JSON would:
   * an escape goes to the JSON path, a control character or a missing closing quote is a syntax error, any other
   * complete string is a bad number (`badCode`).
   */
  protected badNumberString(start: number, badCode: number): number {
    this.pos = start;
    const close = this.closeQuote();
    return close < 0 ? close : badCode;
  }

  /** A level element that is not a string: validate it as JSON (syntax error) or report a bad level. */
  protected badLevelElement(): number {
    if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
    const r = this.skipValue(3);
    return r < 0 ? r : SCAN_ERR_LEVEL;
  }

}

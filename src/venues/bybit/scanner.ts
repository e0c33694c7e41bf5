// HOT PATH: no allocation
/**
 * Bybit v5 order-book frame scanner: reads `{"topic":"orderbook.N.SYM","type":…,"ts":…,"data":{"s","b","a","u","seq"},"cts":…}`
 * from the string the WebSocket delivers into a reusable BookUpdate, without JSON.parse (docs/performance.md §1; here a 500×500 snapshot scans in ~1/5–1/10 of JSON.parse + conversion) and without a substring
 * per level or per topic. The frame is copied once into a reusable byte buffer (same offsets) and read from there:
 * indexing bytes is cheaper than String.charCodeAt; the topic table's compare and exact decimal parsing
 * (parseFixedCodes) still read the string, and so do the topic hash and the symbol check when a unit is not ASCII.
 * Bybit's compact key layout (`{"topic":"`, `,"ts":`, `"b":` …) is matched as whole 4-byte words, with the general
 * key reader behind it (measured: the fixed cost of a scan, keys and ts/cts/u/seq, 305 → 223 ns per frame).
 *
 * It is a strict JSON reader for this one shape: it validates every byte it walks over (unknown keys are skipped
 * by a validating generic skipper), so whatever it accepts, JSON.parse accepts too and converts to the same book.
 * Whatever it does not handle (a first key other than `topic`, escapes in keys or strings, duplicate keys,
 * numbers in exponent form) it hands to the JSON path (SCAN_NOT_BOOK / SCAN_FALLBACK); genuine errors are
 * negative codes with a name in SCAN_RESULT_NAMES and the offset in `errorPos`.
 * Key order is free after `topic` (spot puts `ts` before `type`, option adds `id`; docs/venues/bybit.md §4.2–4.3).
 * @module
 */
import { Buffer } from "node:buffer";
import type { BookUpdate } from "../../core/book-update.ts";
import { POW10, parseFixedCodes } from "../../core/fixed.ts";
import { FNV_OFFSET, fnvStep, TOPIC_PREFIX, TopicTable } from "./topic-table.ts";

export { TopicTable };

/** Not an order-book frame the scanner handles (first key is not `topic`, or not an `orderbook.` topic): use JSON.parse. */
export const SCAN_NOT_BOOK = -1;
/** An order-book frame for a topic that is not in the table (e.g. one just unsubscribed). */
export const SCAN_UNKNOWN_TOPIC = -2;
/** Legal JSON the scanner does not read itself (escapes, duplicate keys, exponent numbers, deep nesting): use the JSON path. */
export const SCAN_FALLBACK = -3;
/** Not valid JSON where the scanner looked. */
export const SCAN_ERR_SYNTAX = -4;
/** A price string that is not an exact decimal at the instrument's price exponent. */
export const SCAN_ERR_PRICE = -5;
/** A quantity string that is not an exact decimal at the instrument's quantity exponent. */
export const SCAN_ERR_QTY = -6;
/** ts / cts / u / seq not a non-negative integer below 2^53 (ts × 1000 too). */
export const SCAN_ERR_NUMBER = -7;
/** `type` is neither "snapshot" nor "delta". */
export const SCAN_ERR_TYPE = -8;
/** A required field (type, data, data.b, data.a, data.u) is missing or has the wrong JSON type. */
export const SCAN_ERR_MISSING = -9;
/** data.s differs from the topic's symbol. */
export const SCAN_ERR_SYMBOL = -10;
/** A level is not exactly [price string, qty string]. */
export const SCAN_ERR_LEVEL = -11;

/** Names by -code, for counters and logs. */
export const SCAN_RESULT_NAMES: readonly string[] = [
  "ok",
  "not_book",
  "unknown_topic",
  "fallback",
  "syntax",
  "bad_price",
  "bad_qty",
  "bad_number",
  "bad_type",
  "missing_field",
  "symbol_mismatch",
  "bad_level",
];

const MAX_SKIP_DEPTH = 32;

const CH_QUOTE = 34;
const CH_BACKSLASH = 92;
const CH_LBRACE = 123;
const CH_RBRACE = 125;
const CH_LBRACKET = 91;
const CH_RBRACKET = 93;
const CH_COLON = 58;
const CH_COMMA = 44;
const CH_0 = 48;
const CH_9 = 57;
const CH_MINUS = 45;
const CH_DOT = 46;
const CH_PLUS = 43;
const CH_E = 101;
const CH_CAP_E = 69;

// Key bits, also used to detect duplicate keys (JSON.parse keeps the last one; the scanner falls back instead).
const K_TOPIC = 1;
const K_TYPE = 2;
const K_TS = 4;
const K_DATA = 8;
const K_CTS = 16;
const K_S = 32;
const K_B = 64;
const K_A = 128;
const K_U = 256;
const K_SEQ = 512;

const TWO_53 = 9007199254740992;

/** The first 4 (or 3, 2) characters of s as a little-endian word, as DataView.getInt32(p, true) reads them. */
function word(s: string): number {
  let w = 0;
  for (let i = s.length - 1; i >= 0; i--) w = (w << 8) | s.charCodeAt(i);
  return w;
}
// Bybit's compact key layout, for the whole-word fast paths (topKey, dataKey, the start of scanTop).
const W_LBRACE_TO = word('{"to');
const W_PIC_COLON = word('pic"');
const W_TS = word('"ts"');
const W_TYPE = word('"typ');
const W3_E_COLON = word('e":');
const W_DATA = word('"dat');
const W3_A_COLON = word('a":');
const W_CTS = word('"cts');
const W2_Q_COLON = word('":');
const W_B = word('"b":');
const W_A = word('"a":');
const W_U = word('"u":');
const W_S = word('"s":');
const W_SEQ = word('"seq');
const W_NEXT_LEVEL = word('],["');

/**
 * The scanner. One instance per connection (it keeps the cursor and the last error position in fields, so the
 * hot functions need neither closures nor result objects).
 */
export class BybitScanner {
  /** Offset where the last scan stopped with an error (for logs). */
  errorPos = 0;
  /** Table entry of the topic of the last frame, or -1 when the topic was not reached or unknown. */
  entry = -1;
  private s = "";
  /**
   * The frame's UTF-16 code units as bytes, one per unit at the same offset: indexing a Uint8Array is cheaper than
   * String.charCodeAt (measured: scan of a 50/side snapshot 1.93 → 1.55 µs with the level loop on bytes, 1.39 →
   * 1.32 µs with the rest too), and the copy costs ~30 ns per 1 KB (Buffer.write). Units ≥ 0x80 (never in Bybit
   * frames) become 0x80, which is none of the characters the scanner looks for, so it takes the same paths as on
   * the string (strings may hold any unit ≥ 0x20; numbers, keys and structure are ASCII). Byte `end` is a 0
   * sentinel: no character the scanner accepts, so no sequential read goes further.
   */
  private bytes: Buffer = Buffer.alloc(4096);
  /**
   * DataView over `bytes`: the number loops read 4 characters at once (little-endian int32, any alignment) and
   * take 4 digits in one step (digits4). `bytes` is ≥ 3 × length + 1 long, so a 4-byte read from any offset up to
   * the sentinel stays inside it; bytes past the sentinel are stale but a read that covers them also covers the
   * sentinel 0, which is not a digit.
   */
  private view: DataView = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
  /** Every unit of the frame is ASCII, so `bytes` equals the string unit for unit (not only where the scanner looks). */
  private ascii = true;
  private pos = 0;
  private topicStart = 0;
  private end = 0;

  /**
   * Scans one frame. Returns the subscription index (≥ 0) with `out` filled, or a negative SCAN_* code.
   * `out.tsRecvUs` is left 0: the caller stamps it.
   */
  scan(s: string, table: TopicTable, out: BookUpdate): number {
    this.s = s;
    this.pos = 0;
    this.end = s.length;
    this.entry = -1;
    this.encodeFrame();
    out.reset();
    const r = this.scanTop(table, out);
    if (r < 0) this.errorPos = this.pos;
    this.s = ""; // do not keep the frame alive
    return r;
  }

  private scanTop(table: TopicTable, out: BookUpdate): number {
    const s = this.s;
    const b = this.bytes;
    const dv = this.view;
    // The first key must be "topic": every Bybit push frame starts with it; acks and pongs do not. Bybit's
    // compact `{"topic":"` is recognised by whole words; anything else takes the general path.
    if (dv.getInt32(0, true) === W_LBRACE_TO && dv.getInt32(4, true) === W_PIC_COLON && this.end >= 10 && b[8] === CH_COLON && b[9] === CH_QUOTE) {
      this.pos = 10;
    } else {
      this.ws();
      if (this.pos >= this.end || b[this.pos] !== CH_LBRACE) return SCAN_NOT_BOOK;
      this.pos++;
      this.ws();
      if (!this.matchKey("topic")) return SCAN_NOT_BOOK;
      this.ws();
      if (this.pos >= this.end || b[this.pos] !== CH_QUOTE) return SCAN_NOT_BOOK;
      this.pos++;
    }
    const topicStart = this.pos;
    this.topicStart = topicStart;
    let hash = FNV_OFFSET;
    let p = topicStart;
    const end = this.end;
    for (;;) {
      if (p >= end) {
        this.pos = p;
        return SCAN_ERR_SYNTAX;
      }
      let c = b[p];
      if (c === CH_QUOTE) break;
      if (c === CH_BACKSLASH || c < 0x20) {
        this.pos = p;
        return c === CH_BACKSLASH ? SCAN_FALLBACK : SCAN_ERR_SYNTAX;
      }
      if (c === 0x80) c = s.charCodeAt(p); // cold: the hash is over UTF-16 units (TopicTable)
      hash = Math.imul(hash ^ c, 0x01000193);
      p++;
    }
    const topicEnd = p;
    this.pos = p + 1;
    const entry = table.find(s, topicStart, topicEnd, hash);
    // Every table topic starts with "orderbook.", so the prefix only needs checking on a miss.
    if (entry < 0) return startsWithPrefix(s, topicStart, topicEnd) ? SCAN_UNKNOWN_TOPIC : SCAN_NOT_BOOK;
    this.entry = entry;

    let seen = K_TOPIC;
    let type = 0; // 1 snapshot, 2 delta
    let tsMs = 0;
    let ctsMs = 0;
    let u = -1;
    for (;;) {
      if (isWsCode(b[this.pos])) this.ws();
      if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
      let c = b[this.pos];
      if (c === CH_RBRACE) {
        this.pos++;
        break;
      }
      if (c !== CH_COMMA) return SCAN_ERR_SYNTAX;
      this.pos++;
      if (isWsCode(b[this.pos])) this.ws();
      const key = this.topKey();
      if (key < 0) return key;
      if ((seen & key) !== 0) return SCAN_FALLBACK;
      seen |= key;
      if (isWsCode(b[this.pos])) this.ws();
      if (key === K_TYPE) {
        const p = this.pos;
        if (b[p] === CH_QUOTE && b[p + 1] === 100 && eq4(b, p + 2, 101, 108, 116, 97) && b[p + 6] === CH_QUOTE) {
          type = 2; // "delta"
          this.pos = p + 7;
        } else if (b[p] === CH_QUOTE && b[p + 1] === 115 && eq4(b, p + 2, 110, 97, 112, 115) && eq4(b, p + 6, 104, 111, 116, CH_QUOTE)) {
          type = 1; // "snapshot"
          this.pos = p + 10;
        } else {
          type = this.readType();
          if (type < 0) return type;
        }
      } else if (key === K_TS) {
        tsMs = this.readUint();
        if (tsMs < 0) return tsMs;
      } else if (key === K_CTS) {
        ctsMs = this.readUint();
        if (ctsMs < 0) return ctsMs;
      } else if (key === K_DATA) {
        if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
        c = b[this.pos];
        if (c !== CH_LBRACE) {
          const r = this.skipValue(0);
          return r < 0 ? r : SCAN_ERR_MISSING;
        }
        u = this.scanData(table, entry, topicEnd, out);
        if (u < 0) return u;
      } else {
        const r = this.skipValue(0);
        if (r < 0) return r;
      }
    }
    if (isWsCode(b[this.pos])) this.ws();
    if (this.pos !== this.end) return SCAN_ERR_SYNTAX;
    if (type === 0 || (seen & K_DATA) === 0) return SCAN_ERR_MISSING;
    if (tsMs * 1000 >= TWO_53 || ctsMs * 1000 >= TWO_53) return SCAN_ERR_NUMBER;
    out.isSnapshot = type === 1;
    out.venueSeq = u;
    out.tsExchangeUs = tsMs * 1000;
    out.tsEventUs = ctsMs * 1000;
    return table.indexes[entry]!;
  }

  /** Reads the data object; returns u (≥ 0) or a negative code. */
  private scanData(table: TopicTable, entry: number, topicEnd: number, out: BookUpdate): number {
    const b = this.bytes;
    this.pos++; // {
    let seen = 0;
    let u = -1;
    const priceExp = table.priceExp[entry]!;
    const qtyExp = table.qtyExp[entry]!;
    if (isWsCode(b[this.pos])) this.ws();
    if (this.pos < this.end && b[this.pos] === CH_RBRACE) {
      this.pos++;
      return SCAN_ERR_MISSING;
    }
    for (;;) {
      if (isWsCode(b[this.pos])) this.ws();
      const key = this.dataKey();
      if (key < 0) return key;
      if ((seen & key) !== 0) return SCAN_FALLBACK;
      seen |= key;
      if (isWsCode(b[this.pos])) this.ws();
      if (key === K_B || key === K_A) {
        const r = this.scanLevels(key === K_B, priceExp, qtyExp, out);
        if (r < 0) return r;
      } else if (key === K_U) {
        u = this.readUint();
        if (u < 0) return u;
      } else if (key === K_SEQ) {
        const r = this.readUint();
        if (r < 0) return r;
      } else if (key === K_S) {
        const r = this.checkSymbol(table.symbolStart[entry]!, topicEnd);
        if (r < 0) return r;
      } else {
        const r = this.skipValue(1);
        if (r < 0) return r;
      }
      if (isWsCode(b[this.pos])) this.ws();
      if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
      const c = b[this.pos++];
      if (c === CH_RBRACE) break;
      if (c !== CH_COMMA) return SCAN_ERR_SYNTAX;
    }
    if ((seen & (K_B | K_A | K_U)) !== (K_B | K_A | K_U)) return SCAN_ERR_MISSING;
    return u;
  }

  /**
   * Reads `[[p,q],…]` into one side. This loop is most of the work for a snapshot, so it keeps the cursor in a
   * local, expects Bybit's compact layout first and looks for whitespace only when the expected character is not
   * there, and finds the end of a number by its characters (digits and dots: anything else cannot parse anyway),
   * classifying the string on the cold path only when the number does not end at a closing quote.
   */
  private scanLevels(bids: boolean, priceExp: number, qtyExp: number, out: BookUpdate): number {
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
  private openLevel(p: number): number {
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

  /** Copies the frame into `bytes` (once per frame). */
  private encodeFrame(): void {
    const s = this.s;
    const len = s.length;
    // Room for the UTF-8 of any string of len units (≤ 3 bytes each) and the sentinel: then "written === len"
    // holds exactly when every unit is ASCII (a truncated write could otherwise look like one).
    if (this.bytes.length < 3 * len + 1) this.growBytes(3 * len + 1);
    const bytes = this.bytes;
    this.ascii = bytes.write(s, 0) === len;
    if (!this.ascii) {
      // Cold: non-ASCII somewhere in the frame. Map every unit ≥ 0x80 to 0x80 at its own offset.
      for (let i = 0; i < len; i++) {
        const c = s.charCodeAt(i);
        bytes[i] = c < 0x80 ? c : 0x80;
      }
    }
    bytes[len] = 0;
  }

  // Cold: a frame longer than any before.
  private growBytes(atLeast: number): void {
    let n = this.bytes.length * 2;
    while (n < atLeast) n *= 2;
    this.bytes = Buffer.alloc(n);
    this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
  }

  /**
   * Cold: a price or quantity string held something other than digits and dots. Classifies it as JSON would:
   * an escape goes to the JSON path, a control character or a missing closing quote is a syntax error, any other
   * complete string is a bad number (`badCode`).
   */
  private badNumberString(start: number, badCode: number): number {
    this.pos = start;
    const close = this.closeQuote();
    return close < 0 ? close : badCode;
  }

  /** A level element that is not a string: validate it as JSON (syntax error) or report a bad level. */
  private badLevelElement(): number {
    if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
    const r = this.skipValue(3);
    return r < 0 ? r : SCAN_ERR_LEVEL;
  }

  /** data.s must equal the symbol part of this frame's topic (which equals the table's topic). */
  private checkSymbol(symStart: number, topicEnd: number): number {
    const s = this.s;
    const b = this.bytes;
    if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
    if (b[this.pos] !== CH_QUOTE) {
      const r = this.skipValue(1);
      return r < 0 ? r : SCAN_ERR_SYMBOL;
    }
    const symFrame = this.topicStart + symStart;
    const symLen = topicEnd - symFrame;
    const start = ++this.pos;
    const close = this.closeQuote();
    if (close < 0) return close;
    const len = close - start;
    if (len !== symLen) return SCAN_ERR_SYMBOL;
    if (this.ascii) {
      for (let i = 0; i < len; i++) if (b[start + i] !== b[symFrame + i]) return SCAN_ERR_SYMBOL;
    } else {
      // Cold: non-ASCII units all became 0x80 in `bytes`, so only the string tells them apart.
      for (let i = 0; i < len; i++) if (s.charCodeAt(start + i) !== s.charCodeAt(symFrame + i)) return SCAN_ERR_SYMBOL;
    }
    return 0;
  }

  /**
   * Reads a top-level key and its colon. Bybit's compact `"key":` is matched as whole little-endian words (the
   * closing quote is part of the match, so a longer key never matches); anything else goes through readTopKey.
   */
  private topKey(): number {
    const dv = this.view;
    const p = this.pos;
    const w = dv.getInt32(p, true);
    const next = dv.getInt32(p + 4, true);
    if (w === W_TS && (next & 0xff) === CH_COLON) {
      this.pos = p + 5;
      return K_TS;
    }
    if (w === W_TYPE && (next & 0xffffff) === W3_E_COLON) {
      this.pos = p + 7;
      return K_TYPE;
    }
    if (w === W_DATA && (next & 0xffffff) === W3_A_COLON) {
      this.pos = p + 7;
      return K_DATA;
    }
    if (w === W_CTS && (next & 0xffff) === W2_Q_COLON) {
      this.pos = p + 6;
      return K_CTS;
    }
    return this.readTopKey();
  }

  /** Reads a key inside data and its colon, as topKey does. */
  private dataKey(): number {
    const dv = this.view;
    const p = this.pos;
    const w = dv.getInt32(p, true);
    let bit = -1;
    if (w === W_B) bit = K_B;
    else if (w === W_A) bit = K_A;
    else if (w === W_U) bit = K_U;
    else if (w === W_S) bit = K_S;
    else if (w === W_SEQ && (dv.getInt32(p + 4, true) & 0xffff) === W2_Q_COLON) {
      this.pos = p + 6;
      return K_SEQ;
    }
    if (bit < 0) return this.readDataKey();
    this.pos = p + 4;
    return bit;
  }

  /** Reads a top-level key and the colon after it; returns its K_* bit (0 for an unknown key) or a negative code. */
  private readTopKey(): number {
    const k = this.readKey();
    if (k < 0) return k;
    const b = this.bytes;
    const ks = k >> 8;
    const kl = k & 0xff;
    let bit = 0;
    if (kl === 4) {
      if (eq4(b, ks, 116, 121, 112, 101)) bit = K_TYPE; // type
      else if (eq4(b, ks, 100, 97, 116, 97)) bit = K_DATA; // data
    } else if (kl === 2) {
      if (b[ks] === 116 && b[ks + 1] === 115) bit = K_TS; // ts
    } else if (kl === 3) {
      if (b[ks] === 99 && b[ks + 1] === 116 && b[ks + 2] === 115) bit = K_CTS; // cts
    } else if (kl === 5) {
      if (eq4(b, ks, 116, 111, 112, 105) && b[ks + 4] === 99) bit = K_TOPIC; // topic (again)
    }
    return this.colon(bit);
  }

  /** Reads a key inside data; returns its K_* bit (0 for unknown) or a negative code. */
  private readDataKey(): number {
    const k = this.readKey();
    if (k < 0) return k;
    const b = this.bytes;
    const ks = k >> 8;
    const kl = k & 0xff;
    let bit = 0;
    if (kl === 1) {
      const c = b[ks];
      if (c === 98) bit = K_B;
      else if (c === 97) bit = K_A;
      else if (c === 117) bit = K_U;
      else if (c === 115) bit = K_S;
    } else if (kl === 3) {
      if (b[ks] === 115 && b[ks + 1] === 101 && b[ks + 2] === 113) bit = K_SEQ; // seq
    }
    return this.colon(bit);
  }

  private colon(bit: number): number {
    this.ws();
    if (this.pos >= this.end || this.bytes[this.pos] !== CH_COLON) return SCAN_ERR_SYNTAX;
    this.pos++;
    return bit;
  }

  /**
   * Reads a quoted key; returns (start << 8) | length for short plain keys, (start << 8) | 255 for long ones
   * (never a known key), or a negative code. Frames are far below 2^23 chars, so the packing is safe.
   */
  private readKey(): number {
    const b = this.bytes;
    const end = this.end;
    let p = this.pos;
    if (b[p] !== CH_QUOTE) return SCAN_ERR_SYNTAX; // NaN past the end
    const start = ++p;
    for (;;) {
      if (p >= end) {
        this.pos = p;
        return SCAN_ERR_SYNTAX;
      }
      const c = b[p];
      if (c === CH_QUOTE) break;
      if (c === CH_BACKSLASH || c < 0x20) {
        this.pos = p;
        return c === CH_BACKSLASH ? SCAN_FALLBACK : SCAN_ERR_SYNTAX;
      }
      p++;
    }
    const len = p - start;
    this.pos = p + 1;
    if (start >= 0x7fffff) return SCAN_FALLBACK;
    return start * 256 + (len > 254 ? 255 : len);
  }

  /**
   * From just after an opening quote: finds the closing quote of a plain string (no escapes, no control
   * characters), leaves the cursor after it and returns its index; or a negative code.
   */
  private closeQuote(): number {
    const b = this.bytes;
    const end = this.end;
    let p = this.pos;
    for (;;) {
      if (p >= end) {
        this.pos = p;
        return SCAN_ERR_SYNTAX;
      }
      const c = b[p];
      if (c === CH_QUOTE) break;
      if (c === CH_BACKSLASH || c < 0x20) {
        this.pos = p;
        return c === CH_BACKSLASH ? SCAN_FALLBACK : SCAN_ERR_SYNTAX;
      }
      p++;
    }
    this.pos = p + 1;
    return p;
  }

  /** Reads `"snapshot"` or `"delta"`: 1 or 2, else a negative code. */
  private readType(): number {
    const b = this.bytes;
    if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
    if (b[this.pos] !== CH_QUOTE) {
      const r = this.skipValue(0);
      return r < 0 ? r : SCAN_ERR_TYPE;
    }
    const start = ++this.pos;
    const close = this.closeQuote();
    if (close < 0) return close;
    const len = close - start;
    // snapshot
    if (len === 8 && eq4(b, start, 115, 110, 97, 112) && eq4(b, start + 4, 115, 104, 111, 116)) return 1;
    // delta
    if (len === 5 && eq4(b, start, 100, 101, 108, 116) && b[start + 4] === 97) return 2;
    return SCAN_ERR_TYPE;
  }

  /**
   * Reads a JSON number that must be a non-negative integer below 2^53. Plain digits only; a sign, fraction or
   * exponent goes to the JSON path (it may still be an integer, e.g. 1e3). Non-numbers are SCAN_ERR_NUMBER.
   */
  private readUint(): number {
    const b = this.bytes;
    let p = this.pos;
    if (p >= this.end) return SCAN_ERR_SYNTAX;
    let c = b[p];
    if (c === CH_MINUS) return SCAN_FALLBACK;
    if (c < CH_0 || c > CH_9) {
      const r = this.skipValue(1);
      return r < 0 ? r : SCAN_ERR_NUMBER;
    }
    // 4 digits per step as in scanLevels (ts and cts have 13 digits); the sentinel 0 stops both loops at the end.
    const dv = this.view;
    const start = p;
    let v = 0;
    let w = dv.getInt32(p, true);
    while (isDigits4(w)) {
      v = v * 10000 + digits4(w);
      p += 4;
      w = dv.getInt32(p, true);
    }
    c = b[p];
    while (c >= CH_0 && c <= CH_9) {
      v = v * 10 + (c - CH_0);
      c = b[++p];
    }
    this.pos = p;
    if (b[start] === CH_0 && p - start > 1) return SCAN_ERR_SYNTAX; // leading zero
    if (c === CH_DOT || c === CH_E || c === CH_CAP_E) return SCAN_FALLBACK;
    // Exact below 2^53; a longer number rounds to ≥ 2^53 (each step is monotone), so this test is exact too.
    if (v >= TWO_53) return SCAN_ERR_NUMBER;
    return v;
  }

  /** Validating skip of any JSON value (unknown keys). Returns 0 or a negative code. */
  private skipValue(depth: number): number {
    const b = this.bytes;
    if (depth > MAX_SKIP_DEPTH) return SCAN_FALLBACK;
    if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
    const c = b[this.pos];
    if (c === CH_QUOTE) return this.skipString();
    if (c === CH_LBRACE) {
      this.pos++;
      this.ws();
      if (this.pos < this.end && b[this.pos] === CH_RBRACE) {
        this.pos++;
        return 0;
      }
      for (;;) {
        this.ws();
        if (this.pos >= this.end || b[this.pos] !== CH_QUOTE) return SCAN_ERR_SYNTAX;
        let r = this.skipString();
        if (r < 0) return r;
        this.ws();
        if (this.pos >= this.end || b[this.pos] !== CH_COLON) return SCAN_ERR_SYNTAX;
        this.pos++;
        this.ws();
        r = this.skipValue(depth + 1);
        if (r < 0) return r;
        this.ws();
        if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
        const d = b[this.pos++];
        if (d === CH_RBRACE) return 0;
        if (d !== CH_COMMA) return SCAN_ERR_SYNTAX;
      }
    }
    if (c === CH_LBRACKET) {
      this.pos++;
      this.ws();
      if (this.pos < this.end && b[this.pos] === CH_RBRACKET) {
        this.pos++;
        return 0;
      }
      for (;;) {
        this.ws();
        const r = this.skipValue(depth + 1);
        if (r < 0) return r;
        this.ws();
        if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
        const d = b[this.pos++];
        if (d === CH_RBRACKET) return 0;
        if (d !== CH_COMMA) return SCAN_ERR_SYNTAX;
      }
    }
    if (c === 116) return this.literal(114, 117, 101, 0); // true
    if (c === 102) return this.literal(97, 108, 115, 101); // false
    if (c === 110) return this.literal(117, 108, 108, 0); // null
    if (c === CH_MINUS || (c >= CH_0 && c <= CH_9)) return this.skipNumber();
    return SCAN_ERR_SYNTAX;
  }

  private literal(c1: number, c2: number, c3: number, c4: number): number {
    const b = this.bytes;
    const n = c4 === 0 ? 3 : 4;
    if (this.pos + 1 + n > this.end) return SCAN_ERR_SYNTAX;
    const p = this.pos + 1;
    if (b[p] !== c1 || b[p + 1] !== c2 || b[p + 2] !== c3) return SCAN_ERR_SYNTAX;
    if (c4 !== 0 && b[p + 3] !== c4) return SCAN_ERR_SYNTAX;
    this.pos = p + n;
    return 0;
  }

  /** JSON number grammar: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)? */
  private skipNumber(): number {
    const b = this.bytes;
    if (b[this.pos] === CH_MINUS) this.pos++;
    if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
    let c = b[this.pos];
    if (c === CH_0) {
      this.pos++;
    } else if (c >= CH_0 && c <= CH_9) {
      while (this.pos < this.end && isDigit(b[this.pos])) this.pos++;
    } else {
      return SCAN_ERR_SYNTAX;
    }
    if (this.pos < this.end && b[this.pos] === CH_DOT) {
      this.pos++;
      if (this.pos >= this.end || !isDigit(b[this.pos])) return SCAN_ERR_SYNTAX;
      while (this.pos < this.end && isDigit(b[this.pos])) this.pos++;
    }
    if (this.pos < this.end) {
      c = b[this.pos];
      if (c === CH_E || c === CH_CAP_E) {
        this.pos++;
        if (this.pos < this.end) {
          c = b[this.pos];
          if (c === CH_PLUS || c === CH_MINUS) this.pos++;
        }
        if (this.pos >= this.end || !isDigit(b[this.pos])) return SCAN_ERR_SYNTAX;
        while (this.pos < this.end && isDigit(b[this.pos])) this.pos++;
      }
    }
    return 0;
  }

  /** Skips a JSON string starting at the opening quote, validating escapes and control characters. */
  private skipString(): number {
    const b = this.bytes;
    this.pos++;
    for (;;) {
      if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
      const c = b[this.pos++];
      if (c === CH_QUOTE) return 0;
      if (c < 0x20) return SCAN_ERR_SYNTAX;
      if (c === CH_BACKSLASH) {
        if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
        const e = b[this.pos++];
        if (e === 117) {
          if (this.pos + 4 > this.end) return SCAN_ERR_SYNTAX;
          for (let i = 0; i < 4; i++) if (!isHex(b[this.pos + i])) return SCAN_ERR_SYNTAX;
          this.pos += 4;
        } else if (
          e !== CH_QUOTE &&
          e !== CH_BACKSLASH &&
          e !== 47 && // /
          e !== 98 && // b
          e !== 102 && // f
          e !== 110 && // n
          e !== 114 && // r
          e !== 116 // t
        ) {
          return SCAN_ERR_SYNTAX;
        }
      }
    }
  }

  /** JSON whitespace: space, tab, LF, CR. */
  private ws(): void {
    this.pos = skipWs(this.bytes, this.pos, this.end);
  }

  private matchKey(key: string): boolean {
    const b = this.bytes;
    if (this.pos >= this.end || b[this.pos] !== CH_QUOTE) return false;
    const p = this.pos + 1;
    const n = key.length;
    if (p + n + 1 > this.end) return false;
    for (let i = 0; i < n; i++) if (b[p + i] !== key.charCodeAt(i)) return false;
    if (b[p + n] !== CH_QUOTE) return false;
    this.pos = p + n + 1;
    this.ws();
    if (this.pos >= this.end || b[this.pos] !== CH_COLON) return false;
    this.pos++;
    return true;
  }
}


/**
 * True when the 4 bytes packed little-endian in w are all ASCII digits: each byte's high nibble is 3 and adding 6
 * does not carry out of the low nibble (0x30–0x39 only). "| 0": a wrapping int32 add, no overflow check.
 */
function isDigits4(w: number): boolean {
  return (w & 0xf0f0f0f0) === 0x30303030 && (((w + 0x06060606) | 0) & 0xf0f0f0f0) === 0x30303030;
}

/** The value of 4 ASCII digits packed little-endian in w (first character in the low byte): 0 … 9999. */
function digits4(w: number): number {
  let d = w & 0x0f0f0f0f;
  d = (d * 10 + (d >>> 8)) & 0x00ff00ff; // bytes 0 and 2: two-digit values
  return (d & 0xff) * 100 + (d >>> 16);
}

/** Index of the first non-whitespace byte at or after p (JSON whitespace: space, tab, LF, CR). */
function skipWs(b: Buffer, p: number, end: number): number {
  while (p < end) {
    const c = b[p];
    if (c !== 32 && c !== 10 && c !== 13 && c !== 9) return p;
    p++;
  }
  return p;
}

function isWsCode(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

function startsWithPrefix(s: string, start: number, end: number): boolean {
  const n = TOPIC_PREFIX.length;
  if (end - start <= n) return false;
  for (let i = 0; i < n; i++) if (s.charCodeAt(start + i) !== TOPIC_PREFIX.charCodeAt(i)) return false;
  return true;
}

function eq4(x: Buffer, p: number, a: number, b: number, c: number, d: number): boolean {
  return x[p] === a && x[p + 1] === b && x[p + 2] === c && x[p + 3] === d;
}

function isDigit(c: number): boolean {
  return c >= CH_0 && c <= CH_9;
}

function isHex(c: number): boolean {
  return (c >= CH_0 && c <= CH_9) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

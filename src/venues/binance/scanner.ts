// HOT PATH: no allocation
/**
 * Binance combined-stream diff scanner: reads
 * `{"stream":"sym@depth@100ms","data":{"e":"depthUpdate","E":…,"T":…,"s":"SYM","U":…,"u":…,"pu":…,"b":[…],"a":[…]}}`
 * from the string the WebSocket delivers into a reusable BookUpdate, without JSON.parse and without a substring per
 * level or stream. The frame is copied once into a reusable byte buffer (same offsets) and read from there; prices
 * and quantities become exact mantissas (the plain case in one pass, anything else through core/fixed.ts
 * parseFixedCodes). Sequence ids land in `firstId` (U), `out.venueSeq` (u) and `prevId` (pu, -1 when absent).
 *
 * Two readers: fastFrame, Binance's exact layout matched against the stream's word templates (topic-table.ts), and
 * the general reader (scanTop: any key order, whitespace, unknown keys), which reads every frame fastFrame did not
 * accept from the start and names the error.
 * A strict reader for this one shape: every byte it walks over is validated (unknown keys by a validating skipper),
 * so whatever it accepts, JSON.parse accepts with the same result. What it does not read itself (a first key other
 * than `stream`, escapes, duplicate keys, numbers with a sign, fraction or exponent) goes to the JSON path
 * (parse-json.ts) as SCAN_NOT_BOOK / SCAN_FALLBACK; errors are negative codes named in SCAN_RESULT_NAMES.
 * @module
 */
import { Buffer } from "node:buffer";
import type { BookUpdate } from "../../core/book-update.ts";
import { POW10, parseFixedCodes } from "../../core/fixed.ts";
import { FNV_OFFSET, FRAME_NAME_OFFSET, fastKey, type StreamTable, wordsEqual } from "./topic-table.ts";

/** Not a diff frame the scanner handles (first key is not `stream`, or not a `@depth` stream): use JSON.parse. */
export const SCAN_NOT_BOOK = -1;
/** A `@depth` stream that is not in the table (e.g. one just unsubscribed). */
export const SCAN_UNKNOWN_TOPIC = -2;
/** Legal JSON the scanner does not read itself: use the JSON path. */
export const SCAN_FALLBACK = -3;
export const SCAN_ERR_SYNTAX = -4;
export const SCAN_ERR_PRICE = -5;
export const SCAN_ERR_QTY = -6;
/** E / T / U / u / pu not a non-negative integer below 2^53 (E, T × 1000 too). */
export const SCAN_ERR_NUMBER = -7;
/** `e` is not "depthUpdate". */
export const SCAN_ERR_TYPE = -8;
/** A required field (data, e, U, u, b, a) is missing or has the wrong JSON type. */
export const SCAN_ERR_MISSING = -9;
/** data.s differs from the stream's symbol. */
export const SCAN_ERR_SYMBOL = -10;
/** A level is not exactly [price string, qty string]. */
export const SCAN_ERR_LEVEL = -11;

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
const TWO_53 = 9007199254740992;

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

// Data keys, as bits (duplicate keys go to the JSON path, which keeps the last one).
const K_LE = 1; // e
const K_BE = 2; // E
const K_T = 4; // T
const K_S = 8; // s
const K_BU = 16; // U
const K_U = 32; // u
const K_PU = 64; // pu
const K_B = 128; // b
const K_A = 256; // a

/** `{"stream":"` as it starts every combined-stream frame. */
const PREFIX = '{"stream":"';
/** A stream name containing this is a diff stream (an unknown one is SCAN_UNKNOWN_TOPIC, anything else NOT_BOOK). */
const DEPTH_MARK = "@depth";

export class BinanceScanner {
  /** Offset where the last scan stopped with an error (for logs). */
  errorPos = 0;
  /** Table entry of the stream of the last frame, or -1 when not reached or unknown. */
  entry = -1;
  /** `U` of the last diff scanned. */
  firstId = 0;
  /** `pu` of the last diff scanned; -1 when the frame had none (spot). */
  prevId = -1;
  private s = "";
  /** The frame's UTF-16 units as bytes at the same offsets (units ≥ 0x80 become 0x80); byte `end` is a 0 sentinel. */
  private bytes: Buffer = Buffer.alloc(4096);
  private view: DataView = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
  private ascii = true;
  private pos = 0;
  private end = 0;

  /** Scans one frame: the subscription index (≥ 0) with `out` filled, or a negative SCAN_* code. */
  scan(s: string, table: StreamTable, out: BookUpdate): number {
    this.s = s;
    this.pos = 0;
    this.end = s.length;
    this.entry = -1;
    this.prevId = -1;
    this.firstId = 0;
    this.encodeFrame();
    out.reset();
    let r = this.fastFrame(table, out);
    if (r < 0) {
      // Not Binance's exact layout for a known stream (or something wrong in it): the general reader decides.
      this.pos = 0;
      this.entry = -1;
      this.prevId = -1;
      this.firstId = 0;
      out.reset();
      r = this.scanTop(table, out);
      if (r < 0) this.errorPos = this.pos;
    }
    this.s = "";
    return r;
  }

  /**
   * Binance's own layout for a stream of the table, `{"stream":"NAME","data":{"e":"depthUpdate","E":…,["T":…,]"s":"SYM",
   * "U":…,"u":…,["pu":…,]"b":[…],"a":[…]}}` exactly (no whitespace, integers of 1–15 digits without a leading zero):
   * the constant parts are compared as words with the stream's templates (topic-table.ts), the stream found by its
   * name's first 8 bytes. The subscription index with `out` filled, or -1 for anything else, error or not (the general
   * reader then reads the frame from the start and names the error). Measured: the general reader's stream hash and
   * per-key work were ~2/3 of a small diff's scan (docs/performance.md §10).
   */
  private fastFrame(table: StreamTable, out: BookUpdate): number {
    const b = this.bytes;
    const dv = this.view;
    const end = this.end;
    if (end < FRAME_NAME_OFFSET + 8) return -1;
    const slots = table.fastSlots;
    const mask = table.fastMask;
    let slot = fastKey(dv.getInt32(FRAME_NAME_OFFSET, true), dv.getInt32(FRAME_NAME_OFFSET + 4, true)) & mask;
    let entry = -1;
    let p = 0;
    for (;;) {
      entry = slots[slot]!;
      if (entry < 0) return -1;
      p = table.headBytes[entry]!;
      if (p <= end && wordsEqual(dv, 0, table.heads[entry]!, p)) break;
      slot = (slot + 1) & mask;
    }
    const eMs = this.uint(p);
    p = this.pos;
    if (eMs < 0 || b[p] !== CH_COMMA) return -1;
    let tMs = 0;
    if (dv.getInt32(p + 1, true) === W_KEY_T) {
      tMs = this.uint(p + 5);
      p = this.pos;
      if (tMs < 0 || b[p] !== CH_COMMA) return -1;
    }
    const midBytes = table.midBytes[entry]!;
    if (p + midBytes > end || !wordsEqual(dv, p, table.mids[entry]!, midBytes)) return -1;
    const first = this.uint(p + midBytes);
    p = this.pos;
    if (first < 0 || b[p] !== CH_COMMA || dv.getInt32(p + 1, true) !== W_KEY_U) return -1;
    const last = this.uint(p + 5);
    p = this.pos;
    if (last < 0 || b[p] !== CH_COMMA) return -1;
    let prev = -1;
    if (dv.getInt32(p + 1, true) === W_KEY_PU1 && b[p + 5] === CH_COLON) {
      prev = this.uint(p + 6);
      p = this.pos;
      if (prev < 0 || b[p] !== CH_COMMA) return -1;
    }
    if (dv.getInt32(p + 1, true) !== W_KEY_B) return -1;
    this.pos = p + 5;
    const priceExp = table.priceExp[entry]!;
    const qtyExp = table.qtyExp[entry]!;
    if (this.scanLevels(true, priceExp, qtyExp, out) < 0) return -1;
    p = this.pos;
    if (b[p] !== CH_COMMA || dv.getInt32(p + 1, true) !== W_KEY_A) return -1;
    this.pos = p + 5;
    if (this.scanLevels(false, priceExp, qtyExp, out) < 0) return -1;
    p = this.pos;
    if (p + 2 !== end || b[p] !== CH_RBRACE || b[p + 1] !== CH_RBRACE) return -1;
    if (eMs * 1000 >= TWO_53 || tMs * 1000 >= TWO_53) return -1;
    out.isSnapshot = false;
    out.venueSeq = last;
    out.tsExchangeUs = eMs * 1000;
    out.tsEventUs = tMs * 1000;
    this.entry = entry;
    this.firstId = first;
    this.prevId = prev;
    return table.indexes[entry]!;
  }

  /**
   * The integer of 1–15 digits at p without a leading zero (exact, below 2^53), cursor after it; -1 for anything else
   * (the general reader decides what it is).
   */
  private uint(p: number): number {
    const b = this.bytes;
    const dv = this.view;
    const start = p;
    let v = 0;
    let w = dv.getInt32(p, true);
    while (isDigits4(w)) {
      v = v * 10000 + digits4(w);
      p += 4;
      w = dv.getInt32(p, true);
    }
    let c = w & 0xff;
    while (c >= CH_0 && c <= CH_9) {
      v = v * 10 + (c - CH_0);
      c = b[++p]!;
    }
    this.pos = p;
    const n = p - start;
    if (n === 0 || n > 15 || (n > 1 && b[start] === CH_0)) return -1;
    return v;
  }

  private scanTop(table: StreamTable, out: BookUpdate): number {
    const s = this.s;
    const b = this.bytes;
    const end = this.end;
    let p = 0;
    // Every combined-stream push starts with `{"stream":"`; acks, errors and bare events do not.
    if (end < PREFIX.length) return SCAN_NOT_BOOK;
    for (let i = 0; i < PREFIX.length; i++) if (b[i] !== PREFIX.charCodeAt(i)) return SCAN_NOT_BOOK;
    p = PREFIX.length;
    const nameStart = p;
    let hash = FNV_OFFSET;
    for (;;) {
      if (p >= end) {
        this.pos = p;
        return SCAN_ERR_SYNTAX;
      }
      let c = b[p]!;
      if (c === CH_QUOTE) break;
      if (c === CH_BACKSLASH || c < 0x20) {
        this.pos = p;
        return c === CH_BACKSLASH ? SCAN_FALLBACK : SCAN_ERR_SYNTAX;
      }
      if (c === 0x80) c = s.charCodeAt(p);
      hash = Math.imul(hash ^ c, 0x01000193);
      p++;
    }
    const nameEnd = p;
    this.pos = p + 1;
    const entry = table.find(s, nameStart, nameEnd, hash);
    if (entry < 0) return containsDepth(s, nameStart, nameEnd) ? SCAN_UNKNOWN_TOPIC : SCAN_NOT_BOOK;
    this.entry = entry;
    let haveData = false;
    for (;;) {
      this.ws();
      if (this.pos >= end) return SCAN_ERR_SYNTAX;
      const c = b[this.pos]!;
      if (c === CH_RBRACE) {
        this.pos++;
        break;
      }
      if (c !== CH_COMMA) return SCAN_ERR_SYNTAX;
      this.pos++;
      this.ws();
      const k = this.readKey();
      if (k < 0) return k;
      const ks = Math.floor(k / 256);
      const kl = k & 0xff;
      let isData = false;
      let isStream = false;
      if (this.keyIs(ks, kl, "data")) isData = true;
      else if (this.keyIs(ks, kl, "stream")) isStream = true;
      const col = this.colon();
      if (col < 0) return col;
      if (isStream) return SCAN_FALLBACK; // a second "stream": JSON keeps the last one
      if (isData) {
        if (haveData) return SCAN_FALLBACK;
        haveData = true;
        if (this.pos >= end) return SCAN_ERR_SYNTAX;
        if (b[this.pos] !== CH_LBRACE) {
          const r = this.skipValue(0);
          return r < 0 ? r : SCAN_ERR_MISSING;
        }
        const r = this.slowData(table, entry, out);
        if (r < 0) return r;
      } else {
        const r = this.skipValue(0);
        if (r < 0) return r;
      }
    }
    this.ws();
    if (this.pos !== end) return SCAN_ERR_SYNTAX;
    if (!haveData) return SCAN_ERR_MISSING;
    return table.indexes[entry]!;
  }

  /** The general reader of the data object: any key order, whitespace, unknown keys; 0 or a negative code. */
  private slowData(table: StreamTable, entry: number, out: BookUpdate): number {
    const b = this.bytes;
    const dv = this.view;
    this.pos++; // {
    let seen = 0;
    let eMs = 0;
    let tMs = 0;
    let first = 0;
    let last = 0;
    let prev = -1;
    const priceExp = table.priceExp[entry]!;
    const qtyExp = table.qtyExp[entry]!;
    this.ws();
    if (this.pos < this.end && b[this.pos] === CH_RBRACE) {
      this.pos++;
      return SCAN_ERR_MISSING;
    }
    for (;;) {
      this.ws();
      // Binance's compact `"x":` keys as one little-endian word; anything else through readKey.
      const p = this.pos;
      const w = dv.getInt32(p, true);
      let bit = 0;
      if ((w & 0xff) === CH_QUOTE && (w >>> 16) === 0x3a22 /* ": */) {
        const c = (w >>> 8) & 0xff;
        bit = keyBit1(c);
        if (bit !== 0) this.pos = p + 4;
      } else if (w === W_PU && b[p + 4] === CH_COLON) {
        bit = K_PU;
        this.pos = p + 5;
      }
      if (bit === 0) {
        const k = this.readKey();
        if (k < 0) return k;
        const ks = Math.floor(k / 256);
        const kl = k & 0xff;
        if (kl === 1) bit = keyBit1(b[ks]!);
        else if (kl === 2 && b[ks] === 112 && b[ks + 1] === 117) bit = K_PU;
        const col = this.colon();
        if (col < 0) return col;
      }
      if ((seen & bit) !== 0) return SCAN_FALLBACK;
      seen |= bit;
      this.ws();
      let r = 0;
      switch (bit) {
        case K_B:
        case K_A:
          r = this.scanLevels(bit === K_B, priceExp, qtyExp, out);
          break;
        case K_LE:
          r = this.readEvent();
          break;
        case K_BE:
          r = eMs = this.readUint();
          break;
        case K_T:
          r = tMs = this.readUint();
          break;
        case K_BU:
          r = first = this.readUint();
          break;
        case K_U:
          r = last = this.readUint();
          break;
        case K_PU:
          // pu may be -1 on a stream's very first event (USD-M); a sign sends the frame to the JSON path.
          r = prev = this.readUint();
          break;
        case K_S:
          r = this.checkSymbol(table.symbols[entry]!);
          break;
        default:
          r = this.skipValue(1);
      }
      if (r < 0) return r;
      this.ws();
      if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
      const c = b[this.pos++];
      if (c === CH_RBRACE) break;
      if (c !== CH_COMMA) return SCAN_ERR_SYNTAX;
    }
    if ((seen & (K_LE | K_BU | K_U | K_B | K_A)) !== (K_LE | K_BU | K_U | K_B | K_A)) return SCAN_ERR_MISSING;
    if (eMs * 1000 >= TWO_53 || tMs * 1000 >= TWO_53) return SCAN_ERR_NUMBER;
    out.isSnapshot = false;
    out.venueSeq = last;
    out.tsExchangeUs = eMs * 1000;
    out.tsEventUs = tMs * 1000;
    this.firstId = first;
    this.prevId = prev;
    return 0;
  }

  /**
   * Scans a REST depth snapshot body `{"lastUpdateId":…,["E":…,"T":…,]"bids":[…],"asks":[…]}` into `out`
   * (isSnapshot, venueSeq = lastUpdateId): 0, or a negative code (the caller then uses parse-json.ts
   * parseDepthSnapshot, which decides and names the problem). Same strictness as scan().
   */
  scanSnapshot(s: string, priceExp: number, qtyExp: number, out: BookUpdate): number {
    this.s = s;
    this.pos = 0;
    this.end = s.length;
    this.encodeFrame();
    out.reset();
    const r = this.snapshotTop(priceExp, qtyExp, out);
    if (r < 0) this.errorPos = this.pos;
    this.s = "";
    return r;
  }

  private snapshotTop(priceExp: number, qtyExp: number, out: BookUpdate): number {
    const b = this.bytes;
    this.ws();
    if (this.pos >= this.end || b[this.pos] !== CH_LBRACE) return SCAN_NOT_BOOK;
    this.pos++;
    let seen = 0;
    let id = -1;
    let eMs = 0;
    let tMs = 0;
    for (;;) {
      this.ws();
      const k = this.readKey();
      if (k < 0) return k;
      const ks = Math.floor(k / 256);
      const kl = k & 0xff;
      let bit = 0;
      if (this.keyIs(ks, kl, "lastUpdateId")) bit = K_U;
      else if (this.keyIs(ks, kl, "bids")) bit = K_B;
      else if (this.keyIs(ks, kl, "asks")) bit = K_A;
      else if (kl === 1 && b[ks] === 69) bit = K_BE; // E
      else if (kl === 1 && b[ks] === 84) bit = K_T; // T
      const col = this.colon();
      if (col < 0) return col;
      if ((seen & bit) !== 0) return SCAN_FALLBACK;
      seen |= bit;
      let r = 0;
      if (bit === K_B || bit === K_A) r = this.scanLevels(bit === K_B, priceExp, qtyExp, out);
      else if (bit === K_U) r = id = this.readUint();
      else if (bit === K_BE) r = eMs = this.readUint();
      else if (bit === K_T) r = tMs = this.readUint();
      else r = this.skipValue(1);
      if (r < 0) return r;
      this.ws();
      if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
      const c = b[this.pos++];
      if (c === CH_RBRACE) break;
      if (c !== CH_COMMA) return SCAN_ERR_SYNTAX;
    }
    this.ws();
    if (this.pos !== this.end) return SCAN_ERR_SYNTAX;
    if ((seen & (K_U | K_B | K_A)) !== (K_U | K_B | K_A)) return SCAN_ERR_MISSING;
    if (eMs * 1000 >= TWO_53 || tMs * 1000 >= TWO_53) return SCAN_ERR_NUMBER;
    out.isSnapshot = true;
    out.venueSeq = id;
    out.tsExchangeUs = eMs * 1000;
    out.tsEventUs = tMs * 1000;
    return 0;
  }

  private keyIs(ks: number, kl: number, key: string): boolean {
    if (kl !== key.length) return false;
    const b = this.bytes;
    for (let i = 0; i < kl; i++) if (b[ks + i] !== key.charCodeAt(i)) return false;
    return true;
  }

  /** `"depthUpdate"`: 0, else a negative code. */
  private readEvent(): number {
    const b = this.bytes;
    const dv = this.view;
    const p = this.pos;
    // `"depthUpdate"` as three words and a byte (the closing quote included, so nothing longer matches).
    if (dv.getInt32(p, true) === W_EV1 && dv.getInt32(p + 4, true) === W_EV2 && dv.getInt32(p + 8, true) === W_EV3 && b[p + 12] === CH_QUOTE) {
      this.pos = p + 13;
      return 0;
    }
    if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
    if (b[this.pos] !== CH_QUOTE) {
      const r = this.skipValue(1);
      return r < 0 ? r : SCAN_ERR_TYPE;
    }
    const start = ++this.pos;
    const close = this.closeQuote();
    if (close < 0) return close;
    if (close - start !== EVENT.length) return SCAN_ERR_TYPE;
    for (let i = 0; i < EVENT.length; i++) if (b[start + i] !== EVENT.charCodeAt(i)) return SCAN_ERR_TYPE;
    return 0;
  }

  /** data.s must equal the subscription's symbol. */
  private checkSymbol(symbol: string): number {
    const s = this.s;
    const b = this.bytes;
    if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
    if (b[this.pos] !== CH_QUOTE) {
      const r = this.skipValue(1);
      return r < 0 ? r : SCAN_ERR_SYMBOL;
    }
    const start = ++this.pos;
    const close = this.closeQuote();
    if (close < 0) return close;
    const len = close - start;
    if (len !== symbol.length) return SCAN_ERR_SYMBOL;
    for (let i = 0; i < len; i++) {
      const c = this.ascii ? b[start + i] : s.charCodeAt(start + i);
      if (c !== symbol.charCodeAt(i)) return SCAN_ERR_SYMBOL;
    }
    return 0;
  }

  /**
   * Reads `[[p,q],…]` into one side. This loop is most of the work for a snapshot, so it keeps the cursor in a
   * local, expects Binance's compact layout first and looks for whitespace only when the expected character is not
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
        // Zeros beyond the exponent, four at a time (Binance pads to 8 decimals); a non-zero digit is caught below.
        while (dv.getInt32(p, true) === ZEROS4) p += 4;
        c = b[p];
        while (c === CH_0) c = b[++p];
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
      // end offset in a field) measured ~40 % slower on the whole scan → apply → encode path (Bybit's bench A/B; the same code here).
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
        // Zeros beyond the exponent, four at a time (Binance pads to 8 decimals); a non-zero digit is caught below.
        while (dv.getInt32(p, true) === ZEROS4) p += 4;
        c = b[p];
        while (c === CH_0) c = b[++p];
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
      // `],["` between two levels in Binance's compact layout: one word instead of four characters.
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

  /** Copies the frame into `bytes` (once per frame). */
  private encodeFrame(): void {
    const s = this.s;
    const len = s.length;
    if (this.bytes.length < 3 * len + 8) this.growBytes(3 * len + 8);
    const bytes = this.bytes;
    this.ascii = bytes.write(s, 0) === len;
    if (!this.ascii) {
      for (let i = 0; i < len; i++) {
        const c = s.charCodeAt(i);
        bytes[i] = c < 0x80 ? c : 0x80;
      }
    }
    bytes[len] = 0;
  }

  private growBytes(atLeast: number): void {
    let n = this.bytes.length * 2;
    while (n < atLeast) n *= 2;
    this.bytes = Buffer.alloc(n);
    this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
  }

  private colon(): number {
    this.ws();
    if (this.pos >= this.end || this.bytes[this.pos] !== CH_COLON) return SCAN_ERR_SYNTAX;
    this.pos++;
    this.ws();
    return 0;
  }

  /** A quoted key: start × 256 + min(length, 255), or a negative code. */
  private readKey(): number {
    const b = this.bytes;
    const end = this.end;
    let p = this.pos;
    if (p >= end || b[p] !== CH_QUOTE) return SCAN_ERR_SYNTAX;
    const start = ++p;
    for (;;) {
      if (p >= end) {
        this.pos = p;
        return SCAN_ERR_SYNTAX;
      }
      const c = b[p]!;
      if (c === CH_QUOTE) break;
      if (c === CH_BACKSLASH || c < 0x20) {
        this.pos = p;
        return c === CH_BACKSLASH ? SCAN_FALLBACK : SCAN_ERR_SYNTAX;
      }
      p++;
    }
    const len = p - start;
    this.pos = p + 1;
    return start * 256 + (len > 254 ? 255 : len);
  }

  /** From just after an opening quote: the index of the closing quote of a plain string (cursor after it), or a code. */
  private closeQuote(): number {
    const b = this.bytes;
    const end = this.end;
    let p = this.pos;
    for (;;) {
      if (p >= end) {
        this.pos = p;
        return SCAN_ERR_SYNTAX;
      }
      const c = b[p]!;
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

  /** A non-negative integer literal below 2^53; a sign, fraction or exponent goes to the JSON path. */
  private readUint(): number {
    const b = this.bytes;
    let p = this.pos;
    if (p >= this.end) return SCAN_ERR_SYNTAX;
    let c = b[p]!;
    if (c === CH_MINUS) return SCAN_FALLBACK;
    if (c < CH_0 || c > CH_9) {
      const r = this.skipValue(1);
      return r < 0 ? r : SCAN_ERR_NUMBER;
    }
    const dv = this.view;
    const start = p;
    let v = 0;
    let w = dv.getInt32(p, true);
    while (isDigits4(w)) {
      v = v * 10000 + digits4(w);
      p += 4;
      w = dv.getInt32(p, true);
    }
    c = b[p]!;
    while (c >= CH_0 && c <= CH_9) {
      v = v * 10 + (c - CH_0);
      c = b[++p]!;
    }
    this.pos = p;
    if (b[start] === CH_0 && p - start > 1) return SCAN_ERR_SYNTAX; // leading zero
    if (c === CH_DOT || c === CH_E || c === CH_CAP_E) return SCAN_FALLBACK;
    if (v >= TWO_53) return SCAN_ERR_NUMBER;
    return v;
  }

  /** Validating skip of any JSON value; 0 or a negative code. */
  private skipValue(depth: number): number {
    const b = this.bytes;
    if (depth > MAX_SKIP_DEPTH) return SCAN_FALLBACK;
    if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
    const c = b[this.pos]!;
    if (c === CH_QUOTE) return this.skipString();
    if (c === CH_LBRACE || c === CH_LBRACKET) {
      const close = c === CH_LBRACE ? CH_RBRACE : CH_RBRACKET;
      this.pos++;
      this.ws();
      if (this.pos < this.end && b[this.pos] === close) {
        this.pos++;
        return 0;
      }
      for (;;) {
        this.ws();
        if (c === CH_LBRACE) {
          if (this.pos >= this.end || b[this.pos] !== CH_QUOTE) return SCAN_ERR_SYNTAX;
          const r = this.skipString();
          if (r < 0) return r;
          const col = this.colon();
          if (col < 0) return col;
        }
        const r = this.skipValue(depth + 1);
        if (r < 0) return r;
        this.ws();
        if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
        const d = b[this.pos++];
        if (d === close) return 0;
        if (d !== CH_COMMA) return SCAN_ERR_SYNTAX;
      }
    }
    if (c === 116) return this.literal("rue");
    if (c === 102) return this.literal("alse");
    if (c === 110) return this.literal("ull");
    if (c === CH_MINUS || (c >= CH_0 && c <= CH_9)) return this.skipNumber();
    return SCAN_ERR_SYNTAX;
  }

  private literal(rest: string): number {
    const b = this.bytes;
    const p = this.pos + 1;
    if (p + rest.length > this.end) return SCAN_ERR_SYNTAX;
    for (let i = 0; i < rest.length; i++) if (b[p + i] !== rest.charCodeAt(i)) return SCAN_ERR_SYNTAX;
    this.pos = p + rest.length;
    return 0;
  }

  /** JSON number grammar: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)? */
  private skipNumber(): number {
    const b = this.bytes;
    if (b[this.pos] === CH_MINUS) this.pos++;
    if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
    let c = b[this.pos]!;
    if (c === CH_0) this.pos++;
    else if (c >= CH_0 && c <= CH_9) while (this.pos < this.end && isDigit(b[this.pos]!)) this.pos++;
    else return SCAN_ERR_SYNTAX;
    if (this.pos < this.end && b[this.pos] === CH_DOT) {
      this.pos++;
      if (this.pos >= this.end || !isDigit(b[this.pos]!)) return SCAN_ERR_SYNTAX;
      while (this.pos < this.end && isDigit(b[this.pos]!)) this.pos++;
    }
    if (this.pos < this.end) {
      c = b[this.pos]!;
      if (c === CH_E || c === CH_CAP_E) {
        this.pos++;
        if (this.pos < this.end && (b[this.pos] === CH_PLUS || b[this.pos] === CH_MINUS)) this.pos++;
        if (this.pos >= this.end || !isDigit(b[this.pos]!)) return SCAN_ERR_SYNTAX;
        while (this.pos < this.end && isDigit(b[this.pos]!)) this.pos++;
      }
    }
    return 0;
  }

  /** Skips a JSON string from its opening quote, validating escapes and control characters. */
  private skipString(): number {
    const b = this.bytes;
    this.pos++;
    for (;;) {
      if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
      const c = b[this.pos++]!;
      if (c === CH_QUOTE) return 0;
      if (c < 0x20) return SCAN_ERR_SYNTAX;
      if (c === CH_BACKSLASH) {
        if (this.pos >= this.end) return SCAN_ERR_SYNTAX;
        const e = b[this.pos++]!;
        if (e === 117) {
          if (this.pos + 4 > this.end) return SCAN_ERR_SYNTAX;
          for (let i = 0; i < 4; i++) if (!isHex(b[this.pos + i]!)) return SCAN_ERR_SYNTAX;
          this.pos += 4;
        } else if (e !== CH_QUOTE && e !== CH_BACKSLASH && e !== 47 && e !== 98 && e !== 102 && e !== 110 && e !== 114 && e !== 116) {
          return SCAN_ERR_SYNTAX;
        }
      }
    }
  }

  /** JSON whitespace; the common case (none) costs one byte compare. */
  private ws(): void {
    const c = this.bytes[this.pos];
    if (c === 32 || c === 10 || c === 13 || c === 9) this.pos = skipWs(this.bytes, this.pos, this.end);
  }
}

const EVENT = "depthUpdate";
/** The little-endian word of 4 characters, as DataView.getInt32(p, true) reads them. */
function word(w: string): number {
  let v = 0;
  for (let i = 3; i >= 0; i--) v = (v << 8) | w.charCodeAt(i);
  return v;
}
const W_KEY_T = word('"T":');
const W_KEY_U = word('"u":');
const W_KEY_PU1 = word('"pu"');
const W_KEY_B = word('"b":');
const W_KEY_A = word('"a":');
const W_EV1 = word('"dep');
const W_EV2 = word("thUp");
const W_EV3 = word("date");
/** `],["` between two levels, as a little-endian word. */
const W_NEXT_LEVEL = 0x5d | (0x2c << 8) | (0x5b << 16) | (0x22 << 24);
/** `0000` as a little-endian word. */
const ZEROS4 = 0x30303030;
/** `"pu"` as a little-endian word. */
const W_PU = 0x22 | (0x70 << 8) | (0x75 << 16) | (0x22 << 24);

/** The bit of a one-letter data key (case matters: E is the event time, e the event type). */
function keyBit1(c: number): number {
  switch (c) {
    case 98:
      return K_B; // b
    case 97:
      return K_A; // a
    case 85:
      return K_BU; // U
    case 117:
      return K_U; // u
    case 101:
      return K_LE; // e
    case 69:
      return K_BE; // E
    case 84:
      return K_T; // T
    case 115:
      return K_S; // s
    default:
      return 0;
  }
}

/** True when the 4 bytes packed little-endian in w are all ASCII digits. */
function isDigits4(w: number): boolean {
  return (w & 0xf0f0f0f0) === 0x30303030 && (((w + 0x06060606) | 0) & 0xf0f0f0f0) === 0x30303030;
}

/** The value of 4 ASCII digits packed little-endian in w: 0 … 9999. */
function digits4(w: number): number {
  let d = w & 0x0f0f0f0f;
  d = (d * 10 + (d >>> 8)) & 0x00ff00ff;
  return (d & 0xff) * 100 + (d >>> 16);
}

function skipWs(b: Buffer, p: number, end: number): number {
  while (p < end) {
    const c = b[p];
    if (c !== 32 && c !== 10 && c !== 13 && c !== 9) return p;
    p++;
  }
  return p;
}

function containsDepth(s: string, start: number, end: number): boolean {
  const n = DEPTH_MARK.length;
  outer: for (let i = start; i + n <= end; i++) {
    for (let j = 0; j < n; j++) if (s.charCodeAt(i + j) !== DEPTH_MARK.charCodeAt(j)) continue outer;
    return true;
  }
  return false;
}

function isDigit(c: number): boolean {
  return c >= CH_0 && c <= CH_9;
}

function isHex(c: number): boolean {
  return (c >= CH_0 && c <= CH_9) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

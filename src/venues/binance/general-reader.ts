// HOT PATH: no allocation (reads the frames the scanner's fast path did not accept)
/**
 * The general reader of the Binance scanner (scanTop): a combined-stream frame in any key order, with whitespace and
 * unknown keys, read from its start; it decides and names the error of every frame the fast path (scanner.ts
 * fastFrame) did not accept. The stream by an FNV hash over its name's characters (topic-table.ts), then the data
 * object's keys as bits. Split from scanner.ts (its subclass) to keep each file readable; no behaviour of its own.
 * @module
 */
import type { BookUpdate } from "../../core/book-update.ts";
import { CH_BACKSLASH, CH_COLON, CH_COMMA, CH_LBRACE, CH_QUOTE, CH_RBRACE, TWO_53, word } from "./json-cursor.ts";
import { SnapshotReader } from "./snapshot-reader.ts";
import {
  SCAN_ERR_MISSING,
  SCAN_ERR_NUMBER,
  SCAN_ERR_SYMBOL,
  SCAN_ERR_SYNTAX,
  SCAN_ERR_TYPE,
  SCAN_FALLBACK,
  SCAN_NOT_BOOK,
  SCAN_UNKNOWN_TOPIC,
} from "./scan-codes.ts";
import { FNV_OFFSET, type StreamTable } from "./topic-table.ts";

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

export class GeneralReader extends SnapshotReader {
  /** Table entry of the stream of the last frame, or -1 when not reached or unknown. */
  entry = -1;
  /** `U` of the last diff scanned. */
  firstId = 0;
  /** `pu` of the last diff scanned; -1 when the frame had none (spot). */
  prevId = -1;

  protected scanTop(table: StreamTable, out: BookUpdate): number {
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
    // u 0 is no id Binance sends (ids start at 1) and TopicState.lastSeq's "none": a book LIVE at it was invalidated
    // without its id kept (seqBeforeInvalid). The JSON path refuses it too (and -0).
    if (eMs * 1000 >= TWO_53 || tMs * 1000 >= TWO_53 || last === 0) return SCAN_ERR_NUMBER;
    out.isSnapshot = false;
    out.venueSeq = last;
    out.tsExchangeUs = eMs * 1000;
    out.tsEventUs = tMs * 1000;
    this.firstId = first;
    this.prevId = prev;
    return 0;
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
}

const EVENT = "depthUpdate";
const W_EV1 = word('"dep');
const W_EV2 = word("thUp");
const W_EV3 = word("date");
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

function containsDepth(s: string, start: number, end: number): boolean {
  const n = DEPTH_MARK.length;
  outer: for (let i = start; i + n <= end; i++) {
    for (let j = 0; j < n; j++) if (s.charCodeAt(i + j) !== DEPTH_MARK.charCodeAt(j)) continue outer;
    return true;
  }
  return false;
}
